"""``motionscope demo``: the whole job on synthetic data (see :mod:`motionscope.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import console, or_exit, parse_size

Out = Annotated[Path, typer.Option(help="Folder for the data, bundle and reports.")]
Keypoints = Annotated[
    bool,
    typer.Option(
        "--keypoints",
        help="Synthetic keypoint sequences instead of videos: no video, no MediaPipe, "
        "about a minute.",
    ),
]
Model = Annotated[
    str,
    typer.Option(
        help="Architecture to train (an RGB model such as cnn-lstm trains on the videos "
        "directly, without MediaPipe)."
    ),
]
Classes = Annotated[int, typer.Option(help="Synthetic action classes.")]
PerClass = Annotated[
    int | None,
    typer.Option(help="Training clips per class.", show_default="10 videos, or 40 sequences"),
]
HeldoutPerClass = Annotated[
    int | None,
    typer.Option(help="Held-out clips per class.", show_default="3 videos, or 10 sequences"),
]
Seconds = Annotated[float, typer.Option(help="Video clip length in seconds.")]
Size = Annotated[str, typer.Option(help="Video frame size WIDTHxHEIGHT.")]
Workers = Annotated[
    int | None, typer.Option(help="Extraction processes.", show_default="one per core")
]
Epochs = Annotated[
    int | None, typer.Option(help="Training epochs.", show_default="100, or 60 for --keypoints")
]
Seed = Annotated[int, typer.Option(help="Random seed.")]


def demo_cmd(
    out: Out = Path("demo-out"),
    keypoints: Keypoints = False,
    model: Model = "kpnet",
    classes: Classes = 6,
    per_class: PerClass = None,
    heldout_per_class: HeldoutPerClass = None,
    seconds: Seconds = 1.5,
    size: Size = "320x240",
    workers: Workers = None,
    epochs: Epochs = None,
    seed: Seed = 0,
) -> None:
    """Run the whole job on synthetic data: cartoon videos -> MediaPipe keypoints -> train ->
    evaluate on held-out videos -> predict from video files (a few minutes on 2 cores)."""
    from motionscope.demo import DemoConfig, run_demo

    def go():
        cfg = DemoConfig(
            keypoints=keypoints,
            model=model,
            classes=classes,
            per_class=per_class,
            heldout_per_class=heldout_per_class,
            seconds=seconds,
            size=parse_size(size, "320x240"),
            workers=workers,
            epochs=epochs,
            seed=seed,
        )
        return run_demo(out, cfg, console=console)

    or_exit(go)
