"""Evaluate a bundle on any labelled dataset whose classes are a subset of the bundle's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from motionscope.atomic import write_json
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.errors import DataError
from motionscope.evaluate.metrics import classification_metrics, worst_groups
from motionscope.evaluate.plots import plot_confusion_matrix
from motionscope.infer.loader import load_recognizer
from motionscope.kinds import InputKind


def evaluate_bundle(
    run: Path | str,
    data: Path | str,
    out: Path | str | None = None,
    *,
    fmt: str = "auto",
    progress: bool = True,
) -> dict:
    """Metrics of the bundle at ``run`` on every sequence of ``data``.

    Writes ``out/metrics.json`` and ``out/confusion_matrix.png`` when ``out`` is given.
    """
    rec = load_recognizer(run)
    rgb = rec.kind is InputKind.FRAMES
    if rgb:  # an RGB model: a video dataset (class folders of videos or a manifest)
        from motionscope.data.videos import load_video_dataset

        ds = load_video_dataset(data)
    else:
        # any named layout holding the model's blocks (1662-wide data for a 258-wide model);
        # the recognizer converts each sequence to the bundle's layout
        layout = rec.layout if rec.layout.is_generic else None
        ds = load_keypoint_dataset(data, layout=layout, fmt=fmt, progress=progress)
    unknown = [c for c in ds.classes if c not in rec.classes]
    if unknown:
        raise DataError(
            f"classes {unknown} of {data} are not among the model's classes {rec.classes}; "
            "evaluate on data of the classes the model was trained on"
        )
    index = {c: i for i, c in enumerate(rec.classes)}
    y_true = np.array([index[s.label] for s in ds.samples], dtype=np.int64)
    if rgb:
        probs = rec.probabilities([s.path for s in ds.samples], progress=progress)
    else:
        probs = rec.probabilities([s.data for s in ds.samples])
    what = "videos" if rgb else "sequences"
    metrics = classification_metrics(
        y_true,
        probs.argmax(-1),
        rec.classes,
        f"all of {data} ({len(ds)} {what})",
        [getattr(s, "group", None) for s in ds.samples],
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", metrics)
        plot_confusion_matrix(
            metrics["confusion_matrix"],
            rec.classes,
            out / "confusion_matrix.png",
            f"{Path(run).name} on {Path(data).name}",
        )
    return metrics


def per_group_table(metrics: dict, limit: int | None = None) -> Table | None:
    """A rich table of ``metrics["per_group"]`` (worst group first), None without groups."""
    rows = worst_groups(metrics)
    if not rows:
        return None
    t = Table(title=f"per group ({len(rows)}, worst first)")
    for col in ("group", "sequences", "accuracy"):
        t.add_column(col, justify="right")
    for g, e in rows[:limit] if limit else rows:
        t.add_row(g, str(e["n"]), f"{e['accuracy']:.3f}")
    return t
