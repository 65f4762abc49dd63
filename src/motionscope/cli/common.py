"""What every command shares: the consoles, one-line errors, tables and option types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from motionscope.errors import DataError, MotionscopeError

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def or_exit(fn: Callable[[], T]) -> T:
    """Call ``fn``; print a motionscope error as one line and exit with status 2."""
    try:
        return fn()
    except MotionscopeError as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None


def parse_size(text: str, example: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)``; a :class:`DataError` quoting ``--size`` otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DataError(f"--size must look like {example}, got {text!r}") from None
    return w, h


def metrics_table(metrics: dict, title: str) -> Table:
    t = Table(title=title)
    for col in ("accuracy", "balanced acc.", "macro P", "macro R", "macro F1", "n test"):
        t.add_column(col, justify="right")
    t.add_row(
        f"{metrics['accuracy']:.3f}",
        f"{metrics['balanced_accuracy']:.3f}",
        f"{metrics['macro_precision']:.3f}",
        f"{metrics['macro_recall']:.3f}",
        f"{metrics['macro_f1']:.3f}",
        str(metrics["n_test"]),
    )
    return t


def print_written(*pairs: tuple[str, Path | str | None]) -> None:
    """``wrote WHAT: PATH`` for every pair whose path was written."""
    for what, path in pairs:
        if path:
            console.print(f"wrote {what}: {path}")


@contextmanager
def video_frames_bar(rec, path: Path, enabled: bool) -> Iterator[None]:
    """A transient ``frames done/total`` bar with an ETA over one video while MediaPipe runs
    (keypoint models; on stderr, so ``--json`` output stays clean)."""
    from motionscope.progress import on_frames, video_bar
    from motionscope.video.decode import is_video_file, probe

    total = None
    if enabled and getattr(rec, "uses_pose", False) and is_video_file(path):
        try:
            total = probe(path).frames or None
        except MotionscopeError:
            total = None  # the prediction reports the error
    if not total:
        yield
        return
    with video_bar(path.name, console=err_console) as bar:
        task = bar.add_task(path.name, total=total)
        with on_frames(lambda n: bar.update(task, advance=n)):
            yield


def load_recognizer(run_dir: Path, unknown_threshold: float | None, backend: str):
    import motionscope

    return motionscope.load(run_dir, unknown_threshold=unknown_threshold, backend=backend)


SOURCE_HELP = "Camera index (0), stream URL (rtsp://, http://...) or video file."
STOPS = {
    "done": "done",
    "end": "the source ended",
    "user": "stopped by the user",
    "interrupt": "interrupted",
    "max_frames": "--max-frames reached",
}

# Option types used by several commands.
Run = Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")]
UnknownThreshold = Annotated[
    float | None,
    typer.Option(
        "--unknown-threshold",
        help="Report 'unknown' when the top calibrated probability is below this (default: the "
        "threshold calibrated on the validation split and stored in the bundle; 0 disables it).",
        min=0.0,
        max=1.0,
    ),
]
Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="What runs the network: torch, onnx or onnx-int8 (ONNX Runtime; needs "
        "`motionscope export RUN --format onnx [--int8]` first).",
    ),
]
Progress = Annotated[bool, typer.Option(help="Show progress bars.")]
Format = Annotated[str, typer.Option("--format", help="auto | sequences | frames | manifest | ts")]
