"""Augmentation on raw keypoints: mirror, missing parts, determinism, shapes."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from motionscope.keypoints.augment import POSE_LR_PAIRS, AugmentConfig, augment, mirror
from motionscope.keypoints.features import FeatureConfig, feature_dim, make_features
from motionscope.keypoints.layout import HANDS, HOLISTIC, POSE_HANDS, POSE_ONLY, generic
from motionscope.keypoints.resample import fit_length

LAYOUTS = [HOLISTIC, POSE_HANDS, POSE_ONLY, HANDS, generic(3)]


def _seq(layout, t=24, seed=0, missing=True):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, (t, layout.width)).astype(np.float32)
    if layout.is_generic:
        return x
    if layout.has("pose"):
        p = x[:, layout.slice("pose")].reshape(t, 33, 4)
        p[:, 11, :2] = (0.6, 0.5)
        p[:, 12, :2] = (0.4, 0.5)
        x[:, layout.slice("pose")] = p.reshape(t, -1)
    if missing:
        if layout.has("left_hand"):
            x[:, layout.slice("left_hand")] = 0.0  # never detected
        if layout.has("right_hand"):
            x[3:7, layout.slice("right_hand")] = 0.0  # lost for a few frames
        if layout.has("face"):
            x[10, layout.slice("face")] = 0.0
    return x


def _missing(x, layout):
    return {b.name: ~np.any(x[:, layout.slice(b.name)] != 0, axis=1) for b in layout.blocks}


@pytest.mark.parametrize("layout", [HOLISTIC, POSE_HANDS, HANDS], ids=lambda x: x.name)
def test_mirror_swaps_hands_and_flips_x(layout):
    x = _seq(layout, missing=False)
    x[:, layout.slice("left_hand")] = 0.0  # only a right hand
    m = mirror(x, layout)
    assert np.all(m[:, layout.slice("right_hand")] == 0)  # the missing hand moved sides
    rh = x[:, layout.slice("right_hand")].reshape(len(x), 21, 3)
    lh_m = m[:, layout.slice("left_hand")].reshape(len(x), 21, 3)
    np.testing.assert_allclose(lh_m[..., 0], 1.0 - rh[..., 0], atol=1e-6)
    np.testing.assert_array_equal(lh_m[..., 1:], rh[..., 1:])


def test_mirror_swaps_left_right_pose_landmarks():
    x = _seq(POSE_ONLY, missing=False)
    p = x.reshape(len(x), 33, 4)
    m = mirror(x, POSE_ONLY).reshape(len(x), 33, 4)
    for a, b in POSE_LR_PAIRS:
        np.testing.assert_allclose(m[:, a, 0], 1.0 - p[:, b, 0], atol=1e-6)
        np.testing.assert_array_equal(m[:, a, 1:], p[:, b, 1:])  # y, z, visibility travel along
        np.testing.assert_allclose(m[:, b, 0], 1.0 - p[:, a, 0], atol=1e-6)
    np.testing.assert_allclose(m[:, 0, 0], 1.0 - p[:, 0, 0], atol=1e-6)  # nose stays the nose
    # the mirrored person still faces the camera: their left shoulder stays on the image right
    assert np.all(m[:, 11, 0] > m[:, 12, 0])


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: x.name)
def test_mirror_is_an_involution_and_keeps_missing(layout):
    x = _seq(layout)
    m = mirror(x, layout)
    np.testing.assert_allclose(mirror(m, layout), x, atol=1e-6)
    if layout.has("face"):
        assert np.all(m[10, layout.slice("face")] == 0)
    if layout.has("left_hand") and layout.has("right_hand"):
        assert np.all(m[:, layout.slice("right_hand")] == 0)  # the never-detected left hand
        assert np.all(m[3:7, layout.slice("left_hand")] == 0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: x.name)
def test_augment_keeps_missing_blocks_zero(layout):
    x = _seq(layout)
    cfg = AugmentConfig(enabled=True, p_mirror=0.0, speed=1.0, warp=0.0, crop_min=1.0)
    for seed in range(5):
        a = augment(x, layout, cfg, np.random.default_rng(seed))
        assert a.shape == x.shape and a.dtype == np.float32
        assert np.isfinite(a).all()
        if layout.is_generic:
            continue
        miss_x, miss_a = _missing(x, layout), _missing(a, layout)
        for name, mx in miss_x.items():
            assert np.all(miss_a[name][mx]), name  # missing stays missing (dropout may add more)
        if layout.has("pose"):
            # visibility is never transformed
            np.testing.assert_array_equal(
                a[:, layout.slice("pose")].reshape(len(a), 33, 4)[..., 3],
                x[:, layout.slice("pose")].reshape(len(x), 33, 4)[..., 3],
            )


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: x.name)
def test_full_augment_then_features(layout):
    """The trainer's chain: augment -> fit_length -> make_features; missing stays zero."""
    x = _seq(layout)
    cfg = AugmentConfig(enabled=True, p_mirror=1.0 if not layout.is_generic else 0.5)
    fcfg = FeatureConfig(kind="motion")
    for seed in range(10):
        a = augment(x, layout, cfg, np.random.default_rng(seed))
        assert 2 <= len(a) <= len(x) and a.shape[1] == x.shape[1]
        assert np.isfinite(a).all()
        if layout.has("left_hand") and layout.has("right_hand"):
            # mirrored: the never-detected left hand is now the right hand, still all zeros
            assert np.all(a[:, layout.slice("right_hand")] == 0)
        f = make_features(fit_length(a, 16), layout, fcfg)
        assert f.shape == (16, feature_dim(layout, fcfg)) and np.isfinite(f).all()


