"""Write frames one at a time into a video file that players and browsers open.

``.mp4`` / ``.mov`` / ``.mkv`` get H.264 (``libx264``, ``yuv420p``), ``.avi`` MPEG-4 Part 2 and
``.webm`` VP9, all through PyAV. Frames carry their own timestamps, so a live source that dropped
frames still plays at the right speed (variable frame rate). The file appears only when
:meth:`VideoWriter.close` succeeds: frames go to a hidden temporary sibling that is renamed into
place, and an interrupted run leaves no half-written video behind.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from motionscope.errors import DataError

CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mpeg4"}
CODECS[".webm"] = "libvpx-vp9"
TIME_BASE = Fraction(1, 1000)  # timestamps in milliseconds


class VideoWriter:
    """``with VideoWriter("out.mp4", fps=15) as w: w.write(frame_rgb, t_seconds)``.

    The size is taken from the first frame (cropped to even sides, which ``yuv420p`` needs);
    later frames of another size are resized to it. ``t=None`` places frame ``i`` at ``i / fps``.
    """

    def __init__(self, path: Path | str, *, fps: float = 30.0, crf: int = 23) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CODECS:
            raise DataError(
                f"cannot write video {self.path}: use one of {', '.join(CODECS)} as the suffix"
            )
        if not fps or fps <= 0:
            raise DataError(f"video frame rate must be positive, got {fps}")
        if not self.path.parent.is_dir():
            raise DataError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        self.codec = CODECS[suffix]
        self.fps = float(fps)
        self.crf = crf
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._container = None
        self._stream = None
        self._last_pts = -1

    def _open(self, w: int, h: int) -> None:
        import av

        fmt = {".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".mov": "mov"}.get(
            self.path.suffix.lower(), "mp4"
        )
        try:
            self._container = av.open(str(self._tmp), "w", format=fmt)
        except (av.error.FFmpegError, OSError) as e:
            raise DataError(f"cannot write video {self.path}: {e}") from e
        stream = self._container.add_stream(self.codec, rate=max(1, round(self.fps)))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        elif self.codec == "libvpx-vp9":
            stream.options = {"crf": str(self.crf + 10), "b": "0", "deadline": "realtime"}
        else:
            stream.bit_rate = 4_000_000
        if self.codec != "mpeg4":  # MPEG-4 Part 2 needs a constant 1/fps time base
            stream.codec_context.time_base = TIME_BASE
            stream.time_base = TIME_BASE
        self._stream = stream
        self.size = (w, h)

    def write(self, frame: np.ndarray, t: float | None = None) -> None:
        """Append one ``uint8`` RGB frame ``(H, W, 3)`` shown at ``t`` seconds."""
        import av

        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise DataError(
                f"video frames must be uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        if self._container is None:
            h, w = frame.shape[:2]
            if w < 2 or h < 2:
                raise DataError(f"frame {w}x{h} is too small to encode")
            self._open(w - w % 2, h - h % 2)
        w, h = self.size
        if frame.shape[1] < w or frame.shape[0] < h:
            import cv2

            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        frame = np.ascontiguousarray(frame[:h, :w])
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self.codec == "mpeg4":
            vf.pts = self.frames
        else:
            seconds = self.frames / self.fps if t is None else float(t)
            pts = max(int(round(seconds * 1000)), self._last_pts + 1)  # strictly increasing
            self._last_pts = pts
            vf.pts = pts
            vf.time_base = TIME_BASE
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path | None:
        """Flush the encoder and move the finished file into place (``None`` if no frame was
        written: then no file is created)."""
        if self._container is None:
            return None
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Stop without creating the file."""
        if self._container is not None:
            container, self._container = self._container, None
            with contextlib.suppress(Exception):  # already failing; the temp file goes anyway
                container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
