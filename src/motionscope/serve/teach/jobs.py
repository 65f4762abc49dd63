"""The training job behind the Teach tab's "Train" button: one at a time per server.

:meth:`Trainer.start` refuses a second job while one runs (409) and a dataset that cannot be
trained yet (422). The job runs on a background thread: it loads ``DIR`` the way ``motionscope
train DIR`` does, trains the default model (kpnet) with settings suited to a handful of
examples, reports every epoch (epoch, validation accuracy and loss) into :attr:`Trainer.state`
and writes a normal bundle (report, calibration, unknown threshold) to ``DIR-runs/model-<n>``,
beside ``DIR`` and never inside it. When it is done the bundle is loaded and swapped in
(``on_bundle``). :meth:`Trainer.cancel` stops it at the next epoch; a cancelled or failed job
leaves no bundle (training writes into a staging folder that is only published at the end).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L

from motionscope.data.sizecheck import DataSizeWarning
from motionscope.serve.limits import ApiError
from motionscope.serve.teach.dataset import MIN_EXAMPLES, TeachData

log = logging.getLogger("motionscope.serve")

RUN_PREFIX = "model-"


@dataclass
class TeachTraining:
    """How the Teach tab trains (defaults suit 3-20 examples per action)."""

    model: str = "kpnet"
    epochs: int = 60
    patience_updates: int = 40
    threads: int | None = None  # None: the idle cores (see train.config.auto_threads)
    seed: int = 0
    min_examples: int = MIN_EXAMPLES

    def __post_init__(self) -> None:
        from motionscope.errors import MotionscopeError
        from motionscope.models import list_models

        kinds = [m.name for m in list_models() if m.input_kind == "keypoints"]
        if self.model not in kinds:
            raise MotionscopeError(
                f"the Teach tab trains keypoint models (it records keypoints), not "
                f"{self.model!r}; use one of {', '.join(kinds)}"
            )
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise MotionscopeError(f"teach epochs must be a whole number >= 1, got {self.epochs}")


class Cancelled(Exception):
    """The user pressed Cancel: the fit stops at the end of the current epoch."""


class _Progress(L.Callback):
    def __init__(self, job: Trainer) -> None:
        self.job = job

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.job.cancel_requested.is_set():
            raise Cancelled

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        acc, loss = metrics.get("val_acc"), metrics.get("val_loss")
        self.job.update(
            epoch=int(trainer.current_epoch) + 1,
            max_epochs=int(trainer.max_epochs or 0),
            val_accuracy=None if acc is None else round(float(acc), 4),
            val_loss=None if loss is None else round(float(loss), 4),
        )
        if self.job.cancel_requested.is_set():
            raise Cancelled


def runs_dir(data: Path) -> Path:
    """Where the bundles of ``data`` go: ``<data>-runs`` beside it."""
    data = Path(data).resolve()
    return data.with_name(data.name + "-runs")


def next_run(runs: Path) -> Path:
    numbers = [
        int(p.name[len(RUN_PREFIX) :])
        for p in runs.glob(f"{RUN_PREFIX}*")
        if p.name[len(RUN_PREFIX) :].isdigit()
    ]
    return runs / f"{RUN_PREFIX}{max(numbers, default=0) + 1}"


@dataclass
class Trainer:
    data: TeachData
    settings: TeachTraining = field(default_factory=TeachTraining)
    on_bundle: Callable[[Path], None] | None = None  # called with the new bundle (hot swap)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.cancel_requested = threading.Event()
        self.state: dict = {"state": "idle"}
        self._thread: threading.Thread | None = None
        # a server stopped mid-training leaves its staging folder: nothing reads it, remove it
        for leftover in runs_dir(self.data.root).glob(f".{RUN_PREFIX}*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)

    def update(self, **values) -> None:
        with self._lock:
            self.state = {**self.state, **values}

    def status(self) -> dict:
        with self._lock:
            state = dict(self.state)
        if "started" in state:
            end = state.get("finished") or time.time()
            state["elapsed_s"] = round(end - state["started"], 2)
        return state

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> dict:
        """Start training; 409 while a job runs, 422 when the data is not enough yet."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise ApiError(
                    409, "a model is already being trained on this server; wait or cancel it"
                )
            counts = self.data.check_trainable(self.settings.min_examples)
            out = next_run(runs_dir(self.data.root))
            self.cancel_requested.clear()
            self.state = {"state": "running", "phase": "loading", "epoch": 0,
                          "max_epochs": self.settings.epochs, "val_accuracy": None,
                          "examples": counts, "run": out.name, "started": time.time()}  # fmt: skip
            self._thread = threading.Thread(
                target=self._run, args=(out,), name="motionscope-teach-train", daemon=True
            )
            self._thread.start()
        return self.status()

    def cancel(self) -> dict:
        if not self.running:
            raise ApiError(409, "no training is running")
        self.cancel_requested.set()
        self.update(phase="cancelling")
        return self.status()

    def wait(self, timeout: float | None = None) -> dict:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status()

    # -- the job -------------------------------------------------------------------------------

    def _run(self, out: Path) -> None:
        try:
            metrics = self._train(out)
            if self.cancel_requested.is_set():  # pressed after the last epoch: no new model
                shutil.rmtree(out, ignore_errors=True)
                raise Cancelled
            self.update(phase="loading the new model")
            loaded = time.perf_counter()
            if self.on_bundle is not None:
                self.on_bundle(out)
            acc = metrics.get("accuracy")
            self.update(state="done", phase="done", bundle=out.name, finished=time.time(),
                        test_accuracy=None if acc is None else round(float(acc), 4),
                        unknown_threshold=metrics.get("unknown_threshold"),
                        fit_s=metrics.get("train_seconds"),
                        load_s=round(time.perf_counter() - loaded, 2))  # fmt: skip
        except Cancelled:
            self._discard(out)
            self.update(state="cancelled", phase="cancelled", finished=time.time())
        except Exception as e:  # the page shows the message; the server keeps running
            log.exception("teach: training failed")
            self._discard(out)
            self.update(state="failed", phase="failed", error=str(e), finished=time.time())

    def _train(self, out: Path) -> dict:
        from motionscope.data.videos import load_training_data
        from motionscope.train.config import TrainConfig
        from motionscope.train.fit import train

        s = self.settings
        with self.data.lock:  # no example is written while the data is read
            ds = load_training_data(self.data.root, input_kind="keypoints", progress=False)
        cfg = TrainConfig(
            model=s.model,
            seed=s.seed,
            split="stratified",
            epochs=s.epochs,
            threads=s.threads,
            force=True,  # a handful of examples: the size check would refuse it
            progress=False,
            optim={"patience_updates": s.patience_updates},
        )
        self.update(phase="training")
        out.parent.mkdir(parents=True, exist_ok=True)
        # the data-size warnings are shown on the page; catch_warnings is process-wide, so the
        # others (from this thread or another one meanwhile) go to the log
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataSizeWarning)
            result = train(ds, out, cfg, callbacks=[_Progress(self)])
        notes = [str(w.message) for w in caught if issubclass(w.category, DataSizeWarning)]
        for w in caught:
            if not issubclass(w.category, DataSizeWarning):
                log.warning("%s: %s", w.category.__name__, w.message)
        self.update(warnings=notes)
        metrics = dict(result.metrics)
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        metrics["unknown_threshold"] = (config.get("calibration") or {}).get("unknown_threshold")
        return metrics

    @staticmethod
    def _discard(out: Path) -> None:
        """Remove what an unfinished job left (its staging folder; never a published bundle)."""
        for leftover in out.parent.glob(f".{out.name}.*"):  # .model-<n>.partial (bundle.files)
            shutil.rmtree(leftover, ignore_errors=True)
