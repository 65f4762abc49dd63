"""Builders shared by several test modules: torch thread limits, tiny trained bundles and a
free loopback port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.train import TrainConfig, train


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_kpnet_bundle(
    root: Path,
    *,
    classes: int,
    per_class: int,
    frames: int,
    seed: int,
    epochs: int,
    window: int | None = None,
    model: str = "kpnet-v1",
) -> Path:
    """Synthetic holistic keypoints in ``root/data`` -> a kpnet bundle in ``root/run`` (one torch
    thread, left set for the module that asked). ``kpnet-v1`` by default: the same network with
    the lighter regularisation, so that the few epochs these tests afford give a model that is
    right on their synthetic data (the default ``kpnet`` is tuned for unseen people and needs
    more epochs)."""
    torch.set_num_threads(1)
    write_synthetic_keypoints(
        root / "data", classes=classes, per_class=per_class, frames=frames, seed=seed
    )
    ds = load_keypoint_dataset(root / "data", progress=False)
    cfg = TrainConfig(model=model, epochs=epochs, window=window, progress=False, threads=1)
    train(ds, root / "run", cfg)
    return root / "run"
