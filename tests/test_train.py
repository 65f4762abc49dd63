"""Train -> bundle -> evaluate -> predict, on small synthetic data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import motionscope
from motionscope.bundle import read_bundle
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.errors import BundleError, DataError
from motionscope.evaluate.evaluate import evaluate_bundle
from motionscope.train import TrainConfig, train

METRIC_KEYS = {
    "accuracy", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
    "per_class", "confusion_matrix", "n_test", "split",
}  # fmt: skip


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    write_synthetic_keypoints(out, classes=3, per_class=14, frames=20, seed=3)
    return out


@pytest.fixture(scope="module")
def dataset(synth_dir):
    return load_keypoint_dataset(synth_dir)


def quick(**kw) -> TrainConfig:
    base = dict(model="seed-lstm", epochs=3, progress=False, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def bundle_dir(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    train(dataset, out, quick(model="kpnet", epochs=15))
    return out


def test_bundle_is_complete_and_self_describing(bundle_dir, dataset):
    for name in (
        "model.safetensors",
        "config.json",
        "classes.json",
        "metrics.json",
        "report/curves.png",
        "report/confusion_matrix.png",
        "report/report.md",
        "logs/metrics.csv",
    ):
        assert (bundle_dir / name).is_file(), name
    assert any((bundle_dir / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert not list(bundle_dir.parent.glob(".run.partial"))
    config = json.loads((bundle_dir / "config.json").read_text())
    assert config["model"]["name"] == "kpnet"
    assert config["input_kind"] == "keypoints"
    assert config["preprocessing"]["layout"] == {"name": "holistic", "width": 1662}
    assert config["preprocessing"]["window"] == 20
    assert "features" in config["preprocessing"] and "augment" in config
    assert json.loads((bundle_dir / "classes.json").read_text()) == dataset.classes
    metrics = json.loads((bundle_dir / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == metrics["n_test"]
    assert metrics["n_test"] + config["split"]["n_train"] + config["split"]["n_val"] == 42
    assert np.trace(cm) / cm.sum() == pytest.approx(metrics["accuracy"])
    # the model learnt something on easy synthetic data
    assert metrics["accuracy"] > 0.5


def test_predict_api_and_cli(bundle_dir, synth_dir):
    rec = motionscope.load(bundle_dir, unknown_threshold=0)  # class labels, never "unknown"
    path = synth_dir / "clap" / "0.npy"
    p = rec.predict(path, top_k=2)
    assert p.label in rec.classes and 0.0 <= p.confidence <= 1.0
    assert len(p.top_k) == 2 and p.top_k[0] == (p.label, p.confidence)
    assert p.top_k[0][1] >= p.top_k[1][1]
    arr = np.load(path)
    q = rec.predict(arr)
    assert q.label == p.label and q.confidence == pytest.approx(p.confidence, abs=1e-6)
    # a sequence of another length is resampled to the window
    assert rec.predict(arr[:7]).label in rec.classes
    with pytest.raises(DataError, match="1662"):
        rec.predict(np.zeros((10, 100), np.float32))
    with pytest.raises(DataError, match="NaN"):
        bad = arr.copy()
        bad[2, 5] = np.nan
        rec.predict(bad)
    out = subprocess.run(
        [sys.executable, "-m", "motionscope.cli", "predict", str(bundle_dir), str(path), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    row = json.loads(out.stdout.strip().splitlines()[0])
    assert row["label"] == p.label and row["confidence"] == pytest.approx(p.confidence, abs=1e-5)


def test_evaluate_on_subset_of_classes(bundle_dir, synth_dir, tmp_path):
    subset = tmp_path / "subset"
    (subset / "clap").mkdir(parents=True)
    (subset / "wave").mkdir()
    for i in range(3):
        for c in ("clap", "wave"):
            (subset / c / f"{i}.npy").write_bytes((synth_dir / c / f"{i}.npy").read_bytes())
    m = evaluate_bundle(bundle_dir, subset, tmp_path / "eval", progress=False)
    assert m["n_test"] == 6
    assert (tmp_path / "eval" / "metrics.json").is_file()
    assert (tmp_path / "eval" / "confusion_matrix.png").is_file()
    assert m["per_class"]["raise_arms"]["support"] == 0
    (subset / "jump").mkdir()
    np.save(subset / "jump" / "0.npy", np.load(synth_dir / "clap" / "0.npy"))
    with pytest.raises(DataError, match="jump"):
        evaluate_bundle(bundle_dir, subset, progress=False)


def test_same_seed_same_metrics(dataset, tmp_path):
    a = train(dataset, tmp_path / "a", quick(seed=7)).metrics
    b = train(dataset, tmp_path / "b", quick(seed=7)).metrics
    assert a["confusion_matrix"] == b["confusion_matrix"]
    assert a["macro_f1"] == b["macro_f1"]
    wa = read_bundle(tmp_path / "a").state_dict()
    wb = read_bundle(tmp_path / "b").state_dict()
    assert all(np.array_equal(wa[k].numpy(), wb[k].numpy()) for k in wa)


def test_retrain_replaces_bundle_atomically(dataset, tmp_path):
    out = tmp_path / "run"
    train(dataset, out, quick(epochs=1))
    first = (out / "model.safetensors").read_bytes()
    train(dataset, out, quick(epochs=2, seed=1))
    assert (out / "model.safetensors").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_contiguous_split_holds_out_last_sequences(dataset, tmp_path):
    r = train(dataset, tmp_path / "c", quick(split="contiguous", test_fraction=0.25))
    assert r.metrics["split"] == "contiguous"
    assert r.metrics["n_test"] == 3 * 4  # round(14 * 0.25) per class


def test_kfold_writes_cv_summary(dataset, tmp_path):
    r = train(dataset, tmp_path / "k", quick(split="kfold:3", epochs=2))
    cv = r.metrics["cv"]
    assert len(cv["folds"]) == 3
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["accuracy_mean"] == pytest.approx(np.mean(accs))
    assert cv["accuracy_std"] == pytest.approx(np.std(accs))
    assert {"macro_f1_mean", "macro_f1_std"} <= set(cv)
    assert r.metrics["n_test"] == len(dataset)  # out-of-fold predictions cover every sequence
    assert read_bundle(tmp_path / "k").config.split["n_test"] == 0


def test_class_imbalance_is_weighted(tmp_path, dataset):
    # drop most of one class: training still works and reports per-class support
    keep = [i for i, s in enumerate(dataset.samples) if s.label != "clap" or s.order < 4]
    r = train(dataset.subset(keep), tmp_path / "imb", quick(split="contiguous"))
    assert r.metrics["per_class"]["clap"]["support"] == 1


def test_errors_are_clear(tmp_path, dataset):
    one = dataset.select_classes(["clap"])
    with pytest.raises(DataError, match="at least 2 classes"):
        train(one, tmp_path / "x", quick())
    with pytest.raises(motionscope.errors.MotionscopeError, match="unknown model"):
        train(dataset, tmp_path / "x", quick(model="nope"))
    with pytest.raises(DataError, match="kfold"):
        train(dataset, tmp_path / "x", quick(split="kfold:1"))
    with pytest.raises(BundleError, match="not a bundle"):
        motionscope.load(tmp_path / "missing")
    assert not (tmp_path / "x").exists()


def test_damaged_bundle_is_reported(bundle_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("model.safetensors", "classes.json"):
        (broken / f).write_bytes((bundle_dir / f).read_bytes())
    with pytest.raises(BundleError, match="config.json is missing"):
        motionscope.load(broken)
    cfg = json.loads((bundle_dir / "config.json").read_text())
    cfg["format_version"] = 99
    (broken / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(BundleError, match="version"):
        motionscope.load(broken)


@pytest.mark.slow
def test_ddp_two_cpu_processes(synth_dir, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run(
        [sys.executable, "-m", "motionscope.cli", "train", str(synth_dir), "--out", str(out),
         "--model", "seed-lstm", "--epochs", "2", "--devices", "2", "--strategy", "ddp",
         "--no-progress"],
        check=True, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["devices"] == 2 and cfg["train"]["strategy"] == "ddp"
    rec = motionscope.load(out, unknown_threshold=0)
    assert rec.predict(synth_dir / "wave" / "1.npy").label in rec.classes


def test_kpnet_trains_sensor_series_with_its_body_free_settings(tmp_path):
    """kpnet's person/camera settings (mixup, 3x64, heavy dropout) lowered the UEA rows, so a
    generic layout (no body) trains with kpnet-v1's settings; the bundle records what was used
    and loads with it."""
    from motionscope.models.registry import get_model_info

    rng = np.random.default_rng(0)
    for c, freq in (("slow", 1.0), ("fast", 3.0)):
        (tmp_path / "series" / c).mkdir(parents=True)
        for i in range(8):
            t = np.linspace(0, 2 * np.pi, 24)[:, None]
            x = np.sin(freq * t + rng.uniform(0, 6, (1, 3))) + rng.normal(0, 0.1, (24, 3))
            np.save(tmp_path / "series" / c / f"{i}.npy", x.astype(np.float32))
    ds = load_keypoint_dataset(tmp_path / "series", layout="generic", progress=False)
    info = get_model_info("kpnet")
    body_free = info.for_layout(ds.layout)
    assert body_free.hparams == info.generic["hparams"] != info.hparams
    assert get_model_info("kpnet-v1").for_layout(ds.layout) is get_model_info("kpnet-v1")
    train(ds, tmp_path / "run", quick(model="kpnet", epochs=2, force=True))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["hparams"] == info.generic["hparams"]
    assert config["optim"]["mixup"] == 0.0
    assert config["augment"]["yaw_deg"] == 0.0
    rec = motionscope.load(tmp_path / "run")
    assert rec.predict(ds.samples[0].data).label in ("slow", "fast")


def test_kpnet_keeps_its_people_settings_on_mediapipe_layouts(dataset, bundle_dir):
    from motionscope.models.registry import get_model_info

    info = get_model_info("kpnet")
    assert info.for_layout(dataset.layout) is info
    config = json.loads((bundle_dir / "config.json").read_text())
    assert config["model"]["hparams"] == info.hparams
    assert config["optim"]["mixup"] == info.optim["mixup"] > 0
