"""The MediaPipe graphs keypoints are extracted with, built from the assets inside the wheel.

- ``"holistic"``: MediaPipe Holistic as ``mp.solutions.holistic`` ships it (pose, face mesh,
  both hands).
- ``"pose-hands"``: the same graph file without its face branch. The wheel's
  ``holistic_landmark_cpu.binarypb`` is a four-node wrapper (``PoseLandmarkCpu``,
  ``HandLandmarksLeftAndRightCpu``, a split of the pose's face landmarks and
  ``FaceLandmarksFromPoseCpu``); the face node is removed, then every node whose outputs nobody
  reads any more. Pose and hands are computed exactly as Holistic computes them (the hands from
  the pose's regions), so the pose and hand landmarks agree with Holistic's (see
  ``tests/test_pose_graph.py`` for the tolerance) and the face block is never detected. It skips
  the face detector and the 468-point face mesh: the layouts without a face (``pose_hands``,
  ``hands``) need nothing else.
- ``"pose"``: without the hands too (``HandLandmarksLeftAndRightCpu`` removed): Holistic's own
  pose, for layouts with neither face nor hands (``pose``).

:func:`graph_for` picks the cheapest graph that fills the blocks a model reads.

``threads`` sets a graph's own thread use: its calculators run on a pool of ``threads`` threads
(MediaPipe's default is one per core, and one graph then keeps ~1.4 cores busy), and each TFLite
model's XNNPACK delegate on one thread. ``None`` keeps MediaPipe's defaults. With as many worker
processes as cores, ``threads=1`` lets N workers give close to N times one worker.
"""

from __future__ import annotations

import os

from motionscope.errors import MotionscopeError

HOLISTIC_GRAPH = "holistic"
POSE_HANDS_GRAPH = "pose-hands"
POSE_GRAPH = "pose"
GRAPHS = (HOLISTIC_GRAPH, POSE_HANDS_GRAPH, POSE_GRAPH)

HOLISTIC_BINARYPB = "mediapipe/modules/holistic_landmark/holistic_landmark_cpu.binarypb"
FACE_NODE = "FaceLandmarksFromPoseCpu"
FACE_OUTPUT = "face_landmarks"
FACE_SIDE_PACKET = "refine_face_landmarks"
HANDS_NODE = "HandLandmarksLeftAndRightCpu"
HAND_OUTPUTS = ("left_hand_landmarks", "right_hand_landmarks")
# What mp.solutions.holistic.Holistic sets (node names after subgraph expansion).
MIN_DETECTION = "poselandmarkcpu__posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh"
MIN_TRACKING = (
    "poselandmarkcpu__poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
    "ThresholdingCalculator.threshold"
)
POSE_OUTPUTS = ("pose_landmarks", "pose_world_landmarks")


class ExtractorError(MotionscopeError):
    """The keypoint extractor cannot run as configured (missing package, unsupported setting)."""


def check_graph(graph: str) -> str:
    if graph not in GRAPHS:
        raise ExtractorError(f"graph {graph!r} is not available; use one of {', '.join(GRAPHS)}")
    return graph


def check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ExtractorError(
            f"graph threads must be a whole number >= 1 (or None for MediaPipe's default), "
            f"got {threads!r}"
        )
    return threads


def graph_for(*, face: bool, hands: bool = True) -> str:
    """The cheapest graph for keypoints that need the face (Holistic), the hands (pose-hands;
    hands come from the pose's regions) or neither (pose)."""
    if face:
        return HOLISTIC_GRAPH
    return POSE_HANDS_GRAPH if hands else POSE_GRAPH


def auto_threads(workers: int, cores: int | None = None) -> int:
    """Graph threads for ``workers`` processes sharing ``cores`` (default: this process's cores):
    the cores each worker has to itself, at least 1."""
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS, Windows
            cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def xy_columns(block: str):
    """The columns of the x and y values of ``block``'s landmarks in a 1662-wide Holistic row."""
    import numpy as np

    from motionscope.keypoints.layout import HOLISTIC

    b, start = HOLISTIC.block(block), HOLISTIC.slice(block).start
    return start + np.r_[np.arange(0, b.width, b.channels), np.arange(1, b.width, b.channels)]


def landmark_agreement(a, b, blocks=("pose", "left_hand", "right_hand")) -> dict:
    """How two extractions of the same frames (``(T, 1662)`` Holistic rows) agree, per block:
    the share of frames where both or neither detected it, the frames both detected, and the
    median / p95 / max absolute x, y difference over those (``None`` when there are none)."""
    import numpy as np

    from motionscope.keypoints.layout import HOLISTIC

    a, b = np.asarray(a), np.asarray(b)
    out = {}
    for name in blocks:
        part, xy = HOLISTIC.slice(name), xy_columns(name)
        fa, fb = a[:, part].any(1), b[:, part].any(1)
        both = fa & fb
        d = np.abs(a[both][:, xy] - b[both][:, xy])
        out[name] = {
            "presence_agreement": round(float((fa == fb).mean()), 4),
            "frames_both": int(both.sum()),
            "median_abs_xy": float(np.median(d)) if d.size else None,
            "p95_abs_xy": float(np.percentile(d, 95)) if d.size else None,
            "max_abs_xy": float(d.max()) if d.size else None,
        }
    return out


