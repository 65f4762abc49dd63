"""Decode videos into ``uint8`` RGB frames ``(H, W, 3)``.

A "video" is a file (decoded with PyAV/FFmpeg) or a folder of frame images (``.png``, ``.jpg``
...), read in natural name order (``frame2.png`` before ``frame10.png``), as datasets like KFall
ship them.

Truncated or damaged videos: decoding **raises** :class:`TruncatedVideoError` (a
:class:`~motionscope.errors.DataError`) when FFmpeg reports an error after some frames were
decoded, rather than silently returning a shorter clip; the error says how many frames were good.
A file FFmpeg cannot open at all (empty, not a video, no video stream) raises ``DataError``.
Every message names the file. FFmpeg itself often conceals small errors and just ends early:
such a video decodes without an error and is simply shorter than its header says.

Rotation: phones record landscape pixels and store how to turn them for display in the
stream's display matrix (``ffprobe``: "displaymatrix: rotation of -90.00 degrees"). Frames come
out upright, as players show them: :func:`frame_to_rgb` turns each decoded frame by its
``frame.rotation`` (FFmpeg's ``av_display_rotation_get``: degrees counter-clockwise, rounded
to a quarter turn), and :func:`probe` reports the upright width and height and the rotation.
Mirroring in a display matrix is not applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from motionscope.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class TruncatedVideoError(DataError):
    """Decoding failed part-way through a video; ``frames_decoded`` frames were good."""

    def __init__(self, message: str, frames_decoded: int) -> None:
        super().__init__(message)
        self.frames_decoded = frames_decoded


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about it (``None`` when it does not say)."""

    path: str
    fps: float | None
    frames: int | None
    width: int
    height: int
    duration: float | None  # seconds
    codec: str
    is_frame_folder: bool = False
    rotation: int = 0  # degrees counter-clockwise applied to the decoded pixels (0/90/180/270)

    def to_dict(self) -> dict:
        return asdict(self)


def natural_key(path: Path) -> tuple:
    # ASCII digits only: "²" or "٣" are digits to str.isdigit but not to int(); the split puts
    # the numbers at odd places, so two keys always compare int with int and str with str
    parts = re.split(r"([0-9]+)", path.name)
    return tuple(int(t) if i % 2 else t.lower() for i, t in enumerate(parts))


def frame_files(folder: Path | str) -> list[Path]:
    """The frame images directly inside ``folder``, in natural name order (hidden files skipped)."""
    folder = Path(folder)
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ),
        key=natural_key,
    )


def is_frame_folder(path: Path | str) -> bool:
    """True when ``path`` is a folder holding frame images directly."""
    path = Path(path)
    return path.is_dir() and bool(frame_files(path))


def is_video_file(path: Path | str) -> bool:
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


ACCEPTED_INPUTS = (
    f"videos ({', '.join(VIDEO_SUFFIXES)}), (T, D) .npy keypoint sequences, folders of "
    f"per-frame .npy files and folders of frame images ({', '.join(IMAGE_SUFFIXES)})"
)

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or .npz / Office file)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x80", "a Python pickle"),
)


def describe_file(path: Path | str) -> str:
    """What a file looks like from its first bytes (``"a PNG image"``, ``"a text file"``, ...),
    for error messages about inputs motionscope cannot read."""
    path = Path(path)
    if path.is_dir():
        return "a folder"
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as e:
        return f"a file that cannot be opened ({e.strerror or e})"
    if not head:
        return "an empty file"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp" or head.startswith((b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS")):
        return "a media container (a video with a suffix motionscope does not know?)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "a binary file of an unknown format"
    return "a text file"


def _check_every(every: int) -> int:
    if not isinstance(every, int) or every < 1:
        raise DataError(f"every must be a whole number >= 1 (1 = every frame), got {every!r}")
    return every


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot read frame image {path}: not an image or damaged")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _open(path: Path):
    import av

    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path} is an empty file (0 bytes); remove it or copy it again")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)  # FFmpeg's text without the path again
        raise DataError(
            f"cannot open video {path}: {reason}; is it a complete video file "
            f"({', '.join(VIDEO_SUFFIXES)})?"
        ) from e
    if not container.streams.video:
        container.close()
        raise DataError(f"{path} has no video stream")
    return container


def quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns (0..3) for a display-matrix rotation in degrees."""
    if not rotation:
        return 0
    return int(round(float(rotation) / 90.0)) % 4


def frame_to_rgb(frame) -> np.ndarray:
    """A decoded PyAV video frame -> upright ``uint8`` RGB ``(H, W, 3)``: the pixels turned by
    the frame's display-matrix rotation, as a player shows them."""
    rgb = frame.to_ndarray(format="rgb24")
    k = quarter_turns(getattr(frame, "rotation", 0))
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _first_rotation(container, stream) -> int:
    """Display-matrix rotation of the first frame (0 when it cannot be decoded): the matrix
    lives in the stream header, which PyAV exposes only on decoded frames."""
    import av

    try:
        for frame in container.decode(stream):
            return quarter_turns(frame.rotation) * 90
    except av.error.FFmpegError:
        pass
    return 0


def _rate(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def probe(path: Path | str) -> VideoInfo:
    """Frame rate, frame count, size, duration and codec of a video file or frame folder."""
    path = Path(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise DataError(
                f"{path} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)})"
            )
        first = _read_image(files[0])
        return VideoInfo(
            str(path),
            None,
            len(files),
            int(first.shape[1]),
            int(first.shape[0]),
            None,
            files[0].suffix.lower().lstrip("."),
            True,
        )
    container = _open(path)
    try:
        stream = container.streams.video[0]
        fps = _rate(stream)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * Fraction(stream.time_base))
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        frames = int(stream.frames) or None
        if frames is None and fps and duration:
            frames = round(fps * duration)
        ctx = stream.codec_context
        width, height, codec = int(ctx.width), int(ctx.height), str(ctx.name)
        rotation = _first_rotation(container, stream)
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(str(path), fps, frames, width, height, duration, codec, False, rotation)
    finally:
        container.close()


def _iter_video(path: Path, every: int) -> Iterator[np.ndarray]:
    import av

    container = _open(path)
    index = 0
    try:
        stream = container.streams.video[0]
        # Slice threads only: frame-threaded H.264 decoding ("AUTO") returned different pixels
        # for the same file now and then (same-seed synthetic video test: 4 failures in 12
        # runs; 0 in 12 with "SLICE"), which would make keypoints differ run to run.
        stream.thread_type = "SLICE"
        try:
            for frame in container.decode(stream):
                if index % every == 0:
                    yield frame_to_rgb(frame)
                index += 1
        except av.error.FFmpegError as e:
            reason = getattr(e, "strerror", None) or str(e)
            if index == 0:
                raise DataError(f"cannot decode video {path}: {reason}") from e
            raise TruncatedVideoError(
                f"{path} is truncated or damaged: decoding failed after {index} good frames "
                f"({reason}); re-encode or re-download it",
                index,
            ) from e
    finally:
        container.close()
    if index == 0:
        raise DataError(f"{path} holds no decodable video frames")


def _iter_folder(folder: Path, every: int) -> Iterator[np.ndarray]:
    files = frame_files(folder)
    if not files:
        raise DataError(f"{folder} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)})")
    shape = None
    for f in files[::every]:
        img = _read_image(f)
        if shape is None:
            shape = img.shape
        elif img.shape != shape:
            raise DataError(
                f"frame {f} is {img.shape[1]}x{img.shape[0]} but the first frame of {folder} is "
                f"{shape[1]}x{shape[0]}; every frame of a video must have the same size"
            )
        yield img


def iter_frames(path: Path | str, every: int = 1) -> Iterator[np.ndarray]:
    """Yield the frames of a video file or frame folder as ``uint8`` RGB ``(H, W, 3)``.

    ``every=K`` keeps frames 0, K, 2K ... (all frames are still decoded: video codecs need them,
    but only the kept ones are converted to RGB). Raises :class:`DataError` naming the file for
    missing, empty, unreadable and (part-way) damaged videos.
    """
    path = Path(path)
    _check_every(every)
    if path.is_dir():
        yield from _iter_folder(path, every)
    else:
        yield from _iter_video(path, every)


def read_frames(path: Path | str, every: int = 1) -> np.ndarray:
    """All (kept) frames at once: ``(T, H, W, 3)`` ``uint8`` RGB."""
    return np.stack(list(iter_frames(path, every)))
