"""The command line: every command has a --help that explains it; errors are one clean line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from motionscope.cli import app

runner = CliRunner()

COMMANDS = [[], ["train"], ["evaluate"], ["predict"], ["models"], ["synth"],
            ["synth", "keypoints"], ["synth", "videos"], ["demo"], ["extract"]]  # fmt: skip


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help(cmd):
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output
    assert len(r.output.strip().splitlines()) > 3


def test_models_lists_registered_with_parameter_counts():
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0
    assert "seed-lstm" in r.output and "kpnet" in r.output
    assert "596,906" in r.output  # the Keras seed network's parameter count for 1662 -> 10


def test_train_error_is_one_line_with_exit_2(tmp_path):
    (tmp_path / "data" / "a").mkdir(parents=True)
    r = runner.invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2
    assert "error:" in r.output and "Traceback" not in r.output


def test_synth_then_predict_with_missing_bundle(tmp_path):
    r = runner.invoke(app, ["synth", "keypoints", str(tmp_path / "d"), "--classes", "2",
                            "--per-class", "2", "--frames", "5"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "d").glob("*/*.npy"))) == 4
    r = runner.invoke(app, ["predict", str(tmp_path / "nope"), str(tmp_path / "d")])
    assert r.exit_code == 2 and "not a bundle" in r.output


def test_train_with_yaml_config_and_cli_override(tmp_path):
    data = tmp_path / "d"
    r = runner.invoke(app, ["synth", "keypoints", str(data), "--classes", "2", "--per-class",
                            "6", "--frames", "8"])  # fmt: skip
    assert r.exit_code == 0, r.output
    cfg = tmp_path / "train.yaml"
    cfg.write_text("model: seed-lstm\nepochs: 1\nsplit: contiguous\noptim:\n  lr: 0.002\n")
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(data), "--out", str(run), "--config", str(cfg),
                            "--seed", "5", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["name"] == "seed-lstm"
    assert saved["optim"]["lr"] == 0.002 and saved["optim"]["max_epochs"] == 1
    assert saved["split"]["strategy"] == "contiguous"
    assert saved["train"]["seed"] == 5  # the command line wins over the file
    cfg.write_text("modle: kpnet\n")
    r = runner.invoke(app, ["train", str(data), "--out", str(run), "--config", str(cfg)])
    assert r.exit_code == 2 and "modle" in r.output


# ---------------------------------------------------------------------------------------------
# demo (tiny sizes; `make demo` runs the defaults)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_on_videos_extracts_trains_evaluates_and_predicts(tmp_path):
    pytest.importorskip("mediapipe")
    import numpy as np

    from motionscope.video.synth import VIDEO_ACTIONS

    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--out", str(out), "--classes", "2", "--per-class", "2",
                            "--heldout-per-class", "1", "--seconds", "0.4", "--size", "192x144",
                            "--epochs", "2", "--workers", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    actions = sorted(VIDEO_ACTIONS[:2])
    for part, n in (("train", 2), ("heldout", 1)):
        for action in actions:
            clips = sorted((out / "videos" / part / action).glob("*.mp4"))
            assert len(clips) == n
            for clip in clips:  # every video extracted to a (T, 1662) sequence
                kp = np.load(out / "keypoints" / part / action / f"{clip.stem}.npy")
                assert kp.shape == (6, 1662) and kp[:, :132].any()
    assert json.loads((out / "run" / "classes.json").read_text()) == actions
    heldout = json.loads((out / "eval" / "metrics.json").read_text())
    assert heldout["n_test"] == 2  # the held-out videos, not the training split
    for action in actions:  # predicted straight from the held-out video files
        assert f"videos/heldout/{action}/0.mp4" in r.output
    assert "pose detection" in r.output and "held-out accuracy" in r.output


def test_demo_on_synthetic_keypoints(tmp_path):
    out = tmp_path / "demo"
    args = ["--classes", "2", "--per-class", "6", "--heldout-per-class", "2", "--epochs", "2"]
    r = runner.invoke(app, ["demo", "--keypoints", "--out", str(out), *args])
    assert r.exit_code == 0, r.output
    assert len(list((out / "data").glob("*/*.npy"))) == 12
    assert json.loads((out / "eval" / "metrics.json").read_text())["n_test"] == 4
    assert not (out / "videos").exists()  # no video, no MediaPipe
    assert "held-out accuracy" in r.output


def test_demo_bad_size_is_one_line_error(tmp_path):
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--size", "big"])
    assert r.exit_code == 2
    assert "--size must look like" in r.output and "Traceback" not in r.output


def test_demo_with_an_rgb_model_trains_on_the_videos(tmp_path):
    """An RGB model skips MediaPipe: videos -> train_from_source -> evaluate -> predict."""
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--out", str(out), "--model", "c3d-lstm-gru", "--classes", "2",
                            "--per-class", "3", "--heldout-per-class", "1", "--seconds", "0.6",
                            "--size", "64x64", "--epochs", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert not (out / "keypoints").exists()
    config = json.loads((out / "run" / "config.json").read_text())
    assert config["input_kind"] == "frames" and config["model"]["name"] == "c3d-lstm-gru"
    assert json.loads((out / "eval" / "metrics.json").read_text())["n_test"] == 2
    assert "videos/heldout/clap/0.mp4" in r.output
    r = runner.invoke(app, ["demo", "--keypoints", "--model", "cnn-lstm", "--out", str(out)])
    assert r.exit_code == 2 and "cnn-lstm reads video frames" in r.output
