"""On-disk cache of a frozen backbone's per-frame outputs, for training ``cnn-lstm`` fast.

With the backbone frozen, its output for a given clip never changes, so it is computed once per
clip and *view* and stored as ``.npy`` files; training the temporal head then reads tensors
instead of decoding video and running EfficientNet every epoch.

Views: view 0 is the evaluation sampling (deterministic, ``train=False``), used for validation,
testing and calibration; views ``1..V`` are training samplings with augmentation (random crop,
flip, colour jitter and, in ``segment`` mode, random frame offsets), each drawn from a random
generator seeded by the clip's content hash and the view number, so the same clip gets the same
views in every run and a run asking for more views reuses the ones already there. Training picks
one of the ``V`` views at random per clip and epoch.

Keys: an entry is named by a hash of (the clip's content hash, the view, the sampling settings,
the backbone name, its weights' SHA-256, the input normalisation, where the frozen part ends,
:data:`CACHE_VERSION`). Changing any of them (other sampling, other weights, fine-tuning more
blocks) reads and writes other entries; editing a video changes its content hash. Entries are
written atomically (``.tmp`` then rename), so an interrupted run leaves no half file and two
processes (DDP ranks) may fill the same cache. Stale entries are never read; delete the folder to
reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionscope.atomic import write_npy
from motionscope.video.decode import frame_files

CACHE_VERSION = 1


def content_hash(path: Path | str) -> str:
    """SHA-256 of a video file's bytes, or of a frame folder's file names and bytes in order."""
    path = Path(path)
    h = hashlib.sha256()
    files = frame_files(path) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.name.encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def settings_key(settings: dict) -> str:
    """Stable hash of JSON-able settings."""
    text = json.dumps({**settings, "cache_version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def view_seed(video_hash: str, view: int) -> list[int]:
    """The random seed of augmented view ``view`` of a clip (independent of the run's seed)."""
    return [int(video_hash[:15], 16), int(view)]


@dataclass
class FeatureCache:
    """Entries under ``root`` for one settings key; counts what it computed and reused."""

    root: Path
    settings: dict  # sampling, backbone, normalisation, split point (see settings_key)
    computed: int = 0  # entries computed (and written) by this object
    reused: int = 0  # entries read from disk
    _key: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._key = settings_key(self.settings)

    @property
    def key(self) -> str:
        return self._key

    def entry(self, video_hash: str, view: int) -> Path:
        name = hashlib.sha256(f"{self._key}:{video_hash}:{view}".encode()).hexdigest()[:40]
        return self.root / name[:2] / f"{name}.npy"

    def get(
        self,
        video: Path,
        views: list[int],
        compute: Callable[[Path, str, list[int]], np.ndarray],
    ) -> np.ndarray:
        """The cached outputs of ``views`` of ``video`` stacked ``(len(views), ...)``; the missing
        ones are made by ``compute(video, content_hash, missing_views)`` and stored."""
        vh = content_hash(video)
        found: dict[int, np.ndarray] = {}
        for v in views:
            p = self.entry(vh, v)
            if p.is_file():
                try:
                    found[v] = np.load(p, allow_pickle=False)
                except (OSError, ValueError, EOFError, zipfile.BadZipFile):
                    p.unlink(missing_ok=True)  # damaged (e.g. disk full): recompute
        missing = [v for v in views if v not in found]
        self.reused += len(found)
        if missing:
            out = compute(video, vh, missing)
            for v, arr in zip(missing, out, strict=True):
                p = self.entry(vh, v)
                os.makedirs(p.parent, exist_ok=True)
                write_npy(p, np.ascontiguousarray(arr, dtype=np.float32))
                found[v] = arr
            self.computed += len(missing)
        return np.stack([found[v] for v in views]).astype(np.float32, copy=False)
