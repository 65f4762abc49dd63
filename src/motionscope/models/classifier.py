"""The deployable classifier: optional input standardisation in front of a registered network."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Classifier(nn.Module):
    """``(B, window, F)`` features to ``(B, classes)`` logits.

    ``input_mean``/``input_std`` are buffers (saved with the weights): the per-column statistics of
    the training features when the model standardises its input, identity otherwise.
    """

    def __init__(self, net: nn.Module, input_dim: int) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("input_mean", torch.zeros(input_dim))
        self.register_buffer("input_std", torch.ones(input_dim))

    def set_input_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        std = np.where(std < 1e-4, 1.0, std)
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.input_mean) / self.input_std)


@torch.no_grad()
def predict_proba(model: nn.Module, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for preprocessed inputs ``(N, window, F)``."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch_size]))
        out.append(torch.softmax(model(x), dim=-1).numpy())
    model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)
