"""``motionscope audit DATA``: the command body (registered in ``motionscope.cli``), parsing and
printing only, over :func:`motionscope.audit.audit_dataset`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from motionscope.errors import MotionscopeError

AUDIT_JSON = "audit.json"
AUDIT_MANIFEST = "manifest.csv"


def audit_cmd(
    data: Annotated[Path, typer.Argument(help="Labelled dataset (same formats as `train`).")],
    out: Annotated[
        Path, typer.Option(help=f"Folder for {AUDIT_JSON} and {AUDIT_MANIFEST} (suggested labels).")
    ] = Path("audit"),
    folds: Annotated[
        int, typer.Option(min=2, help="Out-of-fold folds (by person when the data has groups).")
    ] = 5,
    model: Annotated[
        str,
        typer.Option(
            help="logreg (logistic regression on per-sequence feature summaries, seconds) or "
            "kpnet (the default network, --epochs per fold, minutes)."
        ),
    ] = "logreg",
    epochs: Annotated[int, typer.Option(min=1, help="kpnet: epochs per fold.")] = 30,
    seed: Annotated[int, typer.Option(help="Fold assignment and model seed.")] = 0,
    groups: Annotated[
        str,
        typer.Option(
            help="Which folder level is the person: auto, first (DATA/<person>/<class>) or "
            "second (DATA/<class>/<person>)."
        ),
    ] = "auto",
    group_pattern: Annotated[
        str | None, typer.Option(help="Regex whose first group, in a path, names its group.")
    ] = None,
    layout: Annotated[str | None, typer.Option(help="Force a keypoint layout.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto | sequences | frames | manifest | ts")
    ] = "auto",
    limit: Annotated[int, typer.Option(min=1, help="Rows of each table to print.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report only.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Audit the labels of DATA: suspect sequences with a suggested label, people whose classes
    look permuted, duplicates, sequences without pose or hands; writes OUT/audit.json and
    OUT/manifest.csv (train on it to use the suggested labels)."""
    from motionscope.audit.core import audit_dataset
    from motionscope.data.loaders import load_keypoint_dataset

    console = Console()
    err = Console(stderr=True, soft_wrap=True)
    try:
        ds = load_keypoint_dataset(
            data,
            layout=layout,
            fmt=fmt,
            group_pattern=group_pattern,
            groups=groups,
            progress=progress and not as_json,
        )
        report = audit_dataset(ds, folds=folds, model=model, seed=seed, epochs=epochs)
        report.write_json(out / AUDIT_JSON)
        manifest = out / AUDIT_MANIFEST
        report.write_manifest(manifest, ds)
    except MotionscopeError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console.print(report.summary_table())
    for table in (
        report.groups_table(limit),
        report.issues_table(limit),
        report.flags_table(limit),
    ):
        if table is not None:
            console.print(table)
    console.print(f"wrote {out / AUDIT_JSON} and {manifest}", soft_wrap=True)
    if report.trust_note:
        err.print(f"[bold yellow]warning:[/] {report.trust_note}", highlight=False)
    n = sum(e.apply for e in report.issues)
    if n:
        console.print(
            f"{n} label(s) changed in the manifest; train on them with\n"
            f"  motionscope train {manifest} --out runs/audited",
            highlight=False,
            soft_wrap=True,
        )
