"""``motionscope live``: recognise actions from a camera, a stream or a video file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import (
    SOURCE_HELP,
    STOPS,
    Backend,
    Progress,
    Run,
    UnknownThreshold,
    console,
    err_console,
    load_recognizer,
    or_exit,
    print_written,
)
from motionscope.errors import MotionscopeError

SourceOpt = Annotated[str, typer.Option(help=SOURCE_HELP)]
Output = Annotated[
    Path | None,
    typer.Option(help="Write the annotated video here (.mp4 H.264, .webm, .mkv, .avi)."),
]
Log = Annotated[Path | None, typer.Option(help="Write one JSON line per prediction here.")]
Display = Annotated[
    bool,
    typer.Option(
        "--display/--no-display",
        help="Show a window (q or Esc quits). Without a display (no DISPLAY or "
        "WAYLAND_DISPLAY) it is headless anyway: then the annotated video and the log are "
        "written (default annotated.mp4 and predictions.jsonl).",
    ),
]
Realtime = Annotated[
    bool,
    typer.Option(
        help="For a file source: play at the file's frame rate, dropping frames when "
        "behind (default: every frame, as fast as possible)."
    ),
]
Every = Annotated[int, typer.Option(help="Predict every K frames.", min=1)]
Smooth = Annotated[int, typer.Option(help="Average the last N predictions' probabilities.", min=1)]
TopK = Annotated[int, typer.Option(help="Confidence bars to draw.", min=1)]
MaxFrames = Annotated[int | None, typer.Option(help="Stop after this many frames.", min=1)]


def live_cmd(
    run: Run,
    source: SourceOpt = "0",
    output: Output = None,
    log: Log = None,
    display: Display = True,
    realtime: Realtime = False,
    every: Every = 5,
    smooth: Smooth = 3,
    top_k: TopK = 3,
    max_frames: MaxFrames = None,
    unknown_threshold: UnknownThreshold = None,
    backend: Backend = "torch",
    progress: Progress = True,
) -> None:
    """Recognise actions live from a camera, a stream or a video file.

    Frames go through MediaPipe Holistic; once the model's window of frames is buffered, a
    prediction is made every --every frames and smoothed over the last --smooth. Cameras and
    streams are read in their own thread keeping only the newest frame: when recognition is
    slower than the camera, frames are dropped, never queued, so the view does not lag.
    """
    from motionscope.infer.live import LiveConfig, run_live
    from motionscope.video.display import display_available

    show = display and display_available()
    if not show:
        if display:
            err_console.print("no display found: running headless", highlight=False)
        output, log = output or Path("annotated.mp4"), log or Path("predictions.jsonl")
    cfg = LiveConfig(source=source, output=output, log=log, display=show, realtime=realtime,
                     every=every, smooth=smooth, top_k=top_k, max_frames=max_frames)  # fmt: skip

    def go():
        rec = load_recognizer(run, unknown_threshold, backend)
        try:
            if show or not progress:
                return run_live(rec, cfg)
            with headless_bar(source, max_frames) as advance:
                return run_live(rec, cfg, on_update=lambda _u: advance())
        finally:
            rec.close()

    s = or_exit(go)
    labels = ", ".join(f"{k} {v}" for k, v in sorted(s.labels.items(), key=lambda kv: -kv[1]))
    console.print(
        f"{s.frames} frames in {s.seconds:.1f} s ({s.fps:.1f} frames/s), {s.dropped} dropped, "
        f"{s.predictions} predictions"
        + (f": {labels}" if labels else "")
        + f"; {STOPS[s.stopped_by]}",
        highlight=False,
    )
    print_written(("annotated video", s.output), ("predictions log", s.log))


@contextmanager
def headless_bar(source: str, max_frames: int | None) -> Iterator:
    """Frames processed (of the file's frames or --max-frames, with an ETA, when known) while
    running headless; yields the function that counts one frame."""
    from motionscope.progress import progress_bar
    from motionscope.video.decode import is_video_file, probe

    total = max_frames
    if is_video_file(source) and Path(source).is_file():
        try:
            frames = probe(source).frames
        except MotionscopeError:
            frames = None  # run_live reports it
        if frames:
            total = min(frames, max_frames) if max_frames else frames
    with progress_bar("live", columns=("frames",), console=err_console) as bar:
        task = bar.add_task("live", total=total)
        yield lambda: bar.update(task, advance=1)
