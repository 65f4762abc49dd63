"""Atomic file writes: write ``<name>.tmp`` beside the target, fsync, then rename into place.

A reader (or a run killed with ``kill -9``) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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
