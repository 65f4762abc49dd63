"""Draw a timeline of recognised actions (matplotlib, Agg: no display needed).

Top: one lane per class (plus ``unknown``, and an optional ``truth`` lane above them) with a
coloured bar for every segment. Bottom: the per-window probability of every class (thin, in the
class colours), the top probability (black) and the unknown threshold (dashed).

Takes any object with the attributes of :class:`motionscope.infer.segment.Timeline`
(``segments`` with ``start_s``/``end_s``/``label``/``confidence``, ``labels``, ``times``,
``probabilities``, ``duration_s``, ``unknown_threshold``, ``source``), so this module does not
import the inference code.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motionscope.atomic import replace_from_tmp

UNKNOWN = "unknown"
_UNKNOWN_COLOUR = (0.6, 0.6, 0.6)


def class_colours(classes: Sequence[str]) -> dict[str, tuple]:
    """A stable colour per class (tab10, tab20 beyond 10 classes), grey for unknown."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    colours = {c: tuple(cmap(i % cmap.N)) for i, c in enumerate(classes)}
    colours[UNKNOWN] = _UNKNOWN_COLOUR
    return colours


def plot_timeline(
    timeline,
    out: Path | str,
    *,
    truth: Sequence[tuple[float, float, str]] | None = None,
    title: str | None = None,
) -> Path:
    """Write the timeline figure as a PNG to ``out`` (atomically). ``truth``: optional
    ``(start_s, end_s, label)`` segments drawn in their own lane for comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    classes = list(timeline.labels)
    colours = class_colours(classes)
    lanes = [*classes, UNKNOWN] + (["truth"] if truth is not None else [])
    row = {name: i for i, name in enumerate(lanes)}
    duration = float(timeline.duration_s) or 1.0
    fig, (ax, ax_p) = plt.subplots(
        2,
        1,
        figsize=(max(8.0, min(20.0, 2.0 + duration / 4.0)), 2.4 + 0.32 * len(lanes)),
        sharex=True,
        gridspec_kw={"height_ratios": [max(1.2, 0.32 * len(lanes)), 1.6]},
    )
    for seg in timeline.segments:
        y = row.get(seg.label, row[UNKNOWN])
        colour = colours.get(seg.label, _UNKNOWN_COLOUR)
        ax.broken_barh([(seg.start_s, seg.end_s - seg.start_s)], (y - 0.4, 0.8), color=colour)
        if seg.end_s - seg.start_s > duration / 40:
            ax.text(
                (seg.start_s + seg.end_s) / 2,
                y,
                f"{seg.confidence:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if seg.label != UNKNOWN else "black",
            )
    if truth is not None:
        y = row["truth"]
        for start, end, label in truth:
            ax.broken_barh(
                [(start, end - start)],
                (y - 0.4, 0.8),
                color=colours.get(label, _UNKNOWN_COLOUR),
                edgecolor="black",
                linewidth=0.5,
            )
            ax.text((start + end) / 2, y, label, ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"timeline of {timeline.source or 'the input'}", fontsize=10)

    times = np.asarray(timeline.times, dtype=float)
    probs = np.asarray(timeline.probabilities, dtype=float)
    if len(times):
        for j, c in enumerate(classes):
            ax_p.plot(times, probs[:, j], color=colours[c], linewidth=0.9, alpha=0.7)
        ax_p.plot(times, probs.max(axis=1), color="black", linewidth=1.6, label="top probability")
    if timeline.unknown_threshold:
        ax_p.axhline(
            timeline.unknown_threshold,
            color="red",
            linestyle="--",
            linewidth=1,
            label=f"unknown threshold {timeline.unknown_threshold:.2f}",
        )
    ax_p.set_ylim(0, 1.02)
    ax_p.set_xlim(0, duration)
    ax_p.set_xlabel("time (s)")
    ax_p.set_ylabel("probability")
    ax_p.grid(alpha=0.3)
    ax_p.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = buf.getvalue()
    replace_from_tmp(out, lambda fh: fh.write(data))
    return out
