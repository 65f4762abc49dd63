"""The typed bundle: one schema validates ``config.json``, ``classes.json``, ``metrics.json`` and
the weights on load; tampered or damaged bundles stop with one line naming the file and field;
files a bundle names stay inside it; an interrupted publish is repaired; format 1 bundles load.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import motionscope
from motionscope.bundle import (
    BundleConfig,
    prepare_staging,
    read_bundle,
    staging_dir,
)
from motionscope.bundle.files import COMPLETE, old_dir
from motionscope.cli import app
from motionscope.errors import BundleError
from tests.helpers import train_kpnet_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_kpnet_bundle(
        tmp_path_factory.mktemp("bundle"), classes=3, per_class=6, frames=8, seed=4, epochs=1
    )


@pytest.fixture
def run(trained, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    replaced = change(data)  # changes data in place, or returns a whole new (list) document
    path.write_text(json.dumps(replaced if isinstance(replaced, list) else data))


def sequence() -> np.ndarray:
    return np.random.default_rng(0).random((8, 1662)).astype(np.float32)


def test_a_valid_bundle_reads_as_typed_config(run):
    b = read_bundle(run)
    assert isinstance(b.config, BundleConfig)
    assert b.config.input_kind.value == "keypoints" and b.config.model.name == "kpnet-v1"
    assert b.config.window == b.config.preprocessor().window == 8
    assert b.config.calibration.temperature > 0
    assert b.classes == json.loads((run / "classes.json").read_text())
    # what is written is what the schema reads back
    assert BundleConfig.from_dict(b.config.to_dict()) == b.config


CONFIG_TAMPERING = [
    ("window 0", lambda c: c.update(window=0), "'window'"),
    ("window -5", lambda c: c.update(window=-5), "'window'"),
    ("window huge", lambda c: c.update(window=10**9), "'window'"),
    ("no model", lambda c: c.pop("model"), "'model'"),
    ("no preprocessing", lambda c: c.pop("preprocessing"), "'preprocessing'"),
    ("temperature abc", lambda c: c["calibration"].update(temperature="abc"), "temperature"),
    ("temperature -1", lambda c: c["calibration"].update(temperature=-1), "temperature"),
    ("threshold 2", lambda c: c["calibration"].update(unknown_threshold=2), "unknown_threshold"),
    ("kind", lambda c: c.update(input_kind="audio"), "input_kind"),
    ("version", lambda c: c.update(format_version=99), "format version 99"),
    ("hparams type", lambda c: c["model"].update(hparams={"x": {"a": 1}}), "model.hparams.x"),
    ("fps", lambda c: c.update(fps=-3), "'fps'"),
    (
        "width 200000",
        lambda c: c["preprocessing"]["layout"].update(name="generic200000", width=200000),
        "200000",
    ),
    ("layout", lambda c: c["preprocessing"]["layout"].update(name="nonsense"), "preprocessing"),
    ("export abs", lambda c: c.update(export={"files": {"onnx": "/etc/passwd"}}), "inside"),
    ("export up", lambda c: c.update(export={"files": {"onnx": "../../x.onnx"}}), "inside"),
    ("not an object", lambda c: [1, 2], "must be an object"),
]


@pytest.mark.parametrize(
    "change,match",
    [(c, m) for _, c, m in CONFIG_TAMPERING],
    ids=[n for n, _, _ in CONFIG_TAMPERING],
)
def test_tampered_config_is_one_clear_error(run, change, match):
    edit_json(run / "config.json", change)
    with pytest.raises(BundleError, match=match) as e:
        motionscope.load(run)
    assert "config.json" in str(e.value)


def test_unknown_hyper_parameters_do_not_build(run):
    edit_json(run / "config.json", lambda c: c["model"].update(hparams={"no_such_arg": 3}))
    with pytest.raises(BundleError, match="model.hparams"):
        motionscope.load(run)


def test_json_nan_in_config_is_refused(run):
    text = (run / "config.json").read_text()
    data = json.loads(text)
    data["calibration"]["temperature"] = float("nan")
    (run / "config.json").write_text(json.dumps(data))  # json.dumps writes NaN
    with pytest.raises(BundleError, match="NaN"):
        read_bundle(run)


@pytest.mark.parametrize(
    "classes,match",
    [("wave", "list"), ({"a": 1}, "list"), ([1, 2, 3], "strings"), (["a", "a", "b"], "distinct")],
)
def test_bad_class_lists_are_refused(run, classes, match):
    (run / "classes.json").write_text(json.dumps(classes))
    with pytest.raises(BundleError, match=match) as e:
        read_bundle(run)
    assert "classes.json" in str(e.value)


def test_truncated_weights_are_refused_before_loading(run):
    path = run / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated|damaged"):
        read_bundle(run)


def test_an_oversized_weights_header_is_refused(run):
    path = run / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 800 * 10**9) + data[8:])
    with pytest.raises(BundleError, match="header length"):
        read_bundle(run)


def test_nan_weights_are_refused(run):
    path = run / "model.safetensors"
    state = load_file(str(path))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, str(path))
    with pytest.raises(BundleError, match="NaN"):
        motionscope.load(run)


def test_a_bad_bundle_on_the_command_line_is_one_line_and_exit_2(run, tmp_path):
    edit_json(run / "config.json", lambda c: c["calibration"].update(temperature="abc"))
    np.save(tmp_path / "x.npy", sequence())
    r = runner.invoke(app, ["predict", str(run), str(tmp_path / "x.npy")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output and "temperature" in r.output


def test_export_files_outside_the_bundle_are_never_opened(run, tmp_path):
    outside = tmp_path / "evil.onnx"
    outside.write_bytes(b"x")
    for rel in (str(outside), "../evil.onnx"):
        edit_json(run / "config.json", lambda c, rel=rel: c.update(export={"files": {"onnx": rel}}))
        with pytest.raises(BundleError, match="inside the bundle"):
            motionscope.load(run, backend="onnx")


# -- publishing ------------------------------------------------------------------------------


def test_a_crash_between_the_renames_is_repaired_on_the_next_read(run):
    before = read_bundle(run).classes
    # the state after `out -> .out.old` and before `.out.partial -> out`, with a complete stage
    stage = staging_dir(run)
    shutil.copytree(run, stage)
    (stage / COMPLETE).write_bytes(b"")
    os.replace(run, old_dir(run))
    assert not run.exists()
    assert read_bundle(run).classes == before  # the complete new bundle was put in place
    assert not stage.exists() and not old_dir(run).exists() and not (run / COMPLETE).exists()


def test_an_unfinished_stage_gives_the_old_bundle_back(run):
    stage = staging_dir(run)
    stage.mkdir()
    (stage / "model.safetensors").write_bytes(b"half")  # never marked complete
    os.replace(run, old_dir(run))
    b = read_bundle(run)
    assert b.config.model.name == "kpnet-v1"
    prepare_staging(run)  # the next training starts clean
    assert staging_dir(run).is_dir() and not list(staging_dir(run).iterdir())


def test_caches_moved_into_an_unfinished_stage_go_back(run):
    (run / "keypoints").mkdir()
    (run / "keypoints" / "a.npy").write_bytes(b"cache")
    stage = staging_dir(run)
    stage.mkdir()
    os.replace(run / "keypoints", stage / "keypoints")  # publish moved it, then died
    prepare_staging(run)
    assert (run / "keypoints" / "a.npy").read_bytes() == b"cache"


# -- older bundles ------------------------------------------------------------------------------


def test_a_format_1_bundle_still_loads_and_predicts_the_same(run):
    x = sequence()
    expected = motionscope.load(run).probabilities([x])
    c = json.loads((run / "config.json").read_text())
    v1 = {
        "format_version": 1,
        "motionscope_version": "0.1.0",
        "input_kind": "keypoints",
        "model": c["model"],
        "preprocessing": c["preprocessing"],
        "standardize": c["standardize"],
        "augment": c["augment"],
        "optim": c["optim"],
        "train": c["train"],
        "split": c["split"],
        "data": c["data"],
        "calibration": c["calibration"],
    }
    (run / "config.json").write_text(json.dumps(v1))
    rec = motionscope.load(run)
    assert rec.config.fps is None and rec.window == c["window"]
    np.testing.assert_allclose(rec.probabilities([x]), expected, atol=1e-6)
