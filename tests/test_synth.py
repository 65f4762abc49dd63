"""Tests for the synthetic Holistic keypoint generator (motionscope.data.synth)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from motionscope.data.synth import (
    ACTIONS,
    synth_dataset,
    synth_sequence,
    write_synthetic_keypoints,
)
from motionscope.errors import DataError
from motionscope.keypoints.layout import HOLISTIC

POSE = HOLISTIC.slice("pose")
FACE = HOLISTIC.slice("face")
LEFT_HAND = HOLISTIC.slice("left_hand")
RIGHT_HAND = HOLISTIC.slice("right_hand")


def _pose(seq: np.ndarray) -> np.ndarray:
    """(T, 33, 4) view of the pose block."""
    return seq[:, POSE].reshape(len(seq), 33, 4)


def _block(seq: np.ndarray, cols: slice, landmarks: int) -> np.ndarray:
    """(T, landmarks, 3) view of a face or hand block."""
    return seq[:, cols].reshape(len(seq), landmarks, 3)


def _present(block: np.ndarray) -> np.ndarray:
    """(T,) True where a (T, N, 3) block was detected (not all zeros)."""
    return np.any(block != 0.0, axis=(1, 2))


@pytest.fixture(scope="module")
def dataset() -> list[tuple[str, np.ndarray]]:
    """Every action, 12 samples each, 30 frames."""
    return synth_dataset(len(ACTIONS), 12, 30, seed=3)


def test_actions_are_distinct_and_enough() -> None:
    assert len(ACTIONS) >= 10
    assert len(set(ACTIONS)) == len(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("frames", [2, 30])
def test_sequence_shape_dtype_finite(action: str, frames: int) -> None:
    seq = synth_sequence(action, frames, np.random.default_rng(0))
    assert seq.shape == (frames, HOLISTIC.width) == (frames, 1662)
    assert seq.dtype == np.float32
    assert np.isfinite(seq).all()
    vis = _pose(seq)[..., 3]
    assert ((vis >= 0.0) & (vis <= 1.0)).all()


def test_data_looks_like_holistic_output(dataset: list[tuple[str, np.ndarray]]) -> None:
    seqs = np.stack([s for _, s in dataset])
    pose = seqs[:, :, POSE].reshape(-1, 33, 4)
    # the person is in the picture (a jump may take the head out of it for a moment)
    upper = pose[:, [0, 11, 12], :2]
    assert ((upper > 0.0) & (upper < 1.0)).all(axis=(1, 2)).mean() > 0.99
    assert np.median(pose[:, :11, 3]) > 0.95
    # head above shoulders above hips (y grows downwards)
    assert (pose[:, 0, 1] < pose[:, 11:13, 1].mean(axis=1)).mean() > 0.95
    assert (pose[:, 11:13, 1].mean(axis=1) < pose[:, 23:25, 1].mean(axis=1)).all()
    # the person's left shoulder appears on the image's right
    assert (pose[:, 11, 0] > pose[:, 12, 0]).mean() > 0.99
    # the face mesh sits around the nose, roughly head-sized
    face = seqs[:, :, FACE].reshape(-1, 468, 3)
    seen = _present(face)
    nose_gap = np.linalg.norm(face[seen, 1, :2] - pose[seen, 0, :2], axis=-1)
    assert np.median(nose_gap) < 0.01
    width = face[seen, :, 0].max(axis=1) - face[seen, :, 0].min(axis=1)
    shoulders = np.abs(pose[seen, 11, 0] - pose[seen, 12, 0])
    assert 0.2 < np.median(width / shoulders) < 0.8


def test_same_seed_is_byte_identical() -> None:
    a = synth_dataset(3, 2, 16, seed=7)
    b = synth_dataset(3, 2, 16, seed=7)
    assert [label for label, _ in a] == [label for label, _ in b]
    assert all(x.tobytes() == y.tobytes() for (_, x), (_, y) in zip(a, b, strict=True))
    one = synth_sequence("wave", 10, np.random.default_rng(5))
    assert one.tobytes() == synth_sequence("wave", 10, np.random.default_rng(5)).tobytes()


def test_different_seed_gives_different_data() -> None:
    a = synth_dataset(3, 2, 16, seed=7)
    b = synth_dataset(3, 2, 16, seed=8)
    assert all(not np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))


def test_dataset_labels_follow_actions_order() -> None:
    data = synth_dataset(4, 3, 8, seed=0)
    assert [label for label, _ in data] == [a for a in ACTIONS[:4] for _ in range(3)]


def test_write_layout_and_read_back(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    summary = write_synthetic_keypoints(out, classes=3, per_class=4, frames=12, seed=1)
    assert summary["classes"] == list(ACTIONS[:3])
    assert (summary["per_class"], summary["frames"], summary["seed"]) == (4, 12, 1)
    assert Path(summary["path"]) == out
    assert sorted(p.name for p in out.iterdir()) == sorted(ACTIONS[:3])
    expected = synth_dataset(3, 4, 12, seed=1)
    for label in ACTIONS[:3]:
        names = sorted(p.name for p in (out / label).iterdir())
        assert names == [f"{i}.npy" for i in range(4)]
    for n, (label, seq) in enumerate(expected):
        loaded = np.load(out / label / f"{n % 4}.npy")
        assert loaded.dtype == np.float32 and loaded.shape == (12, 1662)
        assert loaded.tobytes() == seq.tobytes()


def test_rewrite_replaces_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    write_synthetic_keypoints(out, classes=4, per_class=5, frames=6, seed=0)
    write_synthetic_keypoints(out, classes=2, per_class=3, frames=8, seed=2)
    assert sorted(p.name for p in out.iterdir()) == sorted(ACTIONS[:2])
    for label in ACTIONS[:2]:
        assert sorted(p.name for p in (out / label).iterdir()) == ["0.npy", "1.npy", "2.npy"]
        assert np.load(out / label / "0.npy").shape == (8, 1662)


def test_write_into_empty_existing_folder(tmp_path: Path) -> None:
    summary = write_synthetic_keypoints(tmp_path, classes=2, per_class=1, frames=4)
    assert summary["classes"] == list(ACTIONS[:2])
    assert (tmp_path / ACTIONS[0] / "0.npy").is_file()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classes": 1},
        {"classes": len(ACTIONS) + 1},
        {"per_class": 0},
        {"frames": 1},
        {"seed": -1},
    ],
)
def test_bad_arguments_raise_data_error(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(DataError):
        write_synthetic_keypoints(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
    args = {"classes": 3, "per_class": 2, "frames": 5, "seed": 0} | kwargs
    with pytest.raises(DataError):
        synth_dataset(**args)


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a previous synthetic output"):
        write_synthetic_keypoints(tmp_path, classes=2, per_class=1, frames=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_refuses_class_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "clip.mp4").write_bytes(b"")
    with pytest.raises(DataError):
        write_synthetic_keypoints(tmp_path, classes=2, per_class=1, frames=4)


def test_refuses_file_as_output(tmp_path: Path) -> None:
    target = tmp_path / "file.npy"
    target.write_bytes(b"")
    with pytest.raises(DataError):
        write_synthetic_keypoints(target, classes=2, per_class=1, frames=4)


def test_sequence_argument_errors() -> None:
    with pytest.raises(DataError, match="unknown synthetic action"):
        synth_sequence("moonwalk", 10, np.random.default_rng(0))
    with pytest.raises(DataError):
        synth_sequence("wave", 1, np.random.default_rng(0))


def test_missing_hands_are_whole_zero_blocks(dataset: list[tuple[str, np.ndarray]]) -> None:
    missing = present = 0
    for _, seq in dataset:
        for cols in (LEFT_HAND, RIGHT_HAND):
            hand = _block(seq, cols, 21)
            seen = _present(hand)
            # a detected hand has real x, y for all 21 points; an undetected one is all zeros
            assert (hand[seen][..., :2] != 0.0).all()
            assert (hand[~seen] == 0.0).all()
            missing += int((~seen).sum())
            present += int(seen.sum())
    assert 0.01 < missing / (missing + present) < 0.5
    faces = np.stack([_present(_block(seq, FACE, 468)) for _, seq in dataset])
    assert 0.8 < faces.mean() < 1.0  # the face is usually there, but not always


def test_left_and_right_are_consistent(dataset: list[tuple[str, np.ndarray]]) -> None:
    same, crossed = [], []
    for _, seq in dataset:
        pose = _pose(seq)
        left = _block(seq, LEFT_HAND, 21)
        right = _block(seq, RIGHT_HAND, 21)
        for wrist, hand, other in ((15, left, 16), (16, right, 15)):
            seen = _present(hand)
            same.append(np.linalg.norm(pose[seen, wrist, :2] - hand[seen, 0, :2], axis=-1))
            crossed.append(np.linalg.norm(pose[seen, other, :2] - hand[seen, 0, :2], axis=-1))
    same_d, crossed_d = np.concatenate(same), np.concatenate(crossed)
    assert np.percentile(same_d, 99) < 0.02
    assert np.median(crossed_d) > 5 * np.median(same_d)


def _mean_std_features(data: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence mean and std of the pose and hand columns (the face adds 2808 columns that
    mostly repeat the head position and make the fit slow), and the class indices."""
    cols = np.r_[POSE, LEFT_HAND, RIGHT_HAND]
    x = np.stack(
        [np.concatenate([s[:, cols].mean(axis=0), s[:, cols].std(axis=0)]) for _, s in data]
    )
    y = np.array([ACTIONS.index(label) for label, _ in data])
    return x, y


