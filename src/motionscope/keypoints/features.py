"""Per-frame model inputs built from raw keypoints (the bundle's feature transform).

INTERFACE (owned by the feature/model work; keep these names and signatures):
- ``FeatureConfig``: a dataclass, JSON-serialisable with ``dataclasses.asdict`` and rebuilt with
  ``FeatureConfig(**d)``; ``kind="raw"`` is the identity (the seed network's input).
- ``feature_dim(layout, cfg) -> int``
- ``make_features(x, layout, cfg) -> np.ndarray`` maps float32 ``(T, D)`` to float32 ``(T, F)``.

Kinds:

* ``raw``: the keypoints unchanged.
* ``motion``: body-frame features (see :mod:`motionscope.keypoints.normalize`), per frame:

  - pose: x, y (and z if ``use_z``) of the upper-body landmarks 0..24 (``pose_points="upper"``),
    or all 33, in shoulder widths from the shoulder midpoint;
  - face (only if ``face``): 10 reference points (nose, chin, mouth corners, eyes, brows);
  - each hand: a presence flag (``presence``), the wrist position in the body frame (from the hand,
    or from the pose wrist when the hand was not detected), the hand shape (20 landmarks relative
    to the wrist in hand sizes, x mirrored for the left hand so both hands share one shape space)
    and 24 rotation/mirror-invariant shape numbers (finger joint bend cosines, fingertip-to-wrist
    and neighbouring-fingertip distances);
  - velocities (frame differences) of the pose and wrist positions; 0 across missing frames.

  ``canonical=True`` mirrors a sequence whose more active hand is the left one, so that a
  left-handed signer looks like a right-handed one (the active hand always ends in the "right"
  slot). Generic layouts (``genericN``) give per-channel values and their velocities.

All outputs are finite (no NaN/inf) for any input, missing parts give zeros.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from motionscope.keypoints.augment import mirror
from motionscope.keypoints.layout import Layout
from motionscope.keypoints.normalize import (
    NormalizeConfig,
    _finite,
    hand_shape,
    normalize,
    present,
)

KINDS = ("raw", "motion")
UPPER_POSE = tuple(range(25))  # face points, shoulders, elbows, wrists, hand points, hips
FACE_POINTS = (1, 152, 61, 291, 33, 263, 133, 362, 105, 334)  # nose, chin, mouth, eyes, brows
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
TIPS = (4, 8, 12, 16, 20)
N_HAND_INV = 15 + 5 + 4  # joint cosines, tip-wrist distances, neighbouring-tip distances


@dataclass
class FeatureConfig:
    kind: str = "raw"  # raw | motion
    pose_points: str = "upper"  # upper (landmarks 0..24) | all (33) | none
    face: bool = False  # add 10 face reference points (pose already has nose, eyes, mouth)
    use_z: bool = False  # add z (depth) of pose/hand landmarks (noisy for a webcam)
    hand_shape: bool = True  # wrist-relative hand landmarks in hand sizes
    hand_invariants: bool = True  # joint bend cosines and fingertip distances
    presence: bool = True  # per-hand "detected" flag
    velocity: bool = True  # frame differences of pose and wrist positions
    vel_scale: float = 10.0  # velocity multiplier (shoulder widths per frame are small numbers)
    canonical: bool = False  # mirror sequences whose active hand is the left one
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)

    def __post_init__(self) -> None:
        if isinstance(self.normalize, dict):
            self.normalize = NormalizeConfig(**self.normalize)
        elif self.normalize is None:
            self.normalize = NormalizeConfig()
        if self.kind not in KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.pose_points not in ("upper", "all", "none"):
            raise ValueError(f"pose_points must be upper, all or none, got {self.pose_points!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _pose_idx(cfg: FeatureConfig) -> tuple[int, ...]:
    return {"upper": UPPER_POSE, "all": tuple(range(33)), "none": ()}[cfg.pose_points]


def _hand_dim(cfg: FeatureConfig) -> int:
    return (
        int(cfg.presence)
        + 2
        + (20 * (3 if cfg.use_z else 2) if cfg.hand_shape else 0)
        + (N_HAND_INV if cfg.hand_invariants else 0)
    )


def feature_dim(layout: Layout, cfg: FeatureConfig) -> int:
    if cfg.kind == "raw":
        return layout.width
    if layout.is_generic:
        return layout.width * (2 if cfg.velocity else 1)
    c = 3 if cfg.use_z else 2
    pos = 0
    if layout.has("pose"):
        pos += len(_pose_idx(cfg)) * c
    if cfg.face and layout.has("face"):
        pos += len(FACE_POINTS) * c
    hands = [h for h in ("left_hand", "right_hand") if layout.has(h)]
    dim = pos + len(hands) * _hand_dim(cfg)
    if cfg.velocity:
        dim += pos + 2 * len(hands)
    return dim


# joint triples (previous, joint, next) for the 15 finger joints, as index arrays
_J_PREV = np.array([(0, *f)[j - 1] for f in FINGERS for j in range(1, 4)])
_J_MID = np.array([(0, *f)[j] for f in FINGERS for j in range(1, 4)])
_J_NEXT = np.array([(0, *f)[j + 1] for f in FINGERS for j in range(1, 4)])


def _hand_invariants(shape: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(T, 24)`` rotation- and mirror-invariant numbers from ``(T, 21, 3)`` wrist-relative hands:
    cosines of the 15 finger-joint bend angles, 5 fingertip-to-wrist distances and 4
    neighbouring-fingertip distances (in hand sizes)."""
    a = shape[:, _J_MID] - shape[:, _J_PREV]
    b = shape[:, _J_NEXT] - shape[:, _J_MID]
    den = np.linalg.norm(a, axis=2) * np.linalg.norm(b, axis=2)
    cos = np.where(den > 1e-8, (a * b).sum(2) / np.maximum(den, 1e-8), 1.0)
    tips = shape[:, list(TIPS)]
    out = np.concatenate(
        [
            np.clip(cos, -1.0, 1.0),
            np.linalg.norm(tips, axis=2),
            np.linalg.norm(tips[:, 1:] - tips[:, :-1], axis=2),
        ],
        axis=1,
    ).astype(np.float32)
    out[~ok] = 0.0
    return np.clip(out, -10.0, 10.0)


