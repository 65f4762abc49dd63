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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.atomic import write_npy
from motionscope.errors import DataError
from motionscope.keypoints.layout import HOLISTIC
from motionscope.synth_output import previous_output, remove_stale

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


# ----------------------------------------------------------------------------------------------
# Motion: per-frame joint targets that an action fills in.


class _Motion:
    """Joint targets over T frames; limb arrays are ``(2, T, ...)`` indexed LEFT / RIGHT."""

    def __init__(self, tau: np.ndarray, rng: np.random.Generator) -> None:
        t = tau.shape[0]
        self.tau = tau
        self.torso = np.zeros((t, 3))  # pitch (forward), yaw, roll in radians
        self.head = np.zeros((t, 3))
        self.shrug = np.zeros((2, t))  # shoulder lift in metres
        self.lift = np.zeros(t)  # whole-body vertical offset (jumps)
        self.sway = np.zeros(t)  # lateral offset
        hang = rng.uniform(5.0, 14.0, size=2)
        self.upper_arm = np.stack([np.broadcast_to(_d(e, 8.0), (t, 3)) for e in hang])
        self.forearm = np.stack([np.broadcast_to(_d(e + 6.0, 45.0), (t, 3)) for e in hang])
        self.hand = np.full((2, t, 3), np.nan)  # finger direction; NaN = along the forearm
        self.palm = np.broadcast_to(np.array([-1.0, 0.0, 0.3]), (2, t, 3)).copy()
        curl = np.clip(_RELAXED + rng.normal(0.0, 0.06, size=(2, 5)), 0.0, 1.0)
        self.curl = np.repeat(curl[:, None, :], t, axis=1)
        self.spread = np.full((2, t), rng.uniform(0.1, 0.4))
        stance = rng.uniform(1.0, 6.0)
        self.thigh = np.broadcast_to(_d(stance, 0.0), (2, t, 3)).copy()
        self.shin = np.broadcast_to(_d(stance * 0.6, 0.0), (2, t, 3)).copy()

    def hand_dir(self) -> np.ndarray:
        """Direction of the fingers, side-local ``(2, T, 3)``."""
        return np.where(np.isnan(self.hand), self.forearm, self.hand)

    def set_shape(self, side: int, shape: np.ndarray, weight: np.ndarray | float = 1.0) -> None:
        """Blend the finger curls of ``side`` towards ``shape`` by ``weight`` (scalar or (T,))."""
        w = np.broadcast_to(np.asarray(weight, dtype=float), self.tau.shape)
        self.curl[side] = _lerp(self.curl[side], shape[None, :], w)


def _idle(m: _Motion, rng: np.random.Generator) -> None:
    """Motion every person shows: a head turned a little and drifting, slight body sway."""
    th = 2.0 * np.pi * (rng.uniform(0.3, 1.2) * m.tau + rng.uniform(0.0, 1.0))
    drift = np.radians(rng.uniform(-3.0, 3.0, size=3))
    m.head += np.radians(rng.uniform((-6.0, -10.0, -4.0), (6.0, 10.0, 4.0)))
    m.head += np.sin(th)[:, None] * drift
    m.sway += rng.uniform(-0.01, 0.01) * np.sin(th + 1.0)


