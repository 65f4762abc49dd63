"""Unpack dataset archives (``.tar.xz`` of thousands of small ``.npy`` files) into a cache."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from motionscope.errors import DataError

DONE = ".motionscope-extracted"


def default_cache() -> Path:
    """``$MOTIONSCOPE_CACHE`` or ``~/.cache/motionscope``."""
    env = os.environ.get("MOTIONSCOPE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "motionscope"


def extract_cached(archive: Path, name: str, cache: Path | None = None) -> Path:
    """Extract ``archive`` once into ``cache/datasets/name`` and return that folder.

    Extraction goes to a temporary sibling that is renamed when complete, so an interrupted run
    never leaves a half-extracted dataset that looks finished.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise DataError(f"archive {archive} not found")
    target = (cache or default_cache()) / "datasets" / name
    stamp = f"{archive.stat().st_size}:{int(archive.stat().st_mtime)}"
    done = target / DONE
    if done.is_file() and done.read_text() == stamp:
        return target
    tmp = target.with_name(f".{name}.partial{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")  # refuses absolute paths and links out
            else:  # pragma: no cover - Python < 3.10.12
                tar.extractall(tmp)
    except (tarfile.TarError, OSError, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot extract {archive}: {e}") from e
    (tmp / DONE).write_text(stamp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target
