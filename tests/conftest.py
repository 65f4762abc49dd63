"""Shared fixtures: small generated keypoint data, and the real datasets in ``../shared/datasets``.

The real data lives next to the repository (``../shared/datasets``), never inside it. Archives
(``*.tar.xz``) are extracted once into a cache outside the repository:
``$MOTIONSCOPE_CACHE/datasets/<name>`` when ``MOTIONSCOPE_CACHE`` is set, else
``~/.cache/motionscope/datasets/<name>`` (or a pytest temporary folder when neither is usable).
A marker file written after a complete extraction makes later runs skip it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from motionscope.data.archive import default_cache, extract_archive

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


# ---------------------------------------------------------------------------------------------
# Small generated data
# ---------------------------------------------------------------------------------------------


def _value(label_index: int, seq: int, frame: int) -> float:
    """A value that encodes where a frame came from: class, sequence and frame index."""
    return label_index * 10_000 + seq * 100 + frame


@pytest.fixture
def write_sequences() -> Callable[..., Path]:
    """``write(root, {"a": 3, "b": 2}, frames=5, width=126)`` -> ``root/<class>/<i>.npy``
    each ``(frames, width)`` float64, filled with class*10000 + seq*100 + frame."""

    def write(root: Path, counts: dict[str, int], *, frames: int = 5, width: int = 126) -> Path:
        for c, (label, n) in enumerate(counts.items()):
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = np.empty((frames, width), dtype=np.float64)
                for t in range(frames):
                    arr[t] = _value(c, i, t)
                np.save(folder / f"{i}.npy", arr)
        return root

    return write


@pytest.fixture
def write_frames() -> Callable[..., Path]:
    """``write(root, {"a": 3}, frames=4, width=126)`` -> ``root/<class>/<seq>/<frame>.npy``,
    each ``(width,)`` float64, filled with class*10000 + seq*100 + frame (the MP_Data tree)."""

    def write(root: Path, counts: dict[str, int], *, frames: int = 4, width: int = 126) -> Path:
        for c, (label, n) in enumerate(counts.items()):
            for i in range(n):
                folder = root / label / str(i)
                folder.mkdir(parents=True, exist_ok=True)
                for t in range(frames):
                    np.save(folder / f"{t}.npy", np.full(width, _value(c, i, t)))
        return root

    return write


# ---------------------------------------------------------------------------------------------
# Real shared data
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` (read-only); skips the test when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets not present (only in CI and dev machines)")
    return SHARED_DATASETS


def _inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
    except ValueError:
        return False
    return True


def _cache_root(fallback: Path) -> Path:
    root = default_cache() / "datasets"
    if _inside_repo(root):  # never extract into the repository
        return fallback
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
            pass  # writable
    except OSError:
        return fallback
    return root


@pytest.fixture(scope="session")
def extracted(shared_datasets: Path, tmp_path_factory) -> Callable[[str], Path]:
    """``extracted("mp-minecraft3")`` -> folder holding the extracted ``*.tar.xz`` of that
    dataset (e.g. ``.../mp-minecraft3/MP_Data``), cached across runs outside the repository."""
    root = _cache_root(tmp_path_factory.mktemp("datasets"))
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            archives = sorted((shared_datasets / name).glob("*.tar.xz"))
            if len(archives) != 1:
                pytest.fail(f"expected one .tar.xz in {shared_datasets / name}, found {archives}")
            done[name] = extract_archive(archives[0], root / name)
        return done[name]

    return get
