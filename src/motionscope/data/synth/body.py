"""The synthetic body: action names, landmark templates (face, head, hands), body proportions
and small vector helpers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscope.keypoints.layout import HOLISTIC

ACTIONS: tuple[str, ...] = (
    "wave",
    "clap",
    "raise_arms",
    "punch",
    "squat",
    "jump",
    "bow",
    "kick",
    "point",
    "stand",
    "circle",
    "swipe",
    "shrug",
    "march",
)

LEFT, RIGHT = 0, 1
_SIDE_SIGN = np.array([1.0, -1.0])  # world X sign of the person's left / right side
_X_SIGN = np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])  # side-local -> world, per side

_POSE = HOLISTIC.slice("pose")
_FACE = HOLISTIC.slice("face")
_HANDS = (HOLISTIC.slice("left_hand"), HOLISTIC.slice("right_hand"))
_WIDTH = HOLISTIC.width

# Finger curl (thumb, index, middle, ring, pinky): 0 = straight, 1 = fully bent.
_OPEN = np.array([0.0, 0.0, 0.0, 0.0, 0.0])
_RELAXED = np.array([0.25, 0.2, 0.28, 0.34, 0.4])
_FIST = np.array([0.95, 1.0, 1.0, 1.0, 1.0])
_POINTING = np.array([0.85, 0.0, 1.0, 1.0, 1.0])


# ----------------------------------------------------------------------------------------------
# Fixed geometry: hand and face templates, head landmarks.


def _face_template() -> np.ndarray:
    """468 points on the front cap of an ellipsoid (head-centre frame, metres), nose at [1]."""
    k = np.arange(468) + 0.5
    cos_polar = 1.0 - (1.0 - np.cos(np.radians(80.0))) * k / 468
    sin_polar = np.sqrt(1.0 - cos_polar**2)
    azim = k * np.pi * (3.0 - np.sqrt(5.0))  # golden-angle spiral: evenly spread points
    pts = np.stack(
        [
            0.072 * sin_polar * np.cos(azim),
            0.1 * sin_polar * np.sin(azim) - 0.01,
            0.085 * cos_polar,
        ],
        axis=1,
    )
    pts[:, 2] += 0.02 * np.exp(-(pts[:, 0] ** 2 + (pts[:, 1] + 0.01) ** 2) / 0.0004)  # nose bump
    pts[1] = (0.0, -0.01, 0.108)  # nose tip, as in the MediaPipe face mesh
    pts[152] = (0.0, -0.108, 0.04)  # chin
    pts[10] = (0.0, 0.088, 0.05)  # forehead
    return pts


_FACE_PTS = _face_template()


def _face_basis() -> np.ndarray:
    """(9, 468 * 3) matrix B with ``M.reshape(9) @ B == (_FACE_PTS @ M.T).reshape(-1)`` for any
    3 x 3 ``M``: poses the whole face as one small matrix product per sequence."""
    basis = np.zeros((3, 3, 468, 3), dtype=np.float32)
    for k in range(3):
        basis[k, :, :, k] = _FACE_PTS.T
    return basis.reshape(9, 468 * 3)


_FACE_BASIS = _face_basis()

# Pose landmarks 0-10 in the head-centre frame (+x = the person's left).
_HEAD_PTS = np.array(
    [
        (0.0, -0.01, 0.108),  # 0 nose
        (0.015, 0.03, 0.086),  # 1 left eye inner
        (0.032, 0.032, 0.081),  # 2 left eye
        (0.048, 0.03, 0.07),  # 3 left eye outer
        (-0.015, 0.03, 0.086),  # 4 right eye inner
        (-0.032, 0.032, 0.081),  # 5 right eye
        (-0.048, 0.03, 0.07),  # 6 right eye outer
        (0.075, 0.01, -0.01),  # 7 left ear
        (-0.075, 0.01, -0.01),  # 8 right ear
        (0.024, -0.045, 0.086),  # 9 mouth left
        (-0.024, -0.045, 0.086),  # 10 mouth right
    ]
)

# Hand frame: u along the fingers, v towards the thumb, n out of the palm.
_MCP = np.array([(0.095, 0.028), (0.098, 0.006), (0.092, -0.014), (0.082, -0.032)])
_PHALANX = np.array(
    [(0.043, 0.025, 0.021), (0.047, 0.029, 0.022), (0.044, 0.028, 0.021), (0.034, 0.021, 0.019)]
)
_SPREAD = np.array([0.12, 0.0, -0.1, -0.22])  # radians at spread 1 (index .. pinky)
_FINGER_BEND = np.radians([75.0, 95.0, 60.0])  # per joint at curl 1
_THUMB_BEND = np.radians([35.0, 45.0, 55.0])
_THUMB_SEG = np.array([0.04, 0.032, 0.027])
_THUMB_BASE = np.array([0.03, 0.022, 0.008])
_THUMB_DIR = np.array([0.6, 0.75, 0.28]) / np.linalg.norm([0.6, 0.75, 0.28])
_FOLD = np.array([0.25, -0.55, 0.8])  # the thumb folds across the palm
_THUMB_FOLD = (_FOLD - (_FOLD @ _THUMB_DIR) * _THUMB_DIR) / np.linalg.norm(
    _FOLD - (_FOLD @ _THUMB_DIR) * _THUMB_DIR
)
_MCP3 = np.concatenate([_MCP, np.zeros((4, 1))], axis=1)
_UP = np.array([0.0, 1.0, 0.0])
_DOWN = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class _Body:
    """Segment lengths in metres for one synthetic person."""

    torso: float  # hip centre to shoulder centre
    shoulder: float  # half shoulder width
    hip: float  # half hip width
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    neck: float  # shoulder centre to head centre
    head: float  # head / face scale factor
    hand: float  # hand scale factor
    foot: float


def _random_body(rng: np.random.Generator) -> _Body:
    """A person of random height and slightly random proportions."""
    h = rng.uniform(0.88, 1.1)
    j = rng.uniform(0.94, 1.06, size=11) * h
    return _Body(
        torso=0.5 * j[0],
        shoulder=0.185 * j[1],
        hip=0.1 * j[2],
        upper_arm=0.29 * j[3],
        forearm=0.26 * j[4],
        thigh=0.44 * j[5],
        shin=0.42 * j[6],
        neck=0.22 * j[7],
        head=j[8],
        hand=j[9],
        foot=j[10],
    )


# ----------------------------------------------------------------------------------------------
# Small vector helpers.


def _d(elev: np.ndarray | float, azim: np.ndarray | float) -> np.ndarray:
    """Side-local unit direction: ``elev`` degrees up from straight down (0 down, 90 level,
    180 up); ``azim`` degrees from outward (0 away from the midline, 90 forward to the camera,
    -90 backward, 180 across the body)."""
    e, a = np.radians(elev), np.radians(azim)
    se = np.sin(e)
    out = np.empty(np.broadcast_shapes(np.shape(e), np.shape(a)) + (3,))
    out[..., 0] = se * np.cos(a)
    out[..., 1] = -np.cos(e)
    out[..., 2] = se * np.sin(a)
    return out


def _unit(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Normalise along the last axis; near-zero vectors become ``fallback`` (default +Y)."""
    n = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return np.where(n > 1e-8, v / np.maximum(n, 1e-12), _UP if fallback is None else fallback)


