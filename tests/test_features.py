"""Feature transform and normalisation: shapes, invariances, missing parts, degenerate input."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from motionscope.keypoints.augment import mirror
from motionscope.keypoints.features import (
    FeatureConfig,
    active_hand_is_left,
    feature_dim,
    make_features,
)
from motionscope.keypoints.layout import HANDS, HOLISTIC, POSE_HANDS, POSE_ONLY, generic
from motionscope.keypoints.normalize import NormalizeConfig, hand_shape, normalize

LAYOUTS = [HOLISTIC, POSE_HANDS, POSE_ONLY, HANDS, generic(1), generic(6)]
CONFIGS = [
    FeatureConfig(kind="motion"),
    FeatureConfig(kind="motion", canonical=True),
    FeatureConfig(kind="motion", use_z=True, face=True, pose_points="all"),
    FeatureConfig(kind="motion", presence=False, velocity=False, hand_shape=False),
    FeatureConfig(kind="motion", hand_invariants=False, normalize={"per_frame": True}),
]


def _hand(t: int, rng: np.random.Generator, at: tuple[float, float]) -> np.ndarray:
    """A plausible open hand (wrist, 5 fingers of 4 joints), 0.05 image units to the middle MCP."""
    pts = [(0.0, 0.0)]
    for k, ang in enumerate(np.deg2rad([-60, -25, 0, 20, 40])):
        d = np.array([np.sin(ang), -np.cos(ang)])
        base = 0.05 if k else 0.02
        pts += [tuple(d * (base + 0.022 * j)) for j in range(4)]
    h = np.zeros((t, 21, 3), np.float32)
    h[:, :, :2] = np.array(pts) + at + rng.normal(0, 0.002, (t, 21, 2))
    h[:, :, 2] = rng.normal(0, 0.01, (t, 21))
    return h


def _person(t: int = 20, seed: int = 0, hands: str = "lr") -> dict[str, np.ndarray]:
    """A plausible upper body at the image centre, as per-block arrays of landmarks."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((t, 33, 4), np.float32)
    pose[:, :, :2] = 0.5 + rng.normal(0, 0.08, (33, 2))
    pose[:, 11, :2] = (0.6, 0.5)  # subject's left shoulder is on the image right
    pose[:, 12, :2] = (0.4, 0.5)
    pose[:, :, 2] = rng.normal(0, 0.05, (33,))
    pose[:, :, 3] = 0.9
    pose[:, :, :2] += np.linspace(0, 0.05, t)[:, None, None]  # some motion
    face = np.zeros((t, 468, 3), np.float32)
    face[:, :, :2] = (0.5, 0.35) + rng.normal(0, 0.03, (468, 2))
    lh = np.zeros((t, 21, 3), np.float32)
    rh = np.zeros((t, 21, 3), np.float32)
    if "l" in hands:
        lh = _hand(t, rng, (0.65, 0.4))
    if "r" in hands:
        rh = _hand(t, rng, (0.35, 0.4))
    return {"pose": pose, "face": face, "left_hand": lh, "right_hand": rh}


def _frame(parts: dict[str, np.ndarray], layout) -> np.ndarray:
    t = parts["pose"].shape[0]
    return np.concatenate([parts[b.name].reshape(t, -1) for b in layout.blocks], 1).astype(
        np.float32
    )


def _seq(layout, t: int = 20, seed: int = 0, hands: str = "lr") -> np.ndarray:
    if layout.is_generic:
        return np.random.default_rng(seed).normal(size=(t, layout.width)).astype(np.float32)
    return _frame(_person(t, seed, hands), layout)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("cfg", CONFIGS + [FeatureConfig()], ids=range(len(CONFIGS) + 1))
def test_feature_dim_matches_output(layout, cfg):
    x = _seq(layout)
    f = make_features(x, layout, cfg)
    assert f.dtype == np.float32
    assert f.shape == (x.shape[0], feature_dim(layout, cfg))
    assert np.isfinite(f).all()


def test_raw_is_identity():
    x = _seq(HOLISTIC)
    np.testing.assert_array_equal(make_features(x, HOLISTIC, FeatureConfig()), x)
    assert feature_dim(HOLISTIC, FeatureConfig()) == 1662


@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_config_json_round_trip(cfg):
    d = json.loads(json.dumps(asdict(cfg)))
    back = FeatureConfig(**d)
    assert back == cfg
    assert isinstance(back.normalize, NormalizeConfig)
    x = _seq(HOLISTIC)
    np.testing.assert_array_equal(make_features(x, HOLISTIC, back), make_features(x, HOLISTIC, cfg))


def test_unknown_kind_rejected():
    with pytest.raises(ValueError):
        FeatureConfig(kind="nope")


@pytest.mark.parametrize("layout", [HOLISTIC, POSE_HANDS, POSE_ONLY, HANDS], ids=lambda x: x.name)
def test_scale_and_shift_invariance(layout):
    x = _seq(layout)
    # zoom by 1.7 about an arbitrary point and move: same person further/closer, elsewhere
    y = x.copy()
    for b in layout.blocks:
        sl = layout.slice(b.name)
        v = y[:, sl].reshape(len(y), b.landmarks, b.channels)
        ok = np.any(v != 0, axis=(1, 2))
        v[ok, :, :2] = (v[ok, :, :2] - 0.3) * 1.7 + 0.3 + np.array([0.05, -0.1])
        v[ok, :, 2] *= 1.7
        y[:, sl] = v.reshape(len(y), -1)
    cfg = FeatureConfig(kind="motion", use_z=True)
    np.testing.assert_allclose(
        make_features(x, layout, cfg), make_features(y, layout, cfg), atol=2e-4
    )
    np.testing.assert_allclose(
        normalize(x, layout, NormalizeConfig()), normalize(y, layout, NormalizeConfig()), atol=2e-4
    )


