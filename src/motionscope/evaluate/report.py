"""``report.md``: a human-readable summary of a bundle's training and evaluation."""

from __future__ import annotations

from pathlib import Path

from motionscope.evaluate.metrics import worst_groups


def metrics_table(classes: list[str], metrics: dict) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c in classes:
        pc = metrics["per_class"].get(c)
        if pc:
            lines.append(
                f"| {c} | {pc['precision']:.3f} | {pc['recall']:.3f} | "
                f"{pc['f1']:.3f} | {pc['support']} |"
            )
    return lines


def _top_confusion(cm: list[list[int]], classes: list[str]) -> str:
    """The largest off-diagonal cell of a confusion matrix as ``"true → predicted (n)"``."""
    best, where = 0, ""
    for i, row in enumerate(cm):
        for j, n in enumerate(row):
            if i != j and n > best:
                best, where = n, f"{classes[i]} → {classes[j]} ({n})"
    return where or "-"


def group_table(classes: list[str], metrics: dict, limit: int | None = None) -> list[str]:
    """Per-group accuracy, worst group first, with each group's most frequent confusion."""
    rows = worst_groups(metrics)
    if limit is not None:
        rows = rows[:limit]
    lines = [
        "| group | sequences | accuracy | most confused (true → predicted) |",
        "|---|---|---|---|",
    ]
    for g, e in rows:
        lines.append(
            f"| {g} | {e['n']} | {e['accuracy']:.3f} | "
            f"{_top_confusion(e['confusion_matrix'], classes)} |"
        )
    return lines


def _data_line(config: dict) -> str:
    n = config["data"]["n_sequences"]
    if config.get("input_kind") == "frames":
        s = config["sampling"]
        return (
            f"- data: {n} videos; {s['frames']} frames a clip ({s['mode']} sampling), "
            f"{s['size']}x{s['size']} crops of frames resized to {s['resize']} px"
        )
    pre = config["preprocessing"]
    return f"- data: {n} sequences, layout {pre['layout']['name']}, window {pre['window']} frames"


def write_report(path: Path, config: dict, classes: list[str], metrics: dict) -> Path:
    m = metrics
    lines = [
        f"# {config['model']['name']} on {config['data']['source']}",
        "",
        f"- classes ({len(classes)}): {', '.join(classes)}",
        _data_line(config),
        f"- split: {m['split']} ({config['split']['n_train']} train / "
        f"{config['split']['n_val']} validation / {m['n_test']} test)",
        f"- parameters: {config['model']['parameters']:,}",
        f"- training: {m.get('train_seconds', 0):.1f} s, {m.get('epochs', 0)} epochs "
        f"(best epoch {m.get('best_epoch', -1) + 1})",
        "",
        "## Held-out results",
        "",
        "| accuracy | balanced accuracy | macro precision | macro recall | macro F1 |",
        "|---|---|---|---|---|",
        f"| {m['accuracy']:.3f} | {m['balanced_accuracy']:.3f} | {m['macro_precision']:.3f} | "
        f"{m['macro_recall']:.3f} | {m['macro_f1']:.3f} |",
        "",
    ]
    if "cv" in m:
        cv = m["cv"]
        lines += [
            f"Cross-validation: accuracy {cv['accuracy_mean']:.3f} ± {cv['accuracy_std']:.3f}, "
            f"macro F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f} over "
            f"{len(cv['folds'])} folds.",
            "",
        ]
    if m.get("per_group"):
        n = len(m["per_group"])
        held = m.get("test_groups")
        lines += [
            f"## Per group ({n} groups, worst first)",
            "",
            *([f"Test groups: {', '.join(held)}.", ""] if held and "cv" not in m else []),
            *group_table(classes, m),
            "",
        ]
    lines += [
        "## Per class",
        "",
        *metrics_table(classes, m),
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        "![curves](curves.png)",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
