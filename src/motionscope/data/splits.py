"""Train/test splits: stratified, contiguous, group, k-fold, or fixed by the manifest; and
cross-validation by group: leave-one-group-out (``logo``) and group k-fold (``groupkfold:K``).

Every function returns index arrays into the dataset and is deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from motionscope.data.dataset import KeypointDataset
from motionscope.errors import DataError

STRATEGIES = ("stratified", "contiguous", "group", "manifest", "kfold:K", "logo", "groupkfold:K")
CV_KINDS = ("kfold", "logo", "groupkfold")  # one model per fold, out-of-fold metrics


@dataclass(frozen=True)
class SplitSpec:
    kind: str  # stratified | contiguous | group | manifest | kfold | logo | groupkfold
    k: int = 0  # folds, for kfold and groupkfold

    @classmethod
    def parse(cls, text: str) -> SplitSpec:
        t = text.strip().lower()
        for kind in ("groupkfold", "kfold"):
            if t.startswith(kind):
                _, _, k = t.partition(":")
                if not k.isdigit() or int(k) < 2:
                    raise DataError(f"--split {text!r}: write {kind}:K with K >= 2, e.g. {kind}:5")
                return cls(kind, int(k))
        if t in ("logo", "leave-one-group-out"):
            return cls("logo")
        if t not in ("stratified", "contiguous", "group", "manifest"):
            raise DataError(f"unknown split {text!r}; use one of {', '.join(STRATEGIES)}")
        return cls(t)

    @property
    def is_cv(self) -> bool:
        """Cross-validation (one model per fold) rather than one train/test split."""
        return self.kind in CV_KINDS

    def __str__(self) -> str:
        return f"{self.kind}:{self.k}" if self.kind in ("kfold", "groupkfold") else self.kind


def _n_test(n: int, fraction: float) -> int:
    return min(n - 1, max(1, int(round(n * fraction))))


def stratified(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(labels))
    counts = np.bincount(labels)
    strat = labels if counts[counts > 0].min() >= 2 else None
    n_test = _n_test(len(labels), fraction)
    if strat is not None:
        n_test = max(n_test, int((counts > 0).sum()))
        if len(labels) - n_test < int((counts > 0).sum()):
            strat = None
    train, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
    return np.sort(train), np.sort(test)


def contiguous(
    labels: np.ndarray, orders: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the last sequences in natural order are the test set."""
    train, test = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(orders[members], kind="stable")]
        if len(members) < 2:
            train.extend(members)
            continue
        k = _n_test(len(members), fraction)
        train.extend(members[:-k])
        test.extend(members[-k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def _group_names(groups: list[str | None], split: str) -> list[str]:
    """The sorted group names, or a clear error when a sequence has none or there is one."""
    if any(g is None for g in groups):
        missing = sum(g is None for g in groups)
        raise DataError(
            f"--split {split}: {missing} sequences have no group (of {len(groups)}); put each "
            "person in a folder (DATA/<person>/<class>/... or DATA/<class>/<person>/...), give a "
            "'group' column in the manifest or --group-pattern REGEX matching a path component "
            "(e.g. 'person(\\d+)')"
        )
    names = sorted(set(groups))  # type: ignore[arg-type]
    if len(names) < 2:
        raise DataError(
            f"--split {split} needs at least 2 groups (people), found {len(names)} {names}; "
            "with one person use --split stratified or kfold:K"
        )
    return names


def group(
    groups: list[str | None], fraction: float, seed: int, test_groups: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Whole groups (people, sessions) go to one side only."""
    names = _group_names(groups, "group")
    if test_groups:
        unknown = [g for g in test_groups if g not in names]
        if unknown:
            raise DataError(f"test groups {unknown} not found; groups are {names}")
        chosen = set(test_groups)
    else:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(names))
        sizes = {g: groups.count(g) for g in names}
        target = fraction * len(groups)
        chosen, total = set(), 0
        for i in order:
            if total >= target or len(chosen) == len(names) - 1:
                break
            chosen.add(names[i])
            total += sizes[names[i]]
    is_test = np.array([g in chosen for g in groups])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def kfold(labels: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    counts = np.bincount(labels)
    if counts[counts > 0].min() < k:
        raise DataError(
            f"kfold:{k} needs at least {k} sequences per class; the smallest class has "
            f"{counts[counts > 0].min()}"
        )
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in skf.split(np.zeros(len(labels)), labels)]


def group_folds(
    labels: np.ndarray, groups: list[str | None], k: int | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds by group: every group is in the test part of exactly one fold.
    ``k=None`` is leave-one-group-out (a fold per group, in sorted group order); else ``k``
    folds of whole groups, stratified by class as far as the groups allow
    (``StratifiedGroupKFold``)."""
    split = "logo" if k is None else f"groupkfold:{k}"
    names = _group_names(groups, split)
    index = {g: i for i, g in enumerate(names)}
    codes = np.array([index[g] for g in groups])
    if k is None:
        folds = [
            (np.flatnonzero(codes != i), np.flatnonzero(codes == i)) for i in range(len(names))
        ]
    else:
        if k > len(names):
            raise DataError(
                f"--split {split}: {len(names)} groups cannot fill {k} folds; use "
                f"groupkfold:{len(names)} (or logo) or fewer folds"
            )
        sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = [
            (np.sort(a), np.sort(b)) for a, b in sgkf.split(np.zeros(len(labels)), labels, codes)
        ]
    return folds


def cv_folds(
    ds: KeypointDataset, spec: SplitSpec, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds of a cross-validation strategy (``kfold:K``, ``logo``, ``groupkfold:K``)."""
    if spec.kind == "kfold":
        return kfold(ds.labels, spec.k, seed)
    if spec.kind in ("logo", "groupkfold"):
        return group_folds(ds.labels, [s.group for s in ds.samples], spec.k or None, seed)
    raise DataError(f"--split {spec} is not cross-validation; use kfold:K, logo or groupkfold:K")


def fold_groups(ds, test_idx: np.ndarray) -> list[str]:
    """The groups whose sequences are in ``test_idx`` (sorted; empty without groups)."""
    return sorted({ds.samples[i].group for i in test_idx if ds.samples[i].group is not None})


def manifest(splits: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array([s or "" for s in splits])
    if not (arr == "test").any():
        raise DataError("--split manifest: no row of the manifest has split=test")
    return np.flatnonzero(arr != "test"), np.flatnonzero(arr == "test")


def split_dataset(
    ds: KeypointDataset,
    spec: SplitSpec,
    *,
    test_fraction: float,
    seed: int,
    test_groups: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices for a non-kfold strategy."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    labels = ds.labels
    if spec.kind == "stratified":
        return stratified(labels, test_fraction, seed)
    if spec.kind == "contiguous":
        return contiguous(labels, np.array([s.order for s in ds.samples]), test_fraction)
    if spec.kind == "group":
        return group([s.group for s in ds.samples], test_fraction, seed, test_groups)
    if spec.kind == "manifest":
        return manifest([s.split for s in ds.samples])
    if spec.is_cv:
        raise DataError(
            f"--split {spec} is cross-validation (one model per fold), not available here; "
            "use a train/test split (stratified, contiguous, group, manifest)"
        )
    raise ValueError(f"split_dataset does not handle {spec}")


def validation_split(
    ds: KeypointDataset, train_idx: np.ndarray, spec: SplitSpec, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation slice out of the training indices (for early stopping).

    Rows marked ``split=val`` in a manifest are used as they are; a contiguous split takes the
    last training sequences of each class (the same honesty as the test split); otherwise a
    stratified random slice.
    """
    sub = ds.subset(train_idx)
    marked = np.array([s.split == "val" for s in sub.samples])
    if marked.any():
        return train_idx[~marked], train_idx[marked]
    if spec.kind == "contiguous":
        a, b = contiguous(sub.labels, np.array([s.order for s in sub.samples]), fraction)
    else:
        a, b = stratified(sub.labels, fraction, seed + 1)
    return train_idx[a], train_idx[b]
