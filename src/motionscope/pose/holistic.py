"""MediaPipe Holistic: frames -> ``(T, 1662)`` float32 keypoints in the tutorial layout.

Per frame: pose 33 x (x, y, z, visibility) at ``[0:132]``, face 468 x (x, y, z) at
``[132:1536]``, left hand 21 x (x, y, z) at ``[1536:1599]``, right hand 21 x (x, y, z) at
``[1599:1662]``; a part that was not detected is all zeros (see
:data:`motionscope.keypoints.layout.HOLISTIC`). Coordinates are MediaPipe's: x and y normalised
to the image width and height, z relative depth.

Only ``mediapipe==0.10.21``-style wheels that still ship ``mp.solutions.holistic`` work, and of
its three pose models only the bundled ``model_complexity=1`` runs offline.

``graph="pose-hands"`` (:class:`PoseHandsExtractor`) runs Holistic without its face branch (see
:mod:`motionscope.pose.graph`): the same row format, with the face block zero and never detected.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from motionscope.errors import DataError
from motionscope.keypoints.layout import FACE, HOLISTIC, LEFT_HAND, POSE, RIGHT_HAND
from motionscope.pose.graph import (
    HOLISTIC_GRAPH,
    POSE_HANDS_GRAPH,
    ExtractorError,
    check_graph,
    check_threads,
    open_solution,
)

EXTRACTOR = "mediapipe-holistic"
WIDTH = HOLISTIC.width  # 1662
BLOCKS = ("pose", "face", "left_hand", "right_hand")


@dataclass(frozen=True)
class HolisticSettings:
    """Everything that changes the keypoints MediaPipe Holistic produces."""

    model_complexity: int = 1
    static_image_mode: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True
    graph: str = HOLISTIC_GRAPH  # "pose-hands": no face branch (the face block stays zero)

    def to_dict(self) -> dict:
        return asdict(self)


def _import_mediapipe():
    try:
        import mediapipe as mp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ExtractorError(
            f"keypoint extraction needs mediapipe ({e}); install it with "
            "`pip install mediapipe==0.10.21`"
        ) from e
    if not hasattr(mp, "solutions") or not hasattr(mp.solutions, "holistic"):
        raise ExtractorError(
            f"mediapipe {mp.__version__} has no mp.solutions.holistic (removed in 0.10.30); "
            "install `mediapipe==0.10.21`"
        )
    return mp


def mediapipe_version() -> str:
    return str(_import_mediapipe().__version__)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C library to talk to
        pass


_QUIET_LOCK = threading.Lock()
_QUIET = {"depth": 0, "saved": -1}  # fd 2 as it was before the first quiet section


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: MediaPipe's C++ start-up noise (XNNPACK, absl,
    "Feedback manager ...") bypasses Python and ``GLOG_minloglevel``.

    Process-wide and counted: sections may overlap in any order (two extractors starting, one
    finishing first) and fd 2 is given back only when the last one ends, as it was before the
    first one began."""
    if not enabled:
        yield
        return
    fd = 2  # the C++ code writes to descriptor 2 whatever sys.stderr is (Rich, pytest swap it)
    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
            finally:
                os.close(devnull)
            _QUIET["saved"] = saved
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0:
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    sys.stderr.flush()
                _flush_c_stdio()  # C stdio may hold lines written while fd 2 was /dev/null
                os.dup2(_QUIET["saved"], fd)
                os.close(_QUIET["saved"])
                _QUIET["saved"] = -1


