"""``StreamRecognizer``: frame-by-frame recognition for cameras, streams and WebSockets.

>>> rec = motionscope.load("runs/demo")                       # doctest: +SKIP
>>> with rec.stream(every=5, smooth=3) as live:              # doctest: +SKIP
...     for frame in frames:                                 # uint8 RGB (H, W, 3)
...         u = live.push(frame)
...         if u.predicted:
...             print(u.label, u.confidence)

How it works:

- Every pushed frame goes through MediaPipe (one graph per stream, created on the first frame,
  keeping its tracking state between frames: Holistic, or Holistic without its face branch when
  the bundle's layout has no face) and its keypoints, converted to the bundle's
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

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from motionscope.errors import DataError
from motionscope.infer.segment import UNKNOWN
from motionscope.keypoints.layout import HOLISTIC, Layout, convert
from motionscope.video.rate import RateConverter
from motionscope.video.sampling import shrink

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


class KeypointBuffer:
    """The ring of the last ``window`` keypoint rows of a keypoint model's stream. Frames go
    through MediaPipe (``extractor``, or a graph of its own created on first use: Holistic, or
    Holistic without the face when the model's layout has none)."""

    def __init__(self, recognizer, window: int, extractor=None) -> None:
        self.recognizer = recognizer
        self.layout: Layout = recognizer.layout
        self.window = window
        self._extractor = extractor
        self._own_extractor = extractor is None
        self._buf = np.zeros((window, self.layout.width), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._buf[:] = 0
        self._pos = 0  # next write position in the ring
        self.count = 0  # rows in the ring (<= window)
        if self._extractor is not None:
            self._extractor.reset()

    def close(self) -> None:
        if self._extractor is not None and self._own_extractor:
            self._extractor.close()
            self._extractor = None

    def _add(self, row: np.ndarray) -> None:
        self._buf[self._pos] = row
        self._pos = (self._pos + 1) % self.window
        self.count = min(self.count + 1, self.window)

    def push_frame(self, frame_rgb: np.ndarray, repeats: int = 1):
        """MediaPipe on one frame, its row added ``repeats`` times; returns (keypoints to draw,
        their layout, found, pose ms)."""
        if self.layout.is_generic:
            raise DataError(
                f"this model takes {self.layout.name} sequences, not video; "
                "use push_keypoints() with its own vectors"
            )
        if self._extractor is None:
            self._extractor = self.recognizer.new_extractor()  # the graph its layout needs
        start = time.perf_counter()
        holistic, found = self._extractor.process_blocks(frame_rgb)
        pose_ms = (time.perf_counter() - start) * 1e3
        row = convert(holistic[None], HOLISTIC, self.layout)[0]
        for _ in range(repeats):
            self._add(row)
        return holistic, HOLISTIC, found, pose_ms

    def push_keypoints(self, keypoints: np.ndarray):
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
        self._add(row)
        return vec, layout

    def array(self) -> np.ndarray:
        if self.count < self.window:
            return self._buf[: self.count].copy()
        return np.concatenate((self._buf[self._pos :], self._buf[: self._pos]))


class FrameBuffer:
    """The last ``window`` RGB frames of an RGB model's stream, shrunk to the sampling's short
    side (MediaPipe is not run: nothing to draw but the label)."""

    def __init__(self, window: int, short_side: int) -> None:
        self.window = window
        self.short_side = short_side
        self._frames: deque[np.ndarray] = deque(maxlen=window)
        self.reset()

    @property
    def count(self) -> int:
        return len(self._frames)

    def reset(self) -> None:
        self._frames.clear()
        self._shape: tuple[int, ...] | None = None

    def close(self) -> None:
        pass

    def push_frame(self, frame_rgb: np.ndarray, repeats: int = 1):
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise DataError(
                f"expected a uint8 RGB frame of shape (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        if self._shape is not None and self._shape != frame.shape:
            raise DataError(
                f"frame size changed from {self._shape[1]}x{self._shape[0]} "
                f"to {frame.shape[1]}x{frame.shape[0]}; reset() the stream for a new source"
            )
        self._shape = frame.shape
        small = shrink(frame, self.short_side)
        small = small.copy() if small is frame else small  # the caller may reuse its buffer
        self._frames.extend([small] * repeats)
        return None, None, {}, 0.0

    def push_keypoints(self, keypoints):
        raise DataError("this is an RGB model: push() frames, it takes no keypoints")

    def array(self) -> np.ndarray:
        if not self._frames:
            return np.zeros((0, 0, 0, 3), np.uint8)
        return np.stack(self._frames)


class StreamRecognizer:
    """Streaming predictions over the last ``window`` frames; see the module docstring.

    ``extractor`` lets a caller supply its own MediaPipe graph (a
    :class:`~motionscope.pose.holistic.HolisticExtractor`); it is then not closed here.
    ``fps`` (a camera's or file's frame rate, when known) converts the stream to the model's
    frame rate: frames the model would not have seen are dropped before MediaPipe.
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
        fps: float | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.every = _positive_int("every", every)
        self.smooth = _positive_int("smooth", smooth)
        self.window = _positive_int("window", window if window is not None else recognizer.window)
        self.top_k = max(1, min(_positive_int("top_k", top_k), len(recognizer.classes)))
        if unknown_threshold is None:
            unknown_threshold = getattr(recognizer, "unknown_threshold", 0.0) or 0.0
        unknown_threshold = float(unknown_threshold)
        if not 0.0 <= unknown_threshold <= 1.0:
            raise DataError(
                f"the unknown threshold is a probability in [0, 1], got {unknown_threshold}"
            )
        self.unknown_threshold = unknown_threshold
        self.layout: Layout | None = getattr(recognizer, "layout", None)
        self.classes: list[str] = list(recognizer.classes)
        self._source = recognizer.stream_buffer(self.window, extractor)
        self._rate = RateConverter(fps, recognizer.fps)  # by frame index, when no times are given
        self._period = 1.0 / recognizer.fps if recognizer.fps else None
        self._recent: deque[np.ndarray] = deque(maxlen=self.smooth)
        self.reset()

    # -- life cycle ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far (buffer, smoothing, MediaPipe tracking)."""
        self._source.reset()
        self._since = 0  # frames since the last prediction
        self._seen = 0  # frames offered (before the frame-rate conversion)
        self._t0: float | None = None  # time of the first frame (frame-rate conversion)
        self._tick = 0  # frames at the model's rate up to the last pushed frame
        self._recent.clear()
        self._last: tuple[str | None, float, list, bool, np.ndarray | None] = (
            None,
            0.0,
            [],
            False,
            None,
        )

    def close(self) -> None:
        """Release the MediaPipe graph (when this stream created it)."""
        self._source.close()

    def __enter__(self) -> StreamRecognizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- input ---------------------------------------------------------------------------------

    def push(self, frame_rgb: np.ndarray, t: float | None = None) -> StreamUpdate:
        """Add one ``uint8`` RGB frame ``(H, W, 3)``: MediaPipe Holistic (keypoint models) or
        the frame itself (RGB models) into the buffer and, when due, a prediction. A frame the
        frame-rate conversion drops changes nothing (the last update is repeated)."""
        start = time.perf_counter()
        repeats = self._repeats(t)
        self._seen += 1
        if repeats == 0:
            return self._update(t, None, None, {}, 0.0, 0.0, start, predicted=False)
        keypoints, layout, found, pose_ms = self._source.push_frame(frame_rgb, repeats)
        return self._step(t, keypoints, layout, found, pose_ms, start)

    def push_keypoints(self, keypoints: np.ndarray, t: float | None = None) -> StreamUpdate:
        """Add one frame's keypoint vector: the bundle's layout width, or a Holistic 1662
        vector (converted to the bundle's layout)."""
        start = time.perf_counter()
        self._seen += 1
        vec, layout = self._source.push_keypoints(keypoints)
        return self._step(t, vec, layout, {}, 0.0, start)

    def _repeats(self, t: float | None) -> int:
        """How many frames at the model's rate this frame stands for: by its time when it has
        one (a camera that delivers fewer frames than the model's rate repeats them, one that
        delivers more drops them; a quarter period of jitter is tolerated), else by its index
        and the ``fps`` given."""
        if t is None or self._period is None:
            return self._rate.count(self._seen)
        if self._t0 is None or t < self._t0:  # the first frame, or the clock went back
            self._t0, self._tick = t, 0
            return 1
        tick = math.floor((t - self._t0) / self._period + 0.25)
        n, self._tick = max(0, tick - self._tick), max(tick, self._tick)
        return min(n, self.window)

    # -- the core ------------------------------------------------------------------------------

    def buffer(self) -> np.ndarray:
        """The buffered frames in time order, oldest first (a copy): keypoints ``(n, D)``, or
        RGB frames ``(n, h, w, 3)`` (shrunk to the sampling's short side) for an RGB model."""
        return self._source.array()

    def _step(self, t, keypoints, layout, found, pose_ms, start) -> StreamUpdate:
        self._since += 1
        predicted = False
        model_ms = 0.0
        if self._source.count == self.window and (not self._recent or self._since >= self.every):
            m0 = time.perf_counter()
            probs = self.recognizer.probabilities([self.buffer()])[0]
            model_ms = (time.perf_counter() - m0) * 1e3
            self._recent.append(probs)
            self._since = 0
            predicted = True
            self._last = self._summary()
        return self._update(
            t, keypoints, layout, found, pose_ms, model_ms, start, predicted=predicted
        )

    def _update(
        self, t, keypoints, layout, found, pose_ms, model_ms, start, *, predicted
    ) -> StreamUpdate:
        label, confidence, top_k, unknown, smoothed = self._last
        return StreamUpdate(
            frame=self._seen,
            t=t,
            label=label,
            confidence=confidence,
            top_k=list(top_k),
            unknown=unknown,
            predicted=predicted,
            buffered=self._source.count,
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
