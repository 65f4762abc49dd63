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

VIDEO_ACTIONS: tuple[str, ...] = (
    "wave",
    "clap",
    "raise_arms",
    "squat",
    "jump",
    "punch",
    "kick",
    "bow",
    "turn_around",
    "stand",
)

MIN_SIDE = 64  # smallest width/height accepted (pixels)
MAX_SIDE = 4096

RIGHT, LEFT = -1.0, 1.0  # image-x sign of the person's right / left side
_SIDES = (RIGHT, LEFT)
_DEG = np.pi / 180.0

# ----------------------------------------------------------------------------------------------
# Appearance.

_SKIN = np.array(
    [
        (255, 224, 196),
        (241, 194, 160),
        (224, 172, 125),
        (198, 134, 86),
        (160, 102, 62),
        (115, 70, 40),
        (236, 188, 150),
    ],
    dtype=float,
)
_HAIR = np.array(
    [(30, 22, 16), (45, 30, 20), (60, 38, 22), (85, 50, 25), (100, 40, 18), (50, 50, 54)],
    dtype=float,
)
_MAX_HAIR_LUMA = 65.0  # hair is at most this bright ...
_HAIR_CONTRAST = 0.5  # ... and at most this fraction of the skin's brightness
# Backgrounds: light, green to blue (OpenCV hue 0..180). MediaPipe's pose detector, run on
# single frames of 240 clips, found the figure in 97.5% of them on green backgrounds (hue
# 35..90), 92.5% on blue (90..130) and only 79% on purple to magenta (130..165); a warm,
# skin-coloured plain background (255, 230, 200): 91%; light grey or light blue: 98-99%.
_BG_HUE = (35.0, 125.0)
_BG_SATURATION = (0.0, 0.3)
_BG_VALUE = (0.72, 1.0)
_BG_KINDS = {"plain": 0.25, "gradient": 0.3, "texture": 0.25, "floor": 0.2}  # probabilities

_EYES = np.array([(90, 55, 30), (60, 40, 25), (70, 110, 160), (80, 120, 70)], dtype=float)


