"""Video datasets: class folders at any depth, UCF101 split lists, manifests, groups, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from motionscope.data.splits import SplitSpec, split_dataset, validation_split
from motionscope.data.videos import (
    VideoDataset,
    is_video_dataset,
    load_training_data,
    load_video_dataset,
    resolve_split_files,
)
from motionscope.errors import DataError
from motionscope.video.decode import VIDEO_SUFFIXES

REPO = Path(__file__).resolve().parents[1]


def touch(path: Path) -> Path:
    """A file with a video suffix (listing never decodes, so no real video is needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")
    return path


def ucf_tree(root: Path, classes=("ApplyEyeMakeup", "Archery", "BabyCrawling"), groups=3, clips=2):
    """``root/<Class>/v_<Class>_gXX_cYY.avi`` like UCF101."""
    for c in classes:
        for g in range(1, groups + 1):
            for k in range(1, clips + 1):
                touch(root / c / f"v_{c}_g{g:02d}_c{k:02d}.avi")
    return root


def write_lists(folder: Path, root: Path, classes, *, test_groups=(1,), labels=True):
    """UCF101's ucfTrainTestlist: classInd.txt, trainlist01.txt (with labels), testlist01.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classInd.txt").write_text(
        "".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)), encoding="utf-8"
    )
    train, test = [], []
    for i, c in enumerate(classes, 1):
        for f in sorted((root / c).glob("*.avi")):
            g = int(re.search(r"_g(\d+)_", f.name).group(1))
            rel = f"{c}/{f.name}"
            if g in test_groups:
                test.append(rel)
            else:
                train.append(f"{rel} {i}" if labels else rel)
    (folder / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n", encoding="utf-8")
    (folder / "testlist01.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder / "trainlist01.txt", folder / "testlist01.txt"


# ---------------------------------------------------------------------------------------------
# Class folders


def test_mpg_is_a_video_suffix():
    assert ".mpg" in VIDEO_SUFFIXES and ".avi" in VIDEO_SUFFIXES


def test_class_folders_with_videos_at_any_depth(tmp_path):
    root = tmp_path / "data"
    touch(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi")
    touch(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g10_c02.avi")
    touch(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g09_c01.avi")
    touch(root / "ApplyEyeMakeup" / "notes.txt")  # not a video
    touch(root / "ApplyEyeMakeup" / ".hidden.avi")  # hidden: skipped
    touch(root / "biking" / "v_biking_01" / "v_biking_01_01.mpg")  # UCF11: class/sub/clip
    touch(root / "biking" / "v_biking_01" / "v_biking_01_02.mpg")
    touch(root / "biking" / "v_biking_02" / "deeper" / "x.MP4")
    frames = root / "biking" / "frames10"  # a frame folder counts as one video
    for i in range(3):
        touch(frames / f"{i}.png")
    touch(root / "ucfTrainTestlist" / "classInd.txt")  # not a class folder: skipped
    assert is_video_dataset(root)
    ds = load_video_dataset(root)
    assert isinstance(ds, VideoDataset)
    assert ds.classes == ["ApplyEyeMakeup", "biking"]
    names = [s.path.relative_to(root).as_posix() for s in ds.samples]
    assert names == [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c02.avi",
        "biking/frames10",
        "biking/v_biking_01/v_biking_01_01.mpg",
        "biking/v_biking_01/v_biking_01_02.mpg",
        "biking/v_biking_02/deeper/x.MP4",
    ]
    assert [s.order for s in ds.samples] == [0, 1, 2, 0, 1, 2, 3]
    assert [s.group for s in ds.samples][:3] == ["08", "09", "10"]
    assert all(s.group is None for s in ds.samples[3:])
    assert all(s.split is None for s in ds.samples)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 1] and ds.labels.dtype == np.int64
    assert ds.counts() == {"ApplyEyeMakeup": 3, "biking": 4}
    ds.check_trainable()
    s = ds.summary()
    assert s["n_sequences"] == 7 and s["per_class"] == ds.counts() and s["groups"] == 3
    json.dumps(s)  # goes into the bundle's config.json
    # a custom group pattern, and none
    custom = load_video_dataset(root, group_pattern=r"v_biking_(\d+)")
    assert [x.group for x in custom.samples][4:] == ["01", "01", "02"]
    assert all(x.group is None for x in load_video_dataset(root, group_pattern=None).samples)


def test_dataset_surface_matches_keypoint_dataset(tmp_path):
    ds = load_video_dataset(ucf_tree(tmp_path / "ucf"))
    sub = ds.subset([0, 7, 13])
    assert len(sub) == 3 and sub.classes == ds.classes and sub.source == ds.source
    picked = ds.select_classes(["BabyCrawling", "Archery"])
    assert picked.classes == ["BabyCrawling", "Archery"]
    assert picked.counts() == {"BabyCrawling": 6, "Archery": 6}
    assert set(picked.labels.tolist()) == {0, 1}
    with pytest.raises(DataError, match="Nope"):
        ds.select_classes(["Nope"])
    with pytest.raises(DataError, match="at least 2 classes"):
        ds.select_classes(["Archery"]).check_trainable()
    with pytest.raises(DataError, match="no videos"):
        VideoDataset(ds.samples[:6], ["ApplyEyeMakeup", "Archery"], "x").check_trainable()
    only = load_video_dataset(tmp_path / "ucf", classes=["Archery", "ApplyEyeMakeup"])
    assert only.classes == ["Archery", "ApplyEyeMakeup"] and len(only) == 12


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_video_dataset(tmp_path / "missing")
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_video_dataset(tmp_path / "none")
    touch(tmp_path / "d" / "a" / "x.mp4")
    (tmp_path / "d" / "b").mkdir()
    with pytest.raises(DataError, match=r"class folder .*b is empty"):
        load_video_dataset(tmp_path / "d")
    touch(tmp_path / "f" / "a" / "0.png")  # frames directly in a class folder
    with pytest.raises(DataError, match="frame images directly"):
        load_video_dataset(tmp_path / "f")
    touch(tmp_path / "k" / "a" / "0.npy")  # keypoints, not videos
    assert not is_video_dataset(tmp_path / "k")
    with pytest.raises(DataError, match="no videos"):
        load_video_dataset(tmp_path / "k")
    with pytest.raises(DataError, match="a file"):
        load_video_dataset(touch(tmp_path / "clip.mp4"))


# ---------------------------------------------------------------------------------------------
# UCF101 split lists


def test_ucf101_split_lists(tmp_path):
    classes = ["Archery", "ApplyEyeMakeup", "BabyCrawling"]  # classInd order, not alphabetical
    root = ucf_tree(tmp_path / "UCF-101", classes)
    train_list, test_list = write_lists(tmp_path / "ucfTrainTestlist", root, classes)
    touch(root / "Archery" / "v_Archery_g09_c01.avi")  # on disk but in no list: not used
    ds = load_video_dataset(root, split_files=(train_list, test_list))
    assert ds.classes == classes  # from classInd.txt found next to the lists
    assert len(ds) == 18
    assert all(s.path.exists() for s in ds.samples)
    assert not any("g09" in s.path.name for s in ds.samples)
    for s in ds.samples:
        assert s.split == ("test" if s.group == "01" else "train")
        assert s.label == s.path.parent.name
    assert ds.summary()["splits"] == {"test": 6, "train": 12}
    assert ds.summary()["split_files"] == [str(train_list), str(test_list)]
    # the manifest split strategy takes the lists as they are
    tr, te = split_dataset(ds, SplitSpec("manifest"), test_fraction=0.2, seed=0)
    assert {ds.samples[i].split for i in te} == {"test"} and len(te) == 6
    assert {ds.samples[i].split for i in tr} == {"train"} and len(tr) == 12
    tr2, va = validation_split(ds, tr, SplitSpec("manifest"), 0.25, 0)
    assert len(tr2) + len(va) == 12 and not set(va) & set(te)
    # without classInd.txt: classes from the folders, alphabetical
    (tmp_path / "ucfTrainTestlist" / "classInd.txt").unlink()
    ds2 = load_video_dataset(root, split_files=(train_list, test_list))
    assert ds2.classes == sorted(classes) and len(ds2) == 18


def test_split_lists_missing_files_are_one_error(tmp_path):
    classes = ["Archery", "BabyCrawling"]
    root = ucf_tree(tmp_path / "UCF-101", classes, groups=4, clips=2)
    lists = write_lists(tmp_path / "lists", root, classes, test_groups=(1, 2))
    gone = sorted(root.glob("*/*_g0[34]_*.avi"))[:7]
    for f in gone:
        f.unlink()
    with pytest.raises(DataError) as err:
        load_video_dataset(root, split_files=lists)
    msg = str(err.value)
    assert msg.startswith("7 videos listed in trainlist01.txt/testlist01.txt are missing")
    assert str(gone[0]) in msg and str(gone[6]) not in msg  # the first few, not all
    assert msg.count(".avi") == 5


def test_split_list_errors(tmp_path):
    classes = ["Archery", "BabyCrawling"]
    root = ucf_tree(tmp_path / "UCF-101", classes, groups=2, clips=1)
    train_list, test_list = write_lists(tmp_path / "lists", root, classes)
    # a label number that does not match the folder
    text = train_list.read_text().replace("Archery_g02_c01.avi 1", "Archery_g02_c01.avi 2")
    train_list.write_text(text)
    with pytest.raises(DataError, match=r"trainlist01.txt:1: class number 2 is 'BabyCrawling'"):
        load_video_dataset(root, split_files=(train_list, test_list))
    train_list, test_list = write_lists(tmp_path / "lists", root, classes)
    test_list.write_text(test_list.read_text() + "Archery/v_Archery_g02_c01.avi\n")
    with pytest.raises(DataError, match="already listed"):
        load_video_dataset(root, split_files=(train_list, test_list))
    train_list, test_list = write_lists(tmp_path / "lists", root, classes)
    (tmp_path / "lists" / "classInd.txt").write_text("1 Archery\nBabyCrawling\n")
    with pytest.raises(DataError, match=r"classInd.txt:2: expected 'NUMBER CLASS'"):
        load_video_dataset(root, split_files=(train_list, test_list))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(DataError, match="lists no videos"):
        load_video_dataset(root, split_files=(empty, test_list), class_index=None)


def test_resolve_split_files(tmp_path):
    a = touch(tmp_path / "trainlist01.txt")
    b = touch(tmp_path / "testlist01.txt")
    x = touch(tmp_path / "first.txt")
    y = touch(tmp_path / "second.txt")
    assert resolve_split_files(None) is None
    assert resolve_split_files([a, b]) == (a, b)
    assert resolve_split_files([b, a]) == (a, b)  # swapped back by their names
    assert resolve_split_files([x, y]) == (x, y)  # otherwise: train, then test
    assert resolve_split_files(None, a, b) == (a, b)
    with pytest.raises(DataError, match="takes two lists"):
        resolve_split_files([a])
    with pytest.raises(DataError, match="go together"):
        resolve_split_files(None, a, None)
    with pytest.raises(DataError, match="not both"):
        resolve_split_files([a, b], a, b)
    with pytest.raises(DataError, match="does not exist"):
        resolve_split_files([a, tmp_path / "nope.txt"])


# ---------------------------------------------------------------------------------------------
# Groups


def test_group_split_keeps_a_group_on_one_side(tmp_path):
    ds = load_video_dataset(ucf_tree(tmp_path / "ucf", groups=5, clips=3))
    assert sorted({s.group for s in ds.samples}) == ["01", "02", "03", "04", "05"]
    for seed in range(4):
        tr, te = split_dataset(ds, SplitSpec("group"), test_fraction=0.2, seed=seed)
        assert len(tr) + len(te) == len(ds) and not set(tr) & set(te)
        groups_tr = {ds.samples[i].group for i in tr}
        groups_te = {ds.samples[i].group for i in te}
        assert groups_te and not groups_tr & groups_te
        # a group is a number shared across classes (UCF101's protocol): every class in test
        assert {ds.samples[i].label for i in te} == set(ds.classes)
    tr, te = split_dataset(ds, SplitSpec("group"), test_fraction=0.2, seed=0, test_groups=["03"])
    assert {ds.samples[i].group for i in te} == {"03"} and len(te) == 9
    ds_none = load_video_dataset(tmp_path / "ucf", group_pattern=r"person(\d+)")
    with pytest.raises(DataError, match="have no group"):
        split_dataset(ds_none, SplitSpec("group"), test_fraction=0.2, seed=0)


# ---------------------------------------------------------------------------------------------
# Manifests


def two_datasets(tmp_path: Path) -> tuple[Path, Path]:
    ucf = ucf_tree(tmp_path / "UCF-101", ("ApplyEyeMakeup", "BabyCrawling"), groups=2, clips=2)
    hmdb = tmp_path / "hmdb51"
    for c in ("fall_floor", "brush_hair"):
        for i in range(3):
            touch(hmdb / c / f"{c}_clip_{i}.avi")
    return ucf, hmdb


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_manifest_merges_and_renames(tmp_path, kind):
    two_datasets(tmp_path)
    rows = [
        {"path": "UCF-101/BabyCrawling", "label": "baby_crawling"},
        {"path": "hmdb51/fall_floor", "label": "falling"},
        {"path": "hmdb51/brush_hair/brush_hair_clip_0.avi", "label": "falling", "split": "test"},
        {"path": "UCF-101/ApplyEyeMakeup", "label": ""},  # empty label: the folder's name
    ]
    if kind == "csv":
        man = tmp_path / "videos.csv"
        lines = ["path,label,split"] + [
            f"{r['path']},{r['label']},{r.get('split', '')}" for r in rows
        ]
        man.write_text("\n".join(lines) + "\n")
    else:
        man = tmp_path / "videos.jsonl"
        man.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert is_video_dataset(man)
    ds = load_video_dataset(man)
    assert ds.classes == ["ApplyEyeMakeup", "baby_crawling", "falling"]
    assert ds.counts() == {"ApplyEyeMakeup": 4, "baby_crawling": 4, "falling": 4}
    assert all(s.path.exists() for s in ds.samples)
    crawl = [s for s in ds.samples if s.label == "baby_crawling"]
    assert [s.group for s in crawl] == ["01", "01", "02", "02"]
    assert [s.order for s in crawl] == [0, 1, 2, 3]
    assert [s.split for s in ds.samples if s.split] == ["test"]
    assert sum("brush_hair" in str(s.path) for s in ds.samples) == 1  # only the listed clip
    # and the classes can be picked and ordered on top
    picked = load_video_dataset(man, classes=["falling", "baby_crawling"])
    assert picked.classes == ["falling", "baby_crawling"] and len(picked) == 8


def test_manifest_errors(tmp_path):
    two_datasets(tmp_path)
    (tmp_path / "nothing").mkdir()
    cases = [
        ("path,label\nhmdb51/fall_floor/nope.avi,x\n", "does not exist"),
        ("path,label\nhmdb51/fall_floor/fall_floor_clip_0.avi,\n", "needs a label"),
        ("path,label\nnothing,x\n", "holds no videos"),
        ("path,label,start,end\nhmdb51/fall_floor,x,1.5,3\n", "trimming .* not supported"),
        ("path,label,start,end\nhmdb51/fall_floor,x,4,3\n", "end .* must be after start"),
        ("path,label,start\nhmdb51/fall_floor,x,soon\n", "start must be a number"),
    ]
    for text, match in cases:
        man = tmp_path / "m.csv"
        man.write_text(text)
        with pytest.raises(DataError, match=match) as err:
            load_video_dataset(man)
        assert "m.csv:2" in str(err.value)
    keypoints = tmp_path / "kp.csv"
    np.save(tmp_path / "seq.npy", np.zeros((3, 126)))
    keypoints.write_text("path,label\nseq.npy,a\n")
    assert not is_video_dataset(keypoints)
    with pytest.raises(DataError, match="not a video file"):
        load_video_dataset(keypoints)
    with pytest.raises(DataError, match="split lists go with a folder"):
        load_video_dataset(man, split_files=(man, man))


def test_documented_manifest_example(tmp_path):
    """The example in docs/datasets.md works as written."""
    doc = (REPO / "docs" / "datasets.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example-manifest -->\s*```csv\n(.*?)```", doc, re.S)
    assert block, "docs/datasets.md lost its example manifest"
    data = tmp_path / "datasets"
    for row in block.group(1).splitlines()[1:]:
        path = row.split(",")[0]
        for i in range(2):
            touch(data / path / f"{Path(path).name}_g0{i + 1}_c01.avi")
    man = data / "actions.csv"
    man.write_text(block.group(1))
    ds = load_video_dataset(man)
    assert "baby_crawling" in ds.classes and "falling" in ds.classes
    assert not any(c in ds.classes for c in ("BabyCrawling", "fall_floor"))
    ds.check_trainable()


# ---------------------------------------------------------------------------------------------
# What train loads


def test_load_training_data(tmp_path, write_sequences):
    ucf = ucf_tree(tmp_path / "ucf", ("Archery", "BabyCrawling"), groups=2, clips=1)
    ds = load_training_data(ucf, input_kind="frames")
    assert isinstance(ds, VideoDataset) and ds.samples[0].group == "01"  # UCF default pattern
    kp = write_sequences(tmp_path / "kp", {"a": 3, "b": 3})
    with pytest.raises(DataError, match="holds no videos"):
        load_training_data(kp, input_kind="frames")
    with pytest.raises(DataError, match="unknown model input kind"):
        load_training_data(kp, input_kind="pixels")
    kds = load_training_data(kp, input_kind="keypoints", progress=False)
    man = tmp_path / "videos.csv"
    man.write_text("path,label\nucf/Archery,archery\n")
    with pytest.raises(DataError, match="lists videos but this model reads keypoints"):
        load_training_data(man, input_kind="keypoints")
    assert not isinstance(kds, VideoDataset) and len(kds) == 6
    # split lists on keypoints extracted from listed videos: a/0.avi -> a/0.npy
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("a/0.avi\na/1.avi\nb/0.avi\nb/1.avi\n")
    (lists / "testlist01.txt").write_text("a/2.avi\nb/2.avi\n")
    pair = (lists / "trainlist01.txt", lists / "testlist01.txt")
    kds = load_training_data(kp, input_kind="keypoints", split_files=pair, progress=False)
    assert [s.split for s in kds.samples] == ["train"] * 4 + ["test"] * 2
    assert [Path(s.source).name for s in kds.samples] == ["0.npy", "1.npy"] * 2 + ["2.npy"] * 2
    (lists / "testlist01.txt").write_text("a/2.avi\nb/7.avi\n")
    with pytest.raises(DataError, match="1 clips listed .* have no keypoints"):
        load_training_data(kp, input_kind="keypoints", split_files=pair, progress=False)


def test_videos_decode_through_the_dataset(tmp_path):
    from motionscope.video.sampling import SamplingConfig, sample_clip
    from motionscope.video.synth import write_synthetic_videos

    write_synthetic_videos(tmp_path / "v", classes=2, per_class=2, size=(96, 72), seconds=1.0)
    ds = load_video_dataset(tmp_path / "v")
    assert ds.classes == ["clap", "wave"] and len(ds) == 4
    cfg = SamplingConfig(frames=4, size=48, resize=56)
    clips = [sample_clip(s.path, cfg) for s in ds.samples]
    assert all(c.shape == (4, 48, 48, 3) for c in clips)
    assert not np.array_equal(clips[0], clips[2])


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_train_passes_split_lists_to_frame_models(tmp_path, monkeypatch):
    """What `train` loads for a model that reads frames (training itself stubbed out)."""
    import motionscope.data.videos as videos
    import motionscope.models.registry as registry
    from motionscope.cli import app

    classes = ["Archery", "BabyCrawling"]
    root = ucf_tree(tmp_path / "UCF-101", classes, groups=3, clips=1)
    train_list, test_list = write_lists(tmp_path / "lists", root, classes)
    seen = {}
    real_info, real_load = registry.get_model_info, videos.load_training_data

    def fake_info(name):
        return SimpleNamespace(input_kind="frames") if name == "fake-rgb" else real_info(name)

    def recording_load(src, **kw):
        seen["ds"] = real_load(src, **kw)
        raise DataError("stop before training")

    monkeypatch.setattr(registry, "get_model_info", fake_info)
    monkeypatch.setattr(videos, "load_training_data", recording_load)
    runner = CliRunner()
    args = ["train", str(root), "--out", str(tmp_path / "run"), "--model", "fake-rgb",
            "--no-progress"]  # fmt: skip

    def invoke(*extra):
        seen.clear()
        r = runner.invoke(app, [*args, *extra])
        assert r.exit_code == 2 and "stop before training" in r.output, r.output
        return seen.get("ds")

    # test list first: put back in order by the file names
    ds = invoke("--split-file", str(test_list), "--split-file", str(train_list))
    assert isinstance(ds, VideoDataset) and ds.classes == classes
    assert sorted(s.split for s in ds.samples) == ["test"] * 2 + ["train"] * 4
    assert {s.group for s in ds.samples if s.split == "test"} == {"01"}
    ds = invoke("--train-list", str(train_list), "--test-list", str(test_list),
                "--classes", "BabyCrawling,Archery")  # fmt: skip
    assert ds.classes == ["BabyCrawling", "Archery"] and len(ds) == 6
    ds = invoke("--split", "group")  # without lists: every video, groups from the names
    assert len(ds) == 6 and all(s.split is None for s in ds.samples)
    assert {s.group for s in ds.samples} == {"01", "02", "03"}
    # a missing listed video is one clean error line
    next(root.glob("Archery/*_g02_*")).unlink()
    seen.clear()
    r = runner.invoke(app, [*args, "--split-file", str(train_list), "--split-file", str(test_list)])
    assert r.exit_code == 2 and "1 videos listed" in r.output and "Traceback" not in r.output
    assert "ds" not in seen
