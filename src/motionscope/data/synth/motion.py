"""Motion: per-frame joint targets, and the actions that fill them in."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from motionscope.data.synth.body import (
    _FIST,
    _OPEN,
    _POINTING,
    _RELAXED,
    _SIDE_SIGN,
    LEFT,
    RIGHT,
    _bump,
    _d,
    _lerp,
    _nlerp,
    _plateau,
    _unit,
)

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
