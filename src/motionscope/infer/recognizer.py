"""``Recognizer``: a bundle loaded once, predicting actions; what every model kind shares.

The subclasses own what differs between input kinds — how an item (a file, an array, a stream of
decoded frames) becomes the model's sequence, what a live stream buffers, what the server can
draw — :class:`~motionscope.infer.keypoints.KeypointRecognizer` for keypoint models and
:class:`~motionscope.infer.frames.FramesRecognizer` for RGB models. Load one with
``motionscope.load(RUN)`` (the loader table in :mod:`motionscope.infer.loader`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from motionscope.bundle import Bundle, BundleConfig
from motionscope.errors import BundleError, DataError, MotionscopeError
from motionscope.infer.backend import Backend, TorchBackend, softmax
from motionscope.infer.prediction import Prediction
from motionscope.infer.segment import UNKNOWN, Timeline, build_timeline, window_starts
from motionscope.kinds import InputKind
from motionscope.progress import progress_iter

BATCH = 64  # items turned into model inputs and run at once


class Recognizer:
    """Predict with :meth:`predict` / :meth:`predict_many`, cut long videos with
    :meth:`segments`, stream with :meth:`stream`. Subclasses implement the hooks below."""

    kind: ClassVar[InputKind]
    uses_pose: ClassVar[bool] = False  # frames go through MediaPipe (keypoints to draw)
    batch_size: ClassVar[int] = BATCH

    def __init__(
        self, bundle: Bundle, model: torch.nn.Module, pre, backend: Backend | None = None
    ) -> None:
        self.bundle = bundle
        self.model = model  # the PyTorch module (also kept when another backend runs it)
        self.pre = pre  # the bundle's transform: items -> model inputs (``batch``)
        self.backend: Backend = backend or TorchBackend(model)
        # calibration (train/calibrate.py): logits are divided by the temperature before the
        # softmax; a top probability below unknown_threshold is reported as "unknown" (0 = off)
        self.temperature = bundle.config.calibration.temperature
        self.unknown_threshold = bundle.config.calibration.unknown_threshold
        self.classes = bundle.classes
        self._timings: dict[str, float] = {}  # decode / pose time of videos, for timings

    @property
    def config(self) -> BundleConfig:
        return self.bundle.config

    @property
    def window(self) -> int:
        """Frames (at :attr:`fps`) one model window covers."""
        return int(self.config.window)

    @property
    def fps(self) -> float | None:
        """The frame rate the model was trained at (None: unknown, input is not resampled)."""
        return self.config.fps

    def close(self) -> None:
        """Release what the recognizer holds beyond the model (a MediaPipe graph)."""

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_unknown_threshold(self, threshold: float | None) -> None:
        """Report "unknown" when the top calibrated probability is below ``threshold``
        (0 or ``None`` disables it)."""
        value = float(threshold or 0.0)
        if not 0.0 <= value <= 1.0:
            raise DataError(f"the unknown threshold is a probability in [0, 1], got {threshold}")
        self.unknown_threshold = value

    @classmethod
    def build_network(cls, bundle: Bundle, *, input_dim: int, window: int) -> torch.nn.Module:
        """The bundle's architecture (registered name + hyper-parameters), not yet loaded;
        a clear error when the name is of another input kind or the arguments do not build."""
        from motionscope.models.registry import get_model_info

        info = get_model_info(bundle.config.model.name)
        if info.input_kind != cls.kind.value:
            raise BundleError(f"{bundle.path}: model {info.name!r} does not take {cls.kind}")
        try:
            return info.build(
                input_dim=input_dim,
                num_classes=len(bundle.classes),
                window=window,
                **bundle.config.model.hparams,
            )
        except (TypeError, ValueError) as e:
            raise BundleError(
                f"{bundle.path / 'config.json'}: field 'model.hparams' does not build "
                f"{info.name} ({e}); retrain the model"
            ) from e

    # -- hooks of the input kinds ----------------------------------------------------------------

    def _as_sequence(self, item) -> tuple[object, str]:
        """One item (path or array) as what ``pre`` takes, and its name."""
        raise NotImplementedError

    def _segment_source(self, item, fps: float | None) -> tuple[np.ndarray, float | None, str]:
        """The whole sequence to slide windows over, its frame rate and its name."""
        raise NotImplementedError

    def sequence_from_frames(self, frames: Iterable[np.ndarray], fps: float | None):
        """Decoded RGB frames of one video (in order, at ``fps``) as the model's sequence at its
        own rate, and that rate: what the server does with an upload."""
        raise NotImplementedError

    def found_subject(self, sequence) -> bool:
        """Whether ``sequence`` shows anything to recognise (keypoints: a person was detected)."""
        return len(sequence) > 0

    def stream_buffer(self, window: int, extractor=None):
        """The ring buffer a live stream fills (see :mod:`motionscope.infer.stream`)."""
        raise NotImplementedError

    def input_spec(self) -> dict:
        """What the model takes, for ``/v1/model`` and the docs."""
        raise NotImplementedError

    def onnx_input(self) -> tuple[tuple[int, ...], int | None]:
        """The model input shape without the batch axis, and the axis that may be dynamic in
        time (counting the batch axis as 0; ``None``: fixed)."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------

    def probabilities_of_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for preprocessed model inputs."""
        if len(inputs) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        probs = softmax(self.backend.logits(inputs), self.temperature)
        if not np.isfinite(probs).all():
            raise MotionscopeError(
                f"{self.bundle.path}: the model produced NaN or inf outputs; its weights are "
                "damaged or the input is far outside what it was trained on"
            )
        return probs

    def probabilities(self, items: list, *, progress: bool = False) -> np.ndarray:
        """Class probabilities ``(N, classes)`` of items (arrays or files), a batch at a time."""
        size = self.batch_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        out = [np.zeros((0, len(self.classes)), dtype=np.float32)]
        for chunk in progress_iter(chunks, "batches", enabled=progress and len(chunks) > 1):
            out.append(self.probabilities_of_inputs(self.pre.batch([self._item(i) for i in chunk])))
        return np.concatenate(out)

    def _item(self, item):
        return self._as_sequence(item)[0]

    def predict(self, item, *, top_k: int = 3) -> Prediction:
        """Predict one clip (see the subclass for what an item can be)."""
        return self.predict_many([item], top_k=top_k)[0]

    def predict_many(self, items: list, *, top_k: int = 3) -> list[Prediction]:
        check_top_k(top_k)
        t0 = time.perf_counter()
        self._timings = {}
        loaded = [self._as_sequence(i) for i in items]
        t1 = time.perf_counter()
        inputs = self.pre.batch([a for a, _ in loaded])
        t2 = time.perf_counter()
        probs = self.probabilities_of_inputs(inputs)
        t3 = time.perf_counter()
        n = max(1, len(items))
        timings = {
            "load": (t1 - t0) * 1e3 / n,
            "preprocess": (t2 - t1) * 1e3 / n,
            "model": (t3 - t2) * 1e3 / n,
            # videos: the part of "load" spent decoding and in MediaPipe Holistic
            **{stage: ms / n for stage, ms in self._timings.items()},
        }
        return [
            self.prediction(p, top_k, timings=timings, source=src)
            for (_, src), p in zip(loaded, probs, strict=True)
        ]

    def prediction(
        self, p: np.ndarray, top_k: int = 3, *, timings: dict | None = None, source: str = ""
    ) -> Prediction:
        """The :class:`Prediction` of one row of class probabilities."""
        k = min(check_top_k(top_k), len(self.classes))
        order = np.argsort(-p)[:k]
        unknown = bool(p[order[0]] < self.unknown_threshold)
        return Prediction(
            label=UNKNOWN if unknown else self.classes[order[0]],
            confidence=float(p[order[0]]),
            top_k=[(self.classes[i], float(p[i])) for i in order],
            timings=dict(timings or {}),
            source=source,
            unknown=unknown,
        )

    # -- long videos ----------------------------------------------------------------------------

    def _window_inputs(self, seq: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Model inputs for the windows ``seq[s : s + window]`` (the bundle's preprocessing)."""
        return self.pre.batch([seq[s : s + window] for s in starts])

    def segments(
        self,
        item,
        *,
        fps: float | None = None,
        window: int | None = None,
        stride: int | None = None,
        smooth: int = 3,
        min_segment_s: float | None = None,
        batch_size: int = 256,
    ) -> Timeline:
        """Cut a long video (file or frame folder), keypoint file or array into labelled
        segments (see :mod:`motionscope.infer.segment`).

        ``window`` frames per window (default: the bundle's window; other lengths are resampled
        to it), a window every ``stride`` frames (default ``window // 4``), probabilities
        averaged over ``smooth`` consecutive windows, segments shorter than ``min_segment_s``
        absorbed by a neighbour (default: half a window). Videos are converted to the model's
        frame rate first. ``fps`` is needed for arrays and frame folders (a ``.npy`` written by
        ``motionscope extract`` has it in its ``.json`` sidecar)."""
        t0 = time.perf_counter()
        seq, fps, src = self._segment_source(item, fps)
        name = src or "the input array"
        if not fps or fps <= 0:
            raise DataError(
                f"{name} has no frame rate: pass fps= (on the command line --fps) to segment it"
            )
        window = int(window or self.window)
        if window < 1:
            raise DataError(f"window must be at least 1 frame, got {window}")
        stride = int(stride or max(1, window // 4))
        if stride < 1:
            raise DataError(f"stride must be at least 1 frame, got {stride}")
        if smooth < 1:
            raise DataError(f"smooth must be at least 1 window, got {smooth}")
        if min_segment_s is None:
            min_segment_s = 0.5 * window / fps
        t1 = time.perf_counter()
        starts = window_starts(len(seq), window, stride)
        chunks, t_pre, t_model = [], 0.0, 0.0
        for i in range(0, len(starts), batch_size):
            a = time.perf_counter()
            inputs = self._window_inputs(seq, starts[i : i + batch_size], window)
            b = time.perf_counter()
            chunks.append(self.probabilities_of_inputs(inputs))
            t_pre, t_model = t_pre + b - a, t_model + time.perf_counter() - b
        t2 = time.perf_counter()
        timeline = build_timeline(
            np.concatenate(chunks),
            starts,
            window=window,
            stride=stride,
            n_frames=len(seq),
            fps=float(fps),
            classes=self.classes,
            unknown_threshold=self.unknown_threshold or None,
            smooth=smooth,
            min_segment_s=float(min_segment_s),
            source=src,
        )
        timeline.timings = {
            "load": (t1 - t0) * 1e3,
            "preprocess": t_pre * 1e3,
            "model": t_model * 1e3,
            "segment": (time.perf_counter() - t2) * 1e3,
        }
        return timeline

    # -- live -----------------------------------------------------------------------------------

    def stream(
        self,
        *,
        every: int = 5,
        smooth: int = 3,
        window: int | None = None,
        top_k: int = 3,
        unknown_threshold: float | None = None,
        extractor=None,
        fps: float | None = None,
    ):
        """A :class:`~motionscope.infer.stream.StreamRecognizer` over this model: push frames
        (or keypoint vectors) one at a time; a prediction every ``every`` frames once the last
        ``window`` frames (default: the bundle's window) are buffered, averaged over the last
        ``smooth`` predictions. ``fps``: the source's frame rate, when known (frames are then
        dropped or repeated to the model's rate). One per camera or connection; close it."""
        from motionscope.infer.stream import StreamRecognizer

        return StreamRecognizer(
            self,
            every=every,
            smooth=smooth,
            window=window,
            top_k=top_k,
            unknown_threshold=unknown_threshold,
            extractor=extractor,
            fps=fps,
        )


def check_top_k(top_k) -> int:
    """``top_k`` when it is a whole number >= 1 (more than the classes shows them all)."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise DataError(
            f"top_k must be a whole number >= 1 (how many classes to show), got {top_k!r}"
        )
    return int(top_k)


def path_of(item) -> Path | None:
    return Path(item) if isinstance(item, (str, Path)) else None
