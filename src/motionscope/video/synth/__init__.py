"""Synthetic action videos: procedurally animated cartoon people that a real pose pipeline sees.

Each clip shows one cartoon person facing the camera (round skin-coloured head with hair, eyes,
eyebrows, nose and mouth; filled torso; arms and legs as thick rounded limbs with dark outlines;
hands with fingers; shoes) performing one of :data:`VIDEO_ACTIONS`. Every clip varies in skin,
hair, clothing and background colours (plain, gradient or noise texture), body proportions,
zoom, position, speed, phase, amplitude, joint jitter and sensor noise. MediaPipe Holistic
(``model_complexity=1``) finds the pose in 99.7% of the frames of 60 clips of seed 0 (10
actions x 6, 30 frames, 640x480 and 320x240; ``bench/extract.py``). What that took, measured
with MediaPipe's pose detector on single frames of a few hundred clips: hair darker than the
skin, light green-to-blue backgrounds (purple and skin-coloured ones were missed far more
often), adult head proportions (bigger cartoon heads were found *less* often), and arms that
do not cross in front of the chest (punch guard and clap at the belly).

The figure is a 2-D skeleton in "body units" (standing height 1, x to the image's right, y down,
origin between the feet). "Left" and "right" are the person's: a camera-facing person's right
arm appears on the image's left, as MediaPipe's pose landmarks expect.

Clips are written as H.264 (``libx264``, ``yuv420p``) ``.mp4`` files that browsers play:
``OUT/<action>/<i>.mp4``. Everything is deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.atomic import atomic_target
from motionscope.errors import DataError
from motionscope.synth_output import previous_output, remove_stale
from motionscope.video.synth.body import _ACTION_FNS, _idle, _Motion, _random_body, _skeleton
from motionscope.video.synth.draw import _layout, _Painter
from motionscope.video.synth.look import (
    LEFT,
    MAX_SIDE,
    MIN_SIDE,
    RIGHT,
    VIDEO_ACTIONS,
    _background,
    _random_look,
    _random_skin,
)

__all__ = [
    "LEFT",
    "MAX_SIDE",
    "MIN_SIDE",
    "RIGHT",
    "VIDEO_ACTIONS",
    "Clip",
    "render",
    "render_clip",
    "sample_rng",
    "write_synthetic_videos",
    "write_video",
]


@dataclass
class Clip:
    """A rendered clip and where its joints were drawn (pixels, ``(T, 2)`` per joint)."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    joints: dict[str, np.ndarray]


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError) as e:
        raise DataError(f"size must be (width, height) in pixels, got {size!r}") from e
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise DataError(
            f"video size must be between {MIN_SIDE} and {MAX_SIDE} pixels a side, got {w}x{h}"
        )
    return w, h


def render(
    action: str, rng: np.random.Generator, size: tuple[int, int], frames: int, *, fps: float = 15.0
) -> Clip:
    """One clip of ``action`` plus the drawn joint positions (see :func:`render_clip`)."""
    import cv2

    if action not in _ACTION_FNS:
        raise DataError(f"unknown video action {action!r}; known: {', '.join(VIDEO_ACTIONS)}")
    w, h = _check_size(size)
    frames = int(frames)
    if frames < 1:
        raise DataError(f"a clip needs at least 1 frame, got frames={frames}")
    if not fps > 0:
        raise DataError(f"fps must be positive, got fps={fps}")

    body = _random_body(rng)
    skin = _random_skin(rng)
    background = _background(rng, w, h, skin)
    look = _random_look(rng, skin, background.reshape(-1, 3).mean(axis=0))
    t = np.arange(frames) / float(fps)
    motion = _Motion(t)
    _idle(motion, rng)
    dom = LEFT if rng.random() < 0.25 else RIGHT
    _ACTION_FNS[action](motion, body, rng.uniform(0.75, 1.15), dom, rng)
    sk = _skeleton(motion, body, rng)
    scale, origin = _layout(sk, body, rng, w, h)
    painter = _Painter(look, body, scale, origin)

    grain = float(rng.choice([0.0, 2.0, 4.0], p=[0.4, 0.4, 0.2]))
    pool = None
    if grain:
        pool = [rng.normal(0, grain, (h, w, 3)).astype(np.int16) for _ in range(3)]
    blur = bool(rng.random() < 0.3)
    out = np.empty((frames, h, w, 3), dtype=np.uint8)
    for i in range(frames):
        img = background.copy()
        painter.draw(img, sk, i, motion)
        if blur:
            img = cv2.GaussianBlur(img, (3, 3), 0)
        if pool is not None:
            img = np.clip(img.astype(np.int16) + pool[i % len(pool)], 0, 255).astype(np.uint8)
        out[i] = img
    joints = {"head": sk.head, "neck": sk.neck, "pelvis": sk.pelvis}
    for name, side in (("right", RIGHT), ("left", LEFT)):
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            joints[f"{name}_{part}"] = getattr(sk, part)[side]
    joints = {k: painter.px(v).astype(np.float32) for k, v in joints.items()}
    return Clip(out, joints)