def _name(stream: str) -> str:
    return stream.split(":")[-1]  # "TAG:name", "TAG:0:name" or "name"


def _keep(messages, keep) -> None:
    kept = [m for m in messages if keep(m)]
    del messages[:]
    messages.extend(kept)


def _drop(config, node: str, outputs: tuple[str, ...], side_packets: tuple[str, ...]) -> None:
    """Remove the ``node`` calculator, its graph outputs and side packets, and every node left
    feeding nothing (in place)."""
    if not any(n.calculator == node for n in config.node):
        raise ExtractorError(
            f"the mediapipe wheel's {HOLISTIC_BINARYPB} has no {node} node; this mediapipe "
            "version does not match; install `mediapipe==0.10.21` or use --graph holistic"
        )
    _keep(config.node, lambda n: n.calculator != node)
    _keep(config.output_stream, lambda s: _name(s) not in outputs)
    _keep(config.input_side_packet, lambda s: _name(s) not in side_packets)
    while True:  # a node whose outputs nobody reads any more (the split feeding the face)
        read = {_name(s) for n in config.node for s in n.input_stream}
        read |= {_name(s) for s in config.output_stream}
        before = len(config.node)
        _keep(config.node, lambda n, read=read: any(_name(s) in read for s in n.output_stream))
        if len(config.node) == before:
            return


def _set_xnnpack_threads(config, threads: int) -> None:
    from mediapipe.calculators.tensor import inference_calculator_pb2

    options_type = inference_calculator_pb2.InferenceCalculatorOptions
    for node in config.node:
        if not node.calculator.startswith("InferenceCalculator"):
            continue
        packed = [a for a in node.node_options if a.Is(options_type.DESCRIPTOR)]
        for any_options in packed:  # some subgraphs use node_options (an Any), others options
            options = options_type()
            any_options.Unpack(options)
            options.delegate.xnnpack.num_threads = threads
            any_options.Pack(options)
        if not packed:
            options = node.options.Extensions[options_type.ext]
            options.delegate.xnnpack.num_threads = threads


def graph_config(graph: str = HOLISTIC_GRAPH, *, threads: int | None = None):
    """The expanded ``CalculatorGraphConfig`` of ``graph`` (subgraphs inlined), with ``threads``
    applied (see the module docstring)."""
    import mediapipe as mp
    from mediapipe.framework import calculator_pb2, thread_pool_executor_pb2  # noqa: F401
    from mediapipe.python._framework_bindings import resource_util, validated_graph_config

    check_graph(graph)
    threads = check_threads(threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__)))
    path = os.path.join(root, HOLISTIC_BINARYPB)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError as e:
        raise ExtractorError(
            f"cannot read {path} ({e}); install `mediapipe==0.10.21`, whose wheel ships it"
        ) from e
    config = calculator_pb2.CalculatorGraphConfig()
    config.ParseFromString(blob)
    config.ClearField("type")  # it is the graph itself now, not the HolisticLandmarkCpu subgraph
    if graph in (POSE_HANDS_GRAPH, POSE_GRAPH):
        _drop(config, FACE_NODE, (FACE_OUTPUT,), (FACE_SIDE_PACKET,))
    if graph == POSE_GRAPH:
        _drop(config, HANDS_NODE, HAND_OUTPUTS, ())
    if threads is not None:
        config.num_threads = threads  # the default executor's pool
    resource_util.set_resource_dir(root)
    validated = validated_graph_config.ValidatedGraphConfig()
    validated.initialize(graph_config=config)
    expanded = calculator_pb2.CalculatorGraphConfig()
    expanded.ParseFromString(validated.binary_config)
    if threads is not None:
        _set_xnnpack_threads(expanded, 1)
    return expanded


def open_solution(
    graph: str = HOLISTIC_GRAPH,
    *,
    threads: int | None = None,
    static_image_mode: bool = False,
    smooth_landmarks: bool = True,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
):
    """A running MediaPipe ``SolutionBase`` of ``graph``: ``.process(rgb)`` returns the
    landmark lists ``pose_landmarks``, ``pose_world_landmarks``, ``left_hand_landmarks``,
    ``right_hand_landmarks`` and (Holistic only) ``face_landmarks``."""
    import mediapipe as mp

    check_graph(graph)
    if graph == HOLISTIC_GRAPH and threads is None:  # as shipped
        return mp.solutions.holistic.Holistic(
            static_image_mode=static_image_mode,
            model_complexity=1,
            smooth_landmarks=smooth_landmarks,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
    from mediapipe.python.solution_base import SolutionBase

    side_inputs = {
        "model_complexity": 1,
        "smooth_landmarks": smooth_landmarks and not static_image_mode,
        "enable_segmentation": False,
        "smooth_segmentation": not static_image_mode,
        "use_prev_landmarks": not static_image_mode,
    }
    outputs = list(POSE_OUTPUTS) + (list(HAND_OUTPUTS) if graph != POSE_GRAPH else [])
    if graph == HOLISTIC_GRAPH:
        side_inputs[FACE_SIDE_PACKET] = False
        outputs.append(FACE_OUTPUT)
    return SolutionBase(
        graph_config=graph_config(graph, threads=threads),
        side_inputs=side_inputs,
        calculator_params={
            MIN_DETECTION: min_detection_confidence,
            MIN_TRACKING: min_tracking_confidence,
        },
        outputs=outputs,
    )
