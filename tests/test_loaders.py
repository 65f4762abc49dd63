"""Loaders: class folders of (T, D) sequences, MP_Data per-frame folders, .ts files, errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from motionscope.data.dataset import KeypointDataset, Sample
from motionscope.data.loaders import detect_format, load_keypoint_dataset, load_sequence
from motionscope.data.ts import read_ts
from motionscope.errors import DataError
from motionscope.keypoints.layout import HANDS, HOLISTIC, POSE_HANDS, POSE_ONLY


def load(path, **kw) -> KeypointDataset:
    return load_keypoint_dataset(path, progress=False, **kw)


def assert_names(err: pytest.ExceptionInfo, *parts: object) -> None:
    msg = str(err.value)
    for part in parts:
        assert str(part) in msg, f"{part!s} not in message: {msg}"


# ---------------------------------------------------------------------------------------------
# sequences: DATA/<class>/<seq>.npy, each (T, D)
# ---------------------------------------------------------------------------------------------


def test_sequence_folders_load_with_labels_shapes_and_float32(tmp_path, write_sequences):
    root = write_sequences(tmp_path / "data", {"wave": 3, "clap": 2}, frames=7, width=126)
    assert detect_format(root) == "sequences"
    ds = load(root)
    assert ds.layout is HANDS
    assert ds.classes == ["clap", "wave"]  # sorted class names
    assert ds.counts() == {"clap": 2, "wave": 3}
    assert len(ds) == 5
    assert ds.source == str(root)
    for s in ds.samples:
        assert s.data.shape == (7, 126)
        assert s.data.dtype == np.float32
        assert Path(s.source).parent.name == s.label
        assert s.group is None and s.split is None
    assert list(ds.labels) == [ds.classes.index(s.label) for s in ds.samples]
    assert ds.labels.dtype == np.int64
    # values survive (class index in the writer: wave=0, clap=1)
    clap1 = next(s for s in ds.samples if s.label == "clap" and s.source.endswith("1.npy"))
    np.testing.assert_array_equal(clap1.data[:, 0], 10_000 + 100 + np.arange(7))


def test_sequences_keep_natural_order(tmp_path):
    folder = tmp_path / "data" / "a"
    folder.mkdir(parents=True)
    for i in range(12):
        np.save(folder / f"seq{i}.npy", np.full((3, 132), float(i)))
    (tmp_path / "data" / "b").mkdir()
    np.save(tmp_path / "data" / "b" / "x.npy", np.zeros((3, 132)))
    ds = load(tmp_path / "data")
    assert ds.layout is POSE_ONLY
    a = [s for s in ds.samples if s.label == "a"]
    assert [Path(s.source).name for s in a] == [f"seq{i}.npy" for i in range(12)]  # 2 before 10
    assert [s.order for s in a] == list(range(12))
    assert [float(s.data[0, 0]) for s in a] == [float(i) for i in range(12)]


def test_int_and_float64_inputs_become_float32(tmp_path):
    for label, arr in {"a": np.arange(12).reshape(3, 4), "b": np.ones((2, 4))}.items():
        (tmp_path / label).mkdir()
        np.save(tmp_path / label / "0.npy", arr)
    ds = load(tmp_path, layout="generic")
    assert ds.layout.name == "generic4"
    assert {s.data.dtype for s in ds.samples} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(ds.samples[0].data, np.arange(12).reshape(3, 4))


def test_variable_length_sequences_are_kept(tmp_path):
    for label, lengths in {"a": [5, 40], "b": [1, 12]}.items():
        (tmp_path / label).mkdir()
        for i, n in enumerate(lengths):
            np.save(tmp_path / label / f"{i}.npy", np.zeros((n, 258)))
    ds = load(tmp_path)
    assert ds.layout is POSE_HANDS
    assert sorted(s.data.shape[0] for s in ds.samples) == [1, 5, 12, 40]
    assert ds.summary()["frames"] == {"min": 1, "median": 8.5, "max": 40}


def test_classes_pick_and_order(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2, "c": 2})
    ds = load(root, classes=["c", "a"])
    assert ds.classes == ["c", "a"]
    assert {s.label for s in ds.samples} == {"a", "c"}
    assert list(ds.labels) == [1 if s.label == "a" else 0 for s in ds.samples]
    with pytest.raises(DataError) as err:
        load(root, classes=["a", "zzz"])
    assert_names(err, "zzz", str(root))


def test_group_pattern_on_class_folders(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for person in (1, 2):
            for take in range(2):
                np.save(tmp_path / label / f"person{person}_{take}.npy", np.zeros((2, 126)))
    ds = load(tmp_path, group_pattern=r"person(\d+)")
    assert sorted({s.group for s in ds.samples}) == ["1", "2"]
    for s in ds.samples:
        assert s.group == re.search(r"person(\d+)", s.source).group(1)
    # a pattern without a group uses the whole match
    ds = load(tmp_path, group_pattern=r"person\d")
    assert sorted({s.group for s in ds.samples}) == ["person1", "person2"]


def test_hidden_files_and_folders_are_ignored(tmp_path, write_sequences, write_frames):
    root = write_sequences(tmp_path / "seq", {"a": 2, "b": 2})
    (root / "a" / "._0.npy").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS resource fork
    (root / ".git").mkdir()
    (root / "a" / ".DS_Store").write_bytes(b"junk")
    assert len(load(root)) == 4
    frames = write_frames(tmp_path / "frames", {"a": 2, "b": 2})
    (frames / "a" / "0" / "._1.npy").write_bytes(b"junk")
    (frames / "a" / ".hidden").mkdir()
    ds = load(frames)
    assert len(ds) == 4
    assert {s.data.shape for s in ds.samples} == {(4, 126)}


def _nested_sequences(root: Path) -> dict[str, float]:
    """OUT/<class>/<subject>/[<take>/]<clip>.npy as `motionscope extract` mirrors a nested
    video tree, plus the JSON sidecars and report it writes; returns source -> first value."""
    values = {}
    paths = [
        "wave/alice/0.npy",
        "wave/alice/10.npy",
        "wave/alice/2.npy",
        "wave/bob/morning/0.npy",
        "wave/top.npy",
        "clap/alice/0.npy",
        "clap/bob/0.npy",
    ]
    for k, rel in enumerate(paths):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, np.full((3 + k, 126), float(k)))
        p.with_suffix(".json").write_text("{}")  # extract sidecar: not a sequence
        values[str(p)] = float(k)
    (root / "extract-report.json").write_text("{}")
    (root / "clap" / "carol").mkdir()  # a subject whose videos had no person: nothing to load
    (root / "clap" / "carol" / "0.json").write_text("{}")
    return values


def test_sequences_at_any_depth_under_the_class_folder(tmp_path):
    root = tmp_path / "out"
    values = _nested_sequences(root)
    assert detect_format(root) == "sequences"
    ds = load(root)
    assert ds.counts() == {"clap": 2, "wave": 5}
    for s in ds.samples:
        assert s.data[0, 0] == values[s.source]  # each file read once, with its own data
        assert Path(s.source).relative_to(root).parts[0] == s.label
    wave = [s for s in ds.samples if s.label == "wave"]
    # natural order within the class, folders and files together; the sub-folder is the group
    assert [Path(s.source).relative_to(root / "wave").as_posix() for s in wave] == [
        "alice/0.npy",
        "alice/2.npy",
        "alice/10.npy",
        "bob/morning/0.npy",
        "top.npy",
    ]
    assert [s.order for s in wave] == list(range(5))
    assert [s.group for s in wave] == ["alice", "alice", "alice", "bob/morning", None]
    # a --group-pattern wins over the folder path
    ds = load(root, group_pattern=r"/(alice|bob)/")
    assert {s.group for s in ds.samples} == {"alice", "bob", None}
    assert next(s for s in ds.samples if "morning" in s.source).group == "bob"


def test_nested_sequences_split_by_subject_folder(tmp_path):
    from motionscope.data.splits import SplitSpec, split_dataset

    root = tmp_path / "out"
    for label in ("a", "b"):
        for person in ("p1", "p2", "p3"):
            for take in range(2):
                p = root / label / person / f"{take}.npy"
                p.parent.mkdir(parents=True, exist_ok=True)
                np.save(p, np.zeros((2, 126)))
    ds = load(root)
    train_idx, test_idx = split_dataset(ds, SplitSpec.parse("group"), test_fraction=0.34, seed=0)
    assert {s.group for s in ds.samples} == {"p1", "p2", "p3"}
    train = {ds.samples[i].group for i in train_idx}
    test = {ds.samples[i].group for i in test_idx}
    assert train and test and not train & test


def test_frame_folders_below_a_subject_folder(tmp_path):
    root = tmp_path / "MP_Data"
    for label, subjects in (("hello", ("ann", "ben")), ("thanks", ("ann",))):
        for subject in subjects:
            for seq in range(2):
                folder = root / label / subject / str(seq)
                folder.mkdir(parents=True)
                for t in range(4):
                    np.save(folder / f"{t}.npy", np.full(126, float(t)))
    assert detect_format(root) == "frames"
    ds = load(root)
    assert ds.counts() == {"hello": 4, "thanks": 2}
    for s in ds.samples:
        assert s.data.shape == (4, 126)
        np.testing.assert_array_equal(s.data[:, 0], np.arange(4, dtype=np.float32))
        assert Path(s.source).is_dir() and s.group == Path(s.source).parent.name
    # an empty folder beside sequence folders is still an empty sequence, not skipped
    (root / "hello" / "ann" / "2").mkdir()
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "hello" / "ann" / "2", "empty sequence")


def test_a_manifest_row_naming_a_nested_class_folder(tmp_path):
    root = tmp_path / "out"
    _nested_sequences(root)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{root / 'wave'},hi\n{root / 'clap'},clap\n")
    ds = load(manifest)
    assert ds.counts() == {"clap": 2, "hi": 5}
    hi = [s for s in ds.samples if s.label == "hi"]
    assert [s.group for s in hi] == ["alice", "alice", "alice", "bob/morning", None]


# ---------------------------------------------------------------------------------------------
# frames: DATA/<class>/<seq>/<frame>.npy, each (D,)  (MP_Data)
# ---------------------------------------------------------------------------------------------


def test_frame_folders_load_like_mp_data(tmp_path, write_frames):
    root = write_frames(tmp_path / "MP_Data", {"hello": 3, "thanks": 2}, frames=5, width=1662)
    assert detect_format(root) == "frames"
    ds = load(root)
    assert ds.layout is HOLISTIC
    assert ds.counts() == {"hello": 3, "thanks": 2}
    for s in ds.samples:
        assert s.data.shape == (5, 1662)
        assert s.data.dtype == np.float32
        assert Path(s.source).is_dir()
        assert Path(s.source).parent.name == s.label


def test_frames_are_stacked_in_numeric_order(tmp_path):
    seq = tmp_path / "MP_Data" / "wave" / "0"
    seq.mkdir(parents=True)
    for t in range(12):  # 0.npy .. 11.npy; a text sort would put 10 and 11 before 2
        np.save(seq / f"{t}.npy", np.full(126, float(t)))
    other = tmp_path / "MP_Data" / "clap" / "0"
    other.mkdir(parents=True)
    np.save(other / "0.npy", np.zeros(126))
    ds = load(tmp_path / "MP_Data")
    wave = next(s for s in ds.samples if s.label == "wave")
    assert wave.data.shape == (12, 126)
    np.testing.assert_array_equal(wave.data[:, 0], np.arange(12, dtype=np.float32))
    np.testing.assert_array_equal(wave.data, np.repeat(np.arange(12.0), 126).reshape(12, 126))


def test_sequence_folders_in_numeric_order(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 12, "b": 1}, frames=2)
    a = [s for s in load(root).samples if s.label == "a"]
    assert [Path(s.source).name for s in a] == [str(i) for i in range(12)]
    assert [s.order for s in a] == list(range(12))
    assert [float(s.data[0, 0]) for s in a] == [i * 100.0 for i in range(12)]


def test_explicit_format_and_unknown_format(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 2, "b": 2})
    assert len(load(root, fmt="frames")) == 4
    with pytest.raises(DataError) as err:
        load(root, fmt="parquet")
    assert_names(err, "parquet", "sequences", "frames", "manifest", "ts")
    with pytest.raises(DataError, match="not a folder"):
        load(root / "a" / "0" / "0.npy", fmt="frames")


def test_load_sequence_file_and_frame_folder(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 1}, frames=3, width=258)
    arr, layout = load_sequence(root / "a" / "0")
    assert arr.shape == (3, 258) and arr.dtype == np.float32 and layout is POSE_HANDS
    np.save(tmp_path / "seq.npy", np.zeros((4, 126)))
    arr, layout = load_sequence(tmp_path / "seq.npy")
    assert arr.shape == (4, 126) and layout is HANDS
    arr, layout = load_sequence(root / "a" / "0" / "1.npy")  # one frame -> (1, D)
    assert arr.shape == (1, 258)
    np.save(tmp_path / "acc.npy", np.zeros((9, 6)))
    arr, layout = load_sequence(str(tmp_path / "acc.npy"), layout="generic")
    assert layout.name == "generic6"
    with pytest.raises(DataError) as err:
        load_sequence(tmp_path / "nope.npy")
    assert_names(err, tmp_path / "nope.npy", "does not exist")


# ---------------------------------------------------------------------------------------------
# auto-detection
# ---------------------------------------------------------------------------------------------


def test_detect_format_files(tmp_path):
    for name, fmt in [("m.csv", "manifest"), ("m.JSONL", "manifest"), ("x.ts", "ts")]:
        (tmp_path / name).write_text("")
        assert detect_format(tmp_path / name) == fmt
    (tmp_path / "seq.npy").write_text("")
    with pytest.raises(DataError) as err:
        detect_format(tmp_path / "seq.npy")
    assert_names(err, "seq.npy", ".csv/.jsonl", ".ts")
    with pytest.raises(DataError, match="does not exist"):
        detect_format(tmp_path / "missing")


def test_detect_format_folder_without_classes_or_npy(tmp_path):
    with pytest.raises(DataError) as err:
        detect_format(tmp_path)
    assert_names(err, tmp_path, "no class folders", "DATA/<class>/<seq>.npy")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("x")
    with pytest.raises(DataError) as err:
        load(tmp_path)
    assert_names(err, tmp_path, "no .npy files")


def test_detect_skips_an_empty_first_class_then_reports_it(tmp_path, write_frames):
    root = write_frames(tmp_path, {"b": 2, "c": 2})
    (root / "a").mkdir()  # sorts first and is empty
    assert detect_format(root) == "frames"
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a", "empty", "remove the folder")


# ---------------------------------------------------------------------------------------------
# errors, each naming the file and hinting at the fix
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_in_a_sequence_file(tmp_path, write_sequences, bad):
    root = write_sequences(tmp_path, {"a": 2, "b": 2})
    arr = np.zeros((5, 126))
    arr[3, 7] = bad
    np.save(root / "b" / "1.npy", arr)
    with pytest.raises(DataError) as err:
        load(root)
    kind = "NaN" if np.isnan(bad) else "inf"
    assert_names(err, root / "b" / "1.npy", kind, "frame 3", "finite", "zeros")


def test_nan_in_a_frame_file(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 2, "b": 2}, frames=4)
    frame = np.zeros(126)
    frame[0] = np.nan
    np.save(root / "a" / "1" / "2.npy", frame)
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a" / "1", "NaN", "frame 2", "zeros")


def test_empty_sequence_file(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2})
    np.save(root / "a" / "0.npy", np.zeros((0, 126)))
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a" / "0.npy", "empty sequence", "remove")


def test_empty_sequence_folder_is_an_error_not_skipped(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 2, "b": 2})
    (root / "a" / "7").mkdir()
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a" / "7", "empty sequence", "remove the folder")


def test_ragged_frames_in_one_sequence(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 2, "b": 2}, frames=4)
    np.save(root / "b" / "1" / "3.npy", np.zeros(132))
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, "ragged", root / "b" / "1", "0.npy", "3.npy", "126", "132", "same width")


def test_frame_file_that_is_not_a_vector(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 2, "b": 2}, frames=3)
    np.save(root / "a" / "0" / "1.npy", np.zeros((2, 126)))
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a" / "0" / "1.npy", "(D,)")


def test_mixed_widths_across_sequences(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2}, width=126)
    np.save(root / "b" / "1.npy", np.zeros((5, 258)))
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, "mixed widths", root / "a" / "0.npy", root / "b" / "1.npy", "126", "258")
    assert "one layout" in str(err.value)


def test_empty_class_folder(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "c": 2})
    (root / "b").mkdir()
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "b", "empty", "remove the folder")


def test_unknown_width_names_the_file_and_suggests_generic(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2}, width=75)
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, "unknown keypoint width 75", root / "a" / "0.npy", "--layout generic")
    ds = load(root, layout="generic")
    assert ds.layout.name == "generic75" and ds.layout.width == 75
    assert load(root, layout="generic75").layout.name == "generic75"


def test_wrong_explicit_layout(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2}, width=126)
    with pytest.raises(DataError) as err:
        load(root, layout="holistic")
    assert_names(err, "holistic", "1662", "126", root / "a" / "0.npy")


def test_per_frame_files_directly_in_a_class_folder(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for t in range(3):
            np.save(tmp_path / label / f"{t}.npy", np.zeros(126))
    with pytest.raises(DataError) as err:
        load(tmp_path)
    assert_names(err, tmp_path / "a", "per-frame", "sub-folder per sequence")


def test_unreadable_and_non_numeric_npy(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"a": 2, "b": 2})
    (root / "a" / "1.npy").write_text("not numpy")
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, root / "a" / "1.npy", "cannot read", ".npy")
    root2 = write_sequences(tmp_path / "two", {"a": 2, "b": 2})
    np.save(root2 / "b" / "0.npy", np.array([["x", "y"]]))
    with pytest.raises(DataError) as err:
        load(root2)
    assert_names(err, root2 / "b" / "0.npy", "expected numbers")


def test_fewer_than_two_classes_is_not_trainable(tmp_path, write_sequences):
    root = write_sequences(tmp_path, {"only": 3})
    ds = load(root)  # loading a single class is fine (e.g. for inference checks) ...
    with pytest.raises(DataError) as err:
        ds.check_trainable()  # ... training on it is not
    assert_names(err, "at least 2 classes", "only", root, "own folder")
    load(write_sequences(tmp_path / "ok", {"a": 1, "b": 1})).check_trainable()


def test_check_trainable_reports_classes_without_sequences(tmp_path, write_sequences):
    ds = load(write_sequences(tmp_path, {"a": 2, "b": 2}))
    sub = ds.subset([i for i, s in enumerate(ds.samples) if s.label == "a"])
    assert sub.classes == ["a", "b"]
    with pytest.raises(DataError) as err:
        sub.check_trainable()
    assert_names(err, "'b'", "no sequences")


def test_dataset_defaults_classes_from_samples():
    samples = [Sample(np.zeros((2, 126), np.float32), lab, f"{lab}.npy") for lab in "bab"]
    ds = KeypointDataset(samples, HANDS)
    assert ds.classes == ["a", "b"]
    assert list(ds.labels) == [1, 0, 1]
    assert ds.counts() == {"a": 1, "b": 2}
    assert ds.summary()["per_class"] == {"a": 1, "b": 2}
    assert ds.summary()["n_sequences"] == 3


# ---------------------------------------------------------------------------------------------
# .ts (sktime / UEA-UCR)
# ---------------------------------------------------------------------------------------------

TS_MULTI = """# a comment
@problemName Toy
@timeStamps false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true walk run
@data
1,2,3:4,5,6:walk
7,8,9:10,11,12:run
0.5,1.5,2.5:3,4,5:walk
"""

TS_VARIABLE = """@problemName Var
@univariate true
@equalLength false
@classLabel true 1 2 10
@data
1,2,3,4:1
5,6:2

