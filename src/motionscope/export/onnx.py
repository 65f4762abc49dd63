"""Export a bundle's network to ONNX (and int8), checked against PyTorch before it is kept.

``export_onnx(RUN)`` writes ``RUN/model.onnx``: the module the Recognizer runs, from model inputs
to logits ``(batch, classes)``. For keypoint models that is the
:class:`~motionscope.models.classifier.Classifier` (input standardisation included) on
preprocessed windows ``(batch, window, features)``; for frame (RGB) models the network (pixel
normalisation included) on sampled clips ``(batch, frames, size, size, 3)``, pixels 0..255. The
input shape is read from the bundle's preprocessing. Keypoint extraction, preprocessing,
calibration (temperature, unknown threshold), softmax and top-k stay outside the graph, in the
shared Recognizer code, so every backend reports the same thing.

- The batch axis is always dynamic. For keypoint models the window (time) axis is made dynamic
  too when the architecture allows it: the graph is exported with a symbolic time axis, then run
  at a second window length and compared with PyTorch. A model whose loop over time is unrolled
  by the exporter (``seed-lstm``) comes out with the window fixed; the reason is recorded.
  Frame models keep the clip length of their sampling.
- ``int8=True`` also writes ``RUN/model.int8.onnx``: ONNX Runtime dynamic quantization (int8
  weights, activations quantized on the fly) of the fp32 graph.
- Parity is measured at export on ``samples`` random inputs (keypoints: drawn around the
  training-set statistics the model standardises with; frames: random pixels): maximum absolute
  difference of the probabilities and the logits, and top-1 agreement. An fp32 graph that
  disagrees with PyTorch by more than :data:`MAX_PROB_DIFF` is not kept.
- ``RUN/config.json`` gets an ``"export"`` entry (files, opset, axes, input/output names and
  shapes, parity, the weights' SHA-256 the backend checks), written atomically; other keys are
  kept.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from motionscope.atomic import replace_from_tmp, tmp_path
from motionscope.bundle import INT8_FILE, ONNX_FILE, WEIGHTS, read_bundle, update_config
from motionscope.errors import MotionscopeError
from motionscope.infer.backend import OnnxBackend, file_sha256, import_onnxruntime, softmax

INPUT_NAME = "inputs"
OUTPUT_NAME = "logits"
MAX_PROB_DIFF = 1e-3  # fp32 graphs further from PyTorch than this are refused
DYNAMIC_TOL = 1e-4  # a dynamic time axis must match PyTorch this well at another window
_EXAMPLE_BATCH = 2  # not 1, so the exporter cannot specialise the batch axis
MIN_OPSET = 18  # the torch.export-based exporter writes opset 18 or newer


def _import_onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (the torch.onnx exporter needs it)
    except ImportError as e:
        raise MotionscopeError(
            f"ONNX export needs onnx and onnxscript ({e}); install them with "
            "`pip install -e '.[onnx]'`"
        ) from e
    import_onnxruntime()
    return onnx


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and quantizer's warnings and log lines (torchvision ops not
    registered, deprecations, "consider pre-processing")."""
    loggers = [logging.getLogger(n) for n in ("", "torch.onnx", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def input_spec(rec) -> tuple[tuple[int, ...], int | None]:
    """The model input shape without the batch axis, and the axis (counting the batch axis as
    0) that may be dynamic in time, as the recognizer of the bundle's input kind says.

    Keypoint bundles: ``(window, features)``, time axis 1. Frame (RGB) bundles:
    ``(frames, size, size, 3)``; their time axis stays fixed (a frame model is exported for the
    clip length it was trained on)."""
    return rec.onnx_input()


def example_inputs(
    module: nn.Module, shape: tuple[int, ...], n: int, seed: int, *, kind: str = "keypoints"
) -> np.ndarray:
    """``n`` random model inputs of ``shape``. Frames: pixels uniform in 0..255 (RGB models
    take unnormalised pixels). Keypoints: around the training statistics the module
    standardises its input with (``input_mean``/``input_std`` buffers), else standard normal."""
    rng = np.random.default_rng(seed)
    if kind == "frames":
        return rng.integers(0, 256, size=(n, *shape)).astype(np.float32)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    mean, std = getattr(module, "input_mean", None), getattr(module, "input_std", None)
    standardises = isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor)
    if standardises and mean.ndim == 1 and mean.shape[0] == shape[-1]:
        x = x * std.numpy() + mean.numpy()
    return x.astype(np.float32)


@torch.no_grad()
def _torch_logits(module: nn.Module, x: np.ndarray) -> np.ndarray:
    return module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


def parity(module: nn.Module, backend: OnnxBackend, x: np.ndarray) -> dict:
    """How far ``backend`` is from PyTorch on inputs ``x``: max abs difference of the
    probabilities and of the logits, and the share of equal top-1 classes."""
    ref = _torch_logits(module, x)
    got = backend.logits(x)
    p_ref, p_got = softmax(ref), softmax(got)
    return {
        "samples": int(len(x)),
        "max_abs_prob_diff": float(np.abs(p_ref - p_got).max()),
        "max_abs_logit_diff": float(np.abs(ref - got).max()),
        "top1_agreement": float((p_ref.argmax(1) == p_got.argmax(1)).mean()),
    }


def _export_graph(
    module: nn.Module,
    x: np.ndarray,
    path: Path,
    *,
    dynamic: dict[int, str],
    opset: int | None,
    metadata: dict[str, str],
):
    """``torch.onnx.export`` (the default, torch.export-based exporter) into ``path``, atomically,
    as one file (weights inside). Returns the saved ``onnx.ModelProto``."""
    onnx = _import_onnx()
    dims = {axis: torch.export.Dim(name) for axis, name in dynamic.items()}
    try:
        with _quiet():
            program = torch.onnx.export(
                module,
                (torch.from_numpy(x),),
                None,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=(dims,),
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except Exception as e:  # the exporter raises many kinds, with long reports
        first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        raise MotionscopeError(
            f"{path.parent}: torch.onnx.export could not export the model: {first[:300]}"
        ) from e
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    replace_from_tmp(path, lambda fh: fh.write(proto.SerializeToString()))
    return proto


def _graph_input(proto) -> list[int | str]:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param if d.dim_param else int(d.dim_value) for d in dims]


def _opset(proto) -> int:
    return next(int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = tmp_path(dst)
    try:
        with _quiet():
            quantize_dynamic(src, tmp, weight_type=QuantType.QInt8)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _other_window(window: int) -> int:
    return window + max(1, window // 2)


def _export_time_axis(export, out: Path, module: nn.Module, shape, time_axis: int, seed: int):
    """Export to ``out`` with a dynamic batch and time axis and keep it if the graph matches
    PyTorch at another window length; else export with the window fixed. Returns the graph,
    its dynamic axes and why the window is fixed (``None`` when it is not)."""
    fixed = {0: "batch"}
    try:
        proto = export(dynamic={0: "batch", time_axis: "time"})
    except MotionscopeError as e:  # fall back to a fixed window
        reason = f"export with a dynamic window failed: {e}"
        return export(dynamic=fixed), fixed, reason
    if isinstance(_graph_input(proto)[time_axis], int):  # the exporter specialised it
        return proto, fixed, "the exporter fixed the window (its loop over time is unrolled)"
    other = list(shape)
    other[time_axis - 1] = _other_window(shape[time_axis - 1])
    x_other = example_inputs(module, tuple(other), 3, seed + 2)
    try:
        diff = parity(module, OnnxBackend(out, threads=1), x_other)["max_abs_prob_diff"]
        problem = f"differs from PyTorch by {diff:.2g}" if diff > DYNAMIC_TOL else None
    except Exception as e:  # onnxruntime raises its own exception types
        problem = f"fails ({str(e).splitlines()[0][:160]})"
    if problem is None:
        return proto, {0: "batch", time_axis: "time"}, None
    reason = f"the graph with a dynamic window {problem} at window {other[time_axis - 1]}"
    return export(dynamic=fixed), fixed, reason


def export_onnx(
    run: Path | str,
    *,
    int8: bool = False,
    opset: int | None = None,
    samples: int | None = None,
    seed: int = 0,
) -> list[Path]:
    """Export bundle ``run`` to ``run/model.onnx`` (and ``run/model.int8.onnx`` with ``int8``);
    returns the files written. Parity is measured on ``samples`` random inputs (default 64
    keypoint windows, or 4 clips for frame models). See the module docstring for what is
    checked and recorded."""
    from motionscope.infer.loader import load_recognizer

    onnx = _import_onnx()
    run = Path(run)
    if opset is not None and opset < MIN_OPSET:
        raise MotionscopeError(
            f"opset {opset} is too old: torch.onnx.export writes opset {MIN_OPSET} or newer"
        )
    t0 = time.perf_counter()
    rec = load_recognizer(run)
    module = rec.model.eval()
    kind = rec.kind.value
    shape, time_axis = input_spec(rec)
    samples = samples or (64 if kind == "keypoints" else 4)
    x_example = example_inputs(module, shape, _EXAMPLE_BATCH, seed, kind=kind)
    x_check = example_inputs(module, shape, samples, seed + 1, kind=kind)
    metadata = {
        "motionscope.classes": ",".join(rec.classes),
        "motionscope.input_kind": kind,
        "motionscope.model": rec.config.model.name,
    }
    out = run / ONNX_FILE
    export = functools.partial(
        _export_graph, module, x_example, out, opset=opset, metadata=metadata
    )
    if time_axis is None:  # frame models: (frames, size, size, 3)
        dynamic = {0: "batch"}
        fixed_reason = f"a frame model takes clips of its sampling's length ({shape[0]} frames)"
        proto = export(dynamic=dynamic)
    else:
        proto, dynamic, fixed_reason = _export_time_axis(
            export, out, module, shape, time_axis, seed
        )
    check = parity(module, OnnxBackend(out, threads=1), x_check)
    if check["max_abs_prob_diff"] > MAX_PROB_DIFF:
        out.unlink(missing_ok=True)
        raise MotionscopeError(
            f"{out}: ONNX Runtime disagrees with PyTorch (max probability difference "
            f"{check['max_abs_prob_diff']:.3g} > {MAX_PROB_DIFF}); the export was removed"
        )
    batch1 = parity(module, OnnxBackend(out, threads=1), x_check[:1])
    files = {"onnx": ONNX_FILE}
    checks = {"onnx": check}
    written = [out]
    int8_path = run / INT8_FILE
    if int8:
        _quantize_int8(out, int8_path)
        checks["onnx-int8"] = parity(module, OnnxBackend(int8_path, threads=1), x_check)
        files["onnx-int8"] = INT8_FILE
        written.append(int8_path)
    else:
        int8_path.unlink(missing_ok=True)  # would no longer match this export's entry
    onnxruntime = import_onnxruntime()
    entry = {
        "format": "onnx",
        "files": files,
        "sizes_bytes": {f: (run / f).stat().st_size for f in files.values()},
        "opset": _opset(proto),
        "input": {
            "name": INPUT_NAME,
            "shape": _graph_input(proto),
            "dtype": "float32",
            "content": (
                "RGB pixels 0..255 of the clip sampled as the bundle's sampling says"
                if kind == "frames"
                else "keypoint features after the bundle's preprocessing"
            ),
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", len(rec.classes)],
            "content": "logits (softmax and calibration are applied outside the graph)",
        },
        "dynamic_axes": {str(axis): name for axis, name in sorted(dynamic.items())},
        "fixed_window": fixed_reason,
        "parity": {
            "inputs": (
                "random pixels 0..255"
                if kind == "frames"
                else "random, around the training statistics of the model's input"
            ),
            "batch_1_max_abs_prob_diff": batch1["max_abs_prob_diff"],
            **checks,
        },
        "int8": "onnxruntime.quantization.quantize_dynamic, QInt8 weights" if int8 else None,
        "weights_sha256": file_sha256(run / WEIGHTS),
        "exporter": f"torch.onnx.export (dynamo) torch {torch.__version__}",
        "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    _record(run, entry)
    return written


def _record(run: Path, entry: dict) -> None:
    """Add ``entry`` as ``"export"`` to ``run/config.json``, re-read just before writing so
    keys written by others (calibration ...) are kept."""
    update_config(run, read_bundle(run).config.with_export(entry))


def export_info(run: Path | str) -> dict:
    """The ``"export"`` entry of a bundle's config (empty when it was never exported)."""
    return dict(read_bundle(run).config.export)
