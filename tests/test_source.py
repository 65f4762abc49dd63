"""detect_source: every kind of path motionscope reads is recognised once; errors name the path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.data.source import Source, SourceKind, detect_source
from motionscope.errors import DataError


def touch(path, data: bytes = b"\0"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def frame_images(folder, n=3):
    for i in range(n):
        touch(folder / f"{i}.png")
    return folder


def kind(path) -> SourceKind:
    return detect_source(path).kind


def test_keypoint_sequence_folders_at_any_depth(tmp_path, write_sequences):
    flat = write_sequences(tmp_path / "flat", {"a": 2, "b": 2})
    src = detect_source(flat)
    assert src.kind is SourceKind.SEQUENCES and src.media == "keypoints"
    assert src.is_dataset and not src.is_clip and not src.holds_videos
    assert src.keypoint_format == "sequences"
    deep = tmp_path / "deep"
    (deep / "a" / "subject1" / "take2").mkdir(parents=True)
    np.save(deep / "a" / "subject1" / "take2" / "0.npy", np.zeros((4, 6)))
    assert kind(deep) is SourceKind.SEQUENCES


def test_per_frame_folders_mp_data(tmp_path, write_frames):
    root = write_frames(tmp_path / "MP_Data", {"hello": 2, "thanks": 1})
    src = detect_source(root)
    assert src.kind is SourceKind.FRAMES and src.keypoint_format == "frames"
    # one sequence folder of (D,) frames is one clip, not a dataset
    seq = detect_source(root / "hello" / "0")
    assert seq.kind is SourceKind.NPY_FRAMES and seq.is_clip and not seq.is_dataset
    # deeper: DATA/<class>/<subject>/<seq>/<frame>.npy
    deep = tmp_path / "deep"
    for t in range(3):
        (deep / "a" / "s1" / "0").mkdir(parents=True, exist_ok=True)
        np.save(deep / "a" / "s1" / "0" / f"{t}.npy", np.zeros(6))
    assert kind(deep) is SourceKind.FRAMES


def test_video_class_folders_frame_folders_and_single_video(tmp_path):
    ucf = tmp_path / "ucf"
    touch(ucf / "Archery" / "v_Archery_g01_c01.avi")
    touch(ucf / "ucfTrainTestlist" / "classInd.txt")  # a non-class folder beside the classes
    src = detect_source(ucf)
    assert src.kind is SourceKind.VIDEOS and src.holds_videos and src.is_dataset
    assert src.keypoint_format is None
    ucf11 = tmp_path / "ucf11"
    touch(ucf11 / "biking" / "v_biking_01" / "v_biking_01_01.mpg")
    assert kind(ucf11) is SourceKind.VIDEOS
    kfall = tmp_path / "kfall"
    frame_images(kfall / "fall" / "S01T01")  # one folder of frames per video
    assert kind(kfall) is SourceKind.VIDEOS
    one = detect_source(frame_images(tmp_path / "frames"))
    assert one.kind is SourceKind.FRAME_IMAGES and one.is_clip and one.holds_videos
    clip = detect_source(touch(tmp_path / "clip.MP4"))
    assert clip.kind is SourceKind.VIDEO and clip.is_clip and clip.holds_videos
    # videos win over .npy files beside them (an extraction next to its videos)
    mixed = tmp_path / "mixed"
    touch(mixed / "a" / "0.mp4")
    np.save(mixed / "a" / "0.npy", np.zeros((3, 6)))
    assert kind(mixed) is SourceKind.VIDEOS


def test_files_npy_manifest_ts(tmp_path):
    np.save(tmp_path / "seq.npy", np.zeros((5, 126)))
    assert kind(tmp_path / "seq.npy") is SourceKind.NPY
    ts = touch(tmp_path / "data.ts", b"@problemName x\n@data\n")
    assert detect_source(ts).keypoint_format == "ts"
    manifest = tmp_path / "kp.csv"
    manifest.write_text("path,label\nseq.npy,a\n")
    src = detect_source(manifest)
    assert src.kind is SourceKind.MANIFEST and src.media == "keypoints"
    assert src.keypoint_format == "manifest"
    touch(tmp_path / "videos" / "wave" / "0.mp4")
    for rows in ("path,label\nvideos/wave/0.mp4,wave\n", "path,label\nvideos/wave,\n"):
        (tmp_path / "v.csv").write_text(rows)
        src = detect_source(tmp_path / "v.csv")
        assert src.media == "videos" and src.holds_videos and src.keypoint_format is None
    jsonl = tmp_path / "v.jsonl"
    rows = [{"path": "missing.mp4", "label": "x"}, {"path": "videos/wave/0.mp4", "label": "w"}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert detect_source(jsonl).holds_videos  # the first row that exists decides
    assert detect_source(src) is src  # a Source passes through


def test_manifest_is_read_only_when_its_media_is_asked(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("no header here\n")
    src = detect_source(bad)  # no reading yet
    assert src.kind is SourceKind.MANIFEST
    with pytest.raises(DataError, match="bad.csv.*'path' column"):
        _ = src.media


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match=r"missing does not exist"):
        detect_source(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty is empty: no class folders"):
        detect_source(tmp_path / "empty")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    (tmp_path / "classes" / "b").mkdir()
    with pytest.raises(DataError, match=r"classes: its class folders \(a, b\) hold no videos"):
        detect_source(tmp_path / "classes")
    with pytest.raises(DataError, match=r"notes.txt: motionscope does not read .txt files"):
        detect_source(touch(tmp_path / "notes.txt"))
    loose = tmp_path / "loose"
    loose.mkdir()
    np.save(loose / "x.npy", np.zeros((3, 6)))
    with pytest.raises(DataError, match=r"loose holds .npy sequences directly"):
        detect_source(loose)
    hidden = tmp_path / "hidden"
    touch(hidden / ".a" / "0.mp4")  # hidden folders are not classes
    touch(hidden / "._0.npy")
    with pytest.raises(DataError, match="hidden is empty"):
        detect_source(hidden)


def test_a_damaged_npy_that_looks_like_a_zip_is_named_not_raised(tmp_path):
    """A .npy starting with a ZIP header (an .npz renamed, a broken copy) used to escape as
    zipfile.BadZipFile from detection; now detection goes on and the loader names the file."""
    from motionscope.data.loaders import load_keypoint_dataset

    touch(tmp_path / "clap" / "0.npy", b"PK\x03\x04garbage")  # the first .npy detection reads
    np.save(tmp_path / "clap" / "1.npy", np.zeros((4, 6), np.float32))
    (tmp_path / "wave").mkdir()
    np.save(tmp_path / "wave" / "0.npy", np.zeros((4, 6), np.float32))
    assert kind(tmp_path) is SourceKind.SEQUENCES
    with pytest.raises(DataError, match=r"clap/0.npy: it is a ZIP archive"):
        load_keypoint_dataset(tmp_path, progress=False)


def test_describe_says_what_it_is(tmp_path):
    src = Source(tmp_path / "x.csv", SourceKind.MANIFEST, "videos")
    assert src.describe() == f"{tmp_path / 'x.csv'} (a manifest (.csv/.jsonl) of videos)"


def test_extraction_discovers_the_videos_of_a_detected_source(tmp_path):
    from motionscope.pose.batch import discover

    touch(tmp_path / "v" / "wave" / "0.mp4")
    frame_images(tmp_path / "v" / "clap" / "1")
    src = detect_source(tmp_path / "v")
    assert [j.rel.as_posix() for j in discover(src)] == ["clap/1", "wave/0"]
    assert [j.rel.as_posix() for j in discover(tmp_path / "v")] == ["clap/1", "wave/0"]
    with pytest.raises(DataError, match="no videos .* class folders of keypoint sequences"):
        np.save(touch(tmp_path / "k" / "a" / "0.npy"), np.zeros((3, 6)))
        discover(detect_source(tmp_path / "k"))
