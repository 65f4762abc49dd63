"""The ``motionscope live`` loop: a frame source -> :class:`StreamRecognizer` -> overlay ->
window, annotated video and a JSON-lines log of predictions.

With a display (see :func:`motionscope.video.display.display_available`) the annotated frames go
to a window (q or Esc quits); ``output`` and ``log`` are written too when given. Headless, the
annotated video and the log are the output. Cameras and streams drop frames when the loop is
slower than the device (:mod:`motionscope.video.capture`); a file is processed frame by frame, or
at its own frame rate with ``realtime=True``.

The log has one JSON object per line, one line per new prediction:
``{"frame", "source_frame", "t", "label", "confidence", "top_k", "unknown", "predicted",
"buffered", "window", "detections", "timings_ms"}`` (``frame`` counts processed frames from 1,
``source_frame`` is the frame's number at the source, ``t`` its time in seconds).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from motionscope.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from motionscope.infer.recognizer import Recognizer
    from motionscope.infer.stream import StreamUpdate


@dataclass
class LiveConfig:
    source: str = "0"  # camera index, stream URL or video file
    output: Path | None = None  # annotated video (.mp4 H.264, .webm, .mkv, .avi)
    log: Path | None = None  # JSON lines, one per prediction
    display: bool = False  # show a window (the caller checks display_available())
    realtime: bool = False  # files: play at their own frame rate, dropping frames when behind
    every: int = 5
    smooth: int = 3
    top_k: int = 3
    unknown_threshold: float | None = None  # None = the bundle's
    max_frames: int | None = None  # stop after this many processed frames
    title: str = "motionscope live"


@dataclass
class LiveSummary:
    source: str
    frames: int = 0  # frames processed
    dropped: int = 0  # frames the source produced that were skipped (live sources, realtime)
    predictions: int = 0
    seconds: float = 0.0
    stopped_by: str = "end"  # end | user | max_frames | interrupt
    output: str | None = None
    log: str | None = None
    labels: dict[str, int] = field(default_factory=dict)  # predictions per label

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "frames": self.frames,
            "dropped": self.dropped,
            "predictions": self.predictions,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "stopped_by": self.stopped_by,
            "output": self.output,
            "log": self.log,
            "labels": dict(self.labels),
        }


class FpsMeter:
    """Frames per second over the last ``n`` frames (what the overlay shows)."""

    def __init__(self, n: int = 30, clock: Callable[[], float] = time.perf_counter) -> None:
        self._times: deque[float] = deque(maxlen=n)
        self._clock = clock

    def tick(self) -> float | None:
        self._times.append(self._clock())
        if len(self._times) < 2:
            return None
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else None


def status_text(u: StreamUpdate) -> str | None:
    if u.label is None:
        return f"buffering {u.buffered}/{u.window} frames"
    if not u.detections.get("pose", True):
        return "no person detected"
    return None


def annotate(frame, u: StreamUpdate, classes: list[str], fps: float | None):
    """The overlay of one update: skeleton, label, top-k bars, FPS, status."""
    from motionscope.video.overlay import draw_overlay

    return draw_overlay(
        frame,
        keypoints=u.keypoints,
        layout=u.layout,
        label=u.label,
        confidence=u.confidence if u.label is not None else None,
        top_k=u.top_k,
        classes=classes,
        fps=fps,
        status=status_text(u),
    )


def _check_output(path: Path | None, what: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise DataError(f"cannot write the {what} {path}: folder {path.parent} does not exist")


def run_live(
    rec: Recognizer,
    cfg: LiveConfig,
    *,
    on_update: Callable[[StreamUpdate], None] | None = None,
) -> LiveSummary:
    """Run until the source ends, the user quits (q / Esc / closing the window / Ctrl-C) or
    ``cfg.max_frames`` frames were processed. Outputs are finalised in every case."""
    from motionscope.video.capture import open_source
    from motionscope.video.writer import VideoWriter

    _check_output(cfg.output, "annotated video")
    _check_output(cfg.log, "predictions log")
    if cfg.max_frames is not None and cfg.max_frames < 1:
        raise DataError(f"max_frames must be at least 1, got {cfg.max_frames}")
    stream = rec.stream(
        every=cfg.every,
        smooth=cfg.smooth,
        top_k=cfg.top_k,
        unknown_threshold=cfg.unknown_threshold,
    )
    summary = LiveSummary(source=str(cfg.source))
    writer = VideoWriter(cfg.output) if cfg.output else None  # checks the suffix and folder
    source = open_source(cfg.source, realtime=cfg.realtime)
    if writer is not None:
        writer.fps = source.fps or 30.0
    log = window = None
    meter = FpsMeter()
    start = time.perf_counter()
    ok = False
    try:
        if cfg.log:
            log = open(cfg.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in finally
        if cfg.display:
            from motionscope.video.display import Window

            window = Window(cfg.title)
        try:
            for frame in source:
                u = stream.push(frame.image, frame.t)
                summary.frames += 1
                annotated = annotate(frame.image, u, stream.classes, meter.tick())
                if u.predicted:
                    summary.predictions += 1
                    summary.labels[u.label] = summary.labels.get(u.label, 0) + 1
                    if log is not None:
                        row = {"source_frame": frame.index, **u.to_dict()}
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                if on_update is not None:
                    on_update(u)
                if writer is not None:
                    writer.write(annotated, frame.t)
                if window is not None and not window.show(annotated):
                    summary.stopped_by = "user"
                    break
                if cfg.max_frames is not None and summary.frames >= cfg.max_frames:
                    summary.stopped_by = "max_frames"
                    break
        except KeyboardInterrupt:
            summary.stopped_by = "interrupt"
        ok = True
    finally:
        summary.seconds = time.perf_counter() - start
        summary.dropped = source.dropped
        source.close()
        stream.close()
        if window is not None:
            window.close()
        if log is not None:
            log.close()
            summary.log = str(cfg.log)
        if writer is not None:
            if ok:
                written = writer.close()
                summary.output = str(written) if written else None
            else:
                writer.abort()
    return summary
