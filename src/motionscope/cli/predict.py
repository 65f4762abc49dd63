"""``motionscope predict``: the action of each input clip, one result per input as it finishes.

Every input gets a result (its label, or its own error); ``--json`` prints one JSON line per
input (``{"input", "ok", ...}``); the exit status is 1 when any input failed. A folder of videos
stands for the videos inside it.

``--out FILE`` (needed by ``--engine ray``) predicts a corpus instead: every video under the
inputs (folders searched recursively) gets one JSON line in FILE; re-running skips the videos
already there (see :mod:`motionscope.infer.batch`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import (
    Backend,
    Progress,
    Run,
    UnknownThreshold,
    console,
    err_console,
    load_recognizer,
    or_exit,
    video_frames_bar,
)
from motionscope.errors import MotionscopeError

Inputs = Annotated[
    list[Path],
    typer.Argument(
        help="Clips: (T, D) .npy files, folders of per-frame .npy files, videos, folders "
        "of frame images, or folders of videos (each video inside is predicted)."
    ),
]
TopK = Annotated[int, typer.Option(help="How many classes to show per input.")]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help='One JSON line per input as it finishes: {"input", "ok": true, "label", ...} '
        'or {"input", "ok": false, "error"}.',
    ),
]
FailFast = Annotated[
    bool,
    typer.Option(
        "--fail-fast", help="Stop at the first input that fails (default: go on with the rest)."
    ),
]
Engine = Annotated[
    str,
    typer.Option(
        help="local (this process) or ray (Ray actors, local runtime or --ray-address; "
        "needs --out)."
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        help="Batch mode: append one JSON line per video (path, action, confidence, error) to "
        "this file; a re-run skips the videos already in it."
    ),
]
RetryFailed = Annotated[
    bool, typer.Option(help="Batch mode: predict again the videos whose line is an error.")
]
RayAddress = Annotated[
    str | None,
    typer.Option(help="--engine ray: a running Ray cluster (auto, ray://HEAD:10001)."),
]
RayWorkers = Annotated[
    int | None,
    typer.Option("--workers", help="--engine ray: at most this many actors.", min=1),
]


@dataclass
class Outcome:
    input: str
    prediction: object | None = None  # a motionscope Prediction
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        if self.prediction is None:
            return {"input": self.input, "ok": False, "error": self.error}
        return {"input": self.input, "ok": True, **self.prediction.to_dict()}


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Inputs as the recognizer takes them: a folder holding videos (and no frame images or
    per-frame ``.npy`` files) becomes the videos inside it, in natural order."""
    from motionscope.video.decode import is_frame_folder, is_video_file, natural_key

    out: list[Path] = []
    for path in inputs:
        if path.is_dir() and not is_frame_folder(path) and not any(path.glob("*.npy")):
            videos = sorted((p for p in path.iterdir() if is_video_file(p)), key=natural_key)
            if videos:
                out.extend(videos)
                continue
        out.append(path)
    return out


def folder_hint(path: Path) -> str | None:
    """The error of a folder that holds nothing ``predict`` can read (None otherwise)."""
    if path.is_dir() and not any(path.iterdir()):
        return f"{path} is an empty folder: pass video files, frame folders or .npy sequences"
    if path.is_dir() and not any(path.glob("*.npy")):
        from motionscope.video.decode import is_frame_folder

        if not is_frame_folder(path):
            return (
                f"{path} holds no videos, frame images or per-frame .npy files: pass video "
                "files (or a folder of them), a folder of frame images, or (T, D) .npy files"
            )
    return None


def predict_one(rec, path: Path, top_k: int, progress: bool) -> Outcome:
    """One input's outcome; a video shows a bar of its frames while MediaPipe runs."""
    hint = folder_hint(path)
    if hint:
        return Outcome(str(path), error=hint)
    try:
        with video_frames_bar(rec, path, progress):
            return Outcome(str(path), rec.predict(path, top_k=top_k))
    except MotionscopeError as e:
        return Outcome(str(path), error=str(e))


def print_outcome(o: Outcome, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(o.to_dict()) + "\n")
        sys.stdout.flush()
        return
    if not o.ok:
        err_console.print(f"[bold red]error:[/] {o.input}: {o.error}", highlight=False)
        return
    p = o.prediction
    others = ", ".join(f"{lab} {c:.2f}" for lab, c in p.top_k)
    console.print(f"{o.input}: [bold]{p.text}[/]  (top: {others})", highlight=False)


def predict_cmd(
    run: Run,
    inputs: Inputs,
    top_k: TopK = 3,
    as_json: AsJson = False,
    fail_fast: FailFast = False,
    unknown_threshold: UnknownThreshold = None,
    backend: Backend = "torch",
    progress: Progress = True,
    engine: Engine = "local",
    out: Out = None,
    retry_failed: RetryFailed = False,
    ray_address: RayAddress = None,
    workers: RayWorkers = None,
) -> None:
    """Predict the action of each input ("unknown (best: clap 67%)" when the model is unsure).

    Results print as each input finishes; an input that fails gets its error and the others go
    on (--fail-fast stops at the first). Exit status: 0 when every input was predicted, 1 when
    any failed, 2 when the bundle cannot be loaded.

    Batch mode (--out FILE; --engine ray for a cluster or all local cores): one JSON line per
    video under the inputs, resumable."""
    if out is not None or engine != "local":
        batch = dict(top_k=top_k, backend=backend, unknown_threshold=unknown_threshold,
                     retry_failed=retry_failed, progress=progress, address=ray_address,
                     workers=workers)  # fmt: skip
        predict_batch(run, list(inputs), out, engine, batch)
        return
    rec = or_exit(lambda: load_recognizer(run, unknown_threshold, backend))
    if top_k < 1:
        rec.close()
        or_exit(lambda: _bad_top_k(top_k))
    paths = expand_inputs(list(inputs))
    failed = done = 0
    try:
        for path in paths:
            o = predict_one(rec, path, top_k, progress)
            done += 1
            failed += not o.ok
            print_outcome(o, as_json)
            if fail_fast and not o.ok:
                break
    finally:
        rec.close()
    if not as_json and len(paths) > 1:
        skipped = len(paths) - done
        summary = f"{len(paths)} inputs: {done - failed} predicted, {failed} failed"
        err_console.print(summary + (f", {skipped} skipped (--fail-fast)" if skipped else ""))
    if failed:
        raise typer.Exit(1)


def predict_batch(run, inputs: list[Path], out: Path | None, engine: str, options: dict) -> None:
    """``--out``: the corpus into a resumable JSON-lines file (exit 1 when a video failed)."""
    from motionscope.infer.batch import predict_corpus

    def go():
        if out is None:
            raise MotionscopeError(
                f"--engine {engine} writes one JSON line per video to a file: pass --out "
                "predictions.jsonl (a re-run skips the videos already in it)"
            )
        return predict_corpus(run, inputs, out, engine=engine, **options)

    r = or_exit(go)
    err_console.print(
        f"{r.total} video{'s' if r.total != 1 else ''}: {r.predicted} predicted, "
        f"{r.failed} failed, {r.skipped} already in {r.out} "
        f"({r.engine} engine, {r.workers} worker{'s' if r.workers != 1 else ''})",
        highlight=False,
    )
    if r.failed:
        raise typer.Exit(1)


def _bad_top_k(top_k: int):
    from motionscope.errors import DataError

    raise DataError(f"--top-k must be at least 1, got {top_k}")
