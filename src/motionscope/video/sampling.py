"""Frame sampling for RGB models: which frames of a clip a model sees, and how they are cropped.

A :class:`SamplingConfig` is saved in every RGB bundle, so training, evaluation and inference
sample clips the same way.

Which frames (:func:`frame_indices`):

- ``uniform``: ``frames`` indices evenly spread from the first to the last frame (the same in
  training and evaluation);
- ``segment`` (TSN): the clip is cut into ``frames`` equal segments and one frame is taken from
  each, at a random position in training and at the segment's centre in evaluation.

A clip shorter than ``frames`` repeats frames (both modes then pick some indices twice).

How they look (:func:`transform_frames`): the short side is resized to ``resize`` (aspect kept),
then a ``size`` x ``size`` square is cropped, at the centre in evaluation and at a random place in
training, where the clip may also be flipped horizontally and its brightness, contrast and
saturation jittered. One random draw serves the whole clip, so its frames stay consistent.
Evaluation (``train=False``) is deterministic and ignores ``rng``.

Decoding (:func:`sample_clip`, :func:`read_frames_at`) seeks instead of decoding every frame: the
container's packets are listed first (demuxing, no decoding), which gives the frame count and
every frame's timestamp; for each wanted frame the decoder seeks to the key frame at or before it
and decodes forward, continuing without a seek when the next wanted frame is reachable without
crossing a key frame. Frame *i* is the *i*-th frame in presentation order, the same frame
:func:`motionscope.video.decode.read_frames` returns at index *i*; every decoded run is checked
against the packet list (landing on a listed key frame at or before the target, packets
matching the list by timestamp and size, frames in timestamp order). A surprise falls back, each
step still exact: MPEG-PS/TS and failed seeks are read from the start without seeking (stopping
after the last wanted frame); timestamps that are not in display order (AVI with B-frames) are
decoded in decoder order, converting only the wanted frames, when the frame count matches the
packet list; anything else (no timestamps, a decoding error) decodes the whole clip through
:func:`motionscope.video.decode.iter_frames`, whose errors name the file. What the checks cannot
see: damage in the parts that are skipped (a full decode may raise
:class:`~motionscope.video.decode.TruncatedVideoError` on a clip that seeking samples happily), a
decoder that would drop frames there in a full decode, and pixels (a flagged key frame that is
not a true random-access point would decode differently after a seek). See docs/datasets.md for
which path each container takes.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from motionscope.errors import DataError, MotionscopeError
from motionscope.video.decode import (
    IMAGE_SUFFIXES,
    _open,
    _read_image,
    frame_files,
    frame_to_rgb,
    iter_frames,
)

SAMPLING_MODES = ("uniform", "segment")
# Containers whose packet timestamps after a seek do not match a straight read (measured: MPEG-PS
# .mpg shifted them by half a frame): read from the start, stopping after the last wanted frame.
_NO_SEEK_FORMATS = {"mpeg", "mpegts", "mpegvideo", "m4v", "h264", "hevc"}


@dataclass(frozen=True)
class SamplingConfig:
    """How a clip becomes a model input of ``(frames, size, size, 3)`` uint8 RGB."""

    frames: int = 16  # frames per clip given to the model
    mode: str = "uniform"  # "uniform" | "segment" (TSN)
    size: int = 112  # output square side after the crop
    resize: int = 128  # short side after resizing, before the crop (>= size)
    flip: bool = True  # random horizontal flip in training
    color_jitter: float = 0.2  # brightness/contrast/saturation strength in training (0 = off)

    def __post_init__(self) -> None:
        def whole(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise MotionscopeError(f"sampling {name} must be a whole number >= {lo}, got {v!r}")

        whole("frames", 1)
        whole("size", 8)
        whole("resize", 8)
        if self.mode not in SAMPLING_MODES:
            raise MotionscopeError(
                f"sampling mode must be one of {', '.join(SAMPLING_MODES)}, got {self.mode!r}"
            )
        if self.resize < self.size:
            raise MotionscopeError(
                f"sampling resize ({self.resize}) must be >= size ({self.size}): the short side "
                "is resized first, then the square is cropped"
            )
        if not isinstance(self.flip, bool):
            raise MotionscopeError(f"sampling flip must be true or false, got {self.flip!r}")
        j = self.color_jitter
        if isinstance(j, bool) or not isinstance(j, (int, float)) or not 0.0 <= j < 1.0:
            raise MotionscopeError(f"sampling color_jitter must be in [0, 1), got {j!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SamplingConfig:
        if not isinstance(d, dict):
            raise MotionscopeError(f"sampling settings must be a mapping, got {type(d).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise MotionscopeError(
                f"unknown sampling settings {unknown}; known: {', '.join(known)}"
            )
        return cls(**d)


# ----------------------------------------------------------------------------------------------
# Which frames.


def frame_indices(
    n_frames: int, cfg: SamplingConfig, *, train: bool, rng: np.random.Generator | None
) -> np.ndarray:
    """``cfg.frames`` indices into a clip of ``n_frames`` frames, non-decreasing, int64.

    ``uniform``: evenly spaced from the first to the last frame. ``segment``: one frame per equal
    segment, at a random position when ``train`` (drawn from ``rng``; a fresh generator when it
    is None), at the segment's centre otherwise.
    """
    n = int(n_frames)
    if n < 1:
        raise DataError(f"a clip needs at least 1 frame to sample from, got {n_frames}")
    k = cfg.frames
    if cfg.mode == "uniform":
        if k == 1:
            return np.array([(n - 1) // 2], dtype=np.int64)
        return np.round(np.linspace(0.0, n - 1, k)).astype(np.int64)
    edges = np.linspace(0.0, float(n), k + 1)
    lo, width = edges[:-1], np.diff(edges)
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        pos = lo + rng.random(k) * width
    else:
        pos = lo + width / 2.0
    return np.clip(np.floor(pos), 0, n - 1).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# How they look.


def _resize_short(frame: np.ndarray, short: int) -> np.ndarray:
    """Resize so the short side is ``short`` pixels (aspect kept); a no-op when it already is."""
    import cv2

    h, w = frame.shape[:2]
    if min(h, w) == short:
        return frame
    if h <= w:
        nh, nw = short, max(short, int(round(w * short / h)))
    else:
        nh, nw = max(short, int(round(h * short / w))), short
    interp = cv2.INTER_AREA if short < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(frame), (nw, nh), interpolation=interp)


def _check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f"{what} must be (T, H, W, 3) RGB, got shape {frames.shape}")
    if frames.shape[0] == 0:
        raise DataError(f"{what}: no frames")
    if frames.dtype != np.uint8:
        raise DataError(f"{what} must be uint8 RGB, got {frames.dtype}")
    return frames


def _jitter(clip: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation factors in [1 - strength, 1 + strength]."""
    b, c, s = rng.uniform(1.0 - strength, 1.0 + strength, 3)
    x = clip.astype(np.float32) * np.float32(b)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mean = float((x @ weights).mean())
    x = (x - mean) * np.float32(c) + np.float32(mean)
    gray = (x @ weights)[..., None]
    x = gray + (x - gray) * np.float32(s)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def transform_frames(
    frames: np.ndarray, cfg: SamplingConfig, *, train: bool, rng: np.random.Generator | None
) -> np.ndarray:
    """Resize the short side to ``cfg.resize``, crop ``cfg.size`` squares (centre in evaluation,
    one random place for the whole clip in training), then in training flip (p = 0.5, when
    ``cfg.flip``) and jitter colours (when ``cfg.color_jitter``). Returns ``(T, size, size, 3)``
    uint8 RGB."""
    frames = _check_frames(frames)
    resized = np.stack([_resize_short(f, cfg.resize) for f in frames])
    h, w = resized.shape[1:3]
    s = cfg.size
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        y0 = int(rng.integers(0, h - s + 1))
        x0 = int(rng.integers(0, w - s + 1))
    else:
        y0, x0 = (h - s) // 2, (w - s) // 2
    out = resized[:, y0 : y0 + s, x0 : x0 + s]
    if train:
        if cfg.flip and rng.random() < 0.5:
            out = out[:, :, ::-1]
        if cfg.color_jitter > 0:
            out = _jitter(out, float(cfg.color_jitter), rng)
    return np.ascontiguousarray(out)


