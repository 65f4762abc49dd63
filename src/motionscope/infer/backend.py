"""Model runners: preprocessed inputs ``(N, ...)`` float32 in, logits ``(N, classes)`` out.

The :class:`~motionscope.infer.recognizer.Recognizer` does everything else (loading inputs,
preprocessing, calibration, softmax, top-k), so a backend only has to run the network.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn


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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable)."""
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
