"""The face-free MediaPipe graph (``pose-hands``, :mod:`motionscope.pose.graph`): its landmarks
against Holistic's, the recogniser's choice of graph, and ``extract --graph``.

Parity tolerance (also in docs/BENCHMARKS.md): on frames where both graphs detect a block, the
median absolute difference of the pose and hand x, y (normalised image coordinates) is below
``MEDIAN_TOL`` = 1e-4 and the 95th percentile below ``P95_TOL`` = 1e-3 (under a third of a pixel
at 340x256); each block's presence flag agrees on at least ``PRESENCE_AGREE`` = 98% of frames.
Measured: identical (0.0 difference, 100% agreement): the graph is Holistic's own pose and hand
nodes, so only the face differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

mp = pytest.importorskip("mediapipe")

import motionscope  # noqa: E402
from motionscope.keypoints.layout import HOLISTIC, POSE_HANDS, convert  # noqa: E402
from motionscope.models import list_models  # noqa: E402
from motionscope.pose import ExtractorError, HolisticExtractor, extract_batch  # noqa: E402
from motionscope.pose.batch import extraction_key  # noqa: E402
from motionscope.pose.graph import (  # noqa: E402
    HOLISTIC_GRAPH,
    POSE_GRAPH,
    POSE_HANDS_GRAPH,
    graph_config,
    landmark_agreement,
    xy_columns,
)
from motionscope.pose.holistic import PoseHandsExtractor  # noqa: E402
from motionscope.video.decode import iter_frames  # noqa: E402
from motionscope.video.synth import render_clip, write_video  # noqa: E402
from tests.helpers import torch_threads  # noqa: E402

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
REAL_CLIP = SHARED_DATASETS / "mmaction2-samples" / "tests" / "data" / "test.avi"  # face, hands
MEDIAN_TOL, P95_TOL, PRESENCE_AGREE = 1e-4, 1e-3, 0.98
KEYPOINT_MODELS = [m.name for m in list_models() if m.input_kind == "keypoints"]
# tiny training sets on purpose (plumbing, not accuracy)
pytestmark = pytest.mark.filterwarnings("ignore::motionscope.data.sizecheck.DataSizeWarning")


@pytest.fixture(scope="module")
def graphs():
    """One Holistic and one face-free graph for the whole module. Each processes a frame before
    the next starts: a quiet graph keeps file descriptor 2 silenced until its first frame."""
    frame = synthetic_frames(1)[0]
    with HolisticExtractor() as holistic:
        holistic.process(frame)
        with PoseHandsExtractor() as pose_hands:
            pose_hands.process(frame)
            yield holistic, pose_hands


@pytest.fixture(scope="module")
def pose_graph(graphs):
    """A graph with Holistic's pose only (``graph="pose"``)."""
    with HolisticExtractor(graph=POSE_GRAPH) as ex:
        ex.process(synthetic_frames(1)[0])
        yield ex


def synthetic_frames(n: int = 40) -> list[np.ndarray]:
    return list(render_clip("wave", np.random.default_rng(5), (320, 240), n, fps=15))


def check_parity(graphs, frames: list[np.ndarray], what: str) -> dict:
    holistic, pose_hands = graphs
    a, rates_a = holistic.extract_frames(frames)
    b, rates_b = pose_hands.extract_frames(frames)
    assert b.shape == a.shape == (len(frames), 1662)
    assert not b[:, HOLISTIC.slice("face")].any() and rates_b["face"] == 0.0
    stats = landmark_agreement(a, b)
    for block, s in stats.items():
        assert s["presence_agreement"] >= PRESENCE_AGREE, f"{what}: {block} presence differs: {s}"
        if s["frames_both"]:
            assert s["median_abs_xy"] < MEDIAN_TOL and s["p95_abs_xy"] < P95_TOL, f"{what}: {s}"
    pose_both = stats["pose"]["frames_both"]
    assert pose_both >= len(frames) // 2, f"{what}: too few poses to compare: {stats}"
    return {"holistic": rates_a, "pose_hands": rates_b, **stats}


def test_face_free_graph_has_no_face_nodes_and_keeps_pose_and_hands():
    full = graph_config(HOLISTIC_GRAPH)
    free = graph_config(POSE_HANDS_GRAPH)
    assert any("facelandmark" in n.name for n in full.node)
    assert not any("face" in n.name for n in free.node)
    assert not any("face" in s for s in free.output_stream)
    inference = [n.name for n in free.node if n.calculator.startswith("InferenceCalculator")]
    assert any("posedetection" in n for n in inference)
    assert any("poselandmarkbyroi" in n for n in inference)
    assert sum("handlandmarkcpu" in n for n in inference) == 2  # left and right
    assert len(free.node) < len(full.node)


