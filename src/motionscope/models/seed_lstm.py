"""The seed tutorial's network, kept faithful as the baseline to beat.

Keras original: LSTM(64, relu, return_sequences) -> LSTM(128, relu, return_sequences) ->
LSTM(64, relu) -> Dense(64, relu) -> Dense(32, relu) -> Dense(classes, softmax), on raw 1662
features with no normalisation, Adam(lr=1e-3). PyTorch's ``nn.LSTM`` only has tanh, so the relu
LSTM is written out here. It is known to be unstable (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import torch
from torch import nn

from motionscope.models.registry import register_model


class ReluLSTM(nn.Module):
    """One LSTM layer whose cell and output activation is relu (Keras ``activation='relu'``)."""

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.inp = nn.Linear(input_dim, 4 * hidden)
        self.rec = nn.Linear(hidden, 4 * hidden, bias=False)
        nn.init.xavier_uniform_(self.inp.weight)  # Keras glorot_uniform
        nn.init.orthogonal_(self.rec.weight)  # Keras orthogonal recurrent kernel
        with torch.no_grad():
            self.inp.bias.zero_()
            self.inp.bias[hidden : 2 * hidden] = 1.0  # Keras unit_forget_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h = x.new_zeros(b, self.hidden)
        c = x.new_zeros(b, self.hidden)
        gates_x = self.inp(x)
        outs = []
        for step in range(t):
            i, f, g, o = (gates_x[:, step] + self.rec(h)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.relu(g)
            h = torch.sigmoid(o) * torch.relu(c)
            outs.append(h)
        return torch.stack(outs, dim=1)


class SeedLSTM(nn.Module):
    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.lstm1 = ReluLSTM(input_dim, 64)
        self.lstm2 = ReluLSTM(64, 128)
        self.lstm3 = ReluLSTM(128, 64)
        self.head = nn.Sequential(
            nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lstm3(self.lstm2(self.lstm1(x)))
        return self.head(x[:, -1])


@register_model(
    "seed-lstm",
    description="Seed tutorial baseline: 3 relu LSTMs (64-128-64) + dense 64-32, raw features",
    features={"kind": "raw"},
    augment={"enabled": False},
    optim={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "label_smoothing": 0.0},
)
def seed_lstm(*, input_dim: int, num_classes: int, window: int) -> nn.Module:
    del window  # any length
    return SeedLSTM(input_dim, num_classes)
