"""The loaders on real third-party data from ``../shared/datasets`` (skipped when absent).

Archives are extracted once into a cache outside the repository (see ``conftest.py``). Expected
counts come from each dataset's ``SOURCE.md``. The 24,000-file ``mp-recaptcha16`` archive is left
to the benchmarks: too slow for the test suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from motionscope.data.loaders import detect_format, load_keypoint_dataset
from motionscope.data.splits import SplitSpec, split_dataset
from motionscope.errors import DataError
from motionscope.keypoints.layout import HANDS, HOLISTIC, POSE_HANDS

pytestmark = pytest.mark.realdata


def load(path, **kw):
    return load_keypoint_dataset(path, progress=False, **kw)


def frame_numbers(folder: Path) -> list[int]:
    return sorted(int(p.stem) for p in folder.glob("*.npy"))


def stacked_frames(folder: Path) -> np.ndarray:
    """The frames of one MP_Data sequence, stacked in the order of their number."""
    return np.stack([np.load(folder / f"{t}.npy") for t in frame_numbers(folder)]).astype(
        np.float32
    )


# ---------------------------------------------------------------------------------------------
# MediaPipe per-frame folders (MP_Data/<action>/<seq>/<frame>.npy)
# ---------------------------------------------------------------------------------------------


def test_minecraft3_hands_only(extracted):
    root = extracted("mp-minecraft3") / "MP_Data"
    assert detect_format(root) == "frames"
    ds = load(root)
    assert ds.layout is HANDS  # 126 = lh 21x3 + rh 21x3
    assert ds.counts() == {"placeblock": 30, "punch": 30, "run": 30}
    assert {s.data.shape for s in ds.samples} == {(30, 126)}
    assert {s.data.dtype for s in ds.samples} == {np.dtype(np.float32)}
    seq = next(s for s in ds.samples if s.source.endswith(os.path.join("punch", "12")))
    np.testing.assert_array_equal(seq.data, stacked_frames(root / "punch" / "12"))
    punch = [s for s in ds.samples if s.label == "punch"]
    assert [Path(s.source).name for s in punch] == [str(i) for i in range(30)]
    # punch is right-hand only: the left-hand block is almost always zero (SOURCE.md: 99.3%)
    lh = np.concatenate([s.data[:, HANDS.slice("left_hand")] for s in punch])
    assert (lh == 0).all(axis=1).mean() > 0.95
    ds.check_trainable()


def test_wuhan_gestures_pose_and_hands(extracted):
    ds = load(extracted("mp-wuhan-gestures") / "MP_Data")
    assert ds.layout is POSE_HANDS  # 258 = pose 33x4 + lh + rh, no face
    full = ["666", "down", "left", "right", "scissor", "seven", "sunba", "up"]
    assert ds.counts() == {**dict.fromkeys(full, 30), "fall": 7, "love": 4}
    assert ds.classes == sorted([*full, "fall", "love"])
    assert len(ds) == 251
    assert {s.data.shape for s in ds.samples} == {(30, 258)}
    assert all(s.data.dtype == np.float32 for s in ds.samples)
    assert all(np.isfinite(s.data).all() for s in ds.samples)


def test_kfall_holistic_frames_with_a_6_frame_sequence(shared_datasets):
    root = shared_datasets / "kfall-frames-mp-jiromk" / "MP_Data"
    assert detect_format(root) == "frames"
    ds = load(root)  # read in place: a plain folder, nothing to extract
    assert ds.layout is HOLISTIC
    assert ds.counts() == {"fall": 1, "standing": 1}
    shapes = {s.label: s.data.shape for s in ds.samples}
    assert shapes == {"fall": (30, 1662), "standing": (6, 1662)}
    for s in ds.samples:
        assert s.data.dtype == np.float32
        # frames in numeric order (a text sort would give 0, 1, 10, 11, ..., 19, 2, 20, ...)
        np.testing.assert_array_equal(s.data, stacked_frames(Path(s.source)))
    # the standing clip's author kept the first 6 files of a *text* sort: 0, 1, 10, 11, 12, 13
    assert frame_numbers(root / "standing" / "0") == [0, 1, 10, 11, 12, 13]
    assert frame_numbers(root / "fall" / "0") == list(range(30))
    ds.check_trainable()


def test_hello_thanks_one_person_through_a_manifest_with_groups(extracted, tmp_path):
    archive_root = extracted("mp-hello-thanks-iloveyou")
    assert (archive_root / "ashwinth04" / "MP_Data").is_dir()  # both people are in the archive
    person = archive_root / "jonathan-roddy" / "MP_Data"
    classes = ["hello", "iloveyou", "thanks"]
    lines = ["path,label,group"]
    for label in classes:
        for seq in range(30):  # one frame-folder row per sequence; takes of 10 as groups
            lines.append(f"{person / label / str(seq)},{label},take{seq // 10}")
    man = tmp_path / "jonathan-roddy.csv"
    man.write_text("\n".join(lines) + "\n")
    ds = load(man)
    assert ds.layout is HOLISTIC
    assert ds.counts() == dict.fromkeys(classes, 30)
    assert {s.data.shape for s in ds.samples} == {(30, 1662)}
    assert all(s.data.dtype == np.float32 for s in ds.samples)
    assert sorted({s.group for s in ds.samples}) == ["take0", "take1", "take2"]
    ds.check_trainable()
    train, test = split_dataset(
        ds, SplitSpec("group"), test_fraction=0.3, seed=0, test_groups=["take2"]
    )
    assert len(train) == 60 and len(test) == 30
    assert {ds.samples[i].group for i in test} == {"take2"}
    assert ds.subset(test).counts() == dict.fromkeys(classes, 10)
    train, test = split_dataset(ds, SplitSpec("group"), test_fraction=0.3, seed=1)
    assert not {ds.samples[i].group for i in train} & {ds.samples[i].group for i in test}


# ---------------------------------------------------------------------------------------------
# UEA/UCR .ts files
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uea(shared_datasets) -> Path:
    return shared_datasets / "uea-ucr-motion"


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "shape", "classes"),
    [
        ("BasicMotions", 40, 40, (100, 6), ["Badminton", "Running", "Standing", "Walking"]),
        ("GunPoint", 50, 150, (150, 1), ["1", "2"]),
    ],
)
def test_ts_equal_length(uea, name, n_train, n_test, shape, classes):
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        path = uea / name / f"{name}_{split}.ts"
        assert detect_format(path) == "ts"
        ds = load(path, layout="generic")
        assert len(ds) == n
        assert ds.layout.name == f"generic{shape[1]}"
        assert ds.classes == classes
        assert {s.data.shape for s in ds.samples} == {shape}
        assert all(s.data.dtype == np.float32 for s in ds.samples)
    if name == "BasicMotions":  # 10 of each activity per split
        assert ds.counts() == dict.fromkeys(classes, 10)


def test_ts_without_a_layout_names_the_file(uea):
    path = uea / "BasicMotions" / "BasicMotions_TRAIN.ts"
    with pytest.raises(DataError) as err:
        load(path)
    msg = str(err.value)
    assert "unknown keypoint width 6" in msg and str(path) in msg and "--layout generic" in msg


def test_ts_variable_length(uea):
    for split in ("TRAIN", "TEST"):
        ds = load(
            uea / "PickupGestureWiimoteZ" / f"PickupGestureWiimoteZ_{split}.ts", layout="generic"
        )
        assert len(ds) == 50
        assert ds.layout.name == "generic1"
        assert ds.counts() == {str(c): 5 for c in range(1, 11)}
        lengths = [s.data.shape[0] for s in ds.samples]
        assert min(lengths) >= 29 and max(lengths) <= 361
        assert len(set(lengths)) > 10  # really variable length
        assert {s.data.shape[1] for s in ds.samples} == {1}


def test_ts_train_and_test_through_a_manifest(uea, tmp_path):
    train_ts = uea / "BasicMotions" / "BasicMotions_TRAIN.ts"
    test_ts = uea / "BasicMotions" / "BasicMotions_TEST.ts"
    man = tmp_path / "basicmotions.csv"
    # one relative path (resolved against the manifest's folder) and one absolute path
    man.write_text(
        f"path,label,split\n{os.path.relpath(train_ts, tmp_path)},,train\n{test_ts},,test\n"
    )
    ds = load(man, layout="generic")
    assert len(ds) == 80
    assert ds.layout.name == "generic6"
    assert ds.counts() == dict.fromkeys(["Badminton", "Running", "Standing", "Walking"], 20)
    train, test = split_dataset(ds, SplitSpec("manifest"), test_fraction=0.5, seed=0)
    assert len(train) == 40 and len(test) == 40

    def file_of(i: int) -> Path:
        return Path(ds.samples[i].source.rsplit("#", 1)[0]).resolve()

    assert {file_of(i) for i in train} == {train_ts.resolve()}
    assert {file_of(i) for i in test} == {test_ts.resolve()}
    assert ds.subset(test).counts() == dict.fromkeys(ds.classes, 10)


def test_gunpoint_manifest_jsonl(uea, tmp_path):
    man = tmp_path / "gunpoint.jsonl"
    man.write_text(
        f'{{"path": "{uea / "GunPoint" / "GunPoint_TRAIN.ts"}", "split": "train"}}\n'
        f'{{"path": "{uea / "GunPoint" / "GunPoint_TEST.ts"}", "split": "test"}}\n'
    )
    ds = load(man, layout="generic1")
    assert [s.split for s in ds.samples].count("train") == 50
    assert [s.split for s in ds.samples].count("test") == 150
    assert {s.data.shape for s in ds.samples} == {(150, 1)}


@pytest.mark.parametrize("name", ["mp-minecraft3", "mp-wuhan-gestures"])
def test_kpnet_learns_real_partial_layouts(extracted, tmp_path, name):
    """Hands-only (126) and pose+hands (258) recordings of real people train end to end and
    score far above chance on their last, held-out sequences."""
    from motionscope.infer import load_recognizer
    from motionscope.train import TrainConfig, train

    ds = load(extracted(name) / "MP_Data")
    if name == "mp-wuhan-gestures":
        ds = ds.select_classes(["666", "down", "left", "right", "up"])  # the complete classes
    cfg = TrainConfig(model="kpnet", split="contiguous", epochs=25, progress=False)
    result = train(ds, tmp_path / "run", cfg)
    chance = 1 / len(ds.classes)
    assert result.metrics["accuracy"] > min(0.8, 2.5 * chance)
    rec = load_recognizer(tmp_path / "run", unknown_threshold=0)  # a class, never "unknown"
    assert rec.layout is ds.layout
    last = ds.samples[-1]
    assert rec.predict(last.data).label in ds.classes