def test_normalize_body_frame_units():
    x = _seq(POSE_ONLY)
    n = normalize(x, POSE_ONLY, NormalizeConfig(per_frame=True)).reshape(len(x), 33, 4)
    # shoulders at +-0.5 shoulder widths around the centre in every frame
    np.testing.assert_allclose(n[:, 11, :2], np.tile([0.5, 0.0], (len(x), 1)), atol=1e-5)
    np.testing.assert_allclose(n[:, 12, :2], np.tile([-0.5, 0.0], (len(x), 1)), atol=1e-5)
    # per sequence (default): the body moves within the frame, so a mimed jump stays visible
    seq = normalize(x, POSE_ONLY).reshape(len(x), 33, 4)
    assert seq[-1, 11, 1] - seq[0, 11, 1] > 0.2
    np.testing.assert_allclose(n[:, :, 3], x.reshape(len(x), 33, 4)[:, :, 3])  # visibility kept


@pytest.mark.parametrize("cfg", [NormalizeConfig(), NormalizeConfig(per_frame=True)])
def test_missing_parts_stay_zero_after_normalize(cfg):
    x = _seq(HOLISTIC, hands="r")  # left hand never detected
    x[5:9, HOLISTIC.slice("right_hand")] = 0.0
    x[3, HOLISTIC.slice("face")] = 0.0
    n = normalize(x, HOLISTIC, cfg)
    assert np.all(n[:, HOLISTIC.slice("left_hand")] == 0)
    assert np.all(n[5:9, HOLISTIC.slice("right_hand")] == 0)
    assert np.all(n[3, HOLISTIC.slice("face")] == 0)
    assert np.any(n[10, HOLISTIC.slice("right_hand")] != 0)


def test_missing_hand_gives_zero_shape_features():
    cfg = FeatureConfig(kind="motion", pose_points="none", velocity=False)
    x = _seq(POSE_HANDS, hands="r")
    f = make_features(x, POSE_HANDS, cfg)
    per_hand = f.shape[1] // 2
    left, right = f[:, :per_hand], f[:, per_hand:]
    assert np.all(left[:, 0] == 0) and np.all(right[:, 0] == 1)  # presence flags
    assert np.all(left[:, 3:] == 0)  # shape and invariants of the missing hand
    assert np.any(right[:, 3:] != 0)
    # the wrist position of a missing hand falls back to the pose wrist (not zero, not NaN)
    assert np.any(left[:, 1:3] != 0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_degenerate_inputs_are_finite(layout, cfg):
    t = 12
    cases = [
        np.zeros((t, layout.width), np.float32),  # nothing detected at all
        np.full((t, layout.width), 0.5, np.float32),  # zero-width shoulders, collapsed hands
        np.zeros((1, layout.width), np.float32),  # a single frame
        np.zeros((0, layout.width), np.float32),  # an empty sequence
    ]
    x = _seq(layout, t)
    x[::2] = 0.0  # every other frame empty
    cases.append(x)
    bad = _seq(layout, t)
    bad[0, 0] = np.nan
    bad[1, -1] = np.inf
    cases.append(bad)
    for c in cases:
        f = make_features(c, layout, cfg)
        assert f.shape == (c.shape[0], feature_dim(layout, cfg))
        assert np.isfinite(f).all()
        if not layout.is_generic:
            assert np.isfinite(normalize(c, layout)).all()


def test_hand_shape_invariant_to_position_and_size():
    rng = np.random.default_rng(1)
    h = rng.uniform(0.3, 0.6, (5, 21, 3)).astype(np.float32)
    h2 = (h - 0.4) * 0.5 + 0.7
    np.testing.assert_allclose(hand_shape(h), hand_shape(h2), atol=1e-4)
    h[2] = 0.0
    assert np.all(hand_shape(h)[2] == 0)
    np.testing.assert_allclose(
        hand_shape(h, mirror_x=True)[..., 0], -hand_shape(h)[..., 0], atol=1e-6
    )


def test_canonical_makes_mirrored_signers_equal():
    """A left-handed signer is the mirror image of a right-handed one: canonical features agree."""
    x = _seq(HOLISTIC, hands="r")
    cfg = FeatureConfig(kind="motion", canonical=True)
    m = mirror(x, HOLISTIC)
    assert active_hand_is_left(m, HOLISTIC) and not active_hand_is_left(x, HOLISTIC)
    a = make_features(x, HOLISTIC, cfg)
    b = make_features(m, HOLISTIC, cfg)
    np.testing.assert_allclose(a, b, atol=1e-4)
    # without canonicalisation the two differ
    plain = FeatureConfig(kind="motion")
    assert not np.allclose(make_features(x, HOLISTIC, plain), make_features(m, HOLISTIC, plain))


def test_hand_invariants_rotation_invariant():
    """Joint-angle and fingertip-distance features do not change when the hand rotates."""
    x = _seq(HANDS, hands="r")
    cfg = FeatureConfig(kind="motion", hand_shape=False, presence=False, velocity=False)
    sl = HANDS.slice("right_hand")
    h = x[:, sl].reshape(len(x), 21, 3)
    wrist = h[:, :1, :2]
    th = np.deg2rad(35)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
    y = x.copy()
    hr = h.copy()
    hr[..., :2] = (h[..., :2] - wrist) @ rot.T + wrist
    y[:, sl] = hr.reshape(len(x), -1)
    fa = make_features(x, HANDS, cfg)
    fb = make_features(y, HANDS, cfg)
    # columns after the wrist position of each hand are the invariants
    per_hand = fa.shape[1] // 2
    np.testing.assert_allclose(fa[:, per_hand + 2 :], fb[:, per_hand + 2 :], atol=1e-4)
