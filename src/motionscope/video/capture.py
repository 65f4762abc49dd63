"""Frame sources for live use: cameras, network streams and video files, as ``uint8`` RGB.

:func:`open_source` takes what a user types after ``--source``:

- ``"0"``, ``"1"`` ... (or an ``int``): a local camera, read with OpenCV;
- ``rtsp://``, ``rtsp(s)://``, ``http(s)://``, ``rtmp://``, ``udp://``, ``tcp://`` URLs: a network
  stream, read with OpenCV (FFmpeg backend);
- anything else: a video file (or a folder of frame images), decoded with PyAV.

**Cameras and streams never queue.** A background thread reads the device as fast as it
delivers and keeps only the *latest* frame; :meth:`FrameSource.read` returns the newest frame not
returned yet, and every frame that was replaced before anyone read it counts as ``dropped``. A
slow consumer (MediaPipe at 20-40 ms a frame) therefore always works on "now" and never lags
behind the camera.

**Files** are decoded in the caller's thread, every frame in order, as fast as the caller reads
them (``realtime=False``, the default); with ``realtime=True`` they play at their own frame rate:
``read`` sleeps when the caller is ahead of the file's clock and skips (drops) the frames whose
time has passed when it is behind, as a camera would.

Every frame comes out as a :class:`Frame`: the image, a timestamp ``t`` in seconds (the file's
presentation time for files; seconds since the source was opened for cameras and streams), and
``index``, the frame's number at the source (gaps are dropped frames).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.errors import DataError

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
DEFAULT_FPS = 30.0  # assumed when a file does not state its frame rate


@dataclass(frozen=True)
class Frame:
    """One frame from a source."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    t: float  # seconds: file time, or seconds since a live source was opened
    index: int  # frame number at the source (counting frames that were dropped)


