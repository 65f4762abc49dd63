"""Reader for the sktime/aeon ``.ts`` time-series format (UEA/UCR archive).

A header of ``@key value`` lines, then ``@data``, then one case per line: dimensions separated by
``:``, values inside a dimension by ``,``, the class label last.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionscope.errors import DataError


def read_ts(path: Path) -> list[tuple[np.ndarray, str]]:
    """Cases of a ``.ts`` file as ``(array (T, D) float32, label)``."""
    path = Path(path)
    cases: list[tuple[np.ndarray, str]] = []
    in_data = False
    has_labels = True
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            low = line.lower()
            if low.startswith("@classlabel"):
                has_labels = low.split()[1:2] == ["true"]
            elif low.startswith("@data"):
                in_data = True
            continue
        parts = line.split(":")
        if not has_labels:
            raise DataError(f"{path} has no class labels (@classLabel false); cannot train on it")
        label = parts[-1].strip()
        dims = []
        for d in parts[:-1]:
            try:
                dims.append([float(v) for v in d.split(",")])
            except ValueError as e:
                raise DataError(
                    f"{path}:{lineno}: not a number ({e}); missing values '?' are not supported"
                ) from e
        lengths = {len(d) for d in dims}
        if len(lengths) != 1:
            raise DataError(f"{path}:{lineno}: dimensions have different lengths {sorted(lengths)}")
        cases.append((np.asarray(dims, dtype=np.float32).T.copy(), label))
    if not in_data:
        raise DataError(f"{path} is not a .ts file: no @data line")
    if not cases:
        raise DataError(f"{path} has no cases after @data")
    return cases
