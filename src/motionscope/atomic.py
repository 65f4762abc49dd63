"""Atomic file writes: write ``<name>.tmp`` beside the target, fsync, then rename into place.

A reader (or a run killed with ``kill -9``) sees the old file or the new one, never half of one.
:func:`write_npy`, :func:`write_json` and :func:`replace_from_tmp` write through a file handle;
:func:`atomic_target` hands out a temporary *path* for writers that open files by name (video
encoders, ONNX tools).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

TMP_SUFFIX = ".tmp"


def tmp_path(path: Path) -> Path:
    return path.with_name(path.name + TMP_SUFFIX)


def replace_from_tmp(path: Path, write: Callable[[BinaryIO], object]) -> None:
    path = Path(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_npy(path: Path, arr: np.ndarray) -> None:
    """Save ``arr`` as ``.npy`` atomically."""
    replace_from_tmp(path, lambda fh: np.save(fh, arr, allow_pickle=False))


def write_json(path: Path, obj: object) -> None:
    """Write ``obj`` as indented JSON atomically."""
    text = json.dumps(obj, indent=2) + "\n"
    replace_from_tmp(path, lambda fh: fh.write(text.encode("utf-8")))


@contextmanager
def atomic_target(path: Path | str) -> Iterator[Path]:
    """``with atomic_target(out) as tmp: write(tmp)``: ``tmp`` (``.<name>.<pid>.tmp`` beside
    ``out``, hidden and private to this process) is fsynced and renamed to ``out`` when the block
    ends normally, and removed when it raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
