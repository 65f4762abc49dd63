"""``motionscope extract SRC OUT``: the command behind keypoint extraction.

The Typer app (``motionscope/cli.py``) wires :func:`extract_command` in; this module only runs
the batch and prints the summary.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from motionscope.errors import MotionscopeError
from motionscope.pose.batch import REPORT, ExtractReport, extract_batch

ENGINES = ("local", "ray")
MAX_LISTED = 20  # problem videos listed in the table; all of them are in the report file


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


def extract_command(
    src: Path,
    out: Path,
    workers: int | None = None,
    every: int = 1,
    engine: str = "local",
    progress: bool = True,
    console: Console | None = None,
    ray_address: str | None = None,
) -> int:
    """Extract keypoints of every video under ``src`` into ``out``; print a summary.

    Returns the exit code: 0 when every video was extracted (or skipped, or had no person),
    1 when any video failed. Raises :class:`MotionscopeError` for unusable arguments.

    ``engine="ray"`` runs the videos on Ray actors: on the cluster at ``ray_address`` when given,
    else on a local Ray runtime; ``workers`` caps the number of actors."""
    if engine not in ENGINES:
        raise MotionscopeError(
            f"--engine {engine!r} is not available; use one of {', '.join(ENGINES)}"
        )
    if ray_address and engine != "ray":
        raise MotionscopeError("--ray-address needs --engine ray")
    console = console or Console()
    if engine == "ray":
        from motionscope.pose.ray_engine import extract_batch_ray

        report = extract_batch_ray(
            src, out, every=every, address=ray_address, workers=workers, progress=progress
        )
    else:
        report = extract_batch(src, out, workers=workers, every=every, progress=progress)
    console.print(summary_table(report))
    problems = problems_table(report)
    if problems is not None:
        console.print(problems)
    console.print(
        f"{report.frames_extracted} frames in {report.seconds:.1f} s "
        f"({report.frames_per_second:.1f} frames/s, {report.workers} worker(s)); "
        f"report: {Path(report.out) / REPORT}",
        highlight=False,
    )
    return 1 if report.failed else 0
