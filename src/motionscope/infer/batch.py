"""Batch prediction over a corpus of videos into a resumable JSON-lines file.

``predict_corpus(RUN, [FOLDER], OUT)`` predicts every video under the inputs (folders are
searched recursively, in natural order) and appends one line per video to ``OUT`` as it
finishes::

    {"path": "clips/wave/3.mp4", "ok": true, "action": "wave", "confidence": 0.93,
     "unknown": false, "top_k": [["wave", 0.93], ...], "error": null}

A video that fails gets ``"ok": false`` and its ``"error"``; the batch goes on. Each line is
written with one ``write`` on a file opened for appending and flushed to disk, so a killed run
leaves whole lines (a torn last line is cut off when the file is opened again). Re-running
with the same ``OUT`` skips the videos already in it (``retry_failed`` predicts the failed ones
again; their new line comes later and wins). The engines give the same lines: ``local`` (one
recognizer in this process) or ``ray`` (:mod:`motionscope.infer.batch_ray`, a pool of Ray
actors on a local runtime or a cluster).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from motionscope.errors import DataError, MotionscopeError

ENGINES = ("local", "ray")


@dataclass
class BatchReport:
    out: Path
    engine: str
    total: int  # videos found
    skipped: int  # already in ``out``
    predicted: int
    failed: int
    workers: int = 1


def find_videos(inputs: Iterable[Path | str]) -> list[Path]:
    """The videos of ``inputs``: files as given, folders searched recursively."""
    from motionscope.video.decode import is_video_file, natural_key

    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = [p for p in item.rglob("*") if p.is_file() and is_video_file(p)]
            out.extend(sorted(found, key=lambda p: natural_key(p.relative_to(item))))
        elif item.is_file():
            out.append(item)
        else:
            raise DataError(f"{item}: no such file or folder; pass video files or folders")
    return list(dict.fromkeys(out))  # each video once


def _key(path: str | Path) -> str:
    return os.path.abspath(path)


def outcome(path: Path | str, prediction=None, error: str | None = None) -> dict:
    """One line of the results file."""
    if prediction is None:
        return {"path": str(path), "ok": False, "action": None, "confidence": None,
                "unknown": None, "top_k": [], "error": error}  # fmt: skip
    return {
        "path": str(path),
        "ok": True,
        "action": prediction.label,
        "confidence": round(float(prediction.confidence), 6),
        "unknown": bool(prediction.unknown),
        "top_k": [[lab, round(float(p), 6)] for lab, p in prediction.top_k],
        "error": None,
    }


def predict_video(rec, path: Path | str, top_k: int) -> dict:
    """The line of one video; an error of that video is its line, not an exception."""
    try:
        return outcome(path, rec.predict(Path(path), top_k=top_k))
    except MotionscopeError as e:
        return outcome(path, error=str(e))
    except Exception as e:  # a bug on one video must not stop a corpus
        return outcome(path, error=f"{type(e).__name__}: {e}")


class ResultsFile:
    """The JSON-lines results: read what is done, append whole lines."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _cut_torn_tail(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)

    def records(self) -> list[dict]:
        out = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(
                    f"{self.path}: line {n} is not JSON; fix or remove it, or write the "
                    "results to another file"
                ) from None
            if isinstance(rec, dict) and "path" in rec:
                out.append(rec)
        return out

    def done(self, retry_failed: bool = False) -> set[str]:
        """The videos (absolute paths) with a line already (a good one, with ``retry_failed``)."""
        return {_key(r["path"]) for r in self.records() if r.get("ok") or not retry_failed}

    def append(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        written = os.write(self._fd, line)  # O_APPEND: one write, one whole line
        if written != len(line):  # pragma: no cover - a full disk
            raise OSError(f"{self.path}: short write ({written} of {len(line)} bytes)")
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def latest(records: Iterable[dict]) -> dict[str, dict]:
    """Absolute path -> the last line written for it (a retried video's new line wins)."""
    return {_key(r["path"]): r for r in records}


Runner = Callable[[list[str], Callable[[dict], None]], int]


def predict_corpus(
    run: Path | str,
    inputs: Iterable[Path | str],
    out: Path | str,
    *,
    engine: str = "local",
    top_k: int = 3,
    backend: str = "torch",
    unknown_threshold: float | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    address: str | None = None,
    num_cpus: int | None = None,
    workers: int | None = None,
) -> BatchReport:
    """Predict every video of ``inputs`` with the bundle ``run`` into ``out`` (JSON lines),
    skipping the videos ``out`` already has. ``engine="ray"`` runs them on Ray actors
    (``address``: a cluster; default a local runtime with ``num_cpus``; at most ``workers``
    actors); ``local`` in this process."""
    from motionscope.bundle import read_bundle
    from motionscope.progress import RateBar

    if engine not in ENGINES:
        raise DataError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if top_k < 1:
        raise DataError(f"--top-k must be at least 1, got {top_k}")
    read_bundle(run)  # a clear error before anything starts
    videos = find_videos(inputs)
    results = ResultsFile(out)
    try:
        done = results.done(retry_failed)
        todo = [str(v) for v in videos if _key(v) not in done]
        counts = {"predicted": 0, "failed": 0}
        bar = RateBar("predict", len(todo), "videos", "videos", enabled=progress)

        def on_done(record: dict) -> None:
            results.append(record)
            counts["predicted" if record["ok"] else "failed"] += 1
            bar.advance(1)

        options = dict(top_k=top_k, backend=backend, unknown_threshold=unknown_threshold)
        try:
            if not todo:
                n_workers = 0
            elif engine == "ray":
                from motionscope.infer.batch_ray import run_on_ray

                n_workers = run_on_ray(
                    run, todo, on_done, options, address=address, num_cpus=num_cpus,
                    workers=workers,
                )  # fmt: skip
            else:
                n_workers = _run_local(run, todo, on_done, options)
        finally:
            bar.close()
    finally:
        results.close()
    return BatchReport(
        out=Path(out),
        engine=engine,
        total=len(videos),
        skipped=len(videos) - len(todo),
        workers=n_workers,
        **counts,
    )


def load_for_batch(run: Path | str, options: dict):
    from motionscope.infer.loader import load_recognizer

    return load_recognizer(
        run, backend=options["backend"], unknown_threshold=options["unknown_threshold"]
    )


def _run_local(run, todo: list[str], on_done, options: dict) -> int:
    rec = load_for_batch(run, options)
    try:
        for path in todo:
            on_done(predict_video(rec, path, options["top_k"]))
    finally:
        rec.close()
    return 1
