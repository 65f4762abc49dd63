"""Model runners: preprocessed inputs ``(N, ...)`` float32 in, logits ``(N, classes)`` out.

The :class:`~motionscope.infer.recognizer.Recognizer` does everything else (loading inputs,
preprocessing, calibration, softmax, top-k), so a backend only has to run the network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from motionscope.bundle import WEIGHTS, Bundle
from motionscope.errors import BundleError, DataError, MotionscopeError

BACKENDS = ("torch", "onnx", "onnx-int8")


class Backend(Protocol):
    name: str

    def logits(self, inputs: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """Runs the PyTorch module of the bundle (in eval mode, no autograd)."""

    name = "torch"

    def __init__(self, model: nn.Module, batch_size: int = 256) -> None:
        self.model = model.eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def logits(self, inputs: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(inputs), self.batch_size):
            chunk = np.ascontiguousarray(inputs[start : start + self.batch_size], np.float32)
            out.append(self.model(torch.from_numpy(chunk)).numpy())
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)


class OnnxBackend:
    """Runs an ONNX graph written by ``motionscope export RUN --format onnx`` with ONNX Runtime
    (CPU). ``threads`` sets the session's intra-op threads (``None``/0: ONNX Runtime's default,
    one per physical core)."""

    def __init__(
        self,
        path: Path | str,
        *,
        name: str = "onnx",
        threads: int | None = None,
        batch_size: int = 256,
    ) -> None:
        ort = import_onnxruntime()
        self.name = name
        self.path = Path(path)
        self.batch_size = batch_size
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or 0)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own (non-exported) exception types
            raise BundleError(
                f"{self.path}: ONNX Runtime cannot load it ({str(e).splitlines()[0]}); "
                f"re-run `motionscope export {self.path.parent} --format onnx`"
            ) from e
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = list(inp.shape)  # symbolic axes are strings ("batch", "time")

    def _check(self, inputs: np.ndarray) -> None:
        want = self.input_shape[1:]
        got = inputs.shape[1:]
        if len(want) != len(got) or any(
            isinstance(w, int) and w != g for w, g in zip(want, got, strict=True)
        ):
            raise DataError(
                f"{self.path.name} takes inputs of shape {['N', *want]}, got {list(inputs.shape)}"
                " (an ONNX graph exported with a fixed window only runs that window)"
            )

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        self._check(inputs)
        out = []
        for start in range(0, len(inputs), self.batch_size):
            chunk = np.ascontiguousarray(inputs[start : start + self.batch_size], np.float32)
            out.append(self.session.run(None, {self.input_name: chunk})[0])
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


def import_onnxruntime():
    """The ``onnxruntime`` module, or a clear error saying how to install it."""
    try:
        import onnxruntime
    except ImportError as e:
        raise MotionscopeError(
            f"the ONNX backend needs onnxruntime ({e}); install it with "
            "`pip install -e '.[onnx]'` (or `pip install onnxruntime`)"
        ) from e
    return onnxruntime


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_backend(
    name: str, bundle: Bundle, model: nn.Module, *, threads: int | None = None
) -> Backend:
    """The backend called ``name`` for a loaded bundle: ``torch`` runs ``model``; ``onnx`` and
    ``onnx-int8`` run the graphs ``motionscope export`` wrote into the bundle."""
    if name == "torch":
        return TorchBackend(model)
    if name not in BACKENDS:
        raise MotionscopeError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    run = bundle.path
    export = bundle.config.export
    filename = (export.get("files") or {}).get(name)
    how = f"motionscope export {run} --format onnx" + (" --int8" if name == "onnx-int8" else "")
    if not filename or not bundle.file(filename).is_file():
        what = "int8 ONNX export" if name == "onnx-int8" else "ONNX export"
        raise BundleError(f"{run} has no {what} (backend {name!r}): run `{how}` first")
    expected = export.get("weights_sha256")
    if expected and file_sha256(run / WEIGHTS) != expected:
        raise BundleError(
            f"{run / filename} was exported from other weights than {run / WEIGHTS}; "
            f"run `{how}` again"
        )
    return OnnxBackend(bundle.file(filename), name=name, threads=threads)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable)."""
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
