"""Report figures: confusion matrix and training curves (matplotlib, no display needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion_matrix(cm: list[list[int]], classes: list[str], out: Path, title: str) -> Path:
    m = np.asarray(cm, dtype=float)
    n = len(classes)
    size = max(4.0, 0.45 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(
                        j,
                        i,
                        int(m[i, j]),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if frac[i, j] > 0.5 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def read_epoch_log(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch series from Lightning's CSV log: name -> [(epoch, value)].

    Epoch-level keys are ``train_loss`` / ``train_acc`` / ``val_loss`` / ``val_acc`` (metrics
    logged ``on_epoch`` only) or ``*_epoch`` (metrics logged on step and epoch); per-step
    ``*_step`` values are left out."""
    series: dict[str, list[tuple[int, float]]] = {}
    if not metrics_csv.exists():
        return series
    with metrics_csv.open() as fh:
        for row in csv.DictReader(fh):
            epoch = row.get("epoch")
            if epoch in (None, ""):
                continue
            for key, value in row.items():
                if key in ("epoch", "step") or value in (None, ""):
                    continue
                if key.endswith("_step"):
                    continue
                name = key.removesuffix("_epoch")
                if name.startswith(("train_", "val_")):
                    series.setdefault(name, []).append((int(epoch), float(value)))
    return series


def plot_curves(series: dict[str, list[tuple[int, float]]], out: Path, title: str) -> Path:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for name, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for split, style in (("train", "-"), ("val", "--")):
            pts = series.get(f"{split}_{name}", [])
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(np.array(xs) + 1, ys, style, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if name == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