def render_clip(
    action: str, rng: np.random.Generator, size: tuple[int, int], frames: int, *, fps: float = 15.0
) -> np.ndarray:
    """``frames`` frames of a random cartoon person doing ``action``: ``(T, H, W, 3)`` uint8
    RGB at ``size`` = (width, height). All randomness comes from ``rng``; ``fps`` sets how fast
    the motion plays."""
    return render(action, rng, size, frames, fps=fps).frames


def _check_args(classes: int, per_class: int, seed: int, size, seconds: float, fps: int) -> int:
    """Raise DataError for arguments the generator cannot honour; return the frame count."""
    if classes < 2:
        raise DataError(
            f"a synthetic video dataset needs at least 2 classes, got classes={classes}"
        )
    if classes > len(VIDEO_ACTIONS):
        raise DataError(
            f"only {len(VIDEO_ACTIONS)} synthetic video actions exist "
            f"({', '.join(VIDEO_ACTIONS)}), got classes={classes}"
        )
    if per_class < 1:
        raise DataError(f"per_class must be at least 1, got per_class={per_class}")
    if seed < 0:
        raise DataError(f"seed must be a non-negative integer, got seed={seed}")
    w, h = _check_size(size)
    if w % 2 or h % 2:
        raise DataError(f"H.264 (yuv420p) needs an even width and height, got {w}x{h}")
    if not isinstance(fps, (int, np.integer)) or not 1 <= fps <= 120:
        raise DataError(f"fps must be a whole number between 1 and 120, got fps={fps!r}")
    frames = int(round(float(seconds) * fps))
    if frames < 2:
        raise DataError(
            f"seconds * fps must give at least 2 frames, got seconds={seconds}, fps={fps} "
            f"({frames} frame{'s' if frames != 1 else ''}); make the clips longer"
        )
    if frames > 100_000:
        raise DataError(f"clips of {frames} frames are too long; use fewer seconds or a lower fps")
    return frames


def write_video(path: Path, frames: np.ndarray, fps: int, *, crf: int = 20) -> None:
    """Encode ``frames`` (T, H, W, 3) uint8 RGB as H.264 yuv420p ``.mp4`` atomically."""
    import av
    import cv2

    with atomic_target(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        # Same seed, same bytes: with only the "threads" option, about 1 process in 5 wrote a
        # different first clip. One thread on the codec context and OpenCV's RGB->I420
        # conversion (instead of swscale's) were both needed: each alone still failed 2 runs
        # in 12, together 0 in 20 (a same-seed test run repeatedly under pytest).
        stream.options = {
            "crf": str(crf),
            "preset": "fast",
            "threads": "1",
            "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0",
        }
        stream.codec_context.thread_count = 1
        for f in frames:
            # RGB -> I420 with OpenCV rather than swscale (see above)
            yuv = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420)
            for packet in stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def sample_rng(seed: int, label_index: int, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of class ``label_index``: independent of how many other
    clips are drawn."""
    return np.random.default_rng(np.random.SeedSequence([seed, label_index, index, 0x7669]))


def write_synthetic_videos(
    out: Path,
    *,
    classes: int = 5,
    per_class: int = 8,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    seconds: float = 2.0,
    fps: int = 15,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write ``out/<action>/<i>.mp4`` (H.264, yuv420p) for the first ``classes`` actions of
    :data:`VIDEO_ACTIONS`, ``per_class`` clips each, ``round(seconds * fps)`` frames at ``size``
    = (width, height).

    ``out`` must be missing, empty, or an earlier synthetic video output (which is replaced).
    ``progress(done, total)`` is called after every clip. Returns a summary: ``classes``
    (labels), ``per_class``, ``seed``, ``size``, ``seconds``, ``fps``, ``frames``, ``path``.
    """
    out = Path(out)
    frames = _check_args(classes, per_class, seed, size, seconds, fps)
    w, h = _check_size(size)
    previous = previous_output(out, VIDEO_ACTIONS, "mp4", "synthetic video")
    labels = list(VIDEO_ACTIONS[:classes])
    total, done = classes * per_class, 0
    for c, label in enumerate(labels):
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            clip = render_clip(label, sample_rng(seed, c, i), (w, h), frames, fps=fps)
            write_video(folder / f"{i}.mp4", clip, fps)
            done += 1
            if progress is not None:
                progress(done, total)
    remove_stale(previous, labels, per_class, "mp4")
    return {
        "classes": labels,
        "per_class": per_class,
        "seed": seed,
        "size": [w, h],
        "seconds": float(seconds),
        "fps": fps,
        "frames": frames,
        "path": str(out),
    }
