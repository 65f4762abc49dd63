"""Deterministic synthetic MediaPipe Holistic keypoint sequences for tests, demos and benchmarks.

A frame is the 1662-wide Holistic vector (see :mod:`motionscope.keypoints.layout`): pose 33 x
(x, y, z, visibility), face 468 x (x, y, z), left hand 21 x (x, y, z), right hand 21 x (x, y, z).
x, y are normalised image coordinates (0..1, y down) and a part that was not detected is all
zeros. "Left" is the person's left, which a camera facing the person shows on the image's right.

Each sequence comes from a small 3-D body model (pelvis, torso, head, arms, legs, hands with
finger curls, a face cap of 468 points) driven by one of :data:`ACTIONS`, then seen by an
orthographic camera. Every sample varies in speed, phase and time warp, amplitude, body size and
proportions, zoom, aspect ratio, position, yaw and image-plane roll, landmark jitter, and in
which hand or face detections drop out.

World frame (metres): X towards the image's right (the person's left), Y up, Z towards the
camera. Limb directions are given "side-local": x points away from the body's midline, so the
same numbers describe the left and the right limb.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionscope.atomic import atomic_target
from motionscope.data.synth.body import ACTIONS, LEFT, RIGHT, _random_body
from motionscope.data.synth.motion import _ACTION_FNS, _ONE_SIDED, _idle, _Motion
from motionscope.data.synth.render import _random_camera, _render, _world
from motionscope.errors import DataError
from motionscope.keypoints.layout import HOLISTIC
from motionscope.synth_output import previous_output, remove_stale

__all__ = [
    "ACTIONS",
    "LEFT",
    "RIGHT",
    "synth_dataset",
    "synth_sequence",
    "write_synthetic_keypoints",
]


def _check_frames(frames: int) -> None:
    if int(frames) < 2:
        raise DataError(f"synthetic sequences need at least 2 frames, got frames={frames}")


def _check_args(classes: int, per_class: int, frames: int, seed: int) -> None:
    """Raise DataError for counts the generator cannot honour."""
    if classes < 2:
        raise DataError(f"a synthetic dataset needs at least 2 classes, got classes={classes}")
    if classes > len(ACTIONS):
        raise DataError(
            f"only {len(ACTIONS)} synthetic actions exist ({', '.join(ACTIONS)}), "
            f"got classes={classes}"
        )
    if per_class < 1:
        raise DataError(f"per_class must be at least 1, got per_class={per_class}")
    _check_frames(frames)
    if seed < 0:
        raise DataError(f"seed must be a non-negative integer, got seed={seed}")


def synth_sequence(action: str, frames: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic Holistic sequence of ``action``: float32 ``(frames, 1662)``.

    All randomness (timing, amplitude, body, camera, noise, drop-outs) comes from ``rng``.
    """
    if action not in _ACTION_FNS:
        raise DataError(f"unknown synthetic action {action!r}; known: {', '.join(ACTIONS)}")
    _check_frames(frames)
    tau = np.linspace(0.0, 1.0, int(frames))
    warp = rng.uniform(-0.35, 0.35)
    tau = tau + warp * np.sin(2.0 * np.pi * tau + rng.uniform(0.0, 2.0 * np.pi)) / (2.0 * np.pi)
    body = _random_body(rng)
    motion = _Motion(tau, rng)
    _idle(motion, rng)
    dom = LEFT if action in _ONE_SIDED and rng.random() < 0.2 else RIGHT
    _ACTION_FNS[action](motion, rng.uniform(0.7, 1.15), dom, rng)
    return _render(_world(motion, body), _random_camera(rng, body), rng)


def _sample(label_index: int, index: int, frames: int, seed: int) -> np.ndarray:
    """Sample ``index`` of class ``label_index``: independent of how many others are drawn."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, label_index, index]))
    return synth_sequence(ACTIONS[label_index], frames, rng)


def synth_dataset(
    classes: int, per_class: int, frames: int, seed: int
) -> list[tuple[str, np.ndarray]]:
    """``classes * per_class`` (label, sequence) pairs, class ``i`` being ``ACTIONS[i]``.

    Deterministic: the same arguments give byte-identical arrays; sample ``j`` of a class does not
    depend on ``classes`` or ``per_class``.
    """
    _check_args(classes, per_class, frames, seed)
    return [
        (ACTIONS[c], _sample(c, i, frames, seed)) for c in range(classes) for i in range(per_class)
    ]


def _save(path: Path, array: np.ndarray) -> None:
    """``array`` as ``.npy`` at ``path`` atomically; an interrupted write leaves a temporary
    file that :mod:`motionscope.synth_output` recognises and the next run removes."""
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def write_synthetic_keypoints(
    out: Path, *, classes: int = 5, per_class: int = 20, frames: int = 30, seed: int = 0
) -> dict:
    """Write a synthetic dataset as ``out/<action>/<i>.npy`` (float32 ``(frames, 1662)``).

    ``out`` must be missing, empty, or an earlier synthetic output (which is replaced). Returns a
    summary: ``classes`` (labels), ``per_class``, ``frames``, ``seed``, ``path``, ``layout``.
    """
    out = Path(out)
    _check_args(classes, per_class, frames, seed)
    previous = previous_output(out, ACTIONS, "npy", "synthetic")
    labels = list(ACTIONS[:classes])
    for c, label in enumerate(labels):
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            _save(folder / f"{i}.npy", _sample(c, i, frames, seed))
    remove_stale(previous, labels, per_class, "npy")
    return {
        "classes": labels,
        "per_class": per_class,
        "frames": frames,
        "seed": seed,
        "path": str(out),
        "layout": HOLISTIC.name,
    }