def test_pose_graph_has_neither_face_nor_hands_and_gives_holistics_pose(graphs, pose_graph):
    cfg = graph_config(POSE_GRAPH)
    assert not any("face" in n.name or "hand" in n.name for n in cfg.node)
    assert [s.split(":")[-1] for s in cfg.output_stream if "hand" in s or "face" in s] == []
    frames = synthetic_frames(20)
    a, rates_a = graphs[0].extract_frames(frames)
    b, rates_b = pose_graph.extract_frames(frames)
    assert rates_b["pose"] == rates_a["pose"] > 0.9
    assert rates_b["face"] == rates_b["left_hand"] == rates_b["right_hand"] == 0.0
    assert not b[:, 132:].any()  # face and hands stay zero
    d = np.abs(a[:, xy_columns("pose")] - b[:, xy_columns("pose")])
    assert np.median(d) < MEDIAN_TOL and np.percentile(d, 95) < P95_TOL


def test_graph_threads_set_the_executor_pool_and_xnnpack():
    from mediapipe.calculators.tensor import inference_calculator_pb2
    from mediapipe.framework import thread_pool_executor_pb2

    cfg = graph_config(POSE_HANDS_GRAPH, threads=1)
    (executor,) = cfg.executor
    opts = executor.options.Extensions[thread_pool_executor_pb2.ThreadPoolExecutorOptions.ext]
    assert opts.num_threads == 1
    ext = inference_calculator_pb2.InferenceCalculatorOptions.ext
    nodes = [n for n in cfg.node if n.calculator.startswith("InferenceCalculator")]
    assert nodes and all(n.options.Extensions[ext].delegate.xnnpack.num_threads == 1 for n in nodes)
    with pytest.raises(ExtractorError, match="whole number >= 1"):
        HolisticExtractor(graph_threads=0)
    with pytest.raises(ExtractorError, match="pose-hands"):
        HolisticExtractor(graph="face-only")


def test_parity_on_a_synthetic_video(graphs):
    stats = check_parity(graphs, synthetic_frames(), "synthetic wave")
    assert stats["holistic"]["pose"] > 0.9


def test_parity_on_a_real_clip(graphs):
    if not REAL_CLIP.is_file():
        pytest.skip(f"real clip {REAL_CLIP.name} not present (../shared/datasets is only in CI)")
    frames = list(iter_frames(REAL_CLIP))[:60]
    stats = check_parity(graphs, frames, REAL_CLIP.name)
    # the clip has a face and both hands: the comparison covers hands, and the face is dropped
    assert stats["holistic"]["face"] > 0.5 and stats["pose_hands"]["face"] == 0.0
    assert stats["right_hand"]["frames_both"] >= 20 and stats["left_hand"]["frames_both"] >= 10