def prefetch(frames: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """Yield ``frames`` while a background thread produces the next ``depth`` of them.

    Decoding (PyAV releases the GIL) then overlaps MediaPipe, which leaves part of a second
    core idle. Errors of ``frames`` are raised here, in order; stopping early closes it."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put(("frame", frame)):
                    return
            last = ("end", None)
        except BaseException as e:  # handed to the consumer, which raises it
            last = ("error", e)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # a generator's clean-up (closing the video) in its own thread
        put(last)

    worker = threading.Thread(target=produce, name="motionscope-decode", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "frame":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join()


def _landmarks(landmark_list, block, visibility: bool) -> np.ndarray | None:
    if landmark_list is None:
        return None
    lms = landmark_list.landmark
    if visibility:
        values = [(lm.x, lm.y, lm.z, lm.visibility) for lm in lms]
    else:
        values = [(lm.x, lm.y, lm.z) for lm in lms]
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != block.width:
        raise ExtractorError(
            f"MediaPipe returned {len(lms)} {block.name} landmarks, expected {block.landmarks}; "
            "this mediapipe version does not match the holistic layout"
        )
    return arr


# MediaPipe logs one more warning the first time in a process that a pose is found
# ("landmark_projection_calculator.cc:186] Using NORM_RECT without IMAGE_DIMENSIONS is only
# supported for the square ROI ..."), which can be many frames after start-up (a video that
# begins without a person). With ``quiet``, a frame of a synthetic cartoon person is run
# through every new graph while its start-up noise is silenced anyway, so that warning is
# spent there. The seed picks a frame the pose detector finds (checked by tests/test_extract.py).
WARM_UP_SEED = 7
WARM_UP_SIZE = (320, 240)


def warm_up_frame() -> np.ndarray:
    """The cartoon person frame :class:`HolisticExtractor` warms a new graph with."""
    from motionscope.video.synth import render

    return render("stand", np.random.default_rng(WARM_UP_SEED), WARM_UP_SIZE, 1).frames[0]


class HolisticExtractor:
    """One MediaPipe Holistic graph, kept alive across frames and videos.

    ``quiet`` silences MediaPipe's C++ start-up lines (XNNPACK, absl, "Feedback manager").
    Its threads load the models *after* the graph is created, so file descriptor 2 points at
    /dev/null from graph creation (or :meth:`reset`) until the first frame has been processed;
    anything else written to stderr in that window is lost too. A quiet graph is also warmed
    up with one frame of a cartoon person (see :data:`WARM_UP_SEED`), so MediaPipe's
    once-per-process warning on the first pose found is silenced too, rather than surfacing in
    the middle of a batch; anything MediaPipe prints after that reaches the terminal.

    >>> with HolisticExtractor() as ex:          # doctest: +SKIP
    ...     keypoints, info = ex.extract_video("clip.mp4")

    ``static_image_mode=False`` (default) tracks landmarks from frame to frame, as the tutorial
    does; :meth:`extract_video` resets the tracking state at the start of every video.

    ``graph``: ``"holistic"`` (default) or ``"pose-hands"`` (no face branch, the face block stays
    zero); ``graph_threads``: the graph's own threads (``None``: MediaPipe's default, one
    calculator thread per core; 1 when as many workers as cores share the machine). See
    :mod:`motionscope.pose.graph`.
    """

    def __init__(
        self,
        model_complexity: int = 1,
        *,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth_landmarks: bool = True,
        graph: str = HOLISTIC_GRAPH,
        graph_threads: int | None = None,
        quiet: bool = True,
    ) -> None:
        if model_complexity != 1:
            raise ExtractorError(
                f"model_complexity={model_complexity!r} is not available: only the bundled "
                "model_complexity=1 (pose_landmark_full) is available offline in mediapipe "
                "0.10.21; 0 and 2 would download a model at run time. Use model_complexity=1"
            )
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise ExtractorError(f"{name} must be between 0 and 1, got {value!r}")
        self.settings = HolisticSettings(
            model_complexity=1,
            static_image_mode=bool(static_image_mode),
            min_detection_confidence=float(min_detection_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
            smooth_landmarks=bool(smooth_landmarks),
            graph=check_graph(graph),
        )
        self.graph_threads = check_threads(graph_threads)  # None: MediaPipe's default
        self.quiet = quiet
        self._graph = None
        self._fresh = True  # the next process() call is the first since start/reset
        self._quiet: contextlib.ExitStack | None = None

    # -- graph life cycle ----------------------------------------------------------------------

    def _quiet_start(self) -> None:
        if self.quiet and self._quiet is None:
            self._quiet = contextlib.ExitStack()
            self._quiet.enter_context(quiet_stderr())

    def _quiet_end(self) -> None:
        if self._quiet is not None:
            quiet, self._quiet = self._quiet, None
            quiet.close()

    def open(self) -> HolisticExtractor:
        """Start the graph (done on first use anyway)."""
        if self._graph is None:
            _import_mediapipe()
            s = self.settings
            self._quiet_start()
            try:
                self._graph = open_solution(
                    s.graph,
                    threads=self.graph_threads,
                    static_image_mode=s.static_image_mode,
                    smooth_landmarks=s.smooth_landmarks,
                    min_detection_confidence=s.min_detection_confidence,
                    min_tracking_confidence=s.min_tracking_confidence,
                )
                if self.quiet:
                    self._warm_up()
            except BaseException:
                self._quiet_end()
                raise
            self._fresh = True
        return self

    def _warm_up(self) -> None:
        """One frame with a person through the new graph, then a reset (fd 2 is quiet)."""
        frame = warm_up_frame()
        frame.flags.writeable = False
        self._graph.process(frame)
        self._graph.reset()

    def reset(self) -> None:
        """Forget the tracking state (call between unrelated videos)."""
        if self._graph is not None and not self._fresh:
            self._quiet_start()
            self._graph.reset()
            self._fresh = True

    def close(self) -> None:
        if self._graph is not None:
            self._quiet_start()
            try:
                self._graph.close()
            finally:
                self._graph = None
                self._quiet_end()
        self._quiet_end()

    def __enter__(self) -> HolisticExtractor:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- extraction ----------------------------------------------------------------------------

    def _results(self, frame_rgb: np.ndarray):
        if not isinstance(frame_rgb, np.ndarray) or frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
            shape = getattr(frame_rgb, "shape", None)
            raise DataError(f"expected an RGB frame of shape (H, W, 3), got shape {shape}")
        if frame_rgb.dtype != np.uint8:
            raise DataError(f"expected a uint8 RGB frame, got dtype {frame_rgb.dtype}")
        self.open()
        frame = np.ascontiguousarray(frame_rgb)
        frame.flags.writeable = False  # lets MediaPipe use the buffer without a copy
        if self._fresh:
            try:
                return self._graph.process(frame)
            finally:  # the models are loaded once the first frame is through
                self._fresh = False
                self._quiet_end()
        return self._graph.process(frame)

    def process_blocks(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, dict[str, bool]]:
        """One frame -> the ``(1662,)`` vector and which blocks were detected."""
        r = self._results(frame_rgb)
        out = np.zeros(WIDTH, dtype=np.float32)
        found = {}
        for name, block, lms, vis in (
            ("pose", POSE, r.pose_landmarks, True),
            ("face", FACE, getattr(r, "face_landmarks", None), False),
            ("left_hand", LEFT_HAND, getattr(r, "left_hand_landmarks", None), False),
            ("right_hand", RIGHT_HAND, getattr(r, "right_hand_landmarks", None), False),
        ):
            arr = _landmarks(lms, block, vis)
            found[name] = arr is not None
            if arr is not None:
                out[HOLISTIC.slice(name)] = arr
        return out, found

    def process(self, frame_rgb: np.ndarray) -> np.ndarray:
        """One ``uint8`` RGB frame ``(H, W, 3)`` -> ``(1662,)`` float32 (zeros = not detected)."""
        return self.process_blocks(frame_rgb)[0]

    def extract_frames(self, frames) -> tuple[np.ndarray, dict[str, float]]:
        """An iterable of RGB frames (one video, in order) -> ``(T, 1662)`` and detection rates.

        Resets tracking first, so nothing carries over from the previous video."""
        self.reset()
        rows, hits = [], dict.fromkeys(BLOCKS, 0)
        try:
            for frame in frames:
                row, found = self.process_blocks(frame)
                rows.append(row)
                for k, v in found.items():
                    hits[k] += v
        finally:
            self._quiet_end()  # a video that fails before its first frame must not keep fd 2 quiet
        if not rows:
            raise DataError("no frames to extract keypoints from")
        n = len(rows)
        return np.stack(rows), {k: hits[k] / n for k in BLOCKS}

    def extract_video(
        self, path: Path | str, every: int = 1, *, fps: float | None = None
    ) -> tuple[np.ndarray, dict]:
        """Keypoints of one video file or frame folder: ``(T, 1662)`` float32 and a sidecar dict
        (source info, detection rate per block, extractor, settings, seconds).

        ``fps``: the frame rate the keypoints should have (a model's training rate): frames the
        conversion drops never reach MediaPipe, and frames of a slower video are repeated (see
        :mod:`motionscope.video.rate`). ``None`` keeps the video's own rate."""
        from motionscope.progress import frames_done
        from motionscope.video.decode import iter_frames, probe
        from motionscope.video.rate import RateConverter, repeat_rows

        path = Path(path)
        start = time.perf_counter()
        info = probe(path)
        rate = RateConverter(info.fps / every if info.fps else None, fps)
        decoded = 0
        decode_seconds = 0.0  # of ``seconds``, the time spent decoding (the rest is MediaPipe)
        counts: list[int] = []

        def counted():
            nonlocal decoded, decode_seconds
            frames = iter_frames(path, every)
            i = 0
            while True:
                t = time.perf_counter()
                frame = next(frames, None)
                decode_seconds += time.perf_counter() - t
                if frame is None:
                    return
                decoded += 1
                frames_done()  # the command line's per-video bar (motionscope.progress)
                n, i = rate.count(i), i + 1
                if n:
                    counts.append(n)
                    yield frame

        keypoints, rates = self.extract_frames(prefetch(counted()))
        keypoints = repeat_rows(keypoints, counts)
        seconds = time.perf_counter() - start
        warnings = []
        expected = -(-info.frames // every) if info.frames else None  # ceil
        if expected and not info.is_frame_folder and decoded < expected * 0.95 - 1:
            warnings.append(
                f"decoded {decoded} frames but the header announces {expected} (every={every}); "
                "the file may be truncated"
            )
        sidecar = {
            "source": str(path),
            "extractor": EXTRACTOR,
            "mediapipe_version": mediapipe_version(),
            "layout": HOLISTIC.name,
            "shape": list(keypoints.shape),
            "frames": int(keypoints.shape[0]),
            "source_frames": info.frames,
            "fps": info.fps,
            "keypoint_fps": rate.fps,
            "width": info.width,
            "height": info.height,
            "duration": info.duration,
            "codec": info.codec,
            "rotation": info.rotation,  # display-matrix turn applied (frames are upright)
            "detection_rate": {k: round(v, 4) for k, v in rates.items()},
            "settings": {**self.settings.to_dict(), "every": every, "fps": fps},
            "graph_threads": self.graph_threads,
            "seconds": round(seconds, 3),
            "decode_seconds": round(decode_seconds, 3),
            "frames_per_second": round(keypoints.shape[0] / seconds, 2) if seconds else None,
            "warnings": warnings,
        }
        return keypoints, sidecar


class PoseHandsExtractor(HolisticExtractor):
    """:class:`HolisticExtractor` on the graph without the face (``graph="pose-hands"``): the
    same ``(1662,)`` rows and interface, the face block zero and never detected. For the
    layouts without a face (``pose_hands``, ``pose``, ``hands``) it gives the same keypoints
    for less work (see :mod:`motionscope.pose.graph`)."""

    def __init__(self, model_complexity: int = 1, **kwargs) -> None:
        kwargs.setdefault("graph", POSE_HANDS_GRAPH)
        if kwargs["graph"] != POSE_HANDS_GRAPH:
            raise ExtractorError(
                f"PoseHandsExtractor runs the {POSE_HANDS_GRAPH!r} graph, not "
                f"{kwargs['graph']!r}; use HolisticExtractor(graph=...)"
            )
        super().__init__(model_complexity, **kwargs)
