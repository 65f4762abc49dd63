"""train_from_source: the stage behind `motionscope train`, on keypoints, on videos for an RGB
model, on videos for a keypoint model (extraction first), and the YAML --config merging."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from motionscope.data.synth import write_synthetic_keypoints
from motionscope.errors import DataError, MotionscopeError
from motionscope.train import TrainConfig
from motionscope.train.run import DataOptions, load_configs, resize_for, train_from_source
from motionscope.video.synth import write_synthetic_videos
from tests.helpers import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run") / "videos"
    write_synthetic_videos(root, classes=2, per_class=4, seed=5, size=(64, 64), seconds=0.6, fps=15)
    return root


def test_resize_rule():
    assert resize_for(112) == 128 and resize_for(224) == 256 and resize_for(32) == 37
    assert resize_for(1) == 1  # never below the crop


def test_keypoint_folder_trains_a_keypoint_model(tmp_path, write_sequences):
    data = write_sequences(tmp_path / "d", {"a": 6, "b": 6}, frames=8)
    messages: list[str] = []
    cfg = TrainConfig(model="kpnet", epochs=1, threads=1, progress=False, split="contiguous")
    result = train_from_source(
        data, tmp_path / "run", cfg, options=DataOptions(classes=["b", "a"]),
        on_message=messages.append,
    )  # fmt: skip
    assert result.bundle == tmp_path / "run"
    assert json.loads((tmp_path / "run" / "classes.json").read_text()) == ["b", "a"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["name"] == "kpnet" and config["split"]["strategy"] == "contiguous"
    assert messages == ["12 sequences, 2 classes, layout hands; model kpnet"]


def test_video_folder_trains_an_rgb_model_with_yaml_frames_settings(videos, tmp_path):
    yaml = tmp_path / "rgb.yaml"
    yaml.write_text(
        "model: c3d-lstm-gru\nepochs: 1\nthreads: 1\nprogress: false\n"
        "frames:\n  sampling:\n    frames: 4\n    size: 32\n    mode: segment\n"
    )
    cfg, fcfg = load_configs(yaml, {"seed": 3})
    assert fcfg.sampling == {"frames": 4, "size": 32, "resize": 37, "mode": "segment"}
    result = train_from_source(videos, tmp_path / "run", cfg, frames=fcfg)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["input_kind"] == "frames" and config["model"]["name"] == "c3d-lstm-gru"
    assert config["sampling"]["frames"] == 4 and config["sampling"]["resize"] == 37
    assert config["sampling"]["mode"] == "segment" and config["train"]["seed"] == 3
    assert result.metrics["n_test"] >= 1
    assert not (tmp_path / "run" / "keypoints").exists()  # no MediaPipe for an RGB model


def test_keypoint_model_on_videos_extracts_into_the_cache_first(videos, tmp_path, monkeypatch):
    """The extraction itself is tested in test_extract.py; here: that it is called, where its
    output goes, and that training then reads that output."""
    import motionscope.pose.batch as batch

    calls = []

    def fake_extract(src, out, **kw):
        calls.append((src.path, Path(out)))  # the Source detected once, passed on
        write_synthetic_keypoints(out, classes=2, per_class=6, frames=8, seed=0)
        return "report"

    monkeypatch.setattr(batch, "extract_batch", fake_extract)
    reports, messages = [], []
    cfg = TrainConfig(model="kpnet", epochs=1, threads=1, progress=False)
    train_from_source(videos, tmp_path / "run", cfg, on_message=messages.append,
                      on_extract=reports.append)  # fmt: skip
    assert calls == [(videos, tmp_path / "run" / "keypoints")] and reports == ["report"]
    assert messages[0] == f"{videos} holds videos: extracting keypoints into {calls[0][1]}"
    assert "layout holistic" in messages[1]
    calls.clear()
    cache = tmp_path / "elsewhere"
    train_from_source(videos, tmp_path / "run2", cfg, options=DataOptions(cache=cache, workers=1))
    assert calls == [(videos, cache)]


def test_wrong_data_for_the_model_is_a_clear_error(videos, tmp_path, write_sequences):
    kp = write_sequences(tmp_path / "kp", {"a": 3, "b": 3})
    with pytest.raises(DataError, match=r"kp holds no videos .*this model reads frames"):
        train_from_source(kp, tmp_path / "r", TrainConfig(model="c3d-lstm-gru"))
    one = next(videos.glob("*/*.mp4"))
    with pytest.raises(DataError, match=r"mp4 is a video file, not a dataset; this model reads"):
        train_from_source(one, tmp_path / "r", TrainConfig(model="c3d-lstm-gru"))
    np.save(tmp_path / "one.npy", np.zeros((4, 126)))
    with pytest.raises(DataError, match="one.npy is a keypoint .npy file, not a dataset"):
        train_from_source(tmp_path / "one.npy", tmp_path / "r", TrainConfig(model="kpnet"))


def test_load_configs_precedence_and_errors(tmp_path):
    yaml = tmp_path / "c.yaml"
    yaml.write_text(
        "model: cnn-lstm\nlr: 0.01\nframes:\n  finetune_blocks: 2\n  cache_views: 3\n"
        "  sampling: {size: 64, resize: 80, frames: 8}\n"
    )
    # given values win, values at their defaults do not override the file
    cfg, fcfg = load_configs(
        yaml, {"model": "kpnet", "lr": 0.5, "seed": 0},
        {"finetune_blocks": 0, "cache_views": 2, "sampling": {"frames": 4}},
    )  # fmt: skip
    assert cfg.model == "cnn-lstm" and cfg.lr == 0.5
    assert fcfg.finetune_blocks == 2 and fcfg.cache_views == 2
    assert fcfg.sampling == {"size": 64, "resize": 80, "frames": 4}
    # without a file: what is given
    cfg, fcfg = load_configs(None, {"model": "r2plus1d"}, {"sampling": {"size": 48}})
    assert cfg.model == "r2plus1d" and fcfg.sampling == {"size": 48, "resize": 55}
    for text, match in (
        ("modle: kpnet\n", r"c.yaml: unknown settings \['modle'\]"),
        ("frames:\n  cache_veiws: 2\n", r"c.yaml: frames: unknown settings \['cache_veiws'\]"),
        ("frames:\n  sampling: {fps: 3}\n", r"frames.sampling: unknown settings \['fps'\]"),
        ("frames: 3\n", "frames: must be a mapping"),
        ("- a\n", "must hold a mapping"),
        ("a: [\n", "not valid YAML"),
    ):
        yaml.write_text(text)
        with pytest.raises(MotionscopeError, match=match):
            load_configs(yaml)
    with pytest.raises(MotionscopeError, match="finetune-blocks"):
        load_configs(None, frames={"finetune_blocks": 99})


def test_cli_reads_the_frames_section(videos, tmp_path):
    from motionscope.cli import app

    yaml = tmp_path / "rgb.yaml"
    yaml.write_text("epochs: 1\nframes:\n  sampling: {frames: 4, size: 32}\n")
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", str(videos), "--out", str(run), "--model",
                                 "c3d-lstm-gru", "--config", str(yaml), "--clip-frames", "3",
                                 "--threads", "1", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    sampling = json.loads((run / "config.json").read_text())["sampling"]
    assert sampling["frames"] == 3 and sampling["size"] == 32  # the option wins over the file
    assert "8 sequences, 2 classes, videos; model c3d-lstm-gru" in r.output
