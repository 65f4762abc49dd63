"""Out-of-fold class probabilities for an audit: each sequence is scored by a model that never
saw it (nor, when the dataset has groups, anyone of its group).

Models:

- ``logreg`` (default): logistic regression on a fixed-length summary of each sequence's
  ``kpnet`` input features (per-feature mean and standard deviation over the frames, and the
  difference between the first and the second half's means); seconds on 2 cores.
- ``kpnet``: the default keypoint network with a short budget (``epochs``), one per fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from motionscope.data.dataset import KeypointDataset
from motionscope.errors import DataError
from motionscope.keypoints.features import FeatureConfig, make_features

MODELS = ("logreg", "kpnet")


@dataclass
class Folds:
    """Fold assignment: ``fold[i]`` is the fold whose model scores sequence ``i``."""

    fold: np.ndarray
    by_group: bool
    n: int

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (np.flatnonzero(self.fold != k), np.flatnonzero(self.fold == k)) for k in range(self.n)
        ]


def make_folds(ds: KeypointDataset, folds: int, seed: int) -> Folds:
    """``folds`` folds, by group when every sequence has one and there are 2+ groups (then at
    most one fold per group), else stratified by class."""
    y = ds.labels
    if ds.has_groups():
        names = sorted(set(ds.groups))  # type: ignore[arg-type]
        codes = np.array([names.index(g) for g in ds.groups])
        k = min(folds, len(names))
        split = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y, codes
        )
        by_group = True
    else:
        smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
        k = min(folds, smallest)
        if k < 2:
            raise DataError(
                f"an audit needs at least 2 sequences in every class ({ds.source}); the smallest "
                f"class has {smallest}"
            )
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y
        )
        by_group = False
    fold = np.full(len(y), -1, dtype=np.int64)
    for i, (_, test) in enumerate(split):
        fold[test] = i
    return Folds(fold, by_group, k)


def sequence_features(ds: KeypointDataset) -> np.ndarray:
    """``(N, 3F)`` float32: mean, std and first-half minus second-half mean of the ``kpnet``
    features of every sequence (raw values for generic layouts)."""
    cfg = FeatureConfig(kind="motion", canonical=True)

    def one(x: np.ndarray) -> np.ndarray:
        f = make_features(x, ds.layout, cfg)
        h = max(1, len(f) // 2)
        second = f[h:] if len(f) > 1 else f
        return np.concatenate([f.mean(0), f.std(0), f[:h].mean(0) - second.mean(0)])

    return np.stack([one(s.data) for s in ds.samples]).astype(np.float32)


def _logreg(seed: int):
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=3000, random_state=seed)
    )


def _fill(probs: np.ndarray, classes_seen: np.ndarray, p: np.ndarray) -> None:
    """Probabilities of the classes a fold's model saw, zero for the others."""
    probs[:] = 0.0
    probs[:, classes_seen] = p


def logreg_oof(x: np.ndarray, y: np.ndarray, n_classes: int, folds: Folds, seed: int) -> np.ndarray:
    out = np.zeros((len(y), n_classes), dtype=np.float64)
    for train, test in folds.pairs():
        if len(np.unique(y[train])) < 2:
            out[test] = 1.0 / n_classes
            continue
        model = _logreg(seed).fit(x[train], y[train])
        block = np.zeros((len(test), n_classes))
        _fill(block, model.classes_, model.predict_proba(x[test]))
        out[test] = block
    return out


def kpnet_oof(ds: KeypointDataset, folds: Folds, seed: int, epochs: int) -> np.ndarray:
    """Out-of-fold probabilities of the default keypoint network, ``epochs`` at most per fold."""
    from motionscope.data.splits import SplitSpec, validation_split
    from motionscope.keypoints.preprocess import Preprocessor
    from motionscope.models.classifier import predict_proba
    from motionscope.models.registry import get_model_info
    from motionscope.train.config import TrainConfig
    from motionscope.train.fit import _features_for, _window_for, fit_model

    info = get_model_info("kpnet")
    cfg = TrainConfig(model="kpnet", epochs=epochs, progress=False, seed=seed)
    pre = Preprocessor(ds.layout, _window_for(ds, cfg), _features_for(info, cfg))
    out = np.zeros((len(ds), len(ds.classes)))
    for k, (train, test) in enumerate(folds.pairs()):
        tr, va = validation_split(ds, train, SplitSpec("stratified"), 0.15, seed + k)
        fit = fit_model(info, pre, ds.subset(tr), ds.subset(va), cfg, None, seed=seed + k)
        out[test] = predict_proba(fit.model, pre.batch([ds.samples[i].data for i in test]))
    return out


def within_group_accuracy(
    x: np.ndarray, y: np.ndarray, groups: list[str], seed: int, folds: int = 5
) -> dict[str, float]:
    """How self-consistent each group's own labels are: stratified cross-validated accuracy of
    the logistic regression trained and tested inside the group (NaN when too small)."""
    out: dict[str, float] = {}
    g = np.array(groups, dtype=object)
    for name in sorted(set(groups)):
        m = np.flatnonzero(g == name)
        ym = y[m]
        counts = np.bincount(ym)
        counts = counts[counts > 0]
        k = min(folds, int(counts.min())) if len(counts) > 1 else 0
        if k < 2:
            out[name] = float("nan")
            continue
        pred = np.empty(len(m), dtype=np.int64)
        for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(x[m], ym):
            pred[test] = _logreg(seed).fit(x[m][train], ym[train]).predict(x[m][test])
        out[name] = float((pred == ym).mean())
    return out
