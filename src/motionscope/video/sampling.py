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

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from motionscope.errors import DataError, MotionscopeError
from motionscope.video.seek import (
    _all_frames,
    _CannotSeek,
    _index_video,
    _indexed_frames,
    _read_folder,
    count_frames,
    read_frames_at,  # noqa: F401  (public here too)
)

SAMPLING_MODES = ("uniform", "segment")
# Containers whose packet timestamps after a seek do not match a straight read (measured: MPEG-PS
# .mpg shifted them by half a frame): read from the start, stopping after the last wanted frame.


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


def shrink(frame: np.ndarray, short_side: int) -> np.ndarray:
    """``frame`` with its short side at most ``short_side`` pixels (aspect kept; never
    enlarged): what live streams and uploads keep of a frame for an RGB model."""
    import cv2

    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    if scale >= 1:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


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
# A clip from a file, decoding only the frames needed (motionscope.video.seek).


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
