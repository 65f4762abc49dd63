"""The loader table: a bundle's input kind -> the recognizer that feeds that kind of model.

``motionscope.load(RUN)`` and every consumer (CLI, server, export, evaluation) load bundles
through :func:`load_recognizer`; a new input kind is one more row here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from motionscope.bundle import Bundle, read_bundle
from motionscope.errors import BundleError
from motionscope.infer.frames import FramesRecognizer
from motionscope.infer.keypoints import KeypointRecognizer
from motionscope.infer.recognizer import Recognizer
from motionscope.kinds import InputKind

LOADERS: dict[InputKind, Callable[..., Recognizer]] = {
    InputKind.KEYPOINTS: KeypointRecognizer.from_bundle,
    InputKind.FRAMES: FramesRecognizer.from_bundle,
}


def load_recognizer(
    run: Path | str | Bundle,
    *,
    threads: int | None = None,
    unknown_threshold: float | None = None,
    backend: str = "torch",
) -> Recognizer:
    """Load a bundle (validated by its schema) as the recognizer of its input kind.

    ``unknown_threshold`` overrides the bundle's calibrated threshold (0 disables "unknown";
    ``None`` keeps the bundle's). ``backend`` runs the network: ``torch``, or ``onnx`` /
    ``onnx-int8`` (ONNX Runtime on the graphs written by ``motionscope export RUN --format onnx
    [--int8]``); ``threads`` sets its threads."""
    bundle = run if isinstance(run, Bundle) else read_bundle(run)
    loader = LOADERS.get(bundle.config.input_kind)
    if loader is None:  # pragma: no cover - every InputKind has a row
        raise BundleError(f"{bundle.path}: input kind {bundle.config.input_kind} has no loader")
    rec = loader(bundle, threads=threads, backend=backend)
    if unknown_threshold is not None:
        rec.set_unknown_threshold(unknown_threshold)
    return rec