class FrameSource:
    """Base class: iterate it (or call :meth:`read` until ``None``), then :meth:`close`."""

    name: str = ""
    is_live: bool = False  # a camera or stream (frames are dropped, never queued)
    fps: float | None = None  # the source's nominal frame rate, when known
    delivered: int = 0  # frames returned by read()
    dropped: int = 0  # frames the source produced that read() skipped

    def read(self) -> Frame | None:
        """The next frame (the newest one for live sources), or ``None`` at the end."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Live sources: a grabber thread keeping only the latest frame


class LatestFrameReader(FrameSource):
    """Runs ``grab()`` in a daemon thread and keeps only the newest frame.

    ``grab()`` blocks until the device has a frame and returns it (``(H, W, 3)`` uint8, BGR when
    ``bgr=True`` as OpenCV delivers it), or ``None`` when the source has ended. Frames are
    converted to RGB only when :meth:`read` hands them out, so dropped frames cost nothing.
    Exceptions in ``grab`` end the source and are re-raised by :meth:`read`.
    """

    is_live = True

    def __init__(
        self,
        grab: Callable[[], np.ndarray | None],
        *,
        name: str,
        fps: float | None = None,
        bgr: bool = True,
        release: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.fps = fps
        self._grab = grab
        self._bgr = bgr
        self._release = release
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float, int] | None = None
        self._grabbed = 0  # frames produced by the device so far
        self._last_index = -1  # index of the last frame read() returned
        self._ended = False
        self._stop = False
        self._error: BaseException | None = None
        self.delivered = 0
        self._start = clock()
        self._thread = threading.Thread(target=self._run, name=f"capture {name}", daemon=True)
        self._thread.start()

    @property
    def grabbed(self) -> int:
        """Frames the device delivered so far (read or not)."""
        with self._cond:
            return self._grabbed

    @property
    def dropped(self) -> int:  # type: ignore[override]
        """Frames replaced by a newer one before :meth:`read` returned them (so far)."""
        with self._cond:
            pending = 1 if self._latest is not None and self._latest[2] > self._last_index else 0
            return self._grabbed - self.delivered - pending

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stop:
                        break
                img = self._grab()
                if img is None:
                    break
                t = self._clock() - self._start
                with self._cond:
                    self._latest = (img, t, self._grabbed)
                    self._grabbed += 1
                    self._cond.notify_all()
        except BaseException as e:  # handed to the consumer by read()
            with self._cond:
                self._error = e
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
                stopping = self._stop
            if stopping:  # close() gave up waiting for us: release the device ourselves
                self._release_device()

    def _release_device(self) -> None:
        with self._cond:
            release, self._release = self._release, None
        if release is not None:
            release()

    def wait_grabbed(self, n: int, timeout: float | None = None) -> bool:
        """Block until the device has delivered ``n`` frames in total (or ended)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._grabbed >= n or self._ended, timeout)

    def read(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not returned yet; waits for one. ``None`` when the source ended
        (or ``timeout`` seconds passed without a new frame)."""
        with self._cond:

            def fresh() -> bool:
                return self._latest is not None and self._latest[2] > self._last_index

            if not self._cond.wait_for(lambda: fresh() or self._ended, timeout):
                return None
            if not fresh():
                if self._error is not None:
                    error, self._error = self._error, None
                    raise DataError(f"reading {self.name} failed: {error}") from error
                return None
            img, t, index = self._latest
            self._last_index = index
            self.delivered += 1
        if self._bgr:
            import cv2

            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return Frame(np.ascontiguousarray(img, dtype=np.uint8), t, index)

    def close(self) -> None:
        with self._cond:
            self._stop = True
        # The thread may sit in grab() until the device delivers (a stalled stream: up to
        # FFmpeg's timeout); do not wait long. Releasing the device under a running read is not
        # safe, so a thread still reading releases it itself when the read returns.
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self._release_device()


def _opencv_grabber(cap, name: str, retries: int) -> Callable[[], np.ndarray | None]:
    """``cap.read()`` as a grab function: ``None`` after ``retries`` failed reads in a row (a
    network stream may hiccup; a camera that was unplugged keeps failing)."""

    def grab() -> np.ndarray | None:
        for attempt in range(retries + 1):
            ok, img = cap.read()
            if ok and img is not None:
                return img
            if attempt < retries:
                time.sleep(0.05)
        return None

    return grab


def open_opencv(target: int | str, *, retries: int = 10) -> LatestFrameReader:
    """A camera (``int`` index) or a network stream URL, read with OpenCV in its own thread."""
    import cv2

    name = f"camera {target}" if isinstance(target, int) else f"stream {target}"
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        if isinstance(target, int):
            hint = (
                "is a camera connected (ls /dev/video*) and not used by another program? "
                "Pass --source FILE.mp4 or a stream URL instead"
            )
        else:
            hint = "is the address right and the stream reachable from this machine?"
        raise DataError(f"cannot open {name}: {hint}")
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where supported: do not let the driver queue frames
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    if fps is not None and not 0 < fps < 1000:
        fps = None
    return LatestFrameReader(
        _opencv_grabber(cap, name, retries), name=name, fps=fps, bgr=True, release=cap.release
    )


# ---------------------------------------------------------------------------------------------
# Files


class FileSource(FrameSource):
    """A video file (or frame folder): every frame in order, or paced by its own frame rate with
    ``realtime=True`` (dropping the frames whose time passed while the caller was busy).
    ``clock``/``sleep`` are injectable so the pacing is testable without real waiting."""

    is_live = False

    def __init__(
        self,
        path: Path | str,
        *,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from motionscope.video.decode import iter_frames, probe

        self.path = Path(path)
        self.name = str(self.path)
        info = probe(self.path)  # raises DataError naming the file when it cannot be opened
        self.info = info
        self.fps = info.fps or DEFAULT_FPS
        self.realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._frames = iter_frames(self.path)
        self._index = 0
        self._start: float | None = None
        self.delivered = 0
        self.dropped = 0

    def _next(self) -> np.ndarray | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None

    def read(self) -> Frame | None:
        while True:
            img = self._next()
            if img is None:
                return None
            index, self._index = self._index, self._index + 1
            t = index / self.fps
            if self.realtime:
                if self._start is None:
                    self._start = self._clock() - t
                now = self._clock() - self._start
                if now > t + 1.0 / self.fps:  # this frame's display time is over: skip it
                    self.dropped += 1
                    continue
                if t > now:
                    self._sleep(t - now)
            self.delivered += 1
            return Frame(img, t, index)

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


# ---------------------------------------------------------------------------------------------


def parse_source(spec: str | int | Path) -> int | str | Path:
    """``"0"`` -> camera 0, a URL stays a string, anything else is a path."""
    if isinstance(spec, int):
        return spec
    if isinstance(spec, Path):
        return spec
    text = str(spec).strip()
    if not text:
        raise DataError("empty --source: give a camera index (0), a stream URL or a video file")
    if text.isdigit():
        return int(text)
    if text.lower().startswith(STREAM_SCHEMES):
        return text
    return Path(text).expanduser()


def open_source(spec: str | int | Path, *, realtime: bool = False) -> FrameSource:
    """Open a camera index, a stream URL or a video file (see the module docstring).

    ``realtime`` only matters for files (cameras and streams are real time anyway). Raises
    :class:`~motionscope.errors.DataError` naming the source when it cannot be opened."""
    target = parse_source(spec)
    if isinstance(target, (int, str)):
        return open_opencv(target)
    if not target.exists():
        raise DataError(
            f"video source {target} does not exist; give a camera index (0), a stream URL "
            f"({', '.join(s.rstrip(':/') for s in STREAM_SCHEMES[:3])} ...) or a video file"
        )
    return FileSource(target, realtime=realtime)
