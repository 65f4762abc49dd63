"""Prediction straight from video: the Recognizer extracts Holistic keypoints itself."""

from __future__ import annotations

import numpy as np
import pytest

import motionscope
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.errors import DataError
from motionscope.keypoints.layout import HOLISTIC, POSE_HANDS, POSE_ONLY, convert, generic
from motionscope.train import TrainConfig, train
from tests.test_extract import cartoon_video, colour_frames, write_video


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pv")
    write_synthetic_keypoints(root / "data", classes=3, per_class=10, frames=16, seed=1)
    ds = load_keypoint_dataset(root / "data")
    train(ds, root / "run", TrainConfig(model="kpnet", epochs=2, progress=False))
    return root / "run"


def test_predict_video_file_and_frame_folder(run, tmp_path):
    video = cartoon_video(tmp_path / "wave.mp4", n=20)
    rec = motionscope.load(run, unknown_threshold=0)  # class labels, never "unknown"
    try:
        p = rec.predict(video)
        assert p.label in rec.classes and 0 <= p.confidence <= 1
        assert p.source == str(video)
        # the same frames as image files give the same keypoints and prediction
        import av

        folder = tmp_path / "frames"
        folder.mkdir()
        with av.open(str(video)) as c:
            for i, f in enumerate(c.decode(video=0)):
                f.to_image().save(folder / f"{i}.png")
        q = rec.predict(folder)
        assert q.label == p.label
    finally:
        rec.close()


def test_video_without_person_is_a_clear_error(run, tmp_path):
    empty = write_video(tmp_path / "empty.mp4", colour_frames(10))
    rec = motionscope.load(run)
    with pytest.raises(DataError, match="no person detected in .*empty.mp4"):
        rec.predict(empty)
    rec.close()


def test_convert_keeps_the_named_blocks():
    x = np.arange(2 * 1662, dtype=np.float32).reshape(2, 1662)
    y = convert(x, HOLISTIC, POSE_HANDS)
    assert y.shape == (2, 258)
    np.testing.assert_array_equal(y[:, :132], x[:, :132])
    np.testing.assert_array_equal(y[:, 132:], x[:, 1536:])
    assert convert(x, HOLISTIC, HOLISTIC) is x
    with pytest.raises(DataError, match="no face"):
        convert(np.zeros((1, 132), np.float32), POSE_ONLY, HOLISTIC)
    with pytest.raises(DataError):
        convert(x, HOLISTIC, generic(4))


def test_train_on_a_folder_of_videos_extracts_through_the_cache(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app
    from tests.test_extract import cartoon

    videos = tmp_path / "videos"
    for c in ("wave", "still"):
        (videos / c).mkdir(parents=True)
    for i in range(4):
        cartoon_video(videos / "wave" / f"w{i}.mp4", n=10)
        write_video(videos / "still" / f"s{i}.avi", [cartoon(0, 10)] * 10, codec="mpeg4")
    out = tmp_path / "run"
    args = ["train", str(videos), "--out", str(out), "--model", "seed-lstm", "--epochs", "1",
            "--workers", "1", "--no-progress"]  # fmt: skip
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    cache = out / "keypoints"
    assert sorted(p.name for p in (cache / "wave").glob("*.npy")) == [f"w{i}.npy" for i in range(4)]
    assert (out / "model.safetensors").is_file()
    stamp = (cache / "wave" / "w0.npy").stat().st_mtime_ns
    r = CliRunner().invoke(app, args)  # retrain: the cache survives and is reused
    assert r.exit_code == 0, r.output
    assert (cache / "wave" / "w0.npy").stat().st_mtime_ns == stamp
    rec = motionscope.load(out, unknown_threshold=0)  # a class label, never "unknown"
    try:
        assert rec.predict(videos / "still" / "s0.avi").label in ("wave", "still")
    finally:
        rec.close()