def test_single_threaded_graph_gives_the_same_landmarks(graphs):
    frames = synthetic_frames(12)
    a, _ = graphs[1].extract_frames(frames)
    with PoseHandsExtractor(graph_threads=1) as one:
        b, _ = one.extract_frames(frames)
    np.testing.assert_allclose(a, b, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The recogniser picks the graph by what its model reads
# ---------------------------------------------------------------------------------------------


def _pose_hands_bundle(root: Path, model: str) -> Path:
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.train import TrainConfig, train

    write_synthetic_keypoints(root / "data", classes=2, per_class=6, frames=8, seed=3)
    for f in (root / "data").rglob("*.npy"):
        np.save(f, convert(np.load(f), HOLISTIC, POSE_HANDS))  # a 258-wide dataset
    ds = load_keypoint_dataset(root / "data", progress=False)
    assert ds.layout is POSE_HANDS
    cfg = TrainConfig(model=model, epochs=1, window=8, progress=False, threads=1)
    train(ds, root / "run", cfg)
    return root / "run"


@pytest.fixture(scope="module")
def wave_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("graph-video") / "wave.mp4"
    write_video(path, np.stack(synthetic_frames(16)), 15)
    return path


@pytest.mark.parametrize("model", KEYPOINT_MODELS)
def test_pose_hands_bundle_uses_the_face_free_graph_with_the_same_prediction(
    model, tmp_path, wave_video
):
    with torch_threads(1):
        run = _pose_hands_bundle(tmp_path, model)
        rec = motionscope.load(run, unknown_threshold=0)
        try:
            assert rec.graph == POSE_HANDS_GRAPH
            free = rec.predict(wave_video, top_k=2)
            assert rec.extractor().settings.graph == POSE_HANDS_GRAPH
            rec.close()
            rec._extractor = HolisticExtractor()  # the same bundle through Holistic
            full = rec.predict(wave_video, top_k=2)
        finally:
            rec.close()
        assert free.label == full.label
        assert free.confidence == pytest.approx(full.confidence, abs=1e-4)
        with rec.stream(every=1) as live:  # live/serve streams build the same graph
            live.push(synthetic_frames(1)[0])
            assert live._source._extractor.settings.graph == POSE_HANDS_GRAPH


def test_a_pose_only_bundle_uses_the_pose_graph(tmp_path, wave_video):
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.keypoints.layout import POSE_ONLY
    from motionscope.train import TrainConfig, train

    write_synthetic_keypoints(tmp_path / "data", classes=2, per_class=6, frames=8, seed=3)
    for f in (tmp_path / "data").rglob("*.npy"):
        np.save(f, convert(np.load(f), HOLISTIC, POSE_ONLY))
    with torch_threads(1):
        ds = load_keypoint_dataset(tmp_path / "data", progress=False)
        cfg = TrainConfig(model="kpnet-v1", epochs=1, window=8, progress=False, threads=1)
        train(ds, tmp_path / "run", cfg)
        rec = motionscope.load(tmp_path / "run", unknown_threshold=0)
        try:
            assert rec.layout is POSE_ONLY and rec.graph == POSE_GRAPH
            free = rec.predict(wave_video)
            assert rec.extractor().settings.graph == POSE_GRAPH
            rec.close()
            rec._extractor = HolisticExtractor()
            full = rec.predict(wave_video)
        finally:
            rec.close()
    assert free.label == full.label
    assert free.confidence == pytest.approx(full.confidence, abs=1e-4)


def test_a_model_reading_the_face_keeps_holistic(tmp_path):
    from tests.helpers import train_kpnet_bundle

    run = train_kpnet_bundle(
        tmp_path, classes=2, per_class=4, frames=8, seed=0, epochs=1, model="seed-lstm"
    )  # raw 1662-wide input: the face block is part of it
    rec = motionscope.load(run)
    try:
        assert rec.layout is HOLISTIC and rec.pre.uses_face
        assert rec.graph == HOLISTIC_GRAPH
    finally:
        rec.close()


# ---------------------------------------------------------------------------------------------
# extract --graph
# ---------------------------------------------------------------------------------------------


def test_extract_graph_is_recorded_and_another_graph_re_extracts(tmp_path, wave_video):
    src = tmp_path / "src" / "wave"
    src.mkdir(parents=True)
    (src / "a.mp4").write_bytes(wave_video.read_bytes())
    out = tmp_path / "out"
    first = extract_batch(tmp_path / "src", out, workers=1, progress=False, graph="pose-hands")
    assert [v.status for v in first.videos] == ["ok"]
    meta = json.loads((out / "wave" / "a.json").read_text())
    assert meta["settings"]["graph"] == "pose-hands" and meta["graph_threads"] >= 1
    assert meta["detection_rate"]["face"] == 0.0
    kp = np.load(out / "wave" / "a.npy")
    assert kp.shape[1] == 1662 and not kp[:, HOLISTIC.slice("face")].any()
    again = extract_batch(tmp_path / "src", out, workers=1, progress=False, graph="pose-hands")
    assert [v.status for v in again.videos] == ["skipped"]
    other = extract_batch(tmp_path / "src", out, workers=1, progress=False, graph="holistic")
    assert [v.status for v in other.videos] == ["ok"]  # re-extracted, not skipped
    assert json.loads((out / "wave" / "a.json").read_text())["settings"]["graph"] == "holistic"


def test_holistic_key_is_the_key_from_before_the_graph_option():
    settings = HolisticExtractor().settings.to_dict()
    assert settings["graph"] == "holistic"
    before = {k: v for k, v in settings.items() if k != "graph"}  # sidecars written earlier
    assert extraction_key("abc", {**settings, "every": 1}) == extraction_key(
        "abc", {**before, "every": 1}
    )
    free = {**settings, "graph": "pose-hands", "every": 1}
    assert extraction_key("abc", free) != extraction_key("abc", {**settings, "every": 1})


def test_extract_cli_graph_options(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app

    r = CliRunner().invoke(app, ["extract", "--help"], env={"COLUMNS": "200"})
    assert "--graph" in r.output and "pose-hands" in r.output and "--graph-threads" in r.output
    r = CliRunner().invoke(app, ["extract", str(tmp_path), str(tmp_path / "o"), "--graph", "x"])
    assert r.exit_code != 0 and "holistic, pose-hands, pose" in r.output
