"""``motionscope synth keypoints|videos``: deterministic synthetic data for demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import Progress, console, err_console, or_exit, parse_size

Classes = Annotated[int, typer.Option(help="Number of action classes.")]


def synth_keypoints(
    out: Annotated[Path, typer.Argument(help="Folder to write OUT/<class>/<i>.npy into.")],
    classes: Classes = 5,
    per_class: Annotated[int, typer.Option(help="Sequences per class.")] = 20,
    frames: Annotated[int, typer.Option(help="Frames per sequence.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
) -> None:
    """Write deterministic synthetic MediaPipe Holistic sequences in the seed layout."""
    from motionscope.data.synth import write_synthetic_keypoints

    summary = or_exit(
        lambda: write_synthetic_keypoints(
            out, classes=classes, per_class=per_class, frames=frames, seed=seed
        )
    )
    console.print(
        f"wrote {len(summary['classes'])} classes x {per_class} sequences x {frames} frames "
        f"to {out}: {', '.join(summary['classes'])}"
    )


def synth_videos(
    out: Annotated[Path, typer.Argument(help="Folder to write OUT/<action>/<i>.mp4 into.")],
    classes: Classes = 5,
    per_class: Annotated[int, typer.Option(help="Clips per class.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same videos).")] = 0,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT.")] = "640x480",
    seconds: Annotated[float, typer.Option(help="Clip length in seconds.")] = 2.0,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 15,
    progress: Progress = True,
) -> None:
    """Write animated cartoon people performing distinct actions (H.264 .mp4)."""
    from motionscope.progress import progress_bar
    from motionscope.video.synth import write_synthetic_videos

    with progress_bar("synthetic videos", console=err_console, enabled=progress) as bar:
        task = bar.add_task("videos", total=classes * per_class)
        summary = or_exit(
            lambda: write_synthetic_videos(
                out,
                classes=classes,
                per_class=per_class,
                seed=seed,
                size=parse_size(size, "640x480"),
                seconds=seconds,
                fps=fps,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        )
    console.print(
        f"wrote {len(summary['classes'])} classes x {per_class} clips ({summary['frames']} frames "
        f"at {size}, {fps} fps) to {out}: {', '.join(summary['classes'])}"
    )
