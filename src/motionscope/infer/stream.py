"""``StreamRecognizer``: frame-by-frame recognition for cameras, streams and WebSockets.

>>> rec = motionscope.load("runs/demo")                       # doctest: +SKIP
>>> with rec.stream(every=5, smooth=3) as live:              # doctest: +SKIP
...     for frame in frames:                                 # uint8 RGB (H, W, 3)
...         u = live.push(frame)
...         if u.predicted:
...             print(u.label, u.confidence)

How it works:

- Every pushed frame goes through MediaPipe Holistic (one graph per stream, created on the first
  frame, keeping its tracking state between frames) and its keypoints, converted to the bundle's
  layout, go into a ring buffer of the last ``W`` frames (``W`` = the bundle's window unless
  ``window`` says otherwise; a different ``W`` is resampled to the model's window, which changes
  the time scale the model sees, so keep the default unless you know why).
- **No prediction before the buffer is full.** The model was trained on windows of ``W``
  consecutive frames; a partial buffer would be stretched to ``W`` frames, showing the model the
  motion at a speed it never saw, so early guesses would be confidently wrong. The first
  prediction comes with frame ``W``, then one every ``every`` frames.
- A prediction is the recogniser's calibrated probabilities (:meth:`Recognizer.probabilities`,
  so the bundle's temperature applies); the reported label comes from the average of the last
  ``smooth`` probability vectors, and is ``"unknown"`` when its averaged probability is below
  the unknown threshold (the recogniser's, unless ``unknown_threshold`` overrides it; 0 = off).
- Between predictions every update repeats the last result with ``predicted=False``.

RGB bundles (``input_kind: "frames"``) work the same way with frames instead of keypoints: the
ring buffer holds the last ``W`` RGB frames (``W`` = the bundle's typical training clip length)
and a prediction samples them exactly as training did (the recogniser's ``probabilities``).
MediaPipe is not run for them (``keypoints`` is ``None``, nothing to draw but the label), and
:meth:`StreamRecognizer.push_keypoints` is refused. A prediction of an RGB model costs far more
than a keypoint one (a CNN over every sampled frame), so give them a larger ``every``.

A ``StreamRecognizer`` is cheap and independent: create one per camera or connection (the
recogniser and its backend are shared, the MediaPipe graph and the buffers are not). It is not
thread-safe; it draws nothing and opens no window (see :mod:`motionscope.video.overlay`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from motionscope.errors import DataError
from motionscope.infer.segment import UNKNOWN
from motionscope.keypoints.layout import HOLISTIC, Layout, convert

if TYPE_CHECKING:  # pragma: no cover
    from motionscope.infer.recognizer import Recognizer


@dataclass
class StreamUpdate:
    """The state of a stream after one pushed frame."""

    frame: int  # frames pushed since the start (or reset), this one included
    t: float | None  # the timestamp given with the frame (seconds), if any
    label: str | None  # None until the first prediction; "unknown" below the threshold
    confidence: float  # smoothed probability of the top class (0 before the first prediction)
    top_k: list[tuple[str, float]]  # smoothed, best first
    unknown: bool  # the top class was below the unknown threshold
    predicted: bool  # a new prediction was made with this frame
    buffered: int  # frames in the ring buffer (predictions start when it holds ``window``)
    window: int
    keypoints: np.ndarray | None  # this frame's keypoints, for drawing (None for RGB models)
    layout: Layout | None  # layout of ``keypoints`` (Holistic for frames pushed as images)
    detections: dict[str, bool] = field(default_factory=dict)  # block -> found (frames only)
    timings: dict[str, float] = field(default_factory=dict)  # ms: pose, model, total
    probabilities: np.ndarray | None = None  # smoothed, in ``classes`` order

    @property
    def ready(self) -> bool:
        """At least one prediction has been made."""
        return self.label is not None

    def to_dict(self, *, keypoints: bool = False) -> dict:
        """JSON-friendly (for logs and WebSocket messages); ``keypoints=True`` adds this
        frame's keypoint vector (rounded to 5 decimals)."""
        d = {
            "frame": self.frame,
            "t": None if self.t is None else round(float(self.t), 4),
            "label": self.label,
            "confidence": round(float(self.confidence), 6),
            "top_k": [{"label": lab, "confidence": round(float(p), 6)} for lab, p in self.top_k],
            "unknown": self.unknown,
            "predicted": self.predicted,
            "buffered": self.buffered,
            "window": self.window,
            "detections": dict(self.detections),
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if keypoints:
            d["layout"] = None if self.layout is None else self.layout.name
            d["keypoints"] = (
                None if self.keypoints is None else np.round(self.keypoints, 5).tolist()
            )
        return d


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


class StreamRecognizer:
    """Streaming predictions over the last ``window`` frames; see the module docstring.

    ``extractor`` lets a caller supply its own MediaPipe graph (a
    :class:`~motionscope.pose.holistic.HolisticExtractor`); it is then not closed here.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        every: int = 5,
        smooth: int = 3,
        window: int | None = None,
        top_k: int = 3,
        unknown_threshold: float | None = None,
        extractor=None,
    ) -> None:
        self.kind = recognizer.bundle.config.get("input_kind") or "keypoints"
        if self.kind not in ("keypoints", "frames"):
            raise DataError(f"live recognition cannot feed a model taking {self.kind!r}")
        self.recognizer = recognizer
        self.every = _positive_int("every", every)
        self.smooth = _positive_int("smooth", smooth)
        self.window = _positive_int(
            "window", window if window is not None else recognizer.pre.window
        )
        self.top_k = max(1, min(_positive_int("top_k", top_k), len(recognizer.classes)))
        if unknown_threshold is None:
            unknown_threshold = getattr(recognizer, "unknown_threshold", 0.0) or 0.0
        unknown_threshold = float(unknown_threshold)
        if not 0.0 <= unknown_threshold <= 1.0:
            raise DataError(
                f"the unknown threshold is a probability in [0, 1], got {unknown_threshold}"
            )
        self.unknown_threshold = unknown_threshold
        self.layout: Layout | None = recognizer.pre.layout if self.kind == "keypoints" else None
        self.classes: list[str] = list(recognizer.classes)
        self._extractor = extractor
        self._own_extractor = extractor is None
        width = self.layout.width if self.layout is not None else 0
        self._buf = np.zeros((self.window, width), dtype=np.float32)  # keypoint models
        self._frames: deque[np.ndarray] = deque(maxlen=self.window)  # RGB models
        self._recent: deque[np.ndarray] = deque(maxlen=self.smooth)
        self.reset()

    # -- life cycle ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far (buffer, smoothing, MediaPipe tracking)."""
        self._buf[:] = 0
        self._frames.clear()
        self._pos = 0  # next write position in the ring
        self._count = 0  # frames in the ring (<= window)
        self._pushed = 0
        self._since = 0  # frames since the last prediction
        self._recent.clear()
        self._last: tuple[str | None, float, list, bool, np.ndarray | None] = (
            None,
            0.0,
            [],
            False,
            None,
        )
        if self._extractor is not None:
            self._extractor.reset()

    def close(self) -> None:
        """Release the MediaPipe graph (when this stream created it)."""
        if self._extractor is not None and self._own_extractor:
            self._extractor.close()
            self._extractor = None

    def __enter__(self) -> StreamRecognizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- input ---------------------------------------------------------------------------------

    def _pose(self):
        if self._extractor is None:
            from motionscope.pose.holistic import HolisticExtractor

            self._extractor = HolisticExtractor()
        return self._extractor

    def push(self, frame_rgb: np.ndarray, t: float | None = None) -> StreamUpdate:
        """Add one ``uint8`` RGB frame ``(H, W, 3)``: MediaPipe Holistic, then the buffer and,
        when due, a prediction (RGB models: the frame itself goes into the buffer)."""
        if self.kind == "frames":
            return self._add_frame(frame_rgb, t)
        if self.layout.is_generic:
            raise DataError(
                f"this model takes {self.layout.name} sequences, not video; "
                "use push_keypoints() with its own vectors"
            )
        start = time.perf_counter()
        holistic, found = self._pose().process_blocks(frame_rgb)
        pose_ms = (time.perf_counter() - start) * 1e3
        row = convert(holistic[None], HOLISTIC, self.layout)[0]
        return self._add(row, t, holistic, HOLISTIC, found, pose_ms, start)

    def push_keypoints(self, keypoints: np.ndarray, t: float | None = None) -> StreamUpdate:
        """Add one frame's keypoint vector: the bundle's layout width, or a Holistic 1662
        vector (converted to the bundle's layout)."""
        if self.kind == "frames":
            raise DataError("this is an RGB model: push() frames, it takes no keypoints")
        start = time.perf_counter()
        vec = np.asarray(keypoints, dtype=np.float32).reshape(-1)
        if vec.shape[0] == self.layout.width:
            row, layout = vec, self.layout
        elif vec.shape[0] == HOLISTIC.width and not self.layout.is_generic:
            row, layout = convert(vec[None], HOLISTIC, self.layout)[0], HOLISTIC
        else:
            raise DataError(
                f"a keypoint vector of {vec.shape[0]} values does not fit this model: it expects "
                f"{self.layout.width} ({self.layout.name} layout)"
                + ("" if self.layout.is_generic else f" or {HOLISTIC.width} (holistic)")
            )
        if not np.isfinite(row).all():
            raise DataError(
                "keypoint vector holds NaN or inf values; use zeros for parts not detected"
            )
        return self._add(row, t, vec, layout, {}, 0.0, start)

    # -- the core ------------------------------------------------------------------------------

    def buffer(self) -> np.ndarray:
        """The buffered frames in time order, oldest first (a copy): keypoints ``(n, D)``, or
        RGB frames ``(n, H, W, 3)`` for an RGB model."""
        if self.kind == "frames":
            if not self._frames:
                return np.zeros((0, 0, 0, 3), np.uint8)
            return np.stack(self._frames)
        if self._count < self.window:
            return self._buf[: self._count].copy()
        return np.concatenate((self._buf[self._pos :], self._buf[: self._pos]))

    def _add_frame(self, frame_rgb: np.ndarray, t: float | None) -> StreamUpdate:
        start = time.perf_counter()
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise DataError(
                f"expected a uint8 RGB frame of shape (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        if self._frames and self._frames[-1].shape != frame.shape:
            raise DataError(
                f"frame size changed from {self._frames[-1].shape[1]}x{self._frames[-1].shape[0]} "
                f"to {frame.shape[1]}x{frame.shape[0]}; reset() the stream for a new source"
            )
        self._frames.append(frame.copy())  # the caller may reuse its buffer
        return self._add(None, t, None, None, {}, 0.0, start)

    def _add(self, row, t, keypoints, layout, found, pose_ms, start) -> StreamUpdate:
        if row is not None:
            self._buf[self._pos] = row
            self._pos = (self._pos + 1) % self.window
        self._count = min(self._count + 1, self.window)
        self._pushed += 1
        self._since += 1
        predicted = False
        model_ms = 0.0
        if self._count == self.window and (not self._recent or self._since >= self.every):
            m0 = time.perf_counter()
            probs = self.recognizer.probabilities([self.buffer()])[0]
            model_ms = (time.perf_counter() - m0) * 1e3
            self._recent.append(probs)
            self._since = 0
            predicted = True
            self._last = self._summary()
        label, confidence, top_k, unknown, smoothed = self._last
        return StreamUpdate(
            frame=self._pushed,
            t=t,
            label=label,
            confidence=confidence,
            top_k=list(top_k),
            unknown=unknown,
            predicted=predicted,
            buffered=self._count,
            window=self.window,
            keypoints=keypoints,
            layout=layout,
            detections=dict(found),
            timings={
                "pose": pose_ms,
                "model": model_ms,
                "total": (time.perf_counter() - start) * 1e3,
            },
            probabilities=None if smoothed is None else smoothed.copy(),
        )

    def _summary(self):
        smoothed = np.mean(np.stack(self._recent), axis=0).astype(np.float32)
        order = np.argsort(-smoothed)[: self.top_k]
        best = int(order[0])
        confidence = float(smoothed[best])
        unknown = confidence < self.unknown_threshold
        label = UNKNOWN if unknown else self.classes[best]
        top_k = [(self.classes[i], float(smoothed[i])) for i in order]
        return label, confidence, top_k, unknown, smoothed
