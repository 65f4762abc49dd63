"""Typed training configuration, saved into every bundle."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from motionscope.errors import MotionscopeError


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
    # mixup: training batches blended with a shuffled copy, weight ~ Beta(mixup, mixup); 0 = off
    mixup: float = 0.0


@dataclass
class TrainConfig:
    """Everything ``motionscope train`` takes; saved in the bundle's ``config.json``."""

    model: str = "kpnet"
    seed: int = 0
    # stratified | contiguous | group | manifest | kfold:K; "" = manifest when the data has a
    # split column, else stratified
    split: str = ""
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
    force: bool = False  # train even when the data is too small to mean anything (data/sizecheck)
    # Intra-op torch threads; None = the cores that are idle now (see auto_threads): a second
    # thread makes a step ~1.5x faster on a quiet 2-core machine but 1.8-3x slower when another
    # process is busy (bench/threads.py, docs/BENCHMARKS.md). Same seed and same thread
    # count give the same weights.
    threads: int | None = None
    # Overrides of the model's defaults, by field name (see FeatureConfig, NormalizeConfig under
    # features.normalize, AugmentConfig and OptimConfig); usually given in a YAML --config file.
    features: dict[str, Any] = field(default_factory=dict)
    augmentation: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: Path | str, **overrides: Any) -> TrainConfig:
        """Read a YAML mapping of these fields; ``overrides`` win over the file."""
        path = Path(path)
        raw = read_yaml_mapping(path)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MotionscopeError(
                f"{path}: unknown settings {unknown}; known: {', '.join(sorted(known))}"
            )
        return cls(**{**raw, **overrides})

    progress: bool = True


def read_yaml_mapping(path: Path) -> dict:
    """A YAML ``--config`` file as a mapping, with errors naming the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise MotionscopeError(f"cannot read config {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise MotionscopeError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise MotionscopeError(f"{path} must hold a mapping of training settings")
    return raw


def auto_threads() -> int:
    """The number of cores not busy with other work right now (1-minute load average)."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without a load average
        busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.5)))