def active_hand_is_left(x: np.ndarray, layout: Layout, cfg: FeatureConfig | None = None) -> bool:
    """Whether the left hand is the more active one: detected in more frames, weighted by how
    high it is (a hand resting in the lap counts little). Uses the pose wrists when the layout
    has no hand blocks."""
    ncfg = cfg.normalize if cfg is not None else NormalizeConfig()
    xn = normalize(x, layout, ncfg, blocks=("pose", "left_hand", "right_hand"))
    t = xn.shape[0]
    scores = []
    for name, pose_wrist in (("left_hand", 15), ("right_hand", 16)):
        if layout.has(name):
            h = xn[:, layout.slice(name)].reshape(t, 21, 3)
            ok = present(x[:, layout.slice(name)])
            y = h[:, 0, 1]
        elif layout.has("pose"):
            p = xn[:, layout.slice("pose")].reshape(t, 33, 4)
            ok = p[:, pose_wrist, 3] > 0.5
            y = p[:, pose_wrist, 1]
        else:
            return False
        scores.append(float((ok * np.clip(1.5 - y, 0.0, 3.0)).sum()))
    return scores[0] > scores[1] + 1e-6


def _positions(xn: np.ndarray, x: np.ndarray, layout: Layout, cfg: FeatureConfig):
    """Body-frame position features (pose, face) and their validity per frame."""
    t = xn.shape[0]
    c = 3 if cfg.use_z else 2
    parts, oks = [], []
    if layout.has("pose"):
        idx = list(_pose_idx(cfg))
        if idx:
            p = xn[:, layout.slice("pose")].reshape(t, 33, 4)[:, idx, :c]
            parts.append(p.reshape(t, -1))
            oks.append(np.repeat(present(x[:, layout.slice("pose")])[:, None], p.shape[1] * c, 1))
    if cfg.face and layout.has("face"):
        f = xn[:, layout.slice("face")].reshape(t, 468, 3)[:, list(FACE_POINTS), :c]
        parts.append(f.reshape(t, -1))
        oks.append(np.repeat(present(x[:, layout.slice("face")])[:, None], f.shape[1] * c, 1))
    if not parts:
        return np.zeros((t, 0), np.float32), np.zeros((t, 0), bool)
    return np.concatenate(parts, 1), np.concatenate(oks, 1)


