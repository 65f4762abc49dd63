"""Frame rates of keypoint sequences, from the ``.json`` sidecars ``motionscope extract`` and
``motionscope record`` write beside each ``.npy``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def sidecar_fps(path: Path | str) -> float | None:
    """The keypoint frame rate in the sidecar of the sequence file ``path`` (None if unknown)."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    if path.suffix != ".npy" or not sidecar.is_file():
        return None
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    fps = info.get("keypoint_fps") or info.get("fps")
    try:
        fps = float(fps) if fps else None
    except (TypeError, ValueError):
        return None
    return fps if fps and 0 < fps <= 1000 else None


def dataset_fps(sources: Iterable[str | Path]) -> float | None:
    """The median frame rate of sequences read from ``sources``, when at least half of them say
    (a folder of bare ``.npy`` files has none: None)."""
    sources = list(sources)
    found = [f for f in (sidecar_fps(s) for s in sources) if f]
    if not sources or len(found) * 2 < len(sources):
        return None
    return round(float(np.median(found)), 3)