7,8,9:10
"""


def test_read_ts_multivariate(tmp_path):
    (tmp_path / "toy.ts").write_text(TS_MULTI)
    cases = read_ts(tmp_path / "toy.ts")
    assert [lab for _, lab in cases] == ["walk", "run", "walk"]
    arr = cases[0][0]
    assert arr.shape == (3, 2) and arr.dtype == np.float32  # (T, D): dimensions become columns
    np.testing.assert_array_equal(arr, [[1, 4], [2, 5], [3, 6]])


def test_load_ts_dataset(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text(TS_MULTI)
    assert detect_format(path) == "ts"
    with pytest.raises(DataError) as err:
        load(path)  # width 2 needs an explicit layout
    assert_names(err, "unknown keypoint width 2", path, "--layout generic")
    ds = load(path, layout="generic")
    assert ds.layout.name == "generic2"
    assert ds.classes == ["run", "walk"]
    assert [s.order for s in ds.samples] == [0, 1, 2]
    assert [s.source for s in ds.samples] == [f"{path}#{i}" for i in range(3)]
    assert all(s.data.dtype == np.float32 for s in ds.samples)


def test_read_ts_variable_length_univariate(tmp_path):
    path = tmp_path / "var.ts"
    path.write_text(TS_VARIABLE)
    ds = load(path, layout="generic1")
    assert [s.data.shape for s in ds.samples] == [(4, 1), (2, 1), (3, 1)]
    assert [s.label for s in ds.samples] == ["1", "2", "10"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@problemName x\n1,2:a\n", "no @data"),
        ("@data\n", "no cases"),
        ("@classLabel false\n@data\n1,2,3\n", "no class labels"),
        ("@classLabel true a\n@data\n1,?,3:a\n", "'?'"),
        ("@classLabel true a\n@data\n1,2,3:4,5:a\n", "different lengths"),
    ],
)
def test_read_ts_errors_name_the_file(tmp_path, text, expected):
    path = tmp_path / "bad.ts"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_ts(path)
    assert_names(err, path, expected)


def test_ts_non_finite_values(tmp_path):
    path = tmp_path / "inf.ts"
    path.write_text("@classLabel true a b\n@data\n1,2:a\n1,inf:b\n")
    with pytest.raises(DataError) as err:
        load(path, layout="generic")
    assert_names(err, path, "case 1", "inf")


def test_read_ts_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        read_ts(tmp_path / "missing.ts")
    assert_names(err, tmp_path / "missing.ts", "cannot read")


def test_an_invalid_group_pattern_is_a_clear_error(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        np.save(tmp_path / label / "0.npy", np.ones((5, 126), np.float32))
    with pytest.raises(DataError, match="not a valid regex"):
        load_keypoint_dataset(tmp_path, group_pattern="(", progress=False)


# ---------------------------------------------------------------------------------------------
# groups from the folder layout: DATA/<person>/<class>/... or DATA/<class>/<person>/...
# ---------------------------------------------------------------------------------------------


def _tree(root: Path, paths: list[str], width: int = 126) -> dict[str, float]:
    """``.npy`` files at ``root/<path>``, each filled with its own number; path -> value."""
    values = {}
    for n, rel in enumerate(paths):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, np.full((4, width), float(n)))
        values[str(p)] = float(n)
    return values


PEOPLE = ("ann", "ben", "cat")
SIGNS = ("hello", "thanks")


def test_person_first_folders_give_groups_without_options(tmp_path):
    root = tmp_path / "data"
    values = _tree(root, [f"{p}/{c}/{i}.npy" for p in PEOPLE for c in SIGNS for i in range(2)])
    ds = load(root)
    assert ds.classes == list(SIGNS)
    assert ds.counts() == {"hello": 6, "thanks": 6}
    for s in ds.samples:
        person, label, _ = Path(s.source).relative_to(root).parts
        assert (s.group, s.label) == (person, label)
        assert s.data[0, 0] == values[s.source]
    assert ds.has_groups()
    summary = ds.summary()
    assert summary["groups"] == dict.fromkeys(PEOPLE, 4) and summary["groups_from"] == "first"
    # within a class, order runs over all people (contiguous splits stay well defined)
    assert sorted(s.order for s in ds.samples if s.label == "hello") == list(range(6))
    # forcing the other reading: people become classes, the sign folders groups
    ds = load(root, groups="second")
    assert ds.classes == list(PEOPLE) and {s.group for s in ds.samples} == set(SIGNS)


def test_person_first_through_a_wrapper_folder_and_frame_folders(tmp_path):
    # DATA/<person>/MP_Data/<class>/<seq>/<frame>.npy, as two people's tutorial repos side by side
    root = tmp_path / "data"
    for person in ("ann", "ben"):
        for label in ("hello", "iloveyou", "thanks"):
            for seq in range(2):
                folder = root / person / "MP_Data" / label / str(seq)
                folder.mkdir(parents=True)
                for t in range(3):
                    np.save(folder / f"{t}.npy", np.full(126, float(t)))
    ds = load(root)
    assert ds.classes == ["hello", "iloveyou", "thanks"]
    assert {s.group for s in ds.samples} == {"ann", "ben"}
    assert all(Path(s.source).parts[-4] == s.group for s in ds.samples)


def test_class_first_with_the_same_people_in_every_class_stays_class_first(tmp_path):
    # 2 top folders and 3 identical children: the top folders are the classes (the old reading)
    root = tmp_path / "data"
    _tree(root, [f"{c}/{p}/0.npy" for c in SIGNS for p in PEOPLE])
    ds = load(root)
    assert ds.classes == list(SIGNS) and {s.group for s in ds.samples} == set(PEOPLE)
    assert ds.summary()["groups_from"] == "second"
    ds = load(root, groups="first")
    assert ds.classes == list(PEOPLE) and {s.group for s in ds.samples} == set(SIGNS)


def test_groups_first_on_a_class_first_tree_is_a_clear_error(tmp_path, write_sequences):
    root = write_sequences(tmp_path / "data", {"wave": 2, "clap": 2})
    with pytest.raises(DataError) as err:
        load(root, groups="first")
    assert_names(err, root / "clap", "groups='first'", "groups='second'")
    with pytest.raises(DataError, match="unknown groups"):
        load(root, groups="people")


def test_a_group_pattern_wins_over_person_folders(tmp_path):
    root = tmp_path / "data"
    _tree(root, [f"{p}/{c}/{i}.npy" for p in PEOPLE for c in SIGNS for i in range(2)])
    ds = load(root, group_pattern=r"/(\d)\.npy$")
    assert {s.group for s in ds.samples} == {"0", "1"} and ds.classes == list(SIGNS)


# ---------------------------------------------------------------------------------------------
# links and names (issue 12, rows 1 and 9)
# ---------------------------------------------------------------------------------------------


def test_a_link_loop_in_a_class_folder_reads_each_file_once(tmp_path, write_sequences):
    root = write_sequences(tmp_path / "data", {"clap": 12, "wave": 12})
    (root / "clap" / "loop").symlink_to("..")  # ln -s .. data/clap/loop
    with pytest.warns(UserWarning, match="loop"):
        ds = load(root)
    assert ds.counts() == {"clap": 12, "wave": 12}
    # every sequence keeps its own class (values encode class*10000 + seq*100 + frame)
    for s in ds.samples:
        assert int(s.data[0, 0]) // 10_000 == ["clap", "wave"].index(s.label)
    assert len({str(Path(s.source).resolve()) for s in ds.samples}) == 24


def test_a_link_to_another_class_folder_is_not_read_twice(tmp_path, write_sequences):
    root = write_sequences(tmp_path / "data", {"clap": 2, "wave": 3})
    (root / "clap" / "w").symlink_to(root / "wave")
    (root / "clap" / "again.npy").symlink_to(root / "clap" / "0.npy")
    with pytest.warns(UserWarning, match="skipping"):
        ds = load(root)
    assert ds.counts() == {"clap": 2, "wave": 3}


def test_a_class_folder_name_that_is_not_utf8_is_a_clear_error(tmp_path):
    root = tmp_path / "data"
    good = root / "wave"
    good.mkdir(parents=True)
    np.save(good / "0.npy", np.ones((4, 126)))
    bad = os.fsdecode(os.fsencode(str(root)) + b"/caf\xe9")  # Latin-1 "café"
    try:
        os.mkdir(bad)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    np.save(os.path.join(bad, "0.npy"), np.ones((4, 126)))
    with pytest.raises(DataError) as err:
        load(root)
    assert_names(err, "class folder", "caf\\xe9", "not valid UTF-8", "rename")
