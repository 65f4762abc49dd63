"""Classification metrics in the bundle's ``metrics.json`` format."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)


def per_group_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, groups: Sequence[str | None]
) -> dict[str, dict]:
    """Group -> ``{n, accuracy, confusion_matrix}`` (rows = true, columns = predicted), in sorted
    group order; sequences without a group are left out."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(groups) != len(y_true):
        raise ValueError(f"{len(groups)} groups for {len(y_true)} predictions")
    arr = np.array([g if g is not None else "" for g in groups], dtype=object)
    has = np.array([g is not None for g in groups], dtype=bool)
    labels = list(range(n_classes))
    out = {}
    for g in sorted({g for g in groups if g is not None}):
        m = has & (arr == g)
        out[g] = {
            "n": int(m.sum()),
            "accuracy": float((y_true[m] == y_pred[m]).mean()),
            "confusion_matrix": confusion_matrix(y_true[m], y_pred[m], labels=labels).tolist(),
        }
    return out


def worst_groups(metrics: dict) -> list[tuple[str, dict]]:
    """``metrics["per_group"]`` as (group, entry) pairs, lowest accuracy first (then most
    sequences, then name)."""
    items = list(metrics.get("per_group", {}).items())
    return sorted(items, key=lambda kv: (kv[1]["accuracy"], -kv[1]["n"], kv[0]))


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str],
    split: str,
    groups: Sequence[str | None] | None = None,
) -> dict:
    """Accuracy, balanced accuracy, macro P/R/F1, per-class scores and the confusion matrix
    (rows = true, columns = predicted, in ``classes`` order). With ``groups`` (one per
    prediction: the person or session) and at least one of them set, ``per_group`` adds each
    group's count, accuracy and confusion matrix."""
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = s > 0  # macro averages over classes that occur in the test set
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_precision": float(p[present].mean()) if present.any() else 0.0,
        "macro_recall": float(r[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f[present].mean()) if present.any() else 0.0,
        "per_class": {
            c: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n_test": int(len(y_true)),
        "split": split,
    }
    if groups is not None and any(g is not None for g in groups):
        out["per_group"] = per_group_metrics(y_true, y_pred, len(classes), groups)
    return out


def summarize_folds(folds: list[dict]) -> dict:
    acc = np.array([f["accuracy"] for f in folds])
    f1 = np.array([f["macro_f1"] for f in folds])
    return {
        "folds": folds,
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
    }