def test_augment_deterministic_for_a_seed_and_disabled_is_identity():
    x = _seq(HOLISTIC)
    cfg = AugmentConfig(enabled=True)
    a = augment(x, HOLISTIC, cfg, np.random.default_rng(7))
    b = augment(x, HOLISTIC, cfg, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    off = augment(x, HOLISTIC, AugmentConfig(enabled=False), np.random.default_rng(7))
    np.testing.assert_array_equal(off, x)


def test_augment_changes_geometry_but_stays_plausible():
    x = _seq(POSE_ONLY, missing=False)
    cfg = AugmentConfig(enabled=True, p_mirror=0.0, speed=1.0, warp=0.0, crop_min=1.0, noise=0.0)
    a = augment(x, POSE_ONLY, cfg, np.random.default_rng(3))
    assert not np.allclose(a, x)
    p, q = x.reshape(len(x), 33, 4), a.reshape(len(a), 33, 4)
    # a similarity transform: shoulder width changes at most by the scale knob
    w0 = np.linalg.norm(p[:, 11, :2] - p[:, 12, :2], axis=1)
    w1 = np.linalg.norm(q[:, 11, :2] - q[:, 12, :2], axis=1)
    assert np.all(np.abs(w1 / w0 - 1) <= cfg.scale + 1e-5)


def test_hand_dropout_removes_hands():
    x = _seq(HOLISTIC, missing=False)
    cfg = AugmentConfig(enabled=True, p_hand_drop=1.0, p_mirror=0.0)
    a = augment(x, HOLISTIC, cfg, np.random.default_rng(0))
    assert np.all(a[:, HOLISTIC.slice("left_hand")] == 0)
    assert np.all(a[:, HOLISTIC.slice("right_hand")] == 0)
    assert np.any(a[:, HOLISTIC.slice("pose")] != 0)


def test_time_operations_keep_order_and_length_bounds():
    t = 40
    x = np.repeat(np.arange(t, dtype=np.float32)[:, None], 2, 1)  # value = frame index
    lay = generic(2)
    cfg = AugmentConfig(enabled=True, scale=0.0, shift=0.0, noise=0.0, crop_min=0.5)
    for seed in range(20):
        a = augment(x, lay, cfg, np.random.default_rng(seed))
        assert t // 2 - 1 <= len(a) <= t
        assert np.all(np.diff(a[:, 0]) >= -1e-5)  # time never runs backwards


def test_augment_config_json_round_trip():
    cfg = AugmentConfig(enabled=True, p_mirror=0.3)
    assert AugmentConfig(**json.loads(json.dumps(asdict(cfg)))) == cfg


def test_degenerate_inputs():
    for layout in LAYOUTS:
        for x in (
            np.zeros((0, layout.width), np.float32),
            np.zeros((1, layout.width), np.float32),
            np.zeros((5, layout.width), np.float32),
        ):
            a = augment(x, layout, AugmentConfig(enabled=True), np.random.default_rng(0))
            assert np.isfinite(a).all() and a.shape[1] == layout.width
            if not layout.is_generic:
                assert np.all(a == 0)


_PERSON = dict(
    crop_min=1.0, warp=0.0, speed=1.0, p_mirror=0.0, p_hand_drop=0.0, p_frame_drop=0.0,
    noise=0.0, scale=0.0, rotate_deg=0.0, shift=0.0,
)  # fmt: skip


@pytest.mark.parametrize(
    "knob",
    [
        {"aspect": 0.2},
        {"yaw_deg": 30.0},
        {"arm_scale": 0.2},
        {"hand_offset": 0.2},
        {"hand_rotate_deg": 20.0},
        {"hand_scale": 0.2},
        {"hand_yaw_deg": 30.0},
    ],
    ids=lambda k: next(iter(k)),
)
def test_person_augmentations_move_landmarks_and_keep_missing(knob):
    x = _seq(POSE_HANDS)
    cfg = AugmentConfig(enabled=True, **_PERSON, **knob)
    y = augment(x, POSE_HANDS, cfg, np.random.default_rng(3))
    assert y.shape == x.shape and np.isfinite(y).all()
    assert np.abs(y - x).max() > 1e-3  # the knob does something
    for name, miss in _missing(x, POSE_HANDS).items():
        assert np.all(y[miss][:, POSE_HANDS.slice(name)] == 0), name


def test_hand_rotation_keeps_hand_size_and_wrist():
    x = _seq(POSE_HANDS, missing=False)
    cfg = AugmentConfig(enabled=True, **_PERSON, hand_rotate_deg=40.0)
    y = augment(x, POSE_HANDS, cfg, np.random.default_rng(1))
    h0 = x[:, POSE_HANDS.slice("right_hand")].reshape(len(x), 21, 3)
    h1 = y[:, POSE_HANDS.slice("right_hand")].reshape(len(x), 21, 3)
    np.testing.assert_allclose(h1[:, 0], h0[:, 0], atol=1e-6)
    d0 = np.linalg.norm(h0[..., :2] - h0[:, :1, :2], axis=2)
    d1 = np.linalg.norm(h1[..., :2] - h1[:, :1, :2], axis=2)
    np.testing.assert_allclose(d1, d0, atol=1e-5)
    assert np.abs(h1 - h0).max() > 1e-3


def test_person_knobs_off_give_the_old_augmentation():
    x = _seq(POSE_HANDS)
    a = augment(x, POSE_HANDS, AugmentConfig(enabled=True), np.random.default_rng(5))
    b = augment(x, POSE_HANDS, AugmentConfig(enabled=True, aspect=0.0), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_frame_drop_max_draws_a_detection_rate_per_sequence():
    """A person whose hands the camera finds less often: each sequence loses a different share
    of its hand frames (0 to frame_drop_max), and frames lost stay exactly zero."""
    x = _seq(POSE_HANDS, t=200, missing=False)
    cfg = AugmentConfig(
        enabled=True,
        p_mirror=0.0,
        p_hand_drop=0.0,
        frame_drop_max=0.8,
        speed=1.0,
        warp=0.0,
        crop_min=1.0,
    )
    rates = []
    for seed in range(12):
        a = augment(x, POSE_HANDS, cfg, np.random.default_rng(seed))
        rates.append(_missing(a, POSE_HANDS)["right_hand"].mean())
        assert not _missing(a, POSE_HANDS)["pose"].any()
    rates = np.array(rates)
    assert rates.max() <= 0.9 and rates.max() - rates.min() > 0.3  # varies per sequence
    off = AugmentConfig(**{**cfg.__dict__, "frame_drop_max": 0.0, "p_frame_drop": 0.0})
    assert not _missing(augment(x, POSE_HANDS, off, np.random.default_rng(0)), POSE_HANDS)[
        "right_hand"
    ].any()