@dataclass(frozen=True)
class _Look:
    """Colours (RGB tuples) and sizes of one person and background."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    outline: tuple[int, int, int]
    eyes: tuple[int, int, int]
    long_sleeves: bool
    bald: bool


def _rgb(c: np.ndarray) -> tuple[int, int, int]:
    c = np.clip(np.round(c), 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


def _hsv_colour(
    rng: np.random.Generator,
    s: tuple[float, float],
    v: tuple[float, float],
    hue: tuple[float, float] = (0.0, 180.0),
):
    """A random RGB colour (floats) with saturation and value in the given 0..1 ranges and an
    OpenCV hue (0..180, wrapping) in ``hue``."""
    import cv2

    h = rng.uniform(*hue) % 180.0
    hsv = np.array([[[h, rng.uniform(*s) * 255, rng.uniform(*v) * 255]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(float)


def _far(colour: np.ndarray, others: list[np.ndarray], dist: float) -> bool:
    return all(np.abs(colour - o).sum() >= dist for o in others)


def _random_skin(rng: np.random.Generator) -> np.ndarray:
    return _SKIN[rng.integers(len(_SKIN))] + rng.normal(0, 6, 3)


def _luma(c) -> float:
    """Perceived brightness (0..255) of an RGB colour (ITU-R BT.601 weights)."""
    c = np.asarray(c, dtype=float)
    return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])


def _random_look(rng: np.random.Generator, skin: np.ndarray, background_mean: np.ndarray) -> _Look:
    # Hair clearly darker than the skin: light hair on a similar skin tone hides the forehead
    # line, and MediaPipe's pose detector (which keys on the face) misses such heads far more
    # often (measured: grey or blond hair on brown skin failed whole clips).
    dark = [c for c in _HAIR if _luma(c) <= min(_MAX_HAIR_LUMA, _HAIR_CONTRAST * _luma(skin))]
    hair = dark[rng.integers(len(dark))] + rng.normal(0, 6, 3)
    shirt = pants = None
    for _ in range(50):  # clothes that stand out from the background and the skin
        shirt = _hsv_colour(rng, (0.35, 0.95), (0.35, 0.95))
        if _far(shirt, [background_mean, skin], 150):
            break
    for _ in range(50):
        pants = _hsv_colour(rng, (0.2, 0.9), (0.15, 0.6))
        if _far(pants, [background_mean, shirt], 120):
            break
    shoes = rng.uniform(10, 70, 3)
    return _Look(
        skin=_rgb(skin),
        hair=_rgb(hair),
        shirt=_rgb(shirt),
        pants=_rgb(pants),
        shoes=_rgb(shoes),
        outline=_rgb(rng.uniform(15, 45, 3)),
        eyes=_rgb(_EYES[rng.integers(len(_EYES))]),
        long_sleeves=bool(rng.random() < 0.5),
        bald=bool(rng.random() < 0.0),  # bald heads are often not seen as heads: never
    )


def _background(rng: np.random.Generator, w: int, h: int, skin: np.ndarray) -> np.ndarray:
    """A plain, gradient or noise-textured background, light enough for the figure to stand
    out, ``(h, w, 3)`` uint8 RGB."""
    import cv2

    def colour() -> np.ndarray:
        for _ in range(50):
            c = _hsv_colour(rng, _BG_SATURATION, _BG_VALUE, _BG_HUE)
            if _far(c, [skin], 120):
                return c
        return c

    kind = rng.choice(list(_BG_KINDS), p=list(_BG_KINDS.values()))
    a = colour()
    if kind == "plain":
        img = np.broadcast_to(a, (h, w, 3)).astype(np.float32)
    elif kind == "gradient":
        b = colour()
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d = np.cos(angle) * xx / w + np.sin(angle) * yy / h
        d = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
        img = a * (1 - d[..., None]) + b * d[..., None]
    elif kind == "texture":
        b = colour()
        cells = int(rng.integers(3, 12))
        small = rng.random((cells, max(2, cells * w // h)), dtype=np.float32)
        mix = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        mix = np.clip(mix, 0, 1)[..., None]
        img = a * (1 - mix) + b * mix
        img += rng.normal(0, 4, (h, w, 1)).astype(np.float32)  # fine grain
    else:  # wall and floor
        b = colour() * 0.8
        horizon = int(h * rng.uniform(0.6, 0.85))
        img = np.empty((h, w, 3), np.float32)
        img[:horizon] = a
        img[horizon:] = b
    return np.clip(img, 0, 255).astype(np.uint8)


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
    "squat": _squat,
    "jump": _jump,
    "punch": _punch,
    "kick": _kick,
    "bow": _bow,
    "turn_around": _turn_around,
    "stand": _stand,
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


# ----------------------------------------------------------------------------------------------
# Drawing.


def _pt(p: np.ndarray) -> tuple[int, int]:
    """Pixel point with 4 fractional bits (cv2 ``shift=4``)."""
    return int(round(p[0] * 16)), int(round(p[1] * 16))


class _Painter:
    """Draws one frame of the figure with OpenCV, anti-aliased, outlined limbs."""

    SHIFT = 4

    def __init__(self, look: _Look, body: _Body, scale: float, origin: np.ndarray) -> None:
        self.look = look
        self.body = body
        self.scale = scale
        self.origin = origin
        self.line_w = max(1, int(round(scale * 0.006)))  # outline thickness, pixels

    def px(self, p: np.ndarray) -> np.ndarray:
        return self.origin + p * self.scale

    def limb(self, img, a, b, width: float, colour) -> None:
        import cv2

        w = max(2, int(round(width * self.scale)))
        pa, pb = _pt(self.px(a)), _pt(self.px(b))
        o = self.look.outline
        cv2.line(img, pa, pb, o, w + 2 * self.line_w, cv2.LINE_AA, self.SHIFT)
        cv2.line(img, pa, pb, colour, w, cv2.LINE_AA, self.SHIFT)

    def joint(self, img, p, radius: float, colour, outline: bool = True) -> None:
        import cv2

        r = max(1, int(round(radius * self.scale * 16)))
        c = _pt(self.px(p))
        if outline:
            cv2.circle(img, c, r + self.line_w * 16, self.look.outline, -1, cv2.LINE_AA, 4)
        cv2.circle(img, c, r, colour, -1, cv2.LINE_AA, self.SHIFT)

    def poly(self, img, pts: list[np.ndarray], colour) -> None:
        import cv2

        arr = np.array([_pt(self.px(p)) for p in pts], dtype=np.int32)
        cv2.fillPoly(img, [arr], colour, cv2.LINE_AA, self.SHIFT)
        cv2.polylines(img, [arr], True, self.look.outline, self.line_w, cv2.LINE_AA, self.SHIFT)

    def ellipse(self, img, centre, axes, angle: float, colour, thickness: int = -1, arc=(0, 360)):
        import cv2

        c = _pt(self.px(centre))
        ax = (
            max(1, int(round(axes[0] * self.scale * 16))),
            max(1, int(round(axes[1] * self.scale * 16))),
        )
        cv2.ellipse(img, c, ax, angle, arc[0], arc[1], colour, thickness, cv2.LINE_AA, self.SHIFT)

    def hand(self, img, wrist, elbow, side: float, fist: bool, size: float) -> None:
        b, look = self.body, self.look
        d = wrist - elbow
        d = d / max(float(np.hypot(*d)), 1e-6)
        r = b.hand * size
        palm = wrist + d * r * 0.8
        if fist:
            self.joint(img, palm, r * 1.05, look.skin)
            for k in (-1, 0, 1):  # knuckles
                q = palm + d * r * 0.55 + np.array([-d[1], d[0]]) * r * 0.45 * k
                self.joint(img, q, r * 0.28, look.skin)
            return
        # fingers: four spread around the forearm direction, the thumb turned to the midline
        for k, spread in enumerate((-24.0, -8.0, 8.0, 24.0)):
            ang = spread * _DEG
            rot = np.array(
                [d[0] * np.cos(ang) - d[1] * np.sin(ang), d[0] * np.sin(ang) + d[1] * np.cos(ang)]
            )
            length = r * (1.5, 1.75, 1.65, 1.35)[k]
            self.limb(
                img, palm + rot * r * 0.6, palm + rot * (r * 0.6 + length), r * 0.5, look.skin
            )
        inward = np.array([-side, 0.0])
        thumb_dir = d * 0.45 + inward * 0.9
        thumb_dir /= max(float(np.hypot(*thumb_dir)), 1e-6)
        self.limb(img, palm + thumb_dir * r * 0.5, palm + thumb_dir * r * 1.7, r * 0.55, look.skin)
        self.joint(img, palm, r, look.skin)

    def head(self, img, sk: _Skeleton, i: int) -> None:
        b, look = self.body, self.look
        c = sk.head[i]
        r = b.head
        dx, dy = float(sk.face_dx[i]), float(sk.face_dy[i])
        self.limb(img, sk.neck[i], c, b.head * 0.7, look.skin)  # neck
        # ears, then the head
        for s in _SIDES:
            ex = s * r * 0.98 * max(0.25, np.cos(np.arcsin(np.clip(dx / 0.55, -1, 1))))
            if abs(ex) > 0.3 * r:
                self.joint(img, c + np.array([ex - dx * r * 0.3, r * 0.05]), r * 0.2, look.skin)
        self.joint(img, c, r, look.skin)
        if not look.bald:  # hair cap on top of the head
            self.ellipse(
                img,
                c + np.array([0.0, -r * 0.35]),
                (r * 1.02, r * 0.7),
                0,
                look.hair,
                arc=(180, 360),
            )
        f = c + np.array([dx * r, dy * r])  # face centre, shifted by turning and bowing
        dark = (25, 20, 20)
        for s in _SIDES:
            e = f + np.array([s * r * 0.38 * (1 - 0.5 * abs(dx)), -r * 0.1])
            if abs(e[0] - c[0]) > r * 0.85:
                continue  # this eye is round the side of the head
            self.ellipse(img, e, (r * 0.21, r * 0.14), 0, (250, 250, 250))
            iris = e + np.array([dx * r * 0.06, 0.0])
            self.joint(img, iris, r * 0.1, look.eyes, outline=False)
            self.joint(img, iris, r * 0.045, dark, outline=False)
            self.limb(
                img,
                e + np.array([-r * 0.2, -r * 0.3]),
                e + np.array([r * 0.2, -r * 0.33]),
                r * 0.055,
                tuple(int(v * 0.7) for v in look.hair),
            )  # eyebrow
        nose = f + np.array([dx * r * 0.1, r * 0.2])
        self.ellipse(img, nose, (r * 0.08, r * 0.12), 0, tuple(int(v * 0.8) for v in look.skin))
        self.ellipse(
            img,
            f + np.array([0.0, r * 0.42]),
            (r * 0.3, r * 0.14),
            0,
            (150, 40, 50),
            thickness=max(1, int(round(self.scale * r * 0.09))),
            arc=(10, 170),
        )

    def draw(self, img: np.ndarray, sk: _Skeleton, i: int, m: _Motion) -> None:
        b, look = self.body, self.look
        # legs (behind the torso), with shoes
        for s in _SIDES:
            hip, knee, ankle = sk.hip[s][i], sk.knee[s][i], sk.ankle[s][i]
            self.limb(img, hip, knee, b.leg_w, look.pants)
            self.limb(img, knee, ankle, b.leg_w * 0.9, look.pants)
            toe = ankle + np.array([s * b.leg_w * 0.5, b.foot * 0.6])
            self.ellipse(img, toe, (b.leg_w * 0.85, b.foot * 0.75), 0, look.shoes)
        # torso: shoulders to hips, with a rounded belt line
        w = float(sk.width[i])
        sl, sr = sk.shoulder[LEFT][i], sk.shoulder[RIGHT][i]
        hl, hr = sk.hip[LEFT][i], sk.hip[RIGHT][i]
        pad = np.array([b.arm_w * 0.5 * w, -b.arm_w * 0.3])
        pad_r = np.array([-b.arm_w * 0.5 * w, -b.arm_w * 0.3])
        hip_pad = np.array([b.leg_w * 0.55 * w, b.leg_w * 0.3])
        hip_pad_r = np.array([-b.leg_w * 0.55 * w, b.leg_w * 0.3])
        self.poly(img, [sr + pad_r, sl + pad, hl + hip_pad, hr + hip_pad_r], look.shirt)
        # head (drawn before the arms: hands may pass in front of the face)
        self.head(img, sk, i)
        sleeve = look.shirt
        fore = look.shirt if look.long_sleeves else look.skin
        for s in _SIDES:
            sh, el, wr = sk.shoulder[s][i], sk.elbow[s][i], sk.wrist[s][i]
            self.joint(img, sh, b.arm_w * 0.55, sleeve)
            self.limb(img, sh, el, b.arm_w, sleeve)
            self.limb(img, el, wr, b.arm_w * 0.85, fore)
            self.hand(img, wr, el, s, bool(m.fist[s][i]), float(m.fist_scale[s][i]))


def _layout(
    sk: _Skeleton, body: _Body, rng: np.random.Generator, w: int, h: int
) -> tuple[float, np.ndarray]:
    """Random zoom and position that keep the whole figure in the frame over the clip."""
    pts = sk.points()
    pad = body.head + body.hand * 2.5  # reach beyond the joints (head, hands, shoes)
    lo = pts.reshape(-1, 2).min(axis=0) - pad
    hi = pts.reshape(-1, 2).max(axis=0) + pad
    lo[1] = min(lo[1], -1.0)
    hi[1] = max(hi[1], 0.01)
    extent = hi - lo
    margin = 0.02 * min(w, h)
    scale = rng.uniform(0.62, 0.85) * h
    scale = min(scale, (h - 2 * margin) / extent[1], (w - 2 * margin) / extent[0])
    free = np.array([w, h]) - 2 * margin - extent * scale
    origin = margin + rng.uniform(0, 1, 2) * np.maximum(free, 0) - lo * scale
    return float(scale), origin


# ----------------------------------------------------------------------------------------------
# Public API.


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