def _velocity(v: np.ndarray, ok: np.ndarray) -> np.ndarray:
    d = np.zeros_like(v)
    if v.shape[0] > 1:
        d[1:] = v[1:] - v[:-1]
        d[1:][~(ok[1:] & ok[:-1])] = 0.0
    return d


def make_features(x: np.ndarray, layout: Layout, cfg: FeatureConfig) -> np.ndarray:
    x = _finite(np.asarray(x, dtype=np.float32))
    if cfg.kind == "raw":
        return x
    t = x.shape[0]
    if t == 0:
        return np.zeros((0, feature_dim(layout, cfg)), np.float32)
    if layout.is_generic:
        feats = [x]
        if cfg.velocity:
            feats.append(_velocity(x, np.ones_like(x, dtype=bool)))
        return _finite(np.concatenate(feats, 1)).astype(np.float32, copy=False)

    if cfg.canonical and active_hand_is_left(x, layout, cfg):
        x = mirror(x, layout)
    needed = ("pose", "left_hand", "right_hand", *(("face",) if cfg.face else ()))
    xn = normalize(x, layout, cfg.normalize, blocks=needed)
    pos, pos_ok = _positions(xn, x, layout, cfg)

    hand_feats, wrists, wrist_oks = [], [], []
    pose = xn[:, layout.slice("pose")].reshape(t, 33, 4) if layout.has("pose") else None
    pose_ok = present(x[:, layout.slice("pose")]) if layout.has("pose") else np.zeros(t, bool)
    for name, pose_wrist in (("left_hand", 15), ("right_hand", 16)):
        if not layout.has(name):
            continue
        ok = present(x[:, layout.slice(name)])
        hn = xn[:, layout.slice(name)].reshape(t, 21, 3)
        wrist = hn[:, 0, :2].copy()
        wok = ok.copy()
        if pose is not None:
            fill = ~ok & pose_ok
            wrist[fill] = pose[fill, pose_wrist, :2]
            wok |= pose_ok
        wrist[~wok] = 0.0
        f = [ok[:, None].astype(np.float32)] if cfg.presence else []
        f.append(wrist)
        if cfg.hand_shape or cfg.hand_invariants:
            raw = x[:, layout.slice(name)].reshape(t, 21, 3)
            shape = hand_shape(raw, mirror_x=name == "left_hand")
            if cfg.hand_shape:
                c = 3 if cfg.use_z else 2
                f.append(shape[:, 1:, :c].reshape(t, -1))
            if cfg.hand_invariants:
                f.append(_hand_invariants(shape, ok))
        hand_feats.append(np.concatenate(f, 1))
        wrists.append(wrist)
        # a velocity across a switch between the hand's wrist and the pose's wrist is not motion
        same = np.concatenate([[True], ok[1:] == ok[:-1]])
        wrist_oks.append(np.repeat((wok & same)[:, None], 2, 1))

    feats = [pos, *hand_feats]
    if cfg.velocity:
        feats.append(_velocity(pos, pos_ok) * cfg.vel_scale)
        for w, wok in zip(wrists, wrist_oks, strict=True):
            feats.append(_velocity(w, wok) * cfg.vel_scale)
    out = np.concatenate(feats, 1) if feats else np.zeros((t, 0), np.float32)
    return _finite(out).astype(np.float32, copy=False)
