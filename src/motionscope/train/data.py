"""Torch datasets over keypoint samples: augmentation (train only) then the bundle transform."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from motionscope.keypoints.augment import AugmentConfig, augment
from motionscope.keypoints.preprocess import Preprocessor


class FixedInputs(Dataset):
    """Preprocessed once: validation and test sets, or training without augmentation."""

    def __init__(self, inputs: np.ndarray, labels: np.ndarray) -> None:
        self.inputs = torch.from_numpy(inputs)
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[i], self.labels[i]


class AugmentedSequences(Dataset):
    """Raw sequences, augmented afresh every epoch.

    The random stream of sample ``i`` in epoch ``e`` is seeded by ``(seed, e, i)``, so a run is
    reproducible whatever the data loader's order or worker count.
    """

    def __init__(
        self,
        sequences: list[np.ndarray],
        labels: np.ndarray,
        pre: Preprocessor,
        cfg: AugmentConfig,
        seed: int,
    ) -> None:
        self.sequences = sequences
        self.labels = torch.from_numpy(labels)
        self.pre = pre
        self.cfg = cfg
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        x = augment(self.sequences[i], self.pre.layout, self.cfg, rng)
        return torch.from_numpy(self.pre(x)), self.labels[i]
