"""Markdown tables from the benchmark JSON files (pasted into docs/BENCHMARKS.md).

.venv/bin/python bench/tables.py bench/results/accuracy-*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def secs(v: object) -> str:
    return "–" if v is None else f"{float(v):.0f}"


def accuracy_table(files: list[Path]) -> str:
    rows = []
    for f in files:
        rows += json.loads(f.read_text())["rows"]
    rows.sort(key=lambda r: (r["dataset"], r["protocol"], r["model"]))
    out = [
        "| dataset | protocol | model | accuracy | macro F1 | n test | train s | CV folds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = r["accuracy"]
        if "cv_accuracy_mean" in r:
            acc_text = f"{r['cv_accuracy_mean']:.3f} ± {r['cv_accuracy_std']:.3f}"
            folds = ", ".join(f"{a:.2f}" for a in r["cv_fold_accuracies"])
        else:
            acc_text, folds = fmt(acc), ""
        if "accuracy_with_hands" in r:
            acc_text += f" (with hands {r['accuracy_with_hands']:.3f})"
        out.append(
            f"| {r['dataset']} | {r['protocol']} | {r['model']} | {acc_text} | "
            f"{fmt(r.get('macro_f1'))} | {r['n_test']} | {secs(r.get('train_seconds'))} | {folds} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(accuracy_table([Path(a) for a in sys.argv[1:]]))
