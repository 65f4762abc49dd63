"""The cartoon body and its motion: proportions, per-frame joint angles for each action, and the
2-D skeleton they give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from motionscope.video.synth.look import _DEG, _SIDES, LEFT, RIGHT, VIDEO_ACTIONS

# ----------------------------------------------------------------------------------------------
# Body and motion.


@dataclass(frozen=True)
class _Body:
    """Proportions in body units (standing height 1)."""

    head: float  # head radius
    neck: float
    shoulder: float  # half shoulder width
    hip: float  # half hip width
    torso: float  # neck base to hip line
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float  # ankle height above the ground
    hand: float  # palm radius
    arm_w: float  # limb thicknesses
    leg_w: float
    stance: float  # half distance between the feet


def _random_body(rng: np.random.Generator) -> _Body:
    u = rng.uniform
    # about 1/7.5 of the height, as in adults: bigger cartoon heads were detected less often
    head = 0.068 * u(0.92, 1.1)
    neck = 0.03 * u(0.8, 1.2)
    foot = 0.035
    legs = 1.0 - foot - 2 * head - neck  # what is left for torso and legs
    torso = legs * u(0.38, 0.44)
    leg = legs - torso
    thigh = leg * u(0.5, 0.55)
    return _Body(
        head=head,
        neck=neck,
        shoulder=0.118 * u(0.85, 1.15),
        hip=0.068 * u(0.85, 1.15),
        torso=torso,
        upper_arm=0.165 * u(0.92, 1.08),
        forearm=0.145 * u(0.92, 1.08),
        thigh=thigh,
        shin=leg - thigh,
        foot=foot,
        hand=0.027 * u(0.9, 1.15),
        arm_w=0.048 * u(0.85, 1.2),
        leg_w=0.062 * u(0.85, 1.2),
        stance=0.085 * u(0.8, 1.3),
    )


class _Motion:
    """Per-frame controls ``(T,)`` that an action sets; the skeleton is built from them."""

    def __init__(self, t: np.ndarray) -> None:
        n = t.shape[0]
        self.t = t  # seconds
        self.lift = np.zeros(n)  # whole body up (jump), body units
        self.drop = np.zeros(n)  # pelvis down with the feet on the ground (squat)
        self.sway = np.zeros(n)  # pelvis sideways
        self.bow = np.zeros(n)  # forward bend of the torso, radians
        self.yaw = np.zeros(n)  # turn about the vertical axis, radians
        # arms: upper-arm and forearm angles per side, side-local (0 down, 90 deg out, 180 up)
        self.arm = {s: np.zeros((2, n)) for s in _SIDES}
        self.fist = {s: np.zeros(n, dtype=bool) for s in _SIDES}
        self.fist_scale = {s: np.ones(n) for s in _SIDES}
        # legs: foot offset from its rest position (x side-local, y up), or thigh/shin angles
        self.foot = {s: np.zeros((2, n)) for s in _SIDES}
        self.leg_angles: dict[float, np.ndarray] = {}


def _ik(
    target: np.ndarray, l1: float, l2: float, outward: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two-link inverse kinematics in side-local coordinates: ``target`` ``(2, T)`` relative to
    the root -> (upper angle, lower angle), the middle joint bending ``outward`` (+1) or
    inward (-1)."""
    x, y = target
    d = np.clip(np.hypot(x, y), abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
    a_t = np.arctan2(x, y)
    alpha = np.arccos(np.clip((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d), -1.0, 1.0))
    a1 = a_t + outward * alpha
    ex, ey = l1 * np.sin(a1), l1 * np.cos(a1)
    tx, ty = d * np.sin(a_t), d * np.cos(a_t)
    return a1, np.arctan2(tx - ex, ty - ey)


def _cycle(m: _Motion, rng: np.random.Generator, hz: tuple[float, float]) -> np.ndarray:
    """Phase (radians) of a periodic action at a random speed and phase."""
    return 2 * np.pi * rng.uniform(*hz) * m.t + rng.uniform(0, 2 * np.pi)


def _ease(phase: np.ndarray) -> np.ndarray:
    """0..1..0 once per cycle, smooth at both ends."""
    return 0.5 - 0.5 * np.cos(phase)


def _rest_arms(m: _Motion, rng: np.random.Generator) -> None:
    for s in _SIDES:
        a = rng.uniform(6, 16) * _DEG + 0.03 * np.sin(_cycle(m, rng, (0.2, 0.5)))
        m.arm[s][0] = a
        m.arm[s][1] = a + rng.uniform(-4, 10) * _DEG


def _idle(m: _Motion, rng: np.random.Generator) -> None:
    """Small sway and breathing every action has."""
    m.sway += rng.uniform(0.002, 0.008) * np.sin(_cycle(m, rng, (0.15, 0.4)))
    _rest_arms(m, rng)


def _wave(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    ph = _cycle(m, rng, (1.2, 2.2))
    m.arm[dom][0] = rng.uniform(110, 135) * _DEG + 0.06 * np.sin(ph)
    m.arm[dom][1] = rng.uniform(165, 175) * _DEG + 32 * _DEG * amp * np.sin(ph)


def _clap(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    ph = _cycle(m, rng, (1.2, 2.2))
    gap = 0.012 + 0.11 * amp * _ease(ph)
    height = rng.uniform(0.2, 0.3)  # at the belly: hands at the chest hid the torso more
    for s in _SIDES:
        target = np.stack([-(b.shoulder - b.hand) + gap, np.full_like(gap, height)])
        m.arm[s][0], m.arm[s][1] = _ik(target, b.upper_arm, b.forearm)


def _raise_arms(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    e = _ease(_cycle(m, rng, (0.35, 0.8)))
    top = min(172.0, 120 + 50 * amp) * _DEG
    for s in _SIDES:
        a = 12 * _DEG + (top - 12 * _DEG) * e
        m.arm[s][0] = a
        m.arm[s][1] = a + 6 * _DEG * np.sin(np.pi * e)


def _squat(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    e = _ease(_cycle(m, rng, (0.35, 0.75)))
    m.drop = 0.16 * amp * e
    for s in _SIDES:
        m.arm[s][0] = 12 * _DEG + 60 * _DEG * e
        m.arm[s][1] = m.arm[s][0] + 10 * _DEG * e


def _jump(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    ph = _cycle(m, rng, (0.8, 1.3))
    up = np.maximum(0.0, np.sin(ph))
    m.lift = 0.11 * amp * up
    m.drop = 0.05 * np.maximum(0.0, -np.sin(ph))  # crouch before take-off, after landing
    for s in _SIDES:
        m.arm[s][0] = 15 * _DEG + 110 * _DEG * up
        m.arm[s][1] = m.arm[s][0] + 10 * _DEG
        m.foot[s][1] = 0.04 * up  # toes point down in the air


def _punch(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    ph = _cycle(m, rng, (0.6, 1.1))
    reach = 0.9 * (b.upper_arm + b.forearm)
    for k, s in enumerate((dom, -dom)):
        e = np.maximum(0.0, np.sin(ph + k * np.pi)) ** 1.5  # alternating punches to the side
        # guard: fist at the belly on its own side, elbow out (forearms crossed in front of
        # the chest hid the torso: the figure was found in 78% of frames, 90% with this guard)
        guard = np.array([0.03, 0.2])
        hit = np.array([reach * (0.75 + 0.25 * amp), -0.02])
        target = guard[:, None] * (1 - e) + hit[:, None] * e
        m.arm[s][0], m.arm[s][1] = _ik(target, b.upper_arm, b.forearm, outward=1.0)
        m.fist[s][:] = True
        m.fist_scale[s] = np.full_like(e, 1.2)


def _kick(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    e = np.maximum(0.0, np.sin(_cycle(m, rng, (0.45, 0.9)))) ** 1.2
    thigh = 70 * _DEG * amp * e
    m.leg_angles[dom] = np.stack([thigh, thigh * 0.75 + 5 * _DEG * e])
    m.sway = m.sway - dom * 0.04 * e  # lean away from the kicking leg
    for s in _SIDES:
        m.arm[s][0] = m.arm[s][0] + 35 * _DEG * e
        m.arm[s][1] = m.arm[s][0] + 10 * _DEG * e


def _bow(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    e = _ease(_cycle(m, rng, (0.3, 0.6)))
    m.bow = min(60.0, 40 + 20 * amp) * _DEG * e


def _turn_around(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    # start facing the camera (a detector needs a face to lock on), then turn away and back
    hz = rng.uniform(0.25, 0.5)
    ph = 2 * np.pi * hz * m.t + rng.choice([0.0, np.pi]) + rng.uniform(-0.25, 0.25)
    m.yaw = min(65.0, 40 + 25 * amp) * _DEG * np.sin(ph)


def _stand(m: _Motion, b: _Body, amp: float, dom: float, rng: np.random.Generator) -> None:
    m.sway += rng.uniform(0.004, 0.012) * np.sin(_cycle(m, rng, (0.2, 0.5)))


_ACTION_FNS: dict[str, Callable[..., None]] = {
    "wave": _wave,
    "clap": _clap,
    "raise_arms": _raise_arms,
    "punch": _punch,
    "squat": _squat,
    "jump": _jump,
    "bow": _bow,
    "kick": _kick,
    "stand": _stand,
    "turn_around": _turn_around,
}
assert tuple(_ACTION_FNS) == VIDEO_ACTIONS


@dataclass
class _Skeleton:
    """Joint positions in body units, each ``(T, 2)``; per-side joints keyed by side sign."""

    head: np.ndarray
    neck: np.ndarray
    pelvis: np.ndarray
    shoulder: dict[float, np.ndarray]
    elbow: dict[float, np.ndarray]
    wrist: dict[float, np.ndarray]
    hip: dict[float, np.ndarray]
    knee: dict[float, np.ndarray]
    ankle: dict[float, np.ndarray]
    width: np.ndarray  # (T,) |cos yaw|: how wide the body looks
    face_dx: np.ndarray  # (T,) face features shift (head radii), from the yaw
    face_dy: np.ndarray  # (T,) face features shift down (head radii), from the bow

    def points(self) -> np.ndarray:
        """Every joint ``(T, K, 2)`` (for the bounding box)."""
        parts = [self.head, self.neck, self.pelvis]
        for d in (self.shoulder, self.elbow, self.wrist, self.hip, self.knee, self.ankle):
            parts += [d[RIGHT], d[LEFT]]
        return np.stack(parts, axis=1)


def _direction(angle: np.ndarray, side: float) -> np.ndarray:
    """Side-local angle -> image direction ``(T, 2)``."""
    return np.stack([side * np.sin(angle), np.cos(angle)], axis=1)


def _skeleton(m: _Motion, b: _Body, rng: np.random.Generator) -> _Skeleton:
    n = m.t.shape[0]
    jitter = rng.uniform(0.001, 0.004)

    def noise(*shape: int) -> np.ndarray:
        return rng.normal(0.0, jitter, shape)

    width = np.maximum(np.abs(np.cos(m.yaw)), 0.22)
    leg_len = b.thigh + b.shin
    pelvis = np.stack([m.sway, -(b.foot + leg_len) + m.drop - m.lift], axis=1) + noise(n, 2)
    hips, knees, ankles = {}, {}, {}
    for s in _SIDES:
        hips[s] = pelvis + np.stack([s * b.hip * width, np.zeros(n)], axis=1)
        if s in m.leg_angles:
            a_thigh, a_shin = m.leg_angles[s]
            knees[s] = hips[s] + b.thigh * _direction(a_thigh, s)
            ankles[s] = knees[s] + b.shin * _direction(a_shin, s)
            continue
        rest = np.stack(
            [np.full(n, s * b.stance * width) + m.sway * 0.3, np.full(n, -b.foot) - m.lift], axis=1
        )
        ankle = rest + np.stack([s * m.foot[s][0], -m.foot[s][1]], axis=1)
        rel = ankle - hips[s]
        a1, a2 = _ik(np.stack([s * rel[:, 0], rel[:, 1]]), b.thigh, b.shin, outward=1.0)
        knees[s] = hips[s] + b.thigh * _direction(a1, s)
        ankles[s] = knees[s] + b.shin * _direction(a2, s)

    cos_bow = np.cos(m.bow)
    neck = pelvis + np.stack([np.zeros(n), -b.torso * (0.25 + 0.75 * cos_bow)], axis=1)
    neck = neck + noise(n, 2)
    head_up = (b.neck + b.head) * np.cos(np.minimum(m.bow * 1.3, 1.4))
    head = neck + np.stack([np.sin(m.yaw) * b.head * 0.1, -head_up], axis=1) + noise(n, 2)

    shoulders, elbows, wrists = {}, {}, {}
    for s in _SIDES:
        shoulders[s] = neck + np.stack(
            [s * b.shoulder * width, np.full(n, 0.012) + 0.02 * (1 - cos_bow)], axis=1
        )
        a1 = m.arm[s][0] + noise(n) * 8
        a2 = m.arm[s][1] + noise(n) * 8
        d1 = _direction(a1, s)
        d1[:, 0] *= width  # a turned body shows its arms' sideways reach shortened
        elbows[s] = shoulders[s] + b.upper_arm * d1
        d2 = _direction(a2, s)
        d2[:, 0] *= width
        wrists[s] = elbows[s] + b.forearm * d2
    return _Skeleton(
        head=head,
        neck=neck,
        pelvis=pelvis,
        shoulder=shoulders,
        elbow=elbows,
        wrist=wrists,
        hip=hips,
        knee=knees,
        ankle=ankles,
        width=width,
        face_dx=np.sin(m.yaw) * 0.55,
        face_dy=np.sin(m.bow) * 0.45,
    )
