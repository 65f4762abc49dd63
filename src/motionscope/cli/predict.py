"""``motionscope predict``: the action of each input clip."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motionscope.cli.common import Backend, Run, UnknownThreshold, console, load_recognizer, or_exit

Inputs = Annotated[
    list[Path],
    typer.Argument(
        help="Clips: (T, D) .npy files, folders of per-frame .npy files, videos or folders "
        "of frame images."
    ),
]
TopK = Annotated[int, typer.Option(help="How many classes to show per input.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON lines.")]


def predict_cmd(
    run: Run,
    inputs: Inputs,
    top_k: TopK = 3,
    as_json: AsJson = False,
    unknown_threshold: UnknownThreshold = None,
    backend: Backend = "torch",
) -> None:
    """Predict the action of each input sequence ("unknown" when the model is unsure)."""

    def go():
        rec = load_recognizer(run, unknown_threshold, backend)
        try:
            return rec.predict_many(list(inputs), top_k=top_k)
        finally:
            rec.close()

    preds = or_exit(go)
    if as_json:
        for p in preds:
            sys.stdout.write(json.dumps(p.to_dict()) + "\n")
        return
    t = Table(title=f"predictions of {run}")
    for col in ("input", "label", "confidence", f"top {top_k}"):
        t.add_column(col)
    for p in preds:
        t.add_row(
            p.source,
            p.label,
            f"{p.confidence:.3f}",
            ", ".join(f"{lab} {c:.2f}" for lab, c in p.top_k),
        )
    console.print(t)
