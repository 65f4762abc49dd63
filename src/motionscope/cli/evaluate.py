"""``motionscope evaluate``: metrics of a bundle on a labelled dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motionscope.cli.common import (
    Format,
    Progress,
    Run,
    console,
    err_console,
    metrics_table,
    or_exit,
)

Data = Annotated[Path, typer.Argument(help="Labelled dataset (same formats as `train`).")]
Out = Annotated[Path | None, typer.Option(help="Write metrics.json and confusion_matrix.png here.")]


def evaluate_cmd(
    run: Run, data: Data, out: Out = None, fmt: Format = "auto", progress: Progress = True
) -> None:
    """Evaluate a bundle on a labelled dataset whose classes the model knows."""
    from motionscope.evaluate.evaluate import evaluate_bundle, per_group_table

    note = training_data_note(run, data)
    if note:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    m = or_exit(lambda: evaluate_bundle(run, data, out, fmt=fmt, progress=progress))
    console.print(metrics_table(m, f"{run} on {data}"))
    console.print(per_class_table(m))
    groups = per_group_table(m)
    if groups is not None:
        console.print(groups)
    if out is not None:
        console.print(f"wrote {out / 'metrics.json'} and {out / 'confusion_matrix.png'}")


def training_data_note(run: Path, data: Path) -> str | None:
    """A warning when ``data`` is (or holds, or lies inside) the data the bundle was trained on
    (``config.json`` ``data.source``): those numbers are not held-out."""
    import json

    try:
        cfg = json.loads((Path(run) / "config.json").read_text())
        source = cfg.get("data", {}).get("source")
    except (OSError, ValueError, AttributeError):
        return None  # evaluate_bundle reports a damaged bundle
    if not source:
        return None
    trained, given = Path(source).resolve(), Path(data).resolve()
    if not (given == trained or trained in given.parents or given in trained.parents):
        return None
    split = cfg.get("split") or {}
    parts = ", ".join(f"{split[k]} {k[2:]}" for k in ("n_train", "n_val", "n_test") if k in split)
    return (
        f"{data} is the data {run} was trained on ({source}; split {split.get('strategy', '?')}"
        f"{': ' + parts if parts else ''}): these numbers include training sequences and are "
        f"not held-out; the held-out test numbers are in {Path(run) / 'metrics.json'}"
    )


def per_class_table(m: dict) -> Table:
    t = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="right")
    for name, pc in m["per_class"].items():
        if pc["support"]:
            t.add_row(
                name,
                f"{pc['precision']:.3f}",
                f"{pc['recall']:.3f}",
                f"{pc['f1']:.3f}",
                str(pc["support"]),
            )
    return t