def _nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray, splits: Iterable) -> float:
    """Mean held-out accuracy of a Euclidean nearest-centroid classifier."""
    scores = []
    for train, test in splits:
        labels = np.unique(y[train])
        centroids = np.stack([x[train][y[train] == c].mean(axis=0) for c in labels])
        dist = ((x[test][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
        scores.append(float((labels[dist.argmin(axis=1)] == y[test]).mean()))
    return float(np.mean(scores))


def test_classes_are_separable_but_samples_differ() -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = synth_dataset(5, 30, 30, seed=11)
    x, y = _mean_std_features(data)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    score = cross_val_score(model, x, y, cv=folds).mean()
    assert score > 0.8  # chance is 0.2
    # not trivial: a nearest centroid on the raw frames does clearly worse
    raw = np.stack([s for _, s in data]).reshape(len(data), -1)
    assert _nearest_centroid_accuracy(raw, y, folds.split(raw, y)) < 0.9
    # samples of one class differ from each other
    for c in range(5):
        group = x[y == c]
        gaps = np.linalg.norm(group[:, None] - group[None], axis=-1)
        assert gaps[~np.eye(len(group), dtype=bool)].min() > 0.0
        wrists = np.stack([_pose(s)[:, 15:17, :2].mean(axis=0) for _, s in data[c * 30 :][:30]])
        assert wrists.std(axis=0).max() > 0.02
