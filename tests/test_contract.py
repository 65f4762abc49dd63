"""The shared contract of every registered model: train tiny -> bundle -> load -> predict ->
evaluate -> serve ``/predict`` and ``/v1/predict`` -> export ONNX -> predict with ONNX Runtime.

Parametrised over :func:`motionscope.models.list_models`, so a new architecture cannot skip a
path. Data and settings are tiny (plumbing, not accuracy): synthetic holistic keypoints for
keypoint models, 64x64 synthetic videos sampled to 8 frames of 32x32 for RGB models.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import motionscope
from motionscope.bundle import read_bundle
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.data.videos import load_video_dataset
from motionscope.evaluate.evaluate import evaluate_bundle
from motionscope.infer import LOADERS
from motionscope.kinds import InputKind
from motionscope.models import get_model_info, list_models
from motionscope.train import TrainConfig, train
from motionscope.train.fit_frames import FramesConfig, train_frames
from motionscope.video.synth import render_clip, sample_rng, write_synthetic_videos, write_video
from tests.helpers import torch_threads

SAMPLING = {"frames": 8, "size": 32, "resize": 40}
MODELS = [info.name for info in list_models()]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contract")
    write_synthetic_keypoints(root / "keypoints", classes=3, per_class=8, frames=8, seed=2)
    write_synthetic_videos(
        root / "videos", classes=3, per_class=5, seed=3, size=(64, 64), seconds=0.6, fps=15
    )
    clip = root / "clip.mp4"
    write_video(clip, render_clip("wave", sample_rng(0, 0, 0), (256, 192), 10, fps=15), 15)
    return {"keypoints": root / "keypoints", "videos": root / "videos", "clip": clip}


def train_tiny(name: str, data: dict[str, Path], out: Path) -> Path:
    cfg = TrainConfig(model=name, epochs=1, threads=1, progress=False)
    if get_model_info(name).input_kind == InputKind.FRAMES.value:
        ds = load_video_dataset(data["videos"])
        train_frames(ds, out, cfg, FramesConfig(sampling=SAMPLING, cache_views=1))
    else:
        train(load_keypoint_dataset(data["keypoints"], progress=False), out, cfg)
    return out


def test_every_input_kind_has_a_loader():
    assert set(LOADERS) == set(InputKind)
    assert {info.input_kind for info in list_models()} <= {k.value for k in InputKind}


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_model_contract(name, data, tmp_path):
    run = train_tiny(name, data, tmp_path / name)
    bundle = read_bundle(run)
    assert bundle.config.model.name == name
    assert bundle.config.input_kind.value == get_model_info(name).input_kind
    kind = bundle.config.input_kind
    rec = motionscope.load(run)
    assert rec.kind is kind and rec.classes == bundle.classes

    # predict: a file of the model's kind and a video (every model takes video)
    p = rec.predict(data["clip"], top_k=2)
    assert p.label in rec.classes or p.unknown
    assert len(p.top_k) == 2 and 0.0 <= p.confidence <= 1.0
    source = data["keypoints"] if kind is InputKind.KEYPOINTS else data["videos"]
    metrics = evaluate_bundle(run, source, progress=False)
    assert metrics["n_test"] > 0 and 0.0 <= metrics["accuracy"] <= 1.0

    # serve: the seed contract on /predict, segments on /v1/predict
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from motionscope.serve import ServeSettings, create_app

    app = create_app(run, ServeSettings(tmp_dir=tmp_path / "uploads"))
    with TestClient(app) as client:
        with open(data["clip"], "rb") as fh:
            r = client.post("/predict", files={"video": ("clip.mp4", fh, "video/mp4")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"success", "prediction"}  # the seed contract, nothing added
        assert body["success"] is True and set(body["prediction"]) == {"action", "confidence"}
        assert body["prediction"]["action"] in [*rec.classes, "unknown"]
        assert 0.0 <= body["prediction"]["confidence"] <= 100.0
        with open(data["clip"], "rb") as fh:
            r = client.post(
                "/v1/predict?segments=true&top_k=2&progress_id=contract01",
                files={"video": ("clip.mp4", fh, "video/mp4")},
            )
        assert r.status_code == 200, r.text
        v1 = r.json()
        assert v1["segments"] and v1["segments"][0]["start_s"] == 0.0
        assert v1["best_label"] in rec.classes  # shown as "unknown (best: ...)" when unsure
        assert client.get("/v1/progress/contract01").status_code == 404  # finished, cleared
        assert v1["label"] == rec.predict(data["clip"]).label
        model = client.get("/v1/model").json()
        assert model["input"]["kind"] == kind.value
        assert model["input"]["window"] == bundle.config.window

    # ONNX: exported, and the ONNX Runtime recognizer agrees with PyTorch
    pytest.importorskip("onnxruntime")
    from motionscope.export import export_onnx

    export_onnx(run)
    assert read_bundle(run).config.export["files"]["onnx"] == "model.onnx"
    onnx = motionscope.load(run, backend="onnx")
    item = data["clip"]
    np.testing.assert_allclose(
        onnx.probabilities([item]), rec.probabilities([item]), atol=1e-3, rtol=0
    )
    config = json.loads((run / "config.json").read_text())
    assert config["format_version"] == 2
