"""Frame-rate policy: the bundle records the rate the model was trained at and video at another
rate is converted to it before MediaPipe (predict, segment, serve, live)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import motionscope
from motionscope.bundle import read_bundle, update_config
from motionscope.video.rate import RateConverter, repeat_rows
from motionscope.video.synth import render_clip, sample_rng, write_video
from tests.helpers import train_kpnet_bundle


@pytest.mark.parametrize(
    "src,dst,n,expected",
    [
        (30, 15, 8, [0, 2, 4, 6]),
        (60, 30, 6, [0, 2, 4]),
        (15, 30, 3, [0, 0, 1, 1, 2, 2]),
        (25, 25, 4, [0, 1, 2, 3]),
        (30, 29.97, 4, [0, 1, 2, 3]),  # within 1%: left alone
        (None, 15, 3, [0, 1, 2]),  # unknown source rate: left alone
        (30, None, 3, [0, 1, 2]),  # model rate unknown: left alone
        (30, 20, 6, [0, 1, 3, 4]),
    ],
)
def test_rate_converter_maps_source_frames_to_the_model_rate(src, dst, n, expected):
    conv = RateConverter(src, dst)
    assert conv.indices(n).tolist() == expected
    kept = list(conv.select(range(n)))
    assert repeat_rows(np.arange(len(kept)), [c for _, c in kept]).tolist() == [
        [i for i, _ in kept].index(j) for j in expected
    ]


def test_a_doubled_copy_converts_back_to_the_original_frames():
    original = np.arange(12)
    doubled = np.repeat(original, 2)  # a 30 fps copy of a 15 fps clip
    conv = RateConverter(30, 15)
    assert doubled[conv.indices(len(doubled))].tolist() == original.tolist()


@pytest.fixture(scope="module")
def bundle_15fps(tmp_path_factory) -> Path:
    run = train_kpnet_bundle(
        tmp_path_factory.mktemp("rate"), classes=3, per_class=6, frames=10, seed=5, epochs=2
    )
    b = read_bundle(run)
    from dataclasses import replace

    update_config(run, replace(b.config, fps=15.0))  # as if trained on 15 fps keypoints
    return run


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    frames = render_clip("wave", sample_rng(1, 0, 0), (256, 192), 12, fps=15)
    write_video(root / "15.mp4", frames, 15)
    write_video(root / "30.mp4", np.repeat(frames, 2, axis=0), 30)
    return {"15": root / "15.mp4", "30": root / "30.mp4"}


def test_a_30fps_copy_predicts_like_the_15fps_original(bundle_15fps, clips):
    rec = motionscope.load(bundle_15fps, unknown_threshold=0)
    try:
        k15 = rec.keypoints_from_video(clips["15"])
        k30 = rec.keypoints_from_video(clips["30"])
        assert k30.shape == k15.shape == (12, 1662)
        # the same 12 moments (re-encoding at 30 fps changes pixels a little, not the pose)
        pose = slice(0, 132)
        assert np.abs(k30[:, pose] - k15[:, pose]).mean() < 0.02
        p15, p30 = rec.predict(clips["15"]), rec.predict(clips["30"])
    finally:
        rec.close()
    assert p30.label == p15.label
    assert p30.confidence == pytest.approx(p15.confidence, abs=0.1)


def test_without_a_recorded_rate_video_is_not_resampled(bundle_15fps, clips, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(bundle_15fps, run)
    config = json.loads((run / "config.json").read_text())
    config["fps"] = None
    (run / "config.json").write_text(json.dumps(config))
    rec = motionscope.load(run)
    try:
        assert rec.keypoints_from_video(clips["30"]).shape[0] == 24
    finally:
        rec.close()


def test_a_stream_drops_frames_to_the_model_rate_by_their_times(bundle_15fps):
    rec = motionscope.load(bundle_15fps)
    seq = np.random.default_rng(0).random((40, 1662)).astype(np.float32)
    live = rec.stream(every=1, smooth=1)
    # push_keypoints keeps every vector; push() converts by time: check the rule directly
    kept = [live._repeats(i / 30) for i in range(8)]  # a 30 fps camera, a 15 fps model
    assert kept == [1, 0, 1, 0, 1, 0, 1, 0]
    live.reset()
    jittery = [0.0, 0.07, 0.13, 0.2, 0.262, 0.335]  # a 15 fps camera with jitter
    assert [live._repeats(t) for t in jittery] == [1, 1, 1, 1, 1, 1]
    live.reset()
    slow = [0.0, 0.134, 0.267]  # a 7.5 fps source: every frame stands for two
    assert [live._repeats(t) for t in slow] == [1, 2, 2]
    for row in seq[:10]:
        u = live.push_keypoints(row)
    assert u.buffered == 10 and u.predicted
