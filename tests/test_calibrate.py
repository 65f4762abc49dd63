"""Calibration: temperature scaling, the unknown threshold, and how the Recognizer uses them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import motionscope
from motionscope.cli import app
from motionscope.data.synth import synth_sequence
from motionscope.errors import DataError
from motionscope.infer.backend import softmax
from motionscope.train.calibrate import (
    T_MIN,
    calibrate,
    ece,
    fit_temperature,
    nll,
    stand_in_unknown,
    threshold_rule,
    unknown_threshold,
)
from tests.helpers import train_kpnet_bundle


def _logits_with_temperature(t_true: float, n: int = 4000, classes: int = 5, seed: int = 0):
    """Logits whose labels were drawn from ``softmax(logits / t_true)``: ``t_true`` is the
    temperature that calibrates them."""
    rng = np.random.default_rng(seed)
    calibrated = rng.normal(0.0, 2.5, size=(n, classes))
    p = np.exp(calibrated - calibrated.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in p])
    return calibrated * t_true, labels


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(t_true):
    logits, labels = _logits_with_temperature(t_true)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(t_true, rel=0.1)
    # the fitted temperature is (near) the NLL minimum
    assert nll(logits, labels, t) <= nll(logits, labels, t * 1.2)
    assert nll(logits, labels, t) <= nll(logits, labels, t / 1.2)


def test_calibrate_lowers_nll_and_ece_of_overconfident_logits():
    logits, labels = _logits_with_temperature(3.0, seed=1)
    cal = calibrate(logits, labels)
    assert cal["temperature"] == pytest.approx(3.0, rel=0.1)
    assert cal["val_nll_after"] < cal["val_nll_before"]
    assert cal["val_ece_after"] < cal["val_ece_before"]
    assert cal["n_val"] == len(labels)
    assert 0.0 < cal["unknown_threshold"] < 1.0
    assert set(cal) >= {"temperature", "unknown_threshold", "method", "val_nll_before"}


def test_separable_validation_keeps_a_finite_temperature():
    # every validation sample right with a big margin: the bare NLL would push T to 0
    logits = np.eye(4)[np.arange(40) % 4] * 6.0
    labels = np.arange(40) % 4
    t = fit_temperature(logits, labels)
    assert t > T_MIN * 2
    assert fit_temperature(logits, labels, prior=False) < 2 * T_MIN  # without the prior


def test_unknown_threshold_keeps_95_percent_of_correct_predictions():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=1000)
    labels = np.where(rng.random(1000) < 0.7, probs.argmax(1), rng.integers(0, 4, 1000))
    th = unknown_threshold(probs, labels, keep=0.95)
    correct = probs.argmax(1) == labels
    top = probs.max(1)[correct]
    assert (top >= th).mean() >= 0.95
    assert (top >= np.nextafter(th, 1.0)).mean() < 0.95  # the highest such threshold
    assert unknown_threshold(probs, (probs.argmax(1) + 1) % 4) is None  # nothing correct


def test_threshold_rule_is_the_log_odds_midpoint_capped_by_the_known_quantile():
    rng = np.random.default_rng(4)  # a confident model: the true class's logit stands out
    labels = rng.integers(0, 5, 600)
    logits = rng.normal(0.0, 0.5, (600, 5))
    logits[np.arange(600), labels] += 5.0
    rule = threshold_rule(logits, labels, 1.0)
    known, other, th = rule["known"], rule["stand_in_unknown"], rule["threshold"]
    assert known == pytest.approx(unknown_threshold(softmax(logits), labels))
    # the stand-in: the softmax without the true class
    row = np.delete(logits[0], labels[0])
    assert stand_in_unknown(logits, labels, 1.0)[0] == pytest.approx(softmax(row[None]).max())
    assert other < known
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert logit(th) == pytest.approx((logit(known) + logit(other)) / 2)
    assert other < th < known
    assert calibrate(logits, labels)["unknown_threshold"] == pytest.approx(
        threshold_rule(logits, labels, calibrate(logits, labels)["temperature"])["threshold"],
        abs=1e-6,
    )
    # two classes: removing the true class leaves a sure "other", the rule keeps the quantile
    two = np.stack([logits[:, 0], logits[:, 1]], axis=1)
    y2 = (logits[:, 1] > logits[:, 0]).astype(int)
    rule2 = threshold_rule(two, y2, 1.0)
    assert rule2["stand_in_unknown"] == 1.0 and rule2["threshold"] == rule2["known"]


def test_ece_is_zero_for_perfectly_calibrated_bins():
    probs = np.array([[1.0, 0.0]] * 10)
    assert ece(probs, np.zeros(10, int)) == 0.0
    assert ece(probs, np.ones(10, int)) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# The bundle and the Recognizer
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cal")
    return train_kpnet_bundle(root, classes=3, per_class=10, frames=16, seed=2, epochs=3)


def _clips(n=4):
    rng = np.random.default_rng(11)
    return [synth_sequence(a, 16, rng) for a in ("wave", "clap", "raise_arms", "squat")[:n]]


def test_train_stores_calibration_and_load_applies_it(run):
    cal = json.loads((run / "config.json").read_text())["calibration"]
    assert cal["temperature"] > 0 and cal["n_val"] > 0
    rec = motionscope.load(run)
    assert rec.temperature == pytest.approx(cal["temperature"])
    assert rec.unknown_threshold == pytest.approx(cal["unknown_threshold"] or 0.0)
    # probabilities are softmax(logits / T)
    inputs = rec.pre.batch(_clips())
    logits = rec.backend.logits(inputs)
    np.testing.assert_allclose(
        rec.probabilities_of_inputs(inputs), softmax(logits, cal["temperature"]), atol=1e-6
    )


def test_below_threshold_is_unknown_with_the_real_top_k(run):
    clips = _clips()
    plain = motionscope.load(run, unknown_threshold=0)  # 0 disables
    assert plain.unknown_threshold == 0.0
    base = plain.predict_many(clips)
    assert all(not p.unknown and p.label in plain.classes for p in base)
    # a threshold between the lowest and the highest confidence splits the clips
    confs = sorted(p.confidence for p in base)
    cut = (confs[0] + confs[-1]) / 2
    rec = motionscope.load(run, unknown_threshold=cut)
    for b, p in zip(base, rec.predict_many(clips), strict=True):
        assert p.unknown == (b.confidence < cut)
        assert p.label == ("unknown" if b.confidence < cut else b.label)
        assert p.confidence == pytest.approx(b.confidence)  # the top calibrated probability
        assert p.top_k == b.top_k  # the real classes, unchanged
        assert p.top_k[0][0] in rec.classes
        d = p.to_dict()
        assert d["unknown"] == p.unknown and d["label"] == p.label
    # a threshold of 1 makes everything unknown
    always = motionscope.load(run, unknown_threshold=1.0)
    assert all(p.label == "unknown" for p in always.predict_many(clips))
    with pytest.raises(DataError, match="unknown threshold"):
        motionscope.load(run, unknown_threshold=1.5)


def test_bundle_without_calibration_has_no_threshold(run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run, old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["calibration"]
    (old / "config.json").write_text(json.dumps(cfg))
    rec = motionscope.load(old)
    assert rec.temperature == 1.0 and rec.unknown_threshold == 0.0
    p = rec.predict(_clips(1)[0])
    assert not p.unknown and p.label in rec.classes
    logits = rec.backend.logits(rec.pre.batch(_clips(1)))
    assert p.confidence == pytest.approx(float(softmax(logits).max()), abs=1e-6)


def test_cli_predict_unknown_threshold(run, tmp_path):
    paths = []
    for i, clip in enumerate(_clips(2)):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], clip)
    runner = CliRunner()
    r = runner.invoke(app, ["predict", str(run), *map(str, paths), "--json",
                            "--unknown-threshold", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [row["label"] for row in rows] == ["unknown", "unknown"]
    assert all(row["unknown"] and row["top_k"][0]["label"] != "unknown" for row in rows)
    r = runner.invoke(app, ["predict", str(run), *map(str, paths), "--json",
                            "--unknown-threshold", "0"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert all(not json.loads(line)["unknown"] for line in r.output.splitlines())
    r = runner.invoke(app, ["predict", str(run), str(paths[0]), "--unknown-threshold", "2"])
    assert r.exit_code == 2
