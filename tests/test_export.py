"""ONNX export: parity with PyTorch, dynamic axes, int8, the ONNX Runtime backend and its errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install -e '.[onnx]'")
pytest.importorskip("onnxscript", reason="needs the onnx extra: pip install -e '.[onnx]'")

import motionscope  # noqa: E402
from motionscope.atomic import write_json  # noqa: E402
from motionscope.cli import app  # noqa: E402
from motionscope.data.loaders import load_keypoint_dataset  # noqa: E402
from motionscope.data.synth import write_synthetic_keypoints  # noqa: E402
from motionscope.errors import BundleError, DataError, MotionscopeError  # noqa: E402
from motionscope.export import export_onnx  # noqa: E402
from motionscope.export.onnx import example_inputs  # noqa: E402
from motionscope.infer.backend import OnnxBackend  # noqa: E402
from motionscope.models import list_models  # noqa: E402
from motionscope.train import TrainConfig, train  # noqa: E402
from tests.helpers import torch_threads  # noqa: E402

runner = CliRunner()
FP32_TOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    write_synthetic_keypoints(out, classes=3, per_class=10, frames=16, seed=5)
    return load_keypoint_dataset(out, progress=False)


@pytest.fixture(scope="module")
def kpnet_run(dataset, tmp_path_factory) -> Path:
    """A kpnet bundle exported (fp32 + int8) through the command line."""
    run = tmp_path_factory.mktemp("runs") / "kpnet"
    train(dataset, run, TrainConfig(model="kpnet", epochs=4, progress=False, threads=1))
    before = json.loads((run / "config.json").read_text())
    r = runner.invoke(app, ["export", str(run), "--format", "onnx", "--int8"])
    assert r.exit_code == 0, r.output
    assert "model.onnx" in r.output and "model.int8.onnx" in r.output
    assert "KiB" in r.output and "PyTorch" in r.output
    after = json.loads((run / "config.json").read_text())
    assert before["export"] is None and after["export"]["files"]["onnx"] == "model.onnx"
    assert {k: v for k, v in after.items() if k != "export"} == {
        k: v for k, v in before.items() if k != "export"
    }  # nothing lost
    return run


def test_export_writes_graphs_and_records_them(kpnet_run):
    info = json.loads((kpnet_run / "config.json").read_text())["export"]
    assert info["files"] == {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
    assert info["input"]["name"] == "inputs" and info["output"]["name"] == "logits"
    rec = motionscope.load(kpnet_run)
    assert info["input"]["shape"] == ["batch", "time", rec.pre.input_dim]
    assert info["dynamic_axes"] == {"0": "batch", "1": "time"}
    assert info["fixed_window"] is None
    assert info["opset"] >= 17
    assert info["parity"]["onnx"]["max_abs_prob_diff"] < FP32_TOL
    assert info["parity"]["onnx"]["top1_agreement"] == 1.0
    for name in info["files"].values():
        assert info["sizes_bytes"][name] == (kpnet_run / name).stat().st_size
    assert not list(kpnet_run.glob("*.tmp"))  # atomic writes leave nothing behind


def test_fp32_parity_on_random_and_real_inputs(kpnet_run, dataset):
    torch_rec = motionscope.load(kpnet_run)
    onnx_rec = motionscope.load(kpnet_run, backend="onnx", threads=1)
    assert onnx_rec.backend.name == "onnx" and torch_rec.backend.name == "torch"
    # random inputs around the training statistics, straight into the graph
    x = example_inputs(torch_rec.model, (torch_rec.pre.window, torch_rec.pre.input_dim), 32, 7)
    diff = np.abs(onnx_rec.probabilities_of_inputs(x) - torch_rec.probabilities_of_inputs(x)).max()
    assert diff < FP32_TOL
    # real-shaped inputs: raw keypoint sequences through the shared preprocessing
    seqs = [s.data for s in dataset.samples]
    p_torch, p_onnx = torch_rec.probabilities(seqs), onnx_rec.probabilities(seqs)
    assert p_onnx.shape == (len(seqs), len(dataset.classes))
    assert np.abs(p_torch - p_onnx).max() < FP32_TOL
    a, b = torch_rec.predict(seqs[0]), onnx_rec.predict(seqs[0])
    assert a.label == b.label and abs(a.confidence - b.confidence) < FP32_TOL


def test_dynamic_batch_and_window(kpnet_run):
    rec = motionscope.load(kpnet_run)
    backend = OnnxBackend(kpnet_run / "model.onnx", threads=1)
    assert backend.input_shape[:2] == ["batch", "time"]
    for batch, window in [(1, rec.pre.window), (5, rec.pre.window), (2, 7), (3, 41)]:
        x = example_inputs(rec.model, (window, rec.pre.input_dim), batch, batch * window)
        got = backend.logits(x)
        assert got.shape == (batch, len(rec.classes))
        with torch.no_grad():
            ref = rec.model(torch.from_numpy(x)).numpy()
        assert np.abs(got - ref).max() < 1e-3  # logits; probabilities are checked above
    with pytest.raises(DataError, match="inputs of shape"):
        backend.logits(np.zeros((1, rec.pre.window, rec.pre.input_dim + 1), np.float32))


def test_int8_is_smaller_and_close(kpnet_run, dataset):
    fp32 = (kpnet_run / "model.onnx").stat().st_size
    int8 = (kpnet_run / "model.int8.onnx").stat().st_size
    assert int8 < 0.6 * fp32
    info = json.loads((kpnet_run / "config.json").read_text())["export"]
    assert 0 < info["parity"]["onnx-int8"]["max_abs_prob_diff"] < 0.5  # quantized, not broken
    torch_rec = motionscope.load(kpnet_run)
    int8_rec = motionscope.load(kpnet_run, backend="onnx-int8", threads=1)
    assert int8_rec.backend.name == "onnx-int8"
    seqs = [s.data for s in dataset.samples]
    labels = np.asarray(dataset.labels)
    acc_torch = float((torch_rec.probabilities(seqs).argmax(1) == labels).mean())
    acc_int8 = float((int8_rec.probabilities(seqs).argmax(1) == labels).mean())
    print(f"int8 accuracy change on the synthetic set: {acc_int8 - acc_torch:+.3f}")
    assert abs(acc_int8 - acc_torch) <= 0.2


def test_predict_cli_backend_matches_torch(kpnet_run, dataset):
    clip = dataset.samples[0].source
    out = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        r = runner.invoke(app, ["predict", str(kpnet_run), clip, "--json", "--backend", backend])
        assert r.exit_code == 0, r.output
        out[backend] = json.loads(r.output.strip().splitlines()[-1])
    assert out["onnx"]["label"] == out["torch"]["label"]
    assert abs(out["onnx"]["confidence"] - out["torch"]["confidence"]) < FP32_TOL


def test_onnx_backend_on_a_video_with_stage_timings(kpnet_run, tmp_path):
    """The whole video path (decode, MediaPipe, preprocessing) with ONNX Runtime running the
    network, and the timings that split "load" into decoding and MediaPipe."""
    from motionscope.video.synth import render_clip, sample_rng, write_video

    video = tmp_path / "wave.mp4"
    write_video(video, render_clip("wave", sample_rng(0, 0, 0), (320, 240), 12), 15)
    rec = motionscope.load(kpnet_run, backend="onnx", threads=1, unknown_threshold=0)
    try:
        p = rec.predict(video)
        keypoints = rec.keypoints_from_video(video)
    finally:
        rec.close()
    assert p.label in rec.classes and p.source == str(video)
    t = p.timings
    assert t["decode"] > 0 and t["pose"] > 0 and t["model"] > 0
    assert t["decode"] + t["pose"] <= t["load"] + 1e-6
    torch_probs = motionscope.load(kpnet_run).probabilities([keypoints])[0]
    assert abs(float(torch_probs.max()) - p.confidence) < FP32_TOL


def test_segment_cli_backend_matches_torch(kpnet_run, dataset, tmp_path):
    long = tmp_path / "long.npy"
    np.save(long, np.concatenate([dataset.samples[i].data for i in (0, 12, 25, 1)]))
    out = {}
    for backend in ("torch", "onnx"):
        path = tmp_path / f"{backend}.json"
        args = ["segment", str(kpnet_run), str(long), "--fps", "15", "--json", str(path)]
        r = runner.invoke(app, [*args, "--backend", backend])
        assert r.exit_code == 0, r.output
        out[backend] = json.loads(path.read_text())
    assert [g["label"] for g in out["onnx"]["segments"]] == [
        g["label"] for g in out["torch"]["segments"]
    ]
    probs = {b: np.array(out[b]["windows"]["probabilities"]) for b in out}  # 5 decimals
    assert np.abs(probs["onnx"] - probs["torch"]).max() < FP32_TOL


def test_threads_reach_the_session(kpnet_run):
    rec = motionscope.load(kpnet_run, backend="onnx", threads=1)
    assert rec.backend.session.get_session_options().intra_op_num_threads == 1


@pytest.fixture
def copy_run(kpnet_run, tmp_path):
    def make(keep_onnx: bool = True) -> Path:
        dst = tmp_path / "copy"
        shutil.copytree(kpnet_run, dst)
        if not keep_onnx:
            for f in dst.glob("model*.onnx"):
                f.unlink()
        return dst

    return make


def test_backend_selection_errors(copy_run, monkeypatch):
    run = copy_run(keep_onnx=False)
    with pytest.raises(BundleError, match=r"motionscope export .* --format onnx` first"):
        motionscope.load(run, backend="onnx")
    cfg = json.loads((run / "config.json").read_text())
    del cfg["export"]
    write_json(run / "config.json", cfg)
    with pytest.raises(BundleError, match="no ONNX export"):
        motionscope.load(run, backend="onnx")
    with pytest.raises(BundleError, match="--int8` first"):
        motionscope.load(run, backend="onnx-int8")
    with pytest.raises(MotionscopeError, match="unknown backend 'tensorrt'"):
        motionscope.load(run, backend="tensorrt")
    r = runner.invoke(app, ["predict", str(run), "x.npy", "--backend", "onnx"])
    assert r.exit_code == 2 and "--format onnx` first" in r.output and "Traceback" not in r.output
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(MotionscopeError, match="needs onnxruntime"):
        OnnxBackend(run / "model.onnx")


def test_onnxruntime_missing_is_a_clear_error(copy_run, monkeypatch):
    run = copy_run()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MotionscopeError, match=r"needs onnxruntime.*pip install"):
        motionscope.load(run, backend="onnx")
    with pytest.raises(MotionscopeError, match="pip install"):
        export_onnx(run)


def test_stale_export_is_refused(copy_run):
    run = copy_run()
    weights = load_file(run / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + 1.0  # as if retrained in place without re-exporting
    save_file(weights, str(run / "model.safetensors"))
    with pytest.raises(BundleError, match="exported from other weights"):
        motionscope.load(run, backend="onnx")
    motionscope.load(run)  # the PyTorch backend still works


def test_export_cli_help_and_errors(tmp_path):
    r = runner.invoke(app, ["export", "--help"])
    assert r.exit_code == 0 and "--int8" in r.output and "--format" in r.output
    for cmd in ("predict", "segment"):
        assert "--backend" in runner.invoke(app, [cmd, "--help"]).output
    r = runner.invoke(app, ["export", str(tmp_path / "nope"), "--format", "onnx"])
    assert r.exit_code == 2 and "not a bundle directory" in r.output
    r = runner.invoke(app, ["export", str(tmp_path), "--format", "tflite"])
    assert r.exit_code == 2 and "only onnx" in r.output
    r = runner.invoke(app, ["export", str(tmp_path), "--format", "onnx", "--opset", "13"])
    assert r.exit_code == 2 and "opset 18 or newer" in r.output


OTHER_KEYPOINT_MODELS = [
    m.name for m in list_models() if m.input_kind == "keypoints" and m.name != "kpnet"
]


@pytest.mark.slow
@pytest.mark.parametrize("model", OTHER_KEYPOINT_MODELS)
def test_every_keypoint_model_exports_with_parity(model, dataset, tmp_path):
    """Each registered keypoint model exports and matches PyTorch; its window axis is dynamic
    (and correct at another length) or fixed with the reason recorded."""
    run = tmp_path / model
    # a short window keeps the export of unrolled recurrent models quick
    train(dataset, run, TrainConfig(model=model, epochs=1, window=4, progress=False, threads=1))
    (run / "model.int8.onnx").write_bytes(b"left over from an earlier export")
    files = export_onnx(run, samples=16)  # fp32 only: an older int8 graph must not survive
    assert [f.name for f in files] == ["model.onnx"]
    assert not (run / "model.int8.onnx").exists()
    with pytest.raises(BundleError, match="--int8` first"):
        motionscope.load(run, backend="onnx-int8")
    info = json.loads((run / "config.json").read_text())["export"]
    rec = motionscope.load(run)
    onnx_rec = motionscope.load(run, backend="onnx", threads=1)
    seqs = [s.data for s in dataset.samples[:12]]
    assert np.abs(rec.probabilities(seqs) - onnx_rec.probabilities(seqs)).max() < FP32_TOL
    window, width = rec.pre.window, rec.pre.input_dim
    if info["dynamic_axes"].get("1") == "time":
        assert info["fixed_window"] is None
        x = example_inputs(rec.model, (window + 5, width), 2, 0)
        got = onnx_rec.probabilities_of_inputs(x)
        assert np.abs(got - rec.probabilities_of_inputs(x)).max() < FP32_TOL
    else:
        assert info["fixed_window"]  # the reason is recorded
        assert info["input"]["shape"] == ["batch", window, width]
        with pytest.raises(DataError, match="fixed window"):
            onnx_rec.probabilities_of_inputs(np.zeros((1, window + 5, width), np.float32))


@pytest.mark.slow
def test_rgb_bundle_exports_and_runs_with_onnx_runtime(tmp_path):
    """A frame (RGB) model: its input shape comes from the bundle's sampling, the graph matches
    PyTorch, and the FramesRecognizer runs it on a video through ``backend="onnx"``."""
    from motionscope.data.videos import load_video_dataset
    from motionscope.train.fit_frames import FramesConfig, train_frames
    from motionscope.video.synth import write_synthetic_videos

    videos = tmp_path / "videos"
    write_synthetic_videos(videos, classes=2, per_class=4, seed=2, size=(64, 64), seconds=0.4)
    run = tmp_path / "r2plus1d"
    cfg = TrainConfig(model="r2plus1d", epochs=1, threads=1, progress=False)
    sampling = {"frames": 4, "size": 24, "resize": 28}
    train_frames(load_video_dataset(videos), run, cfg, FramesConfig(sampling=sampling))
    export_onnx(run, samples=2)
    info = json.loads((run / "config.json").read_text())["export"]
    assert info["input"]["shape"] == ["batch", 4, 24, 24, 3]  # (clip frames, size, size, RGB)
    assert info["dynamic_axes"] == {"0": "batch"} and info["fixed_window"]
    assert info["parity"]["onnx"]["max_abs_prob_diff"] < FP32_TOL
    clip = next(videos.rglob("*.mp4"))
    torch_rec = motionscope.load(run)
    onnx_rec = motionscope.load(run, backend="onnx", threads=1)
    assert onnx_rec.backend.name == "onnx"
    a, b = torch_rec.predict(clip), onnx_rec.predict(clip)
    assert a.label == b.label and abs(a.confidence - b.confidence) < FP32_TOL
    x = example_inputs(torch_rec.model, (4, 24, 24, 3), 3, 1, kind="frames")
    diff = np.abs(onnx_rec.probabilities_of_inputs(x) - torch_rec.probabilities_of_inputs(x))
    assert diff.max() < FP32_TOL
