"""Manifests (CSV and JSONL): sequences, frame folders, class folders, .ts files, merges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motionscope.data.loaders import detect_format, load_keypoint_dataset
from motionscope.data.manifest import read_manifest
from motionscope.errors import DataError


def load(path, **kw):
    return load_keypoint_dataset(path, progress=False, **kw)


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_names(err: pytest.ExceptionInfo, *parts: object) -> None:
    msg = str(err.value)
    for part in parts:
        assert str(part) in msg, f"{part!s} not in message: {msg}"


TS = "@classLabel true up down\n@data\n1,2,3:4,5,6:up\n1,1,1:2,2,2:down\n0,0,0:1,1,1:up\n"


# ---------------------------------------------------------------------------------------------
# rows naming one sequence
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_sequence_and_frame_folder_rows(tmp_path, write_sequences, write_frames, kind):
    write_sequences(tmp_path / "seqs", {"a": 2, "b": 2}, frames=5)
    write_frames(tmp_path / "frames", {"a": 1}, frames=3)
    rows = [
        {"path": "seqs/a/0.npy", "label": "wave"},
        {"path": "seqs/b/1.npy", "label": "clap"},
        {"path": "frames/a/0", "label": "wave"},  # a folder of per-frame files
    ]
    if kind == "csv":
        man = write_csv(
            tmp_path / "m.csv", "path,label", [f"{r['path']},{r['label']}" for r in rows]
        )
    else:
        man = write_jsonl(tmp_path / "m.jsonl", rows)
    assert detect_format(man) == "manifest"
    ds = load(man)
    assert ds.classes == ["clap", "wave"]
    assert [s.label for s in ds.samples] == ["wave", "clap", "wave"]
    assert [s.data.shape for s in ds.samples] == [(5, 126), (5, 126), (3, 126)]
    assert all(s.data.dtype == np.float32 for s in ds.samples)
    assert [s.order for s in ds.samples] == [0, 1, 2]  # row order is the natural order
    assert Path(ds.samples[2].source) == tmp_path / "frames" / "a" / "0"
    np.testing.assert_array_equal(ds.samples[2].data[:, 0], [0, 1, 2])  # frame order


def test_relative_paths_are_relative_to_the_manifest_not_the_cwd(
    tmp_path, write_sequences, monkeypatch
):
    write_sequences(tmp_path / "proj" / "data", {"a": 1, "b": 1})
    man = write_csv(
        tmp_path / "proj" / "m.csv", "path,label", ["data/a/0.npy,a", "./data/b/0.npy,b"]
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ds = load(man)
    assert [Path(s.source).resolve() for s in ds.samples] == [
        (tmp_path / "proj" / "data" / "a" / "0.npy").resolve(),
        (tmp_path / "proj" / "data" / "b" / "0.npy").resolve(),
    ]
    # and a manifest in a sub-folder can reach up with ..
    sub = tmp_path / "proj" / "lists"
    sub.mkdir()
    man2 = write_csv(sub / "m.csv", "path,label", ["../data/a/0.npy,a", "../data/b/0.npy,b"])
    assert len(load(man2)) == 2


def test_absolute_paths(tmp_path, write_sequences):
    root = write_sequences(tmp_path / "data", {"a": 1, "b": 1})
    (tmp_path / "elsewhere").mkdir()
    man = write_jsonl(
        tmp_path / "elsewhere" / "m.jsonl",
        [{"path": str(root / "a" / "0.npy"), "label": "a"}, {"path": str(root / "b"), "label": ""}],
    )
    ds = load(man)
    assert [Path(s.source) for s in ds.samples] == [root / "a" / "0.npy", root / "b" / "0.npy"]
    assert [s.label for s in ds.samples] == ["a", "b"]


def test_extra_columns_blank_lines_bom_and_loose_header(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 1, "b": 1})
    # Excel's "CSV UTF-8" starts with a byte-order mark; hand-written headers may have spaces
    (tmp_path / "m.csv").write_text(
        "\ufeffPath, Label, note\nd/a/0.npy, a, first\n\nd/b/0.npy, b, second\n", encoding="utf-8"
    )
    ds = load(tmp_path / "m.csv")
    assert [s.label for s in ds.samples] == ["a", "b"]
    (tmp_path / "m.jsonl").write_text(
        '\ufeff{"path": "d/a/0.npy", "label": "a", "note": 1}\n\n  \n'
        '{"path": "d/b/0.npy", "label": "b"}\n',
        encoding="utf-8",
    )
    assert [s.label for s in load(tmp_path / "m.jsonl").samples] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# rows naming a whole class folder: rename, pick, merge
# ---------------------------------------------------------------------------------------------


def test_class_folder_rows_keep_or_rename_the_label(tmp_path, write_frames):
    root = write_frames(tmp_path / "MP_Data", {"hello": 3, "thanks": 2, "iloveyou": 4})
    man = write_csv(
        tmp_path / "m.csv",
        "path,label",
        ["MP_Data/hello,", "MP_Data/thanks,thank_you"],  # iloveyou is not listed: not picked
    )
    ds = load(man)
    assert ds.classes == ["hello", "thank_you"]
    assert ds.counts() == {"hello": 3, "thank_you": 2}
    assert all(Path(s.source).parent.name in ("hello", "thanks") for s in ds.samples)
    hello = [s for s in ds.samples if s.label == "hello"]
    assert [Path(s.source).name for s in hello] == ["0", "1", "2"]
    assert [s.order for s in hello] == [0, 1, 2]
    assert root.exists()


def test_class_folder_of_sequence_files(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 12, "b": 2})
    ds = load(write_jsonl(tmp_path / "m.jsonl", [{"path": "d/a"}, {"path": "d/b", "label": "B"}]))
    assert ds.counts() == {"B": 2, "a": 12}
    a = [s for s in ds.samples if s.label == "a"]
    assert [Path(s.source).name for s in a] == [f"{i}.npy" for i in range(12)]  # 2 before 10


def test_merge_two_sources_into_the_same_classes(tmp_path, write_frames, write_sequences):
    write_frames(tmp_path / "person1" / "MP_Data", {"hello": 2, "thanks": 2}, frames=4)
    write_sequences(tmp_path / "person2", {"Hi": 3, "Thx": 1}, frames=6)
    man = write_csv(
        tmp_path / "m.csv",
        "path,label,group",
        [
            "person1/MP_Data/hello,hello,p1",
            "person1/MP_Data/thanks,thanks,p1",
            "person2/Hi,hello,p2",
            "person2/Thx,thanks,p2",
        ],
    )
    ds = load(man)
    assert ds.counts() == {"hello": 5, "thanks": 3}
    assert sorted({s.data.shape[0] for s in ds.samples}) == [4, 6]
    assert {s.group for s in ds.samples if "person1" in s.source} == {"p1"}
    assert {s.group for s in ds.samples if "person2" in s.source} == {"p2"}
    ds.check_trainable()


def test_merge_with_different_widths_is_an_error(tmp_path, write_sequences):
    write_sequences(tmp_path / "x", {"a": 1}, width=126)
    write_sequences(tmp_path / "y", {"a": 1}, width=1662)
    man = write_csv(tmp_path / "m.csv", "path,label", ["x/a,", "y/a,"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, "mixed widths", tmp_path / "x" / "a" / "0.npy", tmp_path / "y" / "a")


def test_classes_argument_on_a_manifest(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 1, "b": 1, "c": 1})
    man = write_csv(tmp_path / "m.csv", "path,label", ["d/a,", "d/b,", "d/c,"])
    assert load(man, classes=["b", "c"]).classes == ["b", "c"]


# ---------------------------------------------------------------------------------------------
# split and group columns
# ---------------------------------------------------------------------------------------------


def test_split_and_group_columns(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 3, "b": 3})
    rows = [
        "d/a/0.npy,a,train,alice",
        "d/a/1.npy,a,VAL,alice",
        "d/a/2.npy,a, test ,bob",
        "d/b/0.npy,b,train,alice",
        "d/b/1.npy,b,,bob",
        "d/b/2.npy,b,test,",
    ]
    ds = load(write_csv(tmp_path / "m.csv", "path,label,split,group", rows))
    assert [s.split for s in ds.samples] == ["train", "val", "test", "train", None, "test"]
    assert [s.group for s in ds.samples] == ["alice", "alice", "bob", "alice", "bob", None]


def test_group_column_wins_over_group_pattern(tmp_path, write_sequences):
    write_sequences(tmp_path / "s1", {"a": 1, "b": 1})
    write_sequences(tmp_path / "s2", {"a": 1, "b": 1})
    man = write_jsonl(
        tmp_path / "m.jsonl",
        [
            {"path": "s1/a", "group": "given"},
            {"path": "s1/b"},
            {"path": "s2/a"},
            {"path": "s2/b"},
        ],
    )
    ds = load(man, group_pattern=r"/(s\d)/")
    assert [s.group for s in ds.samples] == ["given", "s1", "s2", "s2"]
    assert [s.group for s in load(man).samples] == ["given", None, None, None]


def test_invalid_split_value(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 1})
    man = write_csv(tmp_path / "m.csv", "path,label,split", ["d/a/0.npy,a,train", "d/a,a,holdout"])
    with pytest.raises(DataError) as err:
        read_manifest(man)
    assert_names(err, f"{man}:3", "holdout", "train, val, test")


# ---------------------------------------------------------------------------------------------
# .ts rows
# ---------------------------------------------------------------------------------------------


def test_ts_rows_with_train_and_test_splits(tmp_path):
    (tmp_path / "ts").mkdir()
    (tmp_path / "ts" / "Toy_TRAIN.ts").write_text(TS)
    (tmp_path / "ts" / "Toy_TEST.ts").write_text(TS.replace("up\n", "down\n", 1))
    man = write_csv(
        tmp_path / "m.csv",
        "path,label,split,group",
        ["ts/Toy_TRAIN.ts,,train,g1", "ts/Toy_TEST.ts,,test,g2"],
    )
    ds = load(man, layout="generic")
    assert ds.layout.name == "generic2"
    assert len(ds) == 6
    assert [s.split for s in ds.samples] == ["train"] * 3 + ["test"] * 3
    assert [s.group for s in ds.samples] == ["g1"] * 3 + ["g2"] * 3
    assert [s.label for s in ds.samples] == ["up", "down", "up", "down", "down", "up"]
    assert ds.samples[0].data.shape == (3, 2) and ds.samples[0].data.dtype == np.float32
    assert ds.samples[4].source.endswith("Toy_TEST.ts#1")


def test_ts_row_with_unknown_width_needs_a_layout(tmp_path):
    (tmp_path / "x.ts").write_text(TS)
    man = write_jsonl(tmp_path / "m.jsonl", [{"path": "x.ts"}])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, "unknown keypoint width 2", tmp_path / "x.ts", "--layout generic")


# ---------------------------------------------------------------------------------------------
# manifest errors name the manifest line
# ---------------------------------------------------------------------------------------------


def test_missing_path_column(tmp_path):
    man = write_csv(tmp_path / "m.csv", "file,label", ["a.npy,a"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, man, "header", "'path'", "path,label[,split][,group]")


def test_missing_path_value(tmp_path):
    man = write_jsonl(tmp_path / "m.jsonl", [{"label": "a"}])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, f"{man}:1", "missing 'path'")


def test_path_that_does_not_exist(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 1})
    man = write_csv(tmp_path / "m.csv", "path,label", ["d/a/0.npy,a", "d/a/typo.npy,a"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, f"{man}:3", tmp_path / "d" / "a" / "typo.npy", "does not exist")


def test_sequence_row_without_label(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 1})
    man = write_csv(tmp_path / "m.csv", "path,label", ["d/a/0.npy,"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, f"{man}:2", "needs a label")


def test_class_folder_row_without_sequences(tmp_path):
    (tmp_path / "empty").mkdir()
    man = write_csv(tmp_path / "m.csv", "path,label", ["empty,x"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, f"{man}:2", tmp_path / "empty", "no sequences")


def test_bad_sequence_named_by_a_row(tmp_path, write_sequences):
    write_sequences(tmp_path / "d", {"a": 2})
    np.save(tmp_path / "d" / "a" / "1.npy", np.full((3, 126), np.nan))
    man = write_csv(tmp_path / "m.csv", "path,label", ["d/a,"])
    with pytest.raises(DataError) as err:
        load(man)
    assert_names(err, tmp_path / "d" / "a" / "1.npy", "NaN")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("m.csv", "path,label\n", "lists no sequences"),
        ("m.jsonl", "\n\n", "lists no sequences"),
        ("m.jsonl", '{"path": "a.npy"\n', ":1: not valid JSON"),
        ("m.jsonl", '{"path": "a.npy"}\n["a.npy", "x"]\n', ":2: each line must be a JSON object"),
        ("m.csv", "", "header with a 'path' column"),
    ],
)
def test_malformed_manifests(tmp_path, name, text, expected):
    man = tmp_path / name
    man.write_text(text)
    with pytest.raises(DataError) as err:
        read_manifest(man)
    assert_names(err, man, expected)


def test_unreadable_manifest(tmp_path):
    with pytest.raises(DataError) as err:
        read_manifest(tmp_path / "missing.csv")
    assert_names(err, tmp_path / "missing.csv", "cannot read manifest")
