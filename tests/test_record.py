"""``motionscope record`` with a video file standing in for the camera, headless."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from motionscope.cli import app
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.pose.record import default_video_dir, next_sequence_number
from motionscope.video.decode import probe, read_frames
from motionscope.video.synth import render_clip, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """16 frames at 10 fps, 192x144."""
    path = tmp_path_factory.mktemp("rec") / "person.mp4"
    write_video(path, render_clip("wave", np.random.default_rng(4), (192, 144), 16, fps=10), 10)
    return path


def record(out: Path, clip: Path, *args: str):
    return CliRunner().invoke(
        app, ["record", str(out), "--source", str(clip), "--no-display", *args]
    )


def sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def test_record_writes_a_loadable_dataset_and_resumes_numbering(clip, tmp_path):
    out = tmp_path / "mydata"
    base = ["--sequences", "2", "--frames", "5", "--pause", "0"]
    r = record(out, clip, "--action", "wave", *base, "--save-video")
    assert r.exit_code == 0, r.output
    for n in (0, 1):
        arr = np.load(out / "wave" / f"{n}.npy")
        assert arr.shape == (5, 1662) and arr.dtype == np.float32
        assert sidecar(out / "wave" / f"{n}.npy")["source_frames"] == list(range(5 * n, 5 * n + 5))
    assert arr[:, :132].any()  # MediaPipe found the cartoon person
    # raw clips beside the dataset, not inside it (train OUT would take it for a video set)
    videos = default_video_dir(out) / "wave"
    assert videos == tmp_path / "mydata-videos" / "wave"
    for n in (0, 1):
        info = probe(videos / f"{n}.mp4")
        assert (info.frames, info.width, info.height) == (5, 192, 144)
    first_frames = read_frames(videos / "1.mp4")
    source = read_frames(clip)[5:10].astype(int)
    assert np.abs(first_frames.astype(int) - source).mean() < 4  # unannotated frames 5..9
    assert r.exit_code == 0 and "2 of 2 sequences" in r.output

    assert record(out, clip, "--action", "clap", *base).exit_code == 0
    r = record(out, clip, "--action", "wave", "--sequences", "1", "--frames", "5", "--pause", "0")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (out / "wave").glob("*.npy")) == ["0.npy", "1.npy", "2.npy"]
    assert sorted(p.name for p in (out / "clap").glob("*.npy")) == ["0.npy", "1.npy"]
    # the second run started the source again: #2 holds frames 0..4 like #0
    np.testing.assert_array_equal(np.load(out / "wave" / "2.npy"), np.load(out / "wave" / "0.npy"))

    ds = load_keypoint_dataset(out, progress=False)
    assert sorted(ds.classes) == ["clap", "wave"] and len(ds) == 5
    assert ds.layout.name == "holistic"
    assert not list(out.rglob("*.tmp"))


def test_countdown_runs_on_file_time_and_a_cut_sequence_is_dropped(clip, tmp_path):
    out = tmp_path / "d"
    # 10 fps: a 0.2 s countdown skips 2 frames before each 4-frame sequence: frames 0-1
    # countdown, 2-5 recorded, 6-7 countdown, 8-11 recorded, 12-13 countdown, 14-15 recorded
    # and the source ends: the third sequence has 2 of 4 frames and is not saved
    r = record(out, clip, "--action", "jump", "--sequences", "3", "--frames", "4", "--pause", "0.2")
    assert r.exit_code == 1, r.output
    assert sidecar(out / "jump" / "0.npy")["source_frames"] == [2, 3, 4, 5]
    assert sidecar(out / "jump" / "1.npy")["source_frames"] == [8, 9, 10, 11]
    assert sidecar(out / "jump" / "1.npy")["t"] == pytest.approx([0.8, 0.9, 1.0, 1.1])
    assert sorted(p.name for p in (out / "jump").glob("*.npy")) == ["0.npy", "1.npy"]
    assert "2 of 4 frames" in r.output and "not saved" in r.output
    assert "2 of 3 sequences" in r.output


def test_next_number_and_bad_arguments(clip, tmp_path):
    folder, videos = tmp_path / "a", tmp_path / "v"
    folder.mkdir()
    videos.mkdir()
    assert next_sequence_number(folder, videos) == 0
    np.save(folder / "0.npy", np.zeros((2, 3)))
    (folder / "3").mkdir()  # a per-frame sequence folder
    (folder / "notes.txt").write_text("x")
    (videos / "7.mp4").write_bytes(b"")
    assert next_sequence_number(folder) == 4
    assert next_sequence_number(folder, videos) == 8

    r = record(tmp_path / "o", clip, "--action", "../up", "--pause", "0")
    assert r.exit_code == 2 and "cannot be a folder name" in r.output
    r = record(tmp_path / "o", tmp_path / "nope.mp4", "--action", "wave")
    assert r.exit_code == 2 and "nope.mp4 does not exist" in r.output
    assert not (tmp_path / "o").exists()  # no empty class folder left to break `train`
