"""``motionscope record``: record your own keypoint dataset from a camera or a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import SOURCE_HELP, STOPS, console, err_console, or_exit

Out = Annotated[Path, typer.Argument(help="Dataset folder: sequences go to OUT/<action>/<n>.npy.")]
Action = Annotated[str, typer.Option(help="Name of the action being recorded.")]
Sequences = Annotated[int, typer.Option(help="Sequences to record.", min=1)]
Frames = Annotated[int, typer.Option(help="Frames per sequence.", min=1)]
SourceOpt = Annotated[str, typer.Option(help=SOURCE_HELP)]
Pause = Annotated[
    float,
    typer.Option(
        help="Countdown before each sequence, in seconds of source time (file time for a "
        "video file: pause x fps frames are skipped).",
        min=0.0,
    ),
]
SaveVideo = Annotated[bool, typer.Option(help="Also keep each sequence's raw frames as a video.")]
VideoDir = Annotated[
    Path | None,
    typer.Option(help="Where --save-video writes <action>/<n>.mp4 (default: OUT-videos)."),
]
Display = Annotated[
    bool,
    typer.Option(
        "--display/--no-display",
        help="Show the prompt, countdown and skeleton in a window (q or Esc stops). "
        "Headless when no display is found.",
    ),
]


def record_cmd(
    out: Out,
    action: Action,
    sequences: Sequences = 30,
    frames: Frames = 30,
    source: SourceOpt = "0",
    pause: Pause = 2.0,
    save_video: SaveVideo = False,
    video_dir: VideoDir = None,
    display: Display = True,
) -> None:
    """Record your own keypoint dataset: a countdown, then --frames frames per sequence.

    Writes OUT/<action>/<n>.npy ((frames, 1662) float32, what `motionscope train OUT` loads) and
    a .json sidecar per sequence; numbering continues when run again for the same action.
    """
    from motionscope.pose.record import RecordConfig, run_record
    from motionscope.video.display import display_available

    show = display and display_available()
    if display and not show:
        err_console.print("no display found: recording headless", highlight=False)
    cfg = RecordConfig(out=out, action=action, sequences=sequences, frames=frames,
                       source=source, pause=pause, save_video=save_video, video_dir=video_dir,
                       display=show)  # fmt: skip
    summary = or_exit(
        lambda: run_record(cfg, on_message=lambda msg: console.print(msg, highlight=False))
    )
    numbers = summary.written
    span = f" (#{numbers[0]}-#{numbers[-1]})" if numbers else ""
    console.print(
        f"{len(numbers)} of {summary.requested} sequences of {summary.action!r} written to "
        f"{summary.folder}{span}; {STOPS[summary.stopped_by]}",
        highlight=False,
    )
    if summary.videos:
        console.print(f"videos: {Path(summary.videos[0]).parent}")
    if not summary.complete:
        raise typer.Exit(1)