def _nlerp(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Blend directions ``a`` -> ``b`` by weight ``s`` (T,) and renormalise."""
    s = np.asarray(s)[..., None]
    return _unit(a * (1.0 - s) + b * s)


def _lerp(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Blend arrays ``a`` -> ``b`` with per-frame weight ``s`` (T,)."""
    s = np.asarray(s)[..., None]
    return a * (1.0 - s) + b * s


def _rotation(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations Ry(yaw) @ Rx(pitch) @ Rz(roll); pitch > 0 tips +Y towards +Z."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cr, sr = np.cos(roll), np.sin(roll)
    r = np.empty(np.shape(pitch) + (3, 3))
    r[..., 0, 0] = cy * cr + sy * sp * sr
    r[..., 0, 1] = -cy * sr + sy * sp * cr
    r[..., 0, 2] = sy * cp
    r[..., 1, 0] = cp * sr
    r[..., 1, 1] = cp * cr
    r[..., 1, 2] = -sp
    r[..., 2, 0] = -sy * cr + cy * sp * sr
    r[..., 2, 1] = sy * sr + cy * sp * cr
    r[..., 2, 2] = cy * cp
    return r


def _apply(rot: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Rotate points ``(..., T, N, 3)`` by per-frame rotations ``(T, 3, 3)``."""
    return pts @ np.swapaxes(rot, -1, -2)


def _bump(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 pulse of ``x`` over ``[lo, hi]``, zero outside."""
    s = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.sin(np.pi * s) ** 2


def _plateau(x: np.ndarray, ramp: float) -> np.ndarray:
    """0 -> 1, hold, 1 -> 0 over ``x`` in [0, 1] with smooth ramps of length ``ramp``."""
    s = np.clip(np.minimum(x, 1.0 - x) / ramp, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)
