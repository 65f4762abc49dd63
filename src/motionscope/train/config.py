"""Typed training configuration, saved into every bundle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OptimConfig:
    """Optimisation settings. A model's registry entry overrides the defaults; the CLI overrides
    both. Early stopping watches validation loss with patience counted in optimiser updates (small
    datasets have few updates per epoch, so epochs are the wrong unit) and restores the best
    weights."""

    optimizer: str = "adamw"  # adamw | adam
    lr: float = 1e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    batch_size: int = 32
    max_epochs: int = 200
    patience_updates: int = 300
    grad_clip: float = 1.0
    class_weighting: bool = True


@dataclass
class TrainConfig:
    """Everything ``motionscope train`` takes; saved in the bundle's ``config.json``."""

    model: str = "kpnet"
    seed: int = 0
    split: str = "stratified"  # stratified | contiguous | group | manifest | kfold:K
    test_fraction: float = 0.2
    val_fraction: float = 0.15
    test_groups: list[str] | None = None  # for --split group: which groups are the test set
    window: int | None = None  # frames per model input; None = median training length
    epochs: int | None = None  # overrides OptimConfig.max_epochs
    lr: float | None = None
    batch_size: int | None = None
    augment: bool | None = None  # None = the model's default
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp | ddp_spawn ...
    accelerator: str = "cpu"
    precision: str = "32-true"
    # Intra-op threads. Keypoint models are small: one thread is faster than two fighting over
    # two cores (measured 500x slower small matmuls under contention, docs/BENCHMARKS.md).
    threads: int | None = 1
    progress: bool = True
