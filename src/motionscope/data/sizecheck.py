"""Is there enough data for training to mean anything? Warnings with the numbers, or an error.

Checked before a model trains (``holdout_split`` in :mod:`motionscope.train.fit`, for keypoint
and RGB models alike):

- refused (:class:`~motionscope.errors.DataError`): an empty train / validation / test part,
  and (unless ``force``) a class with fewer than :data:`MIN_PER_CLASS` sequences or with none
  in the train part;
- warned (:class:`DataSizeWarning`): a class with fewer than :data:`FEW_PER_CLASS` sequences or
  under a third of the largest class, and a class with 0-1 sequences in validation or test.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from motionscope.errors import DataError

MIN_PER_CLASS = 2  # below this a class cannot be in both training and test
FEW_PER_CLASS = 10  # below this, per-class numbers mean little
LOPSIDED = 1 / 3  # a class under this fraction of the largest one is warned about


class DataSizeWarning(UserWarning):
    """The data is small or lopsided: training runs, but its numbers are shaky."""


def _names(classes: Sequence[str], counts: np.ndarray, pick) -> str:
    return ", ".join(f"{classes[i]} ({int(counts[i])})" for i in range(len(classes)) if pick(i))


def check_data_size(
    labels: np.ndarray,
    classes: Sequence[str],
    parts: dict[str, np.ndarray] | None = None,
    *,
    force: bool = False,
) -> list[str]:
    """Warn (and return the warnings) about small or lopsided data; raise :class:`DataError`
    where training cannot mean anything, unless ``force``. ``parts``: name -> indices into
    ``labels`` (``{"train": ..., "validation": ..., "test": ...}``)."""
    labels = np.asarray(labels)
    n = len(classes)
    counts = np.bincount(labels, minlength=n)[:n]
    problems: list[str] = []
    tiny = [i for i in range(n) if counts[i] < MIN_PER_CLASS]
    if tiny:
        problems.append(
            f"class {_names(classes, counts, lambda i: i in tiny)} has fewer than "
            f"{MIN_PER_CLASS} sequences: it cannot be both trained on and tested; record more "
            "of it or leave the class out (--classes)"
        )
    empty = [name for name, idx in (parts or {}).items() if len(idx) == 0]
    if empty:  # nothing to train, stop early on or test with: --force cannot help
        sizes = "/".join(str(len(idx)) for idx in (parts or {}).values())
        raise DataError(
            f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty "
            f"({len(labels)} sequences split {sizes} into {'/'.join(parts or {})}); record "
            "more data or change --test-fraction / --val-fraction"
        )
    train = (parts or {}).get("train")
    if train is not None:
        in_train = np.bincount(labels[train], minlength=n)[:n]
        absent = {i for i in range(n) if in_train[i] == 0 and counts[i] >= MIN_PER_CLASS}
        if absent:
            problems.append(
                f"the train split ({len(train)} of {len(labels)} sequences) has none of class "
                f"{_names(classes, counts, absent.__contains__)}: the model cannot learn it; "
                "record more data (aim for 20+ per class)"
            )
    if problems and not force:
        raise DataError("; ".join(problems) + " (--force trains anyway)")
    notes = list(problems)
    largest = int(counts.max()) if n else 0
    few = [i for i in range(n) if MIN_PER_CLASS <= counts[i] < FEW_PER_CLASS]
    if few:
        notes.append(
            f"few sequences in class {_names(classes, counts, lambda i: i in few)} (under "
            f"{FEW_PER_CLASS}): the accuracy will be noisy; record more (aim for 20+ per class)"
        )
    lop = [i for i in range(n) if counts[i] >= MIN_PER_CLASS and counts[i] < LOPSIDED * largest]
    if lop:
        notes.append(
            f"lopsided classes: {_names(classes, counts, lambda i: i in lop)} against "
            f"{largest} in the largest; the loss is class-weighted, but record more of the small "
            "ones or check balanced accuracy"
        )
    for name in ("validation", "test"):
        idx = (parts or {}).get(name)
        if idx is None or len(idx) == 0:
            continue
        got = np.bincount(labels[idx], minlength=n)[:n]
        thin = {i for i in range(n) if got[i] <= 1}
        if thin:
            notes.append(
                f"the {name} split has 0-1 sequences of class "
                f"{_names(classes, got, thin.__contains__)}: its per-class numbers mean "
                "nothing; record more data or raise "
                f"--{'val' if name == 'validation' else 'test'}-fraction"
            )
    for note in notes:
        warnings.warn(note, DataSizeWarning, stacklevel=2)
    return notes