def _cyclic(tau: np.ndarray, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Phase angle of a repeated motion with ``lo``..``hi`` cycles per sequence."""
    return 2.0 * np.pi * (rng.uniform(lo, hi) * tau + rng.uniform(0.0, 1.0))


def _oneshot(tau: np.ndarray, rng: np.random.Generator, max_reps: int) -> np.ndarray:
    """Progress 0..1 through 1..``max_reps`` repetitions placed in a random window; 0 at rest."""
    reps = int(rng.integers(1, max_reps + 1))
    dur = rng.uniform(0.55, 0.92)
    x = (tau - rng.uniform(0.0, 1.0 - dur)) / dur * reps
    return np.where((x >= 0.0) & (x < reps), x - np.floor(x), 0.0)


# ----------------------------------------------------------------------------------------------
# Actions. Each fills a _Motion; ``dom`` is the dominant side (the arm or leg doing the action).

_Action = Callable[[_Motion, float, int, np.random.Generator], None]


def _wave(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Hand raised beside the head, forearm swinging side to side, open palm to the camera."""
    th = _cyclic(m.tau, rng, 2.0, 4.5)
    m.upper_arm[dom] = _d(rng.uniform(95.0, 135.0), rng.uniform(0.0, 35.0))
    m.forearm[dom] = _d(172.0 + 28.0 * amp * np.sin(th), rng.uniform(0.0, 25.0))
    m.palm[dom] = (0.0, 0.0, 1.0)
    m.set_shape(dom, _OPEN)
    m.spread[dom] = 0.8
    m.head[:, 1] += np.radians(5.0) * _SIDE_SIGN[dom]


def _clap(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Both hands meet in front of the chest, repeatedly."""
    th = _cyclic(m.tau, rng, 2.5, 5.0)
    apart = (0.5 + 0.5 * np.cos(th)) ** 0.7
    height = rng.uniform(35.0, 60.0)
    for side in (LEFT, RIGHT):
        m.upper_arm[side] = _d(height + rng.normal(0.0, 3.0), 65.0)
        m.forearm[side] = _d(85.0, 162.0 - 60.0 * amp * apart)
        m.hand[side] = _d(140.0, 110.0 - 30.0 * apart)
        m.palm[side] = (-1.0, 0.0, 0.1)
        m.set_shape(side, np.full(5, 0.08))
        m.spread[side] = 0.15


def _raise_arms(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Both arms rise (sideways to forwards) above the head, hold, and come down."""
    s = _plateau(_oneshot(m.tau, rng, 2), 0.35)
    top = 140.0 + 20.0 * amp
    azim = rng.uniform(0.0, 60.0)
    for side in (LEFT, RIGHT):
        e = 10.0 + (top + rng.normal(0.0, 4.0)) * s
        m.upper_arm[side] = _d(e, azim)
        m.forearm[side] = _d(e + 12.0 * s, azim)
        m.palm[side] = _lerp(m.palm[side], np.array([-1.0, 0.0, 0.4]), s)
        m.set_shape(side, _OPEN, s)
    m.head[:, 0] -= np.radians(8.0) * s


def _punch(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Fists up in guard, arms shooting forward alternately (or only the dominant one)."""
    th = _cyclic(m.tau, rng, 2.0, 4.0)
    single = rng.random() < 0.3
    guard_ua, guard_fa = _d(25.0, 75.0), _d(150.0, 110.0)
    for side in (LEFT, RIGHT):
        shift = 0.0 if side == dom else np.pi
        ext = np.maximum(0.0, np.sin(th + shift)) ** 1.5 * amp
        if single and side != dom:
            ext = ext * 0.0
        m.upper_arm[side] = _nlerp(guard_ua, _d(85.0, 95.0), ext)
        m.forearm[side] = _nlerp(guard_fa, _d(88.0, 100.0), ext)
        m.palm[side] = (0.0, -1.0, -0.3)
        m.set_shape(side, _FIST)
        m.spread[side] = 0.0
        m.torso[:, 1] += np.radians(9.0) * ext * _SIDE_SIGN[side]


def _squat(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Knees bend and hips drop, torso leans forward, often with the arms held out in front."""
    s = _bump(_oneshot(m.tau, rng, 3), 0.0, 1.0) * min(amp, 1.0) * rng.uniform(0.8, 1.0)
    for side in (LEFT, RIGHT):
        m.thigh[side] = _d(4.0 + 82.0 * s, 75.0)
        m.shin[side] = _d(3.0 + 22.0 * s, -95.0)
    m.torso[:, 0] += np.radians(32.0) * s
    if rng.random() < 0.6:
        for side in (LEFT, RIGHT):
            m.upper_arm[side] = _nlerp(m.upper_arm[side], _d(85.0, 85.0), s)
            m.forearm[side] = _nlerp(m.forearm[side], _d(88.0, 88.0), s)
            m.palm[side] = (0.0, -1.0, 0.0)


def _jump(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Crouch, take off with the arms swinging up, land and absorb."""
    c = _oneshot(m.tau, rng, 3)
    active = c > 0.0
    crouch = _bump(c, 0.0, 0.32) * active
    air = _bump(c, 0.3, 0.7)
    land = 0.7 * _bump(c, 0.68, 1.0)
    knee = crouch + land
    for side in (LEFT, RIGHT):
        m.thigh[side] = _d(4.0 + 48.0 * knee, 80.0)
        m.shin[side] = _d(3.0 + 18.0 * knee - 6.0 * air, -95.0)
        m.upper_arm[side] = _d(12.0 - 35.0 * crouch + 140.0 * air * amp, 80.0)
        m.forearm[side] = _d(18.0 - 35.0 * crouch + 145.0 * air * amp, 80.0)
    m.torso[:, 0] += np.radians(25.0) * knee
    m.lift += rng.uniform(0.15, 0.32) * amp * air


def _bow(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Torso bends forward from the hips, head down, arms along the body or hands clasped."""
    s = _plateau(_oneshot(m.tau, rng, 2), 0.35)
    m.torso[:, 0] += np.radians(rng.uniform(35.0, 65.0) * amp) * s
    m.head[:, 0] += np.radians(15.0) * s
    clasped = rng.random() < 0.3
    for side in (LEFT, RIGHT):
        if clasped:
            m.upper_arm[side] = _d(15.0, 70.0)
            m.forearm[side] = _unit(np.array([-0.19, -0.17, 0.13]))
            m.palm[side] = (-1.0, 0.0, 0.0)
        else:
            m.upper_arm[side] = _nlerp(m.upper_arm[side], _d(4.0, 90.0), s)
            m.forearm[side] = _nlerp(m.forearm[side], _d(5.0, 90.0), s)


def _kick(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Dominant knee lifts, the leg snaps straight (forward or to the side) and retracts."""
    c = _oneshot(m.tau, rng, 3)
    knee_up = _bump(c, 0.0, 1.0)
    extend = _bump(c, 0.3, 0.8)
    th_elev = 5.0 + 75.0 * amp * knee_up
    aim = rng.uniform(35.0, 90.0)
    m.thigh[dom] = _d(th_elev, aim)
    m.shin[dom] = _d(th_elev - 85.0 * knee_up * (1.0 - extend), aim)
    m.torso[:, 0] -= np.radians(10.0) * extend
    off = 1 - dom
    m.upper_arm[off] = _d(12.0 + 30.0 * extend, 60.0)
    m.upper_arm[dom] = _d(12.0 + 25.0 * extend, -30.0)


def _point(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Dominant arm rises straight to point at a target with the index finger, then drops."""
    s = _plateau(_oneshot(m.tau, rng, 1), 0.25)
    target = _d(rng.uniform(70.0, 115.0), rng.uniform(15.0, 80.0))
    m.upper_arm[dom] = _nlerp(m.upper_arm[dom], target, s)
    m.forearm[dom] = _nlerp(m.forearm[dom], target, s)
    m.palm[dom] = _lerp(m.palm[dom], np.array([-0.3, -1.0, 0.0]), s)
    m.set_shape(dom, _POINTING, s)
    m.spread[dom] = 0.0
    m.head[:, 1] += np.radians(12.0) * _SIDE_SIGN[dom] * s


def _stand(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Idle: swaying, shifting weight and looking around, arms hanging, clasped or on hips."""
    th = _cyclic(m.tau, rng, 0.5, 1.5)
    m.sway += 0.02 * amp * np.sin(th)
    m.torso[:, 2] += np.radians(2.0) * np.sin(th + 0.5)
    m.head[:, 1] += np.radians(rng.uniform(-15.0, 15.0)) * np.sin(0.7 * th + rng.uniform(0, 6))
    m.shrug += 0.006 * np.sin(2.3 * th)
    pose = rng.integers(0, 3)
    for side in (LEFT, RIGHT):
        if pose == 1:  # hands clasped in front
            m.upper_arm[side] = _d(15.0, 70.0)
            m.forearm[side] = _unit(np.array([-0.19, -0.17, 0.13]))
            m.palm[side] = (-1.0, 0.0, 0.0)
        elif pose == 2:  # hands on hips
            m.upper_arm[side] = _d(35.0, -20.0)
            m.forearm[side] = _unit(np.array([-0.19, -0.21, 0.06]))
            m.hand[side] = _d(20.0, 170.0)
            m.palm[side] = (-1.0, 0.0, 0.0)


def _circle(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Dominant arm, nearly straight, draws big circles in front of the body."""
    th = _cyclic(m.tau, rng, 1.5, 3.0)
    centre = _d(rng.uniform(85.0, 105.0), rng.uniform(30.0, 65.0))
    e1 = _unit(np.array([0.0, 1.0, 0.0]) - centre[1] * centre)
    e2 = np.cross(centre, e1) * rng.choice([-1.0, 1.0])
    radius = rng.uniform(0.45, 0.7) * amp
    arm = _unit(centre + radius * (np.cos(th)[:, None] * e1 + np.sin(th)[:, None] * e2))
    m.upper_arm[dom] = arm
    m.forearm[dom] = _unit(arm + 0.15 * centre)
    m.palm[dom] = (0.0, -0.3, 1.0)
    m.set_shape(dom, _OPEN)


def _swipe(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Dominant hand sweeps horizontally across the body (fast) and returns (slow)."""
    th = _cyclic(m.tau, rng, 1.5, 3.0)
    s = 0.5 - 0.5 * np.cos(th + 0.6 * np.sin(th))
    height = rng.uniform(70.0, 95.0)
    m.upper_arm[dom] = _d(height, 10.0 + 100.0 * amp * s)
    m.forearm[dom] = _d(height + 8.0, 20.0 + 125.0 * amp * s)
    m.palm[dom] = (-1.0, 0.0, 0.4)
    m.set_shape(dom, _OPEN)
    m.torso[:, 1] -= np.radians(8.0) * (s - 0.5) * _SIDE_SIGN[dom]


def _shrug(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Shoulders up, forearms out with the palms up, head tilted."""
    s = _plateau(_oneshot(m.tau, rng, 3), 0.4)
    lift = rng.uniform(0.04, 0.07) * amp
    for side in (LEFT, RIGHT):
        m.shrug[side] += lift * s
        m.upper_arm[side] = _nlerp(m.upper_arm[side], _d(18.0, 10.0), s)
        m.forearm[side] = _nlerp(m.forearm[side], _d(85.0, 40.0), s)
        m.palm[side] = _lerp(m.palm[side], np.array([0.0, 1.0, 0.2]), s)
        m.set_shape(side, _OPEN, s)
    m.head[:, 2] += np.radians(rng.uniform(-10.0, 10.0)) * s


def _march(m: _Motion, amp: float, dom: int, rng: np.random.Generator) -> None:
    """Marching on the spot: knees lift alternately, arms swing opposite."""
    th = _cyclic(m.tau, rng, 1.5, 3.5)
    for side in (LEFT, RIGHT):
        sgn = 1.0 if side == dom else -1.0
        knee = np.maximum(0.0, sgn * np.sin(th)) ** 1.2
        swing = -30.0 * amp * sgn * np.sin(th)
        m.thigh[side] = _d(4.0 + 65.0 * amp * knee, 88.0)
        m.shin[side] = _d(4.0 + 6.0 * knee, -90.0)
        m.upper_arm[side] = _unit(_d(swing, 88.0) + np.array([0.12, 0.0, 0.0]))
        m.forearm[side] = _unit(_d(swing + 35.0, 88.0) + np.array([0.1, 0.0, 0.0]))


_ACTION_FNS: dict[str, _Action] = {
    "wave": _wave,
    "clap": _clap,
    "raise_arms": _raise_arms,
    "punch": _punch,
    "squat": _squat,
    "jump": _jump,
    "bow": _bow,
    "kick": _kick,
    "point": _point,
    "stand": _stand,
    "circle": _circle,
    "swipe": _swipe,
    "shrug": _shrug,
    "march": _march,
}
_ONE_SIDED = frozenset({"wave", "kick", "point", "circle", "swipe"})


# ----------------------------------------------------------------------------------------------
# Geometry: joint targets -> 3-D landmarks.


def _legs(m: _Motion, body: _Body) -> np.ndarray:
    """Hips, knees, ankles, heels, toes per side ``(2, T, 5, 3)``, hip centre at the origin."""
    t = m.tau.shape[0]
    sign = _X_SIGN[:, None, :]
    hips = np.zeros((2, t, 3))
    hips[:, :, 0] = _SIDE_SIGN[:, None] * body.hip
    shin = m.shin * sign
    knees = hips + body.thigh * m.thigh * sign
    ankles = knees + body.shin * shin
    fwd = _unit(np.stack([np.zeros_like(shin[..., 0]), shin[..., 2], -shin[..., 1]], axis=-1))
    out = np.zeros_like(hips)
    out[:, :, 0] = 0.02 * _SIDE_SIGN[:, None]  # toes turned slightly out
    drop = 0.06 * body.foot * shin
    heels = ankles + drop - 0.05 * body.foot * fwd
    toes = ankles + drop + 0.15 * body.foot * fwd + out
    return np.stack([hips, knees, ankles, heels, toes], axis=2)


def _hand_local(curl: np.ndarray, spread: np.ndarray, scale: float) -> np.ndarray:
    """21 hand landmarks in the hand frame (u fingers, v thumb side, n palm): curl ``(..., 5)``
    and spread ``(...)`` give ``(..., 21, 3)``."""
    lead = curl.shape[:-1]
    pts = np.zeros(lead + (21, 3))
    # thumb: 1 CMC, 2 MCP, 3 IP, 4 tip
    ang = np.cumsum(curl[..., :1] * _THUMB_BEND, axis=-1)[..., None]  # (..., 3, 1)
    seg = np.cos(ang) * _THUMB_DIR + np.sin(ang) * _THUMB_FOLD
    pts[..., 1, :] = _THUMB_BASE
    pts[..., 2:5, :] = _THUMB_BASE + np.cumsum(_THUMB_SEG[:, None] * seg, axis=-2)
    # fingers: MCP, PIP, DIP, tip for index, middle, ring, pinky
    alpha = (spread[..., None] * _SPREAD)[..., None]  # (..., 4, 1)
    bend = np.cumsum(curl[..., 1:, None] * _FINGER_BEND, axis=-1)  # (..., 4, 3)
    cb = np.cos(bend)
    dirs = np.stack([cb * np.cos(alpha), cb * np.sin(alpha), np.sin(bend)], axis=-1)
    fingers = np.empty(lead + (4, 4, 3))  # finger, joint (MCP, PIP, DIP, tip), xyz
    fingers[..., 0, :] = _MCP3
    fingers[..., 1:, :] = _MCP3[:, None, :] + np.cumsum(_PHALANX[..., None] * dirs, axis=-2)
    pts[..., 5:21, :] = fingers.reshape(lead + (16, 3))
    return pts * scale


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product along the last axis (cheaper than np.cross for small arrays)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _hands(m: _Motion, body: _Body, wrists: np.ndarray) -> np.ndarray:
    """Both hands' 21 landmarks in the torso frame ``(2, T, 21, 3)``."""
    sign = _X_SIGN[:, None, :]
    u = _unit(m.hand_dir() * sign)
    target = m.palm * sign
    n = _unit(target - np.sum(target * u, axis=-1, keepdims=True) * u, _DOWN)
    n = _unit(n - np.sum(n * u, axis=-1, keepdims=True) * u)
    v = _SIDE_SIGN[:, None, None] * _cross(n, u)
    basis = np.stack([u, v, n], axis=-2)  # (2, T, 3, 3): rows u, v, n
    local = _hand_local(np.clip(m.curl, 0.0, 1.0), m.spread, body.hand)
    return wrists[:, :, None, :] + local @ basis


@dataclass
class _World:
    """3-D landmarks (metres) and the reference points their depth is measured from."""

    pose: np.ndarray  # (T, 33, 3)
    face_rot: np.ndarray  # (T, 3, 3) orientation of the face (torso and head rotations)
    face_scale: float
    hands: np.ndarray  # (2, T, 21, 3)
    hip_centre: np.ndarray  # (T, 3)
    head_centre: np.ndarray  # (T, 3)
    face_pitch: np.ndarray  # (T,) how far the face is tipped down, radians


def _world(m: _Motion, body: _Body) -> _World:
    """Build the skeleton, hands and face for every frame from the joint targets."""
    t = m.tau.shape[0]
    legs = _legs(m, body)
    lowest = np.minimum(legs[:, :, 3, 1], legs[:, :, 4, 1]).min(axis=0)
    hip_centre = np.stack([m.sway, m.lift - lowest, np.zeros(t)], axis=1)

    # upper body in the torso frame (origin at the hip centre, before the torso rotation)
    neck = np.array([0.0, body.torso, 0.0])
    shoulders = np.zeros((2, t, 3))
    shoulders[:, :, 0] = _SIDE_SIGN[:, None] * body.shoulder
    shoulders[:, :, 1] = body.torso + m.shrug
    sign = _X_SIGN[:, None, :]
    elbows = shoulders + body.upper_arm * m.upper_arm * sign
    wrists = elbows + body.forearm * m.forearm * sign
    hands = _hands(m, body, wrists)
    head_rot = _rotation(m.head[:, 0], m.head[:, 1], m.head[:, 2])
    head_centre = neck + head_rot[:, :, 1] * body.neck
    head_pts = head_centre[:, None, :] + _apply(head_rot, _HEAD_PTS * body.head)

    torso_rot = _rotation(m.torso[:, 0], m.torso[:, 1], m.torso[:, 2])
    upper = np.concatenate(
        [
            head_pts,
            shoulders.transpose(1, 0, 2),
            elbows.transpose(1, 0, 2),
            wrists.transpose(1, 0, 2),
        ],
        axis=1,
    )
    upper = _apply(torso_rot, upper) + hip_centre[:, None, :]
    hands = _apply(torso_rot, hands) + hip_centre[:, None, :]
    head_c = np.einsum("tij,tj->ti", torso_rot, head_centre) + hip_centre
    lower = legs.transpose(1, 2, 0, 3) + hip_centre[:, None, None, :]  # (T, 5, 2, 3)

    pose = np.empty((t, 33, 3))
    pose[:, :11] = upper[:, :11]
    pose[:, 11:17] = upper[:, 11:]  # shoulders, elbows, wrists (left, right)
    pose[:, [17, 18]] = hands[:, :, 17].transpose(1, 0, 2)  # pinky
    pose[:, [19, 20]] = hands[:, :, 5].transpose(1, 0, 2)  # index
    pose[:, [21, 22]] = hands[:, :, 2].transpose(1, 0, 2)  # thumb
    pose[:, 23:33] = lower.reshape(t, 10, 3)
    return _World(
        pose=pose,
        face_rot=torso_rot @ head_rot,
        face_scale=body.head,
        hands=hands,
        hip_centre=hip_centre,
        head_centre=head_c,
        face_pitch=m.torso[:, 0] + m.head[:, 0],
    )


# ----------------------------------------------------------------------------------------------
# Camera, noise and detection drop-outs.


@dataclass(frozen=True)
class _Camera:
    """Orthographic view: world metres -> normalised image coordinates."""

    rot: np.ndarray  # (3, 3) yaw of the person and image-plane roll
    pivot: np.ndarray  # (3,) rotation centre
    cx: float  # image x of the world origin
    ground: float  # image y of the floor (Y = 0)
    sx: float  # image-x units per metre
    sy: float  # image-y units per metre

    def xy(self, pts: np.ndarray) -> np.ndarray:
        """Rotated world points, then projected x, y and world depth Z ``(..., 3)``."""
        p = (pts - self.pivot) @ self.rot.T + self.pivot
        return p * (self.sx, -self.sy, 1.0) + (self.cx, self.ground, 0.0)

    def face(self, rot: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
        """Face template posed by ``rot`` (T, 3, 3) around world ``centre`` (T, 3): image x, y
        and depth relative to the centre in image-x units, float32 ``(T, 468, 3)``."""
        t = rot.shape[0]
        lin = np.array([[self.sx], [-self.sy], [-self.sx]]) * (self.rot @ rot) * scale
        face = (lin.reshape(t, 9).astype(np.float32) @ _FACE_BASIS).reshape(t, 468, 3)
        offset = self.xy(centre)
        offset[:, 2] = 0.0
        face += offset[:, None, :].astype(np.float32)
        return face


def _random_camera(rng: np.random.Generator, body: _Body) -> _Camera:
    """Random zoom, aspect ratio, framing, yaw and roll."""
    sy = rng.uniform(0.4, 0.62)
    aspect = rng.choice([4.0 / 3.0, 16.0 / 9.0, 1.0], p=[0.45, 0.45, 0.1])
    hip_height = body.thigh + body.shin + 0.06 * body.foot
    height = hip_height + body.torso + body.neck + 0.12 * body.head
    top = rng.uniform(0.04, 0.16)
    yaw = np.radians(rng.uniform(-22.0, 22.0))
    roll = np.radians(rng.uniform(-6.0, 6.0))
    rot = _rotation(np.zeros(1), np.full(1, yaw), np.full(1, roll))[0]
    return _Camera(
        rot=rot,
        pivot=np.array([0.0, hip_height, 0.0]),
        cx=rng.uniform(0.35, 0.65),
        ground=top + sy * height,
        sx=sy / aspect,
        sy=sy,
    )


def _visibility(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pose visibility: near 1 inside the image, falling off outside it ``(T, 33)``."""
    margin = np.minimum(
        np.minimum(xy[..., 0], 1.0 - xy[..., 0]), np.minimum(xy[..., 1], 1.0 - xy[..., 1])
    )
    base = np.full(33, 0.995)
    base[13:23] = 0.97  # arms and hands are less certain than the face
    base[23:] = 0.93
    vis = base / (1.0 + np.exp(-(margin / 0.025 + 2.5)))
    vis = vis - np.abs(rng.normal(0.0, 0.015, size=vis.shape))
    return np.clip(vis, 0.0, 1.0)


def _runs(t: int, rng: np.random.Generator, rate: float, longest: int) -> np.ndarray:
    """Boolean (T,) mask with a Poisson number of short runs of True."""
    mask = np.zeros(t, dtype=bool)
    for _ in range(min(int(rng.poisson(rate)), 3)):
        n = int(rng.integers(1, max(2, longest) + 1))
        start = int(rng.integers(0, t))
        mask[start : start + n] = True
    return mask


def _hand_missing(wrist_xy: np.ndarray, hip_y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames (T,) where the hand detector misses one hand."""
    t = wrist_xy.shape[0]
    if rng.random() < 0.04:
        return np.ones(t, dtype=bool)
    missing = _runs(t, rng, 0.45, max(1, t // 6))
    outside = (wrist_xy < -0.02) | (wrist_xy > 1.02)
    missing |= outside.any(axis=-1)
    if rng.random() < 0.25:  # a hand hanging low by the side is often not picked up
        missing |= wrist_xy[:, 1] > hip_y + 0.02
    return missing


def _face_missing(face_pitch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames (T,) where the face is not detected (rare drop-outs, deep bows)."""
    t = face_pitch.shape[0]
    if rng.random() < 0.02:
        return np.ones(t, dtype=bool)
    return _runs(t, rng, 0.08, max(1, t // 4)) | (face_pitch > np.radians(55.0))


def _noise(rng: np.random.Generator, sd: float, shape: tuple[int, ...]) -> np.ndarray:
    """Gaussian jitter (float32, fast)."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sd)


def _render(world: _World, cam: _Camera, rng: np.random.Generator) -> np.ndarray:
    """Project, add jitter and visibility, drop undetected parts: float32 ``(T, 1662)``."""
    t = world.pose.shape[0]
    frames = np.zeros((t, _WIDTH), dtype=np.float32)
    jitter = rng.uniform(0.0012, 0.0035)

    pose = cam.xy(world.pose)
    hip = cam.xy(world.hip_centre)
    pose[..., 2] = -(pose[..., 2] - hip[:, None, 2]) * cam.sx
    pose += _noise(rng, jitter, pose.shape) * (1.0, 1.0, 2.5)
    vis = _visibility(pose, rng)
    frames[:, _POSE] = np.concatenate([pose, vis[..., None]], axis=-1).reshape(t, -1)

    face = cam.face(world.face_rot, world.head_centre, world.face_scale)
    shake = rng.random(face.shape, dtype=np.float32)  # uniform jitter, sd ~0.3 * jitter
    shake -= np.float32(0.5)
    shake *= np.float32(jitter)
    shake += _noise(rng, 0.004 * cam.sy, (1, 468, 3))  # this person's face shape
    face += shake
    face[_face_missing(world.face_pitch, rng)] = 0.0
    frames[:, _FACE] = face.reshape(t, -1)

    for side in (LEFT, RIGHT):
        hand = cam.xy(world.hands[side])
        hand[..., 2] = -(hand[..., 2] - hand[:, :1, 2]) * cam.sx
        hand += _noise(rng, jitter * 0.3, hand.shape) + _noise(rng, jitter * 0.5, (t, 1, 3))
        hand[:, 0, 2] = 0.0  # depth is relative to the wrist
        hand[_hand_missing(hand[:, 0, :2], hip[:, 1], rng)] = 0.0
        frames[:, _HANDS[side]] = hand.reshape(t, -1)
    return frames


# ----------------------------------------------------------------------------------------------
# Public API.


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
            write_npy(folder / f"{i}.npy", _sample(c, i, frames, seed))
    remove_stale(previous, labels, per_class, "npy")
    return {
        "classes": labels,
        "per_class": per_class,
        "frames": frames,
        "seed": seed,
        "path": str(out),
        "layout": HOLISTIC.name,
    }
