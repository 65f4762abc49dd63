"""``motionscope extract SRC OUT``: run the keypoint extraction batch and print its summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from motionscope.cli.common import Progress, or_exit
from motionscope.pose.engines import ENGINES, extract_keypoints
from motionscope.pose.report import REPORT, ExtractReport

__all__ = ["ENGINES", "extract_command", "problems_table", "summary_table"]

MAX_LISTED = 20  # problem videos listed in the table; all of them are in the report file

Src = Annotated[
    Path,
    typer.Argument(
        help="A video file, a folder of videos (class folders, any depth) or a folder of frame "
        "images (one video)."
    ),
]
Out = Annotated[
    Path,
    typer.Argument(
        help="Output folder: mirrors SRC with one (T, 1662) .npy and a .json sidecar per video."
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(help="Parallel worker processes, one MediaPipe graph each (default: CPU cores)."),
]
Every = Annotated[int, typer.Option(help="Keep every K-th frame.")]
Fps = Annotated[
    float | None,
    typer.Option(
        help="Extract at this frame rate (e.g. 15, the rate your model trains at): MediaPipe "
        "runs only on the frames it needs, a slower video repeats frames; the rate is recorded "
        "in each sidecar (keypoint_fps). Default: each video's own rate."
    ),
]
Engine = Annotated[
    str,
    typer.Option(
        help="local (a process pool on this machine) or ray (Ray actors; a local Ray "
        "runtime, or a cluster with --ray-address; SRC and OUT must then be on a shared "
        "filesystem)."
    ),
]
Graph = Annotated[
    str,
    typer.Option(
        help="MediaPipe graph: holistic (pose, face mesh, hands), pose-hands (Holistic "
        "without its face branch: the same pose and hand landmarks, the face block zero, "
        "faster) or pose (Holistic's pose only). The output is 1662 wide either way, with "
        "the blocks a graph skips zero; pose-hands suits models whose layout has no face "
        "(pose_hands, hands). Part of the skip-if-done key."
    ),
]
GraphThreads = Annotated[
    int,
    typer.Option(
        help="Threads of each worker's MediaPipe graph (its calculator pool; XNNPACK runs on "
        "one). 0 = auto: CPU cores / workers, at least 1 (1 with as many workers as cores: "
        "each worker then keeps one core busy, not more)."
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(help="Address of a running Ray cluster (with --engine ray), e.g. 10.0.0.5:6379."),
]


def extract_cmd(
    src: Src,
    out: Out,
    workers: Workers = None,
    every: Every = 1,
    fps: Fps = None,
    engine: Engine = "local",
    ray_address: RayAddress = None,
    graph: Graph = "holistic",
    graph_threads: GraphThreads = 0,
    progress: Progress = True,
) -> None:
    """Extract MediaPipe Holistic keypoints from videos: resumable, atomic, in parallel.

    Re-running skips videos already extracted with the same settings; failures are listed in
    OUT/extract-report.json and make the exit code 1 without stopping the batch.
    """
    code = or_exit(
        lambda: extract_command(
            src, out, workers, every, engine, progress, ray_address=ray_address, fps=fps,
            graph=graph, graph_threads=graph_threads or None,
        )
    )  # fmt: skip
    raise typer.Exit(code)


def extract_command(
    src: Path,
    out: Path,
    workers: int | None = None,
    every: int = 1,
    engine: str = "local",
    progress: bool = True,
    console: Console | None = None,
    ray_address: str | None = None,
    fps: float | None = None,
    graph: str = "holistic",
    graph_threads: int | None = None,
) -> int:
    """Extract keypoints of every video under ``src`` into ``out``; print a summary.

    Returns the exit code: 0 when every video was extracted (or skipped, or had no person),
    1 when any video failed. Raises :class:`MotionscopeError` for unusable arguments."""
    console = console or Console()
    report = extract_keypoints(
        src, out, workers=workers, every=every, fps=fps, engine=engine, address=ray_address,
        progress=progress, graph=graph, graph_threads=graph_threads,
    )  # fmt: skip
    print_report(report, console)
    console.print(
        f"{report.frames_extracted} frames in {report.seconds:.1f} s "
        f"({report.frames_per_second:.1f} frames/s, {report.workers} worker(s)); "
        f"report: {Path(report.out) / REPORT}",
        highlight=False,
    )
    return 1 if report.failed else 0


def print_report(report: ExtractReport, console: Console) -> None:
    """The summary table, and the table of videos needing attention when there are some."""
    console.print(summary_table(report))
    problems = problems_table(report)
    if problems is not None:
        console.print(problems)


def summary_table(report: ExtractReport) -> Table:
    t = Table(title="keypoint extraction")
    for col in ("status", "videos", "frames"):
        t.add_column(col, justify="right" if col != "status" else "left")
    for status, n in report.counts.items():
        frames = sum(v.frames for v in report.videos if v.status == status)
        t.add_row(status, str(n), str(frames))
    return t


def _short(source: str, src: str) -> str:
    """``source`` relative to the batch's SRC folder (its name when SRC is the video itself)."""
    try:
        rel = Path(source).relative_to(src)
    except ValueError:
        return source
    return Path(source).name if rel == Path(".") else rel.as_posix()


def problems_table(report: ExtractReport) -> Table | None:
    bad = [v for v in report.videos if v.status in ("failed", "no-person") or v.warnings]
    if not bad:
        return None
    t = Table(title=f"videos needing attention (paths in {report.src})")
    t.add_column("video", overflow="fold")
    t.add_column("status", no_wrap=True)
    t.add_column("reason", overflow="fold")
    for v in bad[:MAX_LISTED]:
        reason = v.error or ("; ".join(v.warnings) if v.warnings else "no person in any frame")
        t.add_row(_short(v.source, report.src), v.status, reason)
    if len(bad) > MAX_LISTED:
        t.caption = f"... and {len(bad) - MAX_LISTED} more (see {REPORT})"
    return t
