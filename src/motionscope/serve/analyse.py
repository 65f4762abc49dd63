"""One uploaded video -> the result the API answers (runs in an inference worker thread).

Decoding and MediaPipe run frame by frame here (rather than inside ``Recognizer.predict``) so
the server can enforce its limits *while* it works: the deadline and the client's departure are
checked before every frame, a video whose header hides its real length is stopped once it passes
``max_seconds``, and the time spent decoding, in MediaPipe and in the model is reported apart.
What the frames become is the recognizer's business (keypoints through its MediaPipe graph for
a keypoint model, shrunk frames for an RGB model, both at the model's frame rate); the model, the
preprocessing, the calibration and the "unknown" threshold all come from the
:class:`~motionscope.infer.Recognizer` and its bundle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionscope.errors import DataError
from motionscope.serve.limits import ApiError, Deadline
from motionscope.serve.settings import ServeSettings
from motionscope.video.decode import TruncatedVideoError, iter_frames, probe

NO_PERSON = "no person detected"
DEFAULT_FPS = 30.0  # assumed when a container does not say


@dataclass
class Worker:
    """What one inference thread owns: a Recognizer (with its own MediaPipe graph, if its
    model uses one)."""

    recognizer: object

    def close(self) -> None:
        close = getattr(self.recognizer, "close", None)
        if close is not None:
            close()


@dataclass
class VideoResult:
    person: bool
    label: str | None = None
    unknown: bool = False
    confidence: float = 0.0
    top_k: list[tuple[str, float]] = field(default_factory=list)
    segments: list[dict] | None = None
    video: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {
            "success": True,
            "person_detected": self.person,
            "label": self.label,
            # the most probable real class ("confidence" is its probability), also when
            # "label" is "unknown"; None when no person was detected
            "best_label": self.top_k[0][0] if self.top_k else None,
            "unknown": self.unknown,
            "confidence": round(self.confidence, 6),
            "top_k": [{"label": lab, "confidence": round(p, 6)} for lab, p in self.top_k],
            "segments": self.segments,
            "video": self.video,
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if not self.person:
            out["message"] = f"{NO_PERSON} in the video: nothing to recognise"
        return out


def decode_error(e: DataError) -> ApiError:
    """Map a decoding error to its HTTP status, without the server's temporary path."""
    msg = str(e)
    if isinstance(e, TruncatedVideoError):
        return ApiError(
            422,
            f"the video is truncated or damaged: decoding failed after {e.frames_decoded} good "
            "frames; re-encode or re-upload it",
        )
    if "no video stream" in msg:
        return ApiError(415, "the upload has no video stream (audio only or not a video)")
    return ApiError(422, "the video cannot be decoded: it is damaged, truncated or not a video")


def _frames(
    path: Path,
    deadline: Deadline,
    max_frames: int,
    settings: ServeSettings,
    clock,
    progress=None,
) -> tuple[Iterator[np.ndarray], dict]:
    stats = {"decode_s": 0.0, "frames": 0}

    def gen() -> Iterator[np.ndarray]:
        it = iter_frames(path)
        while True:
            deadline.check(504)
            t0 = clock()
            try:
                frame = next(it)
            except StopIteration:
                return
            finally:
                stats["decode_s"] += clock() - t0
            stats["frames"] += 1
            if progress is not None:
                progress(stats["frames"])
            if max(frame.shape[0], frame.shape[1]) > settings.max_side:
                raise ApiError(
                    413,
                    f"frames of {frame.shape[1]}x{frame.shape[0]} are too large "
                    f"(limit {settings.max_side}, checked on every frame)",
                )
            if stats["frames"] > max_frames:
                raise ApiError(
                    413,
                    f"the video is longer than the server's limit of {settings.max_seconds:g} s "
                    "(--max-seconds); send a shorter clip",
                )
            yield frame

    return gen(), stats


def analyse_video(
    worker: Worker,
    path: Path,
    *,
    top_k: int,
    want_segments: bool,
    settings: ServeSettings,
    deadline: Deadline,
    clock=time.perf_counter,
    progress=None,
) -> VideoResult:
    """Decode, extract keypoints, predict (and segment) one uploaded video; ``progress(done,
    total)`` is called after every decoded frame (``total``: the header's frame count, or None)."""
    rec = worker.recognizer
    deadline.check(504)
    try:
        info = probe(path)
    except DataError as e:
        raise decode_error(e) from None
    if max(info.width, info.height) > settings.max_side:
        raise ApiError(
            413, f"frames of {info.width}x{info.height} are too large (limit {settings.max_side})"
        )
    if info.duration is not None and info.duration > settings.max_seconds:
        raise ApiError(
            413,
            f"the video lasts {info.duration:.1f} s, longer than the server's limit of "
            f"{settings.max_seconds:g} s (--max-seconds); send a shorter clip",
        )
    fps = info.fps or DEFAULT_FPS
    total = info.frames or (round(info.duration * fps) if info.duration else None)
    report = None if progress is None else (lambda done: progress(done, total))
    frames, stats = _frames(
        path, deadline, int(settings.max_seconds * fps) + 1, settings, clock, report
    )
    t0 = clock()
    try:
        sequence, model_fps = rec.sequence_from_frames(frames, fps)
    except DataError as e:
        raise decode_error(e) from None
    t1 = clock()
    decode_s = stats["decode_s"]
    video = {
        "frames": int(stats["frames"]),
        "fps": round(fps, 3),
        "duration_s": round(stats["frames"] / fps, 3),
        "width": info.width,
        "height": info.height,
    }
    timings = {"decode": decode_s * 1e3, "pose": (t1 - t0 - decode_s) * 1e3}
    if not rec.found_subject(sequence):
        return VideoResult(person=False, video=video, timings={**timings, "model": 0.0})
    deadline.check(504)
    pred = rec.predict(sequence, top_k=top_k)
    t2 = clock()
    timings["model"] = (t2 - t1) * 1e3
    segments = None
    if want_segments:
        segments = segments_of(rec, sequence, model_fps or fps)
        timings["segments"] = (clock() - t2) * 1e3
    return VideoResult(
        person=True,
        label=pred.label,
        unknown=bool(getattr(pred, "unknown", False)),
        confidence=float(pred.confidence),
        top_k=[(lab, float(p)) for lab, p in pred.top_k],
        segments=segments,
        video=video,
        timings=timings,
    )


def segments_of(rec, sequence: np.ndarray, fps: float) -> list[dict]:
    """The timeline ``[{start_s, end_s, label, confidence}]`` of the model's sequence
    (:meth:`Recognizer.segments`: sliding windows, smoothing, merging, "unknown")."""
    return [seg.to_dict() for seg in rec.segments(sequence, fps=fps).segments]
