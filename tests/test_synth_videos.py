"""Synthetic cartoon action videos (motionscope.video.synth): layout, decoding, determinism,
errors, and that a real pose pipeline (MediaPipe Holistic) sees the people in them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from motionscope.errors import DataError  # noqa: E402
from motionscope.video import probe, read_frames  # noqa: E402
from motionscope.video.synth import (  # noqa: E402
    VIDEO_ACTIONS,
    render,
    render_clip,
    write_synthetic_videos,
)

SMALL = (96, 64)


def _decoded(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): read_frames(p) for p in sorted(root.rglob("*.mp4"))}


def test_layout_and_decoding(tmp_path):
    out = tmp_path / "videos"
    summary = write_synthetic_videos(
        out, classes=3, per_class=2, seed=1, size=SMALL, seconds=0.4, fps=10
    )
    assert summary["classes"] == list(VIDEO_ACTIONS[:3])
    assert summary["per_class"] == 2 and summary["seed"] == 1 and summary["fps"] == 10
    assert summary["size"] == [96, 64] and summary["frames"] == 4
    assert Path(summary["path"]) == out
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    expected = sorted(
        [a for a in VIDEO_ACTIONS[:3]] + [f"{a}/{i}.mp4" for a in VIDEO_ACTIONS[:3] for i in (0, 1)]
    )
    assert files == expected  # no temporary files left behind
    for path in out.rglob("*.mp4"):
        info = probe(path)
        assert (info.width, info.height) == SMALL
        assert info.codec == "h264"
        assert info.fps == pytest.approx(10)
        frames = read_frames(path)
        assert frames.shape == (4, 64, 96, 3) and frames.dtype == np.uint8


def test_deterministic_for_a_seed_and_rewrites_previous_output(tmp_path):
    kw = dict(classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10)
    write_synthetic_videos(tmp_path / "a", seed=3, **kw)
    write_synthetic_videos(tmp_path / "b", seed=3, **kw)
    write_synthetic_videos(tmp_path / "c", seed=4, **kw)
    a, b, c = (_decoded(tmp_path / n) for n in "abc")
    assert a.keys() == b.keys() == c.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(not np.array_equal(a[k], c[k]) for k in a)
    # an earlier output is replaced, and clips it had beyond the new counts are removed
    write_synthetic_videos(
        tmp_path / "a", seed=4, classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10
    )
    again = _decoded(tmp_path / "a")
    assert all(np.array_equal(again[k], c[k]) for k in c)
    write_synthetic_videos(
        tmp_path / "b", seed=3, classes=3, per_class=2, size=SMALL, seconds=0.3, fps=10
    )
    write_synthetic_videos(tmp_path / "b", seed=3, **kw)
    assert sorted(_decoded(tmp_path / "b")) == sorted(a)


def test_render_clip_shape_and_rng():
    clip = render_clip("wave", np.random.default_rng(0), SMALL, 3)
    assert clip.shape == (3, 64, 96, 3) and clip.dtype == np.uint8
    same = render_clip("wave", np.random.default_rng(0), SMALL, 3)
    other = render_clip("wave", np.random.default_rng(1), SMALL, 3)
    assert np.array_equal(clip, same) and not np.array_equal(clip, other)
    assert clip.std() > 5  # something is drawn
    with pytest.raises(DataError, match="unknown video action"):
        render_clip("moonwalk", np.random.default_rng(0), SMALL, 3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(classes=1), "at least 2 classes"),
        (dict(classes=len(VIDEO_ACTIONS) + 1), "only 10 synthetic video actions"),
        (dict(per_class=0), "per_class must be at least 1"),
        (dict(seconds=0.1), "at least 2 frames"),
        (dict(fps=0), "fps must be"),
        (dict(size=(32, 32)), "between 64 and"),
        (dict(size=(97, 64)), "even width and height"),
        (dict(size="big"), "size must be"),
        (dict(seed=-1), "non-negative"),
    ],
)
def test_errors(tmp_path, kwargs, match):
    args = dict(classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10) | kwargs
    with pytest.raises(DataError, match=match):
        write_synthetic_videos(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def test_refuses_a_folder_that_is_not_a_synth_output(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a previous synthetic video output"):
        write_synthetic_videos(tmp_path, classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "clip.avi").write_bytes(b"x")
    with pytest.raises(DataError, match="not a previous synthetic video output"):
        write_synthetic_videos(tmp_path, classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        write_synthetic_videos(file, classes=2, per_class=1, size=SMALL, seconds=0.3, fps=10)


# ---------------------------------------------------------------------------------------------
# A real pose pipeline sees the people
# ---------------------------------------------------------------------------------------------

W, H, FRAMES = 320, 240, 10


@pytest.fixture(scope="module")
def detected():
    """Every action once (10 frames at 320x240) through MediaPipe Holistic: action ->
    (keypoints (T, 1662), drawn joints)."""
    pytest.importorskip("mediapipe")
    from motionscope.pose import HolisticExtractor

    out = {}
    with HolisticExtractor() as ex:
        for k, action in enumerate(VIDEO_ACTIONS):
            clip = render(action, np.random.default_rng([2024, k]), (W, H), FRAMES)
            keypoints, _ = ex.extract_frames(clip.frames)
            out[action] = (keypoints, clip.joints)
    return out


def _pose(keypoints: np.ndarray) -> np.ndarray:
    return keypoints[:, :132].reshape(len(keypoints), 33, 4)


@pytest.mark.slow
def test_holistic_finds_the_pose(detected):
    found = {
        a: float((_pose(kp)[:, :, 3].sum(axis=1) > 0).mean()) for a, (kp, _) in detected.items()
    }
    assert np.mean(list(found.values())) >= 0.95, found  # the target (bench: ~99%)
    assert min(found.values()) >= 0.7, found  # no action the detector cannot see


@pytest.mark.slow
def test_waving_wrist_is_tracked(detected):
    def wrist_motion(action: str) -> float:
        kp, _ = detected[action]
        pose = _pose(kp)
        ok = pose[:, 0, 3] > 0
        assert ok.sum() >= FRAMES // 2
        wrists = pose[ok][:, [15, 16], :2] * (W, H)  # pixels
        return float(wrists.std(axis=0).sum(axis=-1).max())  # the busier wrist

    assert wrist_motion("wave") > 3 * wrist_motion("stand")
    kp, joints = detected["wave"]
    pose = _pose(kp)
    ok = pose[:, 0, 3] > 0
    side = max(("right", 16), ("left", 15), key=lambda s: joints[f"{s[0]}_wrist"][:, 1].std())
    drawn = joints[f"{side[0]}_wrist"][ok]
    seen = pose[ok, side[1], :2] * (W, H)
    assert np.median(np.linalg.norm(seen - drawn, axis=1)) < 0.05 * H