def sample_frames(
    frames: np.ndarray,
    cfg: SamplingConfig,
    *,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """:func:`sample_clip` for frames already in memory, ``(T, H, W, 3)`` uint8 RGB (a live
    camera, an upload). Same result as :func:`sample_clip` on a video of these frames."""
    frames = _check_frames(frames)
    if train and rng is None:
        rng = np.random.default_rng()
    idx = frame_indices(len(frames), cfg, train=train, rng=rng)
    return transform_frames(frames[idx], cfg, train=train, rng=rng)


# ----------------------------------------------------------------------------------------------
# Decoding only the frames needed.


class _CannotSeek(Exception):
    """The seeking reader met something it cannot vouch for: decode the whole clip instead."""


@dataclass(frozen=True)
class _Index:
    """A video's frames from its packets: timestamps in presentation order and key frames."""

    pts: list[int]  # every frame's pts, ascending (= decode.read_frames order)
    keys: list[int]  # positions (into pts) of key frames, ascending
    sizes: dict[int, int]  # packet size by pts: checks a seek landed where its timestamps say
    seekable: bool  # False for containers whose timestamps shift after a seek (MPEG-PS/TS)


def _index_video(path: Path) -> _Index | None:
    """List the video stream's packets (no decoding). ``None`` when they do not give a usable
    frame list (missing or duplicate timestamps, no key frame at the start)."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        seekable = not (set(container.format.name.split(",")) & _NO_SEEK_FORMATS)
        pts: list[int] = []
        key_pts: list[int] = []
        sizes: dict[int, int] = {}
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flushing packet at the end
            if packet.pts is None:
                return None
            pts.append(int(packet.pts))
            sizes[int(packet.pts)] = int(packet.size)
            if packet.is_keyframe:
                key_pts.append(int(packet.pts))
    except av.error.FFmpegError:
        return None
    finally:
        container.close()
    if not pts or not key_pts:
        return None
    order = sorted(pts)
    if len(set(order)) != len(order) or min(key_pts) != order[0]:
        return None
    pos = {p: i for i, p in enumerate(order)}
    return _Index(order, sorted(pos[p] for p in key_pts), sizes, seekable)


def _decode_at(
    path: Path, index: _Index, wanted: list[int], prep: Callable, *, seek: bool = True
) -> dict:
    """``prep(frame)`` of the frames at the ``wanted`` positions (sorted, unique), seeking to the
    key frame before each one that is not reachable by decoding on (``seek=False``: decoding
    from the start, stopping after the last wanted frame)."""
    import av

    out: dict[int, np.ndarray] = {}
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # as decode.py: frame threads were not deterministic
        frames = None  # iterator of (position, frame) of the current run
        last = -1  # position of the last frame decoded in the current run
        for w in wanted:
            key = index.keys[bisect.bisect_right(index.keys, w) - 1] if seek else 0
            if frames is None or key > last + 1:
                # no seek for a first run from the start: the container is there already
                frames = _run(container, stream, index, key, seek=frames is not None or key > 0)
                last = -1
            for position, frame in frames:
                last = position
                if position == w:
                    out[w] = prep(frame_to_rgb(frame))
                    break
            else:
                raise _CannotSeek(f"frame {w} never came")
    except (av.error.FFmpegError, OSError) as e:
        raise _CannotSeek(str(e)) from e
    finally:
        container.close()
    return out


def _run(container, stream, index: _Index, key: int, *, seek: bool = True):
    """Seek to the key frame at position ``key``; yield ``(position, frame)`` decoding forward,
    checking every frame is the next one of the packet list."""
    target = index.pts[key]
    keys = set(index.keys)
    if seek:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    landed = None
    expect = None
    for packet in container.demux(stream):
        if landed is None and packet.size:
            # Start decoding at the first key frame after the landing point (inexact seekers
            # such as MPEG-PS land a few packets early); it must not be past the one asked for.
            if packet.pts is not None and packet.pts > target:
                raise _CannotSeek(f"seek to pts {target} landed past it, at {packet.pts}")
            if not packet.is_keyframe or packet.pts is None:
                continue
            landed = int(packet.pts)
            expect = bisect.bisect_left(index.pts, landed)
            if expect >= len(index.pts) or index.pts[expect] != landed or expect not in keys:
                raise _CannotSeek(f"landed on pts {landed}, not a key frame of the index")
        if landed is not None and packet.size and index.sizes.get(packet.pts) != packet.size:
            # timestamps after a seek that do not match the packet list (MPEG-PS shifts them)
            raise _CannotSeek(f"packet at pts {packet.pts} differs from the packet list")
        for frame in packet.decode():
            if frame.pts is None:
                raise _CannotSeek("a decoded frame has no pts")
            if frame.pts < landed and expect == bisect.bisect_left(index.pts, landed):
                continue  # leading frames of an open GOP before the key frame we landed on
            if expect >= len(index.pts) or frame.pts != index.pts[expect]:
                raise _CannotSeek(f"decoded pts {frame.pts}, expected position {expect}")
            yield expect, frame
            expect += 1


def _indexed_frames(path: Path, index: _Index, idx: np.ndarray, prep: Callable) -> np.ndarray:
    """The frames at ``idx`` by seeking, else by reading on from the start; ``_CannotSeek`` when
    neither reproduces the packet list."""
    wanted = sorted(set(idx.tolist()))
    got = None
    if index.seekable:
        try:
            got = _decode_at(path, index, wanted, prep, seek=True)
        except _CannotSeek:
            got = None
    if got is None:
        try:
            got = _decode_at(path, index, wanted, prep, seek=False)
        except _CannotSeek:
            got = _decode_in_order(path, len(index.pts), set(wanted), prep)
    return np.stack([got[int(i)] for i in idx])


def _decode_in_order(path: Path, n: int, wanted: set[int], prep: Callable) -> dict:
    """Decode every frame in output order, converting only the ``wanted`` positions, for videos
    whose timestamps do not give the output order (AVI with B-frames: FFmpeg guesses pts that
    are not monotonic). ``_CannotSeek`` unless the decoder gives exactly ``n`` frames."""
    import av

    out: dict[int, np.ndarray] = {}
    i = 0
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        for frame in container.decode(stream):
            if i in wanted:
                out[i] = prep(frame_to_rgb(frame))
            i += 1
    except (av.error.FFmpegError, OSError) as e:
        raise _CannotSeek(str(e)) from e
    finally:
        container.close()
    if i != n:
        raise _CannotSeek(f"decoded {i} frames, the packet list has {n}")
    return out


def _all_frames(path: Path, prep: Callable) -> list[np.ndarray]:
    return [prep(f) for f in iter_frames(path)]


def _read_folder(folder: Path, idx: np.ndarray, prep: Callable) -> np.ndarray:
    files = frame_files(folder)
    if not files:
        raise DataError(
            f"{folder} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)}); "
            "a clip needs at least one frame"
        )
    got: dict[int, np.ndarray] = {}
    shape = None
    for i in sorted(set(int(i) for i in idx)):
        img = _read_image(files[i])
        if shape is None:
            shape = img.shape
        elif img.shape != shape:
            raise DataError(
                f"frame {files[i]} is {img.shape[1]}x{img.shape[0]} but frame {files[idx[0]]} "
                f"of {folder} is {shape[1]}x{shape[0]}; every frame of a video must have the "
                "same size"
            )
        got[i] = prep(img)
    return np.stack([got[int(i)] for i in idx])


def count_frames(path: Path | str) -> int:
    """The number of frames :func:`motionscope.video.decode.read_frames` would return, from the
    packet list when it is usable (no decoding), else by decoding."""
    path = Path(path)
    if path.is_dir():
        n = len(frame_files(path))
        if not n:
            raise DataError(
                f"{path} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)})"
            )
        return n
    index = _index_video(path)
    if index is not None:
        return len(index.pts)
    return sum(1 for _ in iter_frames(path))


def read_frames_at(path: Path | str, indices, *, prep: Callable | None = None) -> np.ndarray:
    """The frames at ``indices`` (presentation order, repeats allowed) of a video file or frame
    folder, seeking where it can: ``(len(indices), H, W, 3)`` uint8 RGB, equal to
    ``read_frames(path)[indices]``. ``prep`` maps each frame (e.g. a resize) before stacking."""
    path = Path(path)
    prep = prep or (lambda f: f)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if path.is_dir():
        n = count_frames(path)
        _check_range(idx, n, path)
        return _read_folder(path, idx, prep)
    index = _index_video(path)
    if index is not None:
        _check_range(idx, len(index.pts), path)
        try:
            return _indexed_frames(path, index, idx, prep)
        except _CannotSeek:
            pass
    frames = _all_frames(path, prep)
    _check_range(idx, len(frames), path)
    return np.stack([frames[int(i)] for i in idx])


def _check_range(idx: np.ndarray, n: int, path: Path) -> None:
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise DataError(
            f"frame indices {idx.min()}..{idx.max()} out of range for {path} ({n} frames)"
        )


def sample_clip(
    path: Path | str,
    cfg: SamplingConfig,
    *,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Decode the frames ``cfg`` picks from a video file or frame folder and transform them:
    ``(cfg.frames, cfg.size, cfg.size, 3)`` uint8 RGB. Deterministic when ``train`` is False;
    in training, the same ``rng`` state gives the same clip. Equal to
    ``sample_frames(read_frames(path), cfg, train=train, rng=rng)``, decoding fewer frames.

    Raises :class:`DataError` naming the file when it cannot be read or has no frames.
    """
    path = Path(path)
    if train and rng is None:
        rng = np.random.default_rng()

    def prep(frame: np.ndarray) -> np.ndarray:
        return _resize_short(frame, cfg.resize)

    if path.is_dir():
        idx = frame_indices(count_frames(path), cfg, train=train, rng=rng)
        frames = _read_folder(path, idx, prep)
        return transform_frames(frames, cfg, train=train, rng=rng)
    index = _index_video(path)
    if index is not None:
        saved = copy.deepcopy(rng)  # a fallback draws the same indices again
        idx = frame_indices(len(index.pts), cfg, train=train, rng=rng)
        try:
            frames = _indexed_frames(path, index, idx, prep)
        except _CannotSeek:
            rng = saved
        else:
            return transform_frames(frames, cfg, train=train, rng=rng)
    frames = _all_frames(path, prep)
    if not frames:
        raise DataError(f"{path} holds no decodable video frames")
    idx = frame_indices(len(frames), cfg, train=train, rng=rng)
    return transform_frames(np.stack([frames[int(i)] for i in idx]), cfg, train=train, rng=rng)
