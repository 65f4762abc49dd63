"""``motionscope segment``: a long video cut into labelled segments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motionscope.cli.common import (
    Backend,
    Progress,
    Run,
    UnknownThreshold,
    console,
    load_recognizer,
    or_exit,
    print_written,
    video_frames_bar,
)

Video = Annotated[
    Path,
    typer.Argument(
        help="A long video, a folder of frame images, or a (T, D) keypoint .npy (then give "
        "--fps unless its .json sidecar from `motionscope extract` has it)."
    ),
]
Window = Annotated[
    int | None, typer.Option(help="Frames per window (default: the model's window).", min=1)
]
Stride = Annotated[
    int | None,
    typer.Option(help="Frames between window starts (default: window // 4).", min=1),
]
Smooth = Annotated[int, typer.Option(help="Average probabilities over this many windows.", min=1)]
MinSegment = Annotated[
    float | None,
    typer.Option(
        "--min-segment",
        help="Absorb segments shorter than this many seconds (default: half a window).",
        min=0.0,
    ),
]
Fps = Annotated[
    float | None,
    typer.Option(help="Frame rate, for frame folders and keypoint files without one."),
]
JsonOut = Annotated[
    Path | None, typer.Option("--json", help="Write the timeline (segments + windows) here.")
]
CsvOut = Annotated[Path | None, typer.Option("--csv", help="Write the segments as CSV here.")]
Plot = Annotated[
    Path | None,
    typer.Option(help="Draw the timeline (class lanes, confidence curve) into this PNG."),
]


def segment_cmd(
    run: Run,
    video: Video,
    window: Window = None,
    stride: Stride = None,
    smooth: Smooth = 3,
    min_segment: MinSegment = None,
    fps: Fps = None,
    json_out: JsonOut = None,
    csv_out: CsvOut = None,
    plot: Plot = None,
    unknown_threshold: UnknownThreshold = None,
    backend: Backend = "torch",
    progress: Progress = True,
) -> None:
    """Cut a long video into labelled segments: sliding windows, smoothing, merging.

    Keypoints are extracted once for the whole video; a window every --stride frames is
    classified, probabilities are smoothed over time, every frame takes the label of the windows
    covering it, and runs of one label become segments ("unknown" where the model is unsure).
    """

    def go():
        rec = load_recognizer(run, unknown_threshold, backend)
        try:
            with video_frames_bar(rec, Path(video), progress):
                timeline = rec.segments(
                    video,
                    fps=fps,
                    window=window,
                    stride=stride,
                    smooth=smooth,
                    min_segment_s=min_segment,
                )
        finally:
            rec.close()
        write_timeline(timeline, json_out, csv_out, plot)
        return timeline

    console.print(timeline_table(or_exit(go)))
    print_written(("timeline", json_out), ("segments", csv_out), ("plot", plot))


def write_timeline(timeline, json_out: Path | None, csv_out: Path | None, plot: Path | None):
    if json_out is not None:
        timeline.write_json(json_out)
    if csv_out is not None:
        timeline.write_csv(csv_out)
    if plot is not None:
        from motionscope.video.timeline_plot import plot_timeline

        plot_timeline(timeline, plot)


def timeline_table(tl) -> Table:
    t = Table(
        title=f"{tl.source}: {tl.duration_s:.1f} s, {tl.n_frames} frames at {tl.fps:g} fps",
        caption=f"window {tl.window} frames, stride {tl.stride}, smooth {tl.smooth}",
    )
    for col in ("start (s)", "end (s)", "label", "confidence"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for seg in tl.segments:
        t.add_row(f"{seg.start_s:.2f}", f"{seg.end_s:.2f}", seg.label, f"{seg.confidence:.3f}")
    return t
