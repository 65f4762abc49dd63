"""The ``motionscope`` command line: one Typer app over every stage."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from motionscope.errors import MotionscopeError

app = typer.Typer(
    name="motionscope",
    help="Human action recognition from keypoints and video: train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
synth_app = typer.Typer(help="Generate synthetic data (for demos and tests).", no_args_is_help=True)
app.add_typer(synth_app, name="synth")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _run(fn):
    """Call ``fn``; print a motionscope error as one line and exit with status 2."""
    try:
        return fn()
    except MotionscopeError as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None


def _metrics_table(metrics: dict, title: str) -> Table:
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


@app.command("models")
def models_cmd() -> None:
    """List the registered model architectures with their parameter counts."""
    from motionscope.models import count_parameters, list_models

    t = Table(title="motionscope models")
    for col in ("name", "input", "parameters*", "description"):
        t.add_column(col)
    for info in list_models():
        net = info.build(input_dim=1662, num_classes=10, window=30)
        t.add_row(info.name, info.input_kind, f"{count_parameters(net):,}", info.description)
    console.print(t)
    console.print("* for 1662-wide holistic keypoints (or 224x224 frames), 10 classes, 30 frames")


@synth_app.command("keypoints")
def synth_keypoints(
    out: Annotated[Path, typer.Argument(help="Folder to write OUT/<class>/<i>.npy into.")],
    classes: Annotated[int, typer.Option(help="Number of action classes.")] = 5,
    per_class: Annotated[int, typer.Option(help="Sequences per class.")] = 20,
    frames: Annotated[int, typer.Option(help="Frames per sequence.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
) -> None:
    """Write deterministic synthetic MediaPipe Holistic sequences in the seed layout."""
    from motionscope.data.synth import write_synthetic_keypoints

    summary = _run(
        lambda: write_synthetic_keypoints(
            out, classes=classes, per_class=per_class, frames=frames, seed=seed
        )
    )
    console.print(
        f"wrote {len(summary['classes'])} classes x {per_class} sequences x {frames} frames "
        f"to {out}: {', '.join(summary['classes'])}"
    )


def _keypoints_of_videos(data: Path, cache: Path, workers: int | None, progress: bool) -> Path:
    """``data`` itself when it holds keypoints; for a folder of videos, extract them into
    ``cache`` (skipping what is already there) and return the cache."""
    if not data.is_dir():
        return data
    from motionscope.errors import DataError
    from motionscope.pose.batch import discover, extract_batch
    from motionscope.pose.cli import problems_table, summary_table

    try:
        discover(data)
    except DataError:  # no videos: a keypoint dataset
        return data
    console.print(f"{data} holds videos: extracting keypoints into {cache}")
    report = extract_batch(data, cache, workers=workers, progress=progress)
    console.print(summary_table(report))
    problems = problems_table(report)
    if problems is not None:
        console.print(problems)
    return cache


@synth_app.command("videos")
def synth_videos(
    out: Annotated[Path, typer.Argument(help="Folder to write OUT/<action>/<i>.mp4 into.")],
    classes: Annotated[int, typer.Option(help="Number of action classes.")] = 5,
    per_class: Annotated[int, typer.Option(help="Clips per class.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same videos).")] = 0,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT.")] = "640x480",
    seconds: Annotated[float, typer.Option(help="Clip length in seconds.")] = 2.0,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 15,
) -> None:
    """Write animated cartoon people performing distinct actions (H.264 .mp4)."""
    from motionscope.errors import DataError
    from motionscope.video.synth import write_synthetic_videos

    def go():
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise DataError(f"--size must look like 640x480, got {size!r}") from None
        return write_synthetic_videos(
            out,
            classes=classes,
            per_class=per_class,
            seed=seed,
            size=(w, h),
            seconds=seconds,
            fps=fps,
        )

    summary = _run(go)
    console.print(
        f"wrote {len(summary['classes'])} classes x {per_class} clips ({summary['frames']} frames "
        f"at {size}, {fps} fps) to {out}: {', '.join(summary['classes'])}"
    )


@app.command("train")
def train_cmd(
    data: Annotated[
        Path,
        typer.Argument(
            help="Dataset: a folder of class folders (<class>/<seq>.npy or "
            "<class>/<seq>/<frame>.npy), a manifest (.csv/.jsonl with "
            "path,label[,split][,group]) or a .ts file."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
    model: Annotated[str, typer.Option(help="Architecture (see `motionscope models`).")] = "kpnet",
    epochs: Annotated[
        int | None, typer.Option(help="Maximum epochs (default: the model's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same metrics.")] = 0,
    split: Annotated[
        str,
        typer.Option(
            help="stratified | contiguous (last sequences of each class are the test set) | group "
            "(by manifest group or --group-pattern) | manifest (the split column) | kfold:K. "
            "Default: manifest when the manifest has a split column, else stratified."
        ),
    ] = "",
    test_fraction: Annotated[float, typer.Option(help="Fraction held out for testing.")] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(help="Fraction of the training part used for early stopping.")
    ] = 0.15,
    layout: Annotated[
        str | None,
        typer.Option(
            help="Keypoint layout: holistic, pose_hands, pose, hands or generic "
            "(default: detected from the width)."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto | sequences | frames | manifest | ts")
    ] = "auto",
    classes: Annotated[
        str | None, typer.Option(help="Comma-separated classes to keep (and their order).")
    ] = None,
    group_pattern: Annotated[
        str | None,
        typer.Option(
            help="Regex whose first group in each sequence path names its group (person)."
        ),
    ] = None,
    test_group: Annotated[
        list[str] | None, typer.Option(help="With --split group: a group to hold out (repeatable).")
    ] = None,
    window: Annotated[
        int | None, typer.Option(help="Frames per model input (default: median sequence length).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: the model's).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
    augment: Annotated[
        bool | None,
        typer.Option(
            "--augment/--no-augment", help="Force augmentation on or off (default: the model's)."
        ),
    ] = None,
    devices: Annotated[int, typer.Option(help="Devices (CPU processes with --strategy ddp).")] = 1,
    num_nodes: Annotated[int, typer.Option(help="Nodes for distributed training.")] = 1,
    strategy: Annotated[
        str, typer.Option(help="Lightning strategy: auto, ddp, ddp_spawn.")
    ] = "auto",
    accelerator: Annotated[str, typer.Option(help="cpu, gpu or auto.")] = "cpu",
    precision: Annotated[str, typer.Option(help="32-true, bf16-mixed, 16-mixed.")] = "32-true",
    threads: Annotated[
        int,
        typer.Option(help="Torch threads per process (0 = the cores idle right now)."),
    ] = 0,
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML file of training settings (any TrainConfig field, plus features:, "
            "augmentation: and optim: overrides); command-line options given here win."
        ),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="For a folder of videos: where extracted keypoints are kept (default: "
            "OUT/keypoints; re-runs reuse them)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="For a folder of videos: extraction worker processes (default: CPU cores)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model on DATA and write a self-describing bundle to --out.

    DATA may also be a folder of class folders of videos: their MediaPipe Holistic keypoints are
    extracted first (cached, resumable) and the keypoint model trains on them.
    """
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.train import TrainConfig, train

    def go():
        source = _keypoints_of_videos(data, cache or out / "keypoints", workers, progress)
        ds = load_keypoint_dataset(
            source,
            layout=layout,
            fmt=fmt,
            classes=[c.strip() for c in classes.split(",")] if classes else None,
            group_pattern=group_pattern,
            progress=progress,
        )
        given = dict(
            model=model,
            seed=seed,
            split=split,
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            test_groups=test_group or None,
            window=window,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            augment=augment,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            accelerator=accelerator,
            precision=precision,
            threads=threads or None,
            progress=progress,
        )
        if config is None:
            cfg = TrainConfig(**given)
        else:  # options left at their defaults do not override the file
            defaults = {**asdict(TrainConfig()), "test_groups": None}
            cfg = TrainConfig.from_yaml(
                config, **{k: v for k, v in given.items() if v != defaults.get(k)}
            )
        console.print(
            f"{len(ds)} sequences, {len(ds.classes)} classes, layout {ds.layout.name}; "
            f"model {cfg.model}"
        )
        return train(ds, out, cfg)

    result = _run(go)
    if result.bundle is None:  # a non-zero rank of a distributed run
        return
    m = result.metrics
    console.print(_metrics_table(m, f"held-out test ({m['split']})"))
    if "cv" in m:
        cv = m["cv"]
        console.print(
            f"cross-validation: accuracy {cv['accuracy_mean']:.3f} ± {cv['accuracy_std']:.3f}, "
            f"macro F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )
    console.print(
        f"bundle: {out}  (report: {out / 'report' / 'report.md'}, {result.seconds:.1f} s)"
    )


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    data: Annotated[Path, typer.Argument(help="Labelled dataset (same formats as `train`).")],
    out: Annotated[
        Path | None, typer.Option(help="Write metrics.json and confusion_matrix.png here.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto | sequences | frames | manifest | ts")
    ] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Evaluate a bundle on a labelled dataset whose classes the model knows."""
    from motionscope.evaluate.evaluate import evaluate_bundle

    m = _run(lambda: evaluate_bundle(run, data, out, fmt=fmt, progress=progress))
    console.print(_metrics_table(m, f"{run} on {data}"))
    t = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="right")
    for name, pc in m["per_class"].items():
        if pc["support"]:
            t.add_row(
                name,
                f"{pc['precision']:.3f}",
                f"{pc['recall']:.3f}",
                f"{pc['f1']:.3f}",
                str(pc["support"]),
            )
    console.print(t)
    if out is not None:
        console.print(f"wrote {out / 'metrics.json'} and {out / 'confusion_matrix.png'}")


@app.command("predict")
def predict_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Clips: (T, D) .npy files, folders of per-frame .npy files, videos or folders "
            "of frame images."
        ),
    ],
    top_k: Annotated[int, typer.Option(help="How many classes to show per input.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Predict the action of each input sequence."""
    import motionscope

    def go():
        rec = motionscope.load(run)
        return rec.predict_many(list(inputs), top_k=top_k)

    preds = _run(go)
    if as_json:
        for p in preds:
            sys.stdout.write(json.dumps(p.to_dict()) + "\n")
        return
    t = Table(title=f"predictions of {run}")
    for col in ("input", "label", "confidence", f"top {top_k}"):
        t.add_column(col)
    for p in preds:
        t.add_row(
            p.source,
            p.label,
            f"{p.confidence:.3f}",
            ", ".join(f"{lab} {c:.2f}" for lab, c in p.top_k),
        )
    console.print(t)


@app.command("extract")
def extract_cmd(
    src: Annotated[
        Path,
        typer.Argument(
            help="A video file, a folder of videos (class folders, any depth) or a folder of frame "
            "images (one video)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Argument(
            help="Output folder: mirrors SRC with one (T, 1662) .npy and a .json sidecar per video."
        ),
    ],
    workers: Annotated[
        int | None,
        typer.Option(
            help="Parallel worker processes, one MediaPipe graph each (default: CPU cores)."
        ),
    ] = None,
    every: Annotated[int, typer.Option(help="Keep every K-th frame.")] = 1,
    engine: Annotated[
        str,
        typer.Option(
            help="local (a process pool on this machine) or ray (Ray actors; a local Ray "
            "runtime, or a cluster with --ray-address; SRC and OUT must then be on a shared "
            "filesystem)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Ray cluster (with --engine ray), e.g. 10.0.0.5:6379."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Extract MediaPipe Holistic keypoints from videos: resumable, atomic, in parallel.

    Re-running skips videos already extracted with the same settings; failures are listed in
    OUT/extract-report.json and make the exit code 1 without stopping the batch.
    """
    from motionscope.pose.cli import extract_command

    raise typer.Exit(
        _run(
            lambda: extract_command(
                src, out, workers, every, engine, progress, ray_address=ray_address
            )
        )
    )


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the data, bundle and reports.")] = Path(
        "demo-out"
    ),
    model: Annotated[str, typer.Option(help="Architecture to train.")] = "kpnet",
    classes: Annotated[int, typer.Option(help="Synthetic action classes.")] = 6,
    per_class: Annotated[int, typer.Option(help="Training sequences per class.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Run the whole job on synthetic data: generate, train, evaluate, predict."""
    from motionscope.demo import run_demo

    _run(
        lambda: run_demo(
            out, model=model, classes=classes, per_class=per_class, seed=seed, console=console
        )
    )


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
