"""RGB video models: ``cnn-lstm``, ``c3d-lstm-gru`` and ``r2plus1d``.

Every model here maps a batch of clips ``(B, T, H, W, 3)`` RGB, 0..255 (uint8 or float), to
``(B, classes)`` logits. The input normalisation is part of the model (:class:`FrameInput`, its
mean and std are buffers saved with the weights), so a bundle's ``model.safetensors`` is the whole
pipeline after frame sampling; the sampling itself (frames per clip, crop size) is the bundle's
``config.json`` ``sampling`` entry (:class:`motionscope.video.sampling.SamplingConfig`).

- ``cnn-lstm``: EfficientNet-Lite0 (ImageNet-pretrained, :mod:`.efficientnet_lite`) on every frame
  -> 1280-d average-pooled features -> LSTM -> last and mean output -> linear. Trained with the
  backbone frozen (its outputs cached on disk, see ``train/fit_frames.py``) or with its last
  blocks fine-tuned (:meth:`CnnLstm.set_finetune`).
- ``c3d-lstm-gru``: the seed projects' hybrid, from scratch: four 3D conv blocks over the clip
  -> average over a coarse ``grid`` x ``grid`` of cells per time step (where things are matters:
  an arm up or down) -> LSTM -> GRU -> [last, mean] -> dense -> linear; ~0.5 GMAC a 16x112x112
  clip.
- ``r2plus1d``: a small residual (2+1)D network from scratch, for comparison.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from motionscope.models.efficientnet_lite import (
    FEATURE_DIM,
    LITE0_MEAN,
    LITE0_STD,
    N_BLOCKS,
    EfficientNetLite0,
)
from motionscope.models.registry import register_model

SCRATCH_MEAN = (0.45, 0.45, 0.45)  # on 0..1 pixels; from-scratch models learn around it
SCRATCH_STD = (0.225, 0.225, 0.225)
# What every RGB model here samples from a video (SamplingConfig fields), unless trained otherwise.
RGB_SAMPLING = {"frames": 16, "mode": "uniform", "size": 112, "resize": 128}


def _rgb_optim(*, lr: float, batch_size: int, max_epochs: int, patience_updates: int) -> dict:
    """The optimiser defaults the RGB models share (AdamW, label smoothing, clipping)."""
    return {
        "optimizer": "adamw",
        "lr": lr,
        "weight_decay": 1e-2,
        "label_smoothing": 0.1,
        "batch_size": batch_size,
        "max_epochs": max_epochs,
        "patience_updates": patience_updates,
        "grad_clip": 1.0,
    }


class FrameInput(nn.Module):
    """``(B, T, H, W, 3)`` 0..255 -> normalised float ``(B, T, 3, H, W)`` (``channels_first``
    False) or ``(B, 3, T, H, W)`` (True, for 3D convolutions)."""

    def __init__(self, mean, std, *, channels_first: bool = False) -> None:
        super().__init__()
        self.channels_first = channels_first
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32) * 255.0)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32) * 255.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) / self.std  # broadcast over the trailing channel axis
        return x.permute(0, 4, 1, 2, 3) if self.channels_first else x.permute(0, 1, 4, 2, 3)

    def normalization(self) -> dict:
        """For the bundle's config: ``(pixel / 255 - mean) / std`` per RGB channel."""
        return {
            "formula": "(pixel / 255 - mean) / std, RGB",
            "mean": [round(v / 255.0, 6) for v in self.mean.tolist()],
            "std": [round(v / 255.0, 6) for v in self.std.tolist()],
        }


# ----------------------------------------------------------------------------------------------
# cnn-lstm


class TemporalHead(nn.Module):
    """Per-frame features ``(B, T, F)`` -> LSTM -> [last output, mean output] -> logits."""

    def __init__(
        self,
        feature_dim: int,
        num_classes: int,
        hidden: int,
        layers: int,
        dropout: float,
        feature_dropout: float,
    ) -> None:
        super().__init__()
        self.drop_in = nn.Dropout(feature_dropout)
        self.lstm = nn.LSTM(
            feature_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.drop_in(f))
        return self.fc(self.drop(torch.cat([out[:, -1], out.mean(dim=1)], dim=-1)))


