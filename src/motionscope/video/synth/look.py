"""The cartoon people's appearance: action names, skin, hair, clothing and background colours,
and the background image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the same order as the keypoint synthesiser's ACTIONS (data/synth/body.py) for the actions both
# have, so `synth keypoints` and `synth videos` pick the same classes for the same --classes
VIDEO_ACTIONS: tuple[str, ...] = (
    "wave",
    "clap",
    "raise_arms",
    "punch",
    "squat",
    "jump",
    "bow",
    "kick",
    "stand",
    "turn_around",
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
