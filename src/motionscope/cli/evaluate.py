"""``motionscope evaluate``: metrics of a bundle on a labelled dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motionscope.cli.common import Format, Progress, Run, console, metrics_table, or_exit

Data = Annotated[Path, typer.Argument(help="Labelled dataset (same formats as `train`).")]
Out = Annotated[Path | None, typer.Option(help="Write metrics.json and confusion_matrix.png here.")]


def evaluate_cmd(
    run: Run, data: Data, out: Out = None, fmt: Format = "auto", progress: Progress = True
) -> None:
    """Evaluate a bundle on a labelled dataset whose classes the model knows."""
    from motionscope.evaluate.evaluate import evaluate_bundle

    m = or_exit(lambda: evaluate_bundle(run, data, out, fmt=fmt, progress=progress))
    console.print(metrics_table(m, f"{run} on {data}"))
    console.print(per_class_table(m))
    if out is not None:
        console.print(f"wrote {out / 'metrics.json'} and {out / 'confusion_matrix.png'}")


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