class CnnLstm(nn.Module):
    """EfficientNet-Lite0 per frame, then an LSTM over the frames.

    Training splits the backbone: blocks ``[0, split)`` are frozen (eval mode, no gradients) and
    their output is what :meth:`frozen_part` returns (and the trainer caches); :meth:`from_frozen`
    runs the rest. ``forward = from_frozen(frozen_part(x))`` whatever the split.
    """

    def __init__(
        self,
        num_classes: int,
        hidden: int = 256,
        layers: int = 1,
        dropout: float = 0.3,
        feature_dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.input = FrameInput(LITE0_MEAN, LITE0_STD)
        self.backbone = EfficientNetLite0()
        self.head = TemporalHead(FEATURE_DIM, num_classes, hidden, layers, dropout, feature_dropout)
        self.finetune_blocks = 0  # training state only: how many last blocks are trained

    @property
    def split(self) -> int:
        """Blocks of the frozen prefix (16 = the whole backbone, pooled features are frozen)."""
        return N_BLOCKS - min(self.finetune_blocks, N_BLOCKS)

    def set_finetune(self, blocks: int) -> None:
        """Freeze the backbone except its last ``blocks`` MBConv blocks and head conv."""
        if blocks < 0:
            raise ValueError(f"finetune blocks must be >= 0, got {blocks}")
        self.finetune_blocks = min(int(blocks), N_BLOCKS)
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        for m in self.backbone.trainable_modules(self.finetune_blocks):
            for p in m.parameters():
                p.requires_grad_(True)
        self.train(self.training)

    def _frozen_modules(self) -> list[nn.Module]:
        keep = {id(m) for m in self.backbone.trainable_modules(self.finetune_blocks)}
        mods = [self.backbone._conv_stem, self.backbone._bn0, *self.backbone._blocks]
        mods += [self.backbone._conv_head, self.backbone._bn1]
        return [m for m in mods if id(m) not in keep]

    def train(self, mode: bool = True) -> CnnLstm:
        super().train(mode)
        if mode:  # frozen batch norms keep their ImageNet statistics
            for m in self._frozen_modules():
                m.eval()
        return self

    def frozen_part(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H, W, 3)`` clips -> the frozen prefix's output per frame ``(B, T, ...)``:
        pooled features ``(B, T, 1280)`` when nothing is fine-tuned, else the feature maps
        entering the first trained block."""
        z = self.input(x)
        b, t = z.shape[:2]
        z = z.flatten(0, 1)
        h = self.backbone(z) if self.split == N_BLOCKS else self.backbone.prefix(z, self.split)
        return h.reshape(b, t, *h.shape[1:])

    def from_frozen(self, h: torch.Tensor) -> torch.Tensor:
        """The rest of the network: :meth:`frozen_part`'s output -> logits."""
        if self.split < N_BLOCKS:
            b, t = h.shape[:2]
            h = self.backbone.suffix(h.flatten(0, 1), self.split).reshape(b, t, -1)
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_frozen(self.frozen_part(x))


@register_model(
    "cnn-lstm",
    description=(
        "RGB: ImageNet-pretrained EfficientNet-Lite0 per frame (frozen, features cached, or last "
        "blocks fine-tuned) -> LSTM(256) -> linear"
    ),
    input_kind="frames",
    sampling=RGB_SAMPLING,
    optim=_rgb_optim(lr=1e-3, batch_size=16, max_epochs=60, patience_updates=200),
    hparams={"hidden": 256, "layers": 1, "dropout": 0.3, "feature_dropout": 0.2},
)
def cnn_lstm(
    *,
    input_dim: int,
    num_classes: int,
    window: int,
    hidden: int = 256,
    layers: int = 1,
    dropout: float = 0.3,
    feature_dropout: float = 0.2,
) -> nn.Module:
    del input_dim, window  # RGB frames, any number of them
    return CnnLstm(num_classes, hidden, layers, dropout, feature_dropout)


# ----------------------------------------------------------------------------------------------
# c3d-lstm-gru


def _conv3d_block(cin: int, cout: int, stride=(1, 1, 1)) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


def _grid_mean(z: torch.Tensor, grid: int) -> torch.Tensor:
    """``adaptive_avg_pool3d(z, (T, grid, grid))`` written with slices and means (the same cells
    and values), because the ONNX exporter has no adaptive 3D pooling."""
    h, w = z.shape[-2:]
    rows = []
    for i in range(grid):
        r0, r1 = (i * h) // grid, -(-((i + 1) * h) // grid)
        cells = []
        for j in range(grid):
            c0, c1 = (j * w) // grid, -(-((j + 1) * w) // grid)
            cells.append(z[..., r0:r1, c0:c1].mean(dim=(-2, -1)))
        rows.append(torch.stack(cells, dim=-1))
    return torch.stack(rows, dim=-2)


def _pool(x: torch.Tensor, t: int) -> torch.Tensor:
    """Max-pool space by 2 and time by ``t`` (by 1 when the clip is already that short)."""
    kt = t if x.shape[2] >= t else 1
    return F.max_pool3d(x, (kt, 2, 2), (kt, 2, 2), ceil_mode=True)


class C3dLstmGru(nn.Module):
    """3D convs over the clip -> LSTM -> GRU -> dense -> logits (the seed hybrid, smaller)."""

    def __init__(
        self,
        num_classes: int,
        channels: tuple[int, ...] = (16, 32, 64, 128),
        lstm: int = 128,
        gru: int = 128,
        dense: int = 64,
        dropout: float = 0.4,
        grid: int = 2,
    ) -> None:
        super().__init__()
        c = list(channels)
        self.grid = grid
        if len(c) != 4:
            raise ValueError(f"c3d-lstm-gru takes 4 channel widths, got {channels}")
        self.input = FrameInput(SCRATCH_MEAN, SCRATCH_STD, channels_first=True)
        self.conv1 = _conv3d_block(3, c[0], stride=(1, 2, 2))
        self.conv2 = _conv3d_block(c[0], c[1])
        self.conv3 = _conv3d_block(c[1], c[2])
        self.conv4 = _conv3d_block(c[2], c[3])
        self.lstm = nn.LSTM(c[3] * grid * grid, lstm, batch_first=True)
        self.gru = nn.GRU(lstm, gru, batch_first=True)
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * gru, dense),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout / 2),
            nn.Linear(dense, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.input(x)  # (B, 3, T, H, W)
        z = _pool(self.conv1(z), 1)
        z = _pool(self.conv2(z), 2)
        z = _pool(self.conv3(z), 1)
        z = self.conv4(z)  # (B, C, T', H', W')
        b, c, t = z.shape[:3]
        z = _grid_mean(z, self.grid)  # (B, C, T', grid, grid)
        seq = z.permute(0, 2, 1, 3, 4).reshape(b, t, c * self.grid * self.grid)
        out, _ = self.lstm(seq)
        out, _ = self.gru(out)
        return self.head(torch.cat([out[:, -1], out.mean(dim=1)], dim=-1))


@register_model(
    "c3d-lstm-gru",
    description=(
        "RGB from scratch: the seed hybrid, 4 Conv3d blocks (16-128) -> LSTM(128) -> GRU(128) "
        "-> dense(64)"
    ),
    input_kind="frames",
    sampling=RGB_SAMPLING,
    optim=_rgb_optim(lr=2e-3, batch_size=8, max_epochs=40, patience_updates=300),
    hparams={
        "channels": [16, 32, 64, 128],
        "lstm": 128,
        "gru": 128,
        "dense": 64,
        "dropout": 0.4,
        "grid": 2,
    },
)
def c3d_lstm_gru(
    *,
    input_dim: int,
    num_classes: int,
    window: int,
    channels=(16, 32, 64, 128),
    lstm: int = 128,
    gru: int = 128,
    dense: int = 64,
    dropout: float = 0.4,
    grid: int = 2,
) -> nn.Module:
    del input_dim, window
    return C3dLstmGru(num_classes, tuple(channels), lstm, gru, dense, dropout, grid)


# ----------------------------------------------------------------------------------------------
# r2plus1d


class _Conv2Plus1d(nn.Sequential):
    """A 3x3x3 convolution factored into 1x3x3 (space) then 3x1x1 (time)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        mid = max(cout, (cin * cout * 27) // (cin * 9 + cout * 3))  # ~ the 3D conv's parameters
        super().__init__(
            nn.Conv3d(cin, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, cout, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
        )


class _Res2Plus1d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _Conv2Plus1d(cin, cout, stride)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = _Conv2Plus1d(cout, cout)
        self.bn2 = nn.BatchNorm3d(cout)
        self.short = (
            nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(h)) + self.short(x), inplace=True)


class R2Plus1d(nn.Module):
    """Stem (2+1)D conv, stride 2 in space -> 3 residual (2+1)D blocks -> pool -> linear."""

    def __init__(
        self, num_classes: int, channels: tuple[int, ...] = (24, 48, 96), dropout: float = 0.3
    ) -> None:
        super().__init__()
        c = list(channels)
        self.input = FrameInput(SCRATCH_MEAN, SCRATCH_STD, channels_first=True)
        self.stem = nn.Sequential(
            nn.Conv3d(3, c[0], (1, 5, 5), (1, 2, 2), (0, 2, 2), bias=False),
            nn.BatchNorm3d(c[0]),
            nn.ReLU(inplace=True),
            nn.Conv3d(c[0], c[0], (3, 1, 1), 1, (1, 0, 0), bias=False),
            nn.BatchNorm3d(c[0]),
            nn.ReLU(inplace=True),
        )
        blocks, cin = [], c[0]
        for cout in c:
            blocks.append(_Res2Plus1d(cin, cout, 2))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.blocks(self.stem(self.input(x)))
        return self.head(z.mean(dim=(2, 3, 4)))


@register_model(
    "r2plus1d",
    description="RGB from scratch: small residual (2+1)D CNN (3 blocks, 24-96 channels)",
    input_kind="frames",
    sampling=RGB_SAMPLING,
    optim=_rgb_optim(lr=2e-3, batch_size=8, max_epochs=40, patience_updates=300),
    hparams={"channels": [24, 48, 96], "dropout": 0.3},
)
def r2plus1d(
    *, input_dim: int, num_classes: int, window: int, channels=(24, 48, 96), dropout: float = 0.3
) -> nn.Module:
    del input_dim, window
    return R2Plus1d(num_classes, tuple(channels), dropout)
