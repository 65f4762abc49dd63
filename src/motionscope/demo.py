"""``motionscope demo``: the whole job end to end on synthetic data, a few minutes on 2 cores.

Default (videos): synthetic cartoon videos -> MediaPipe Holistic keypoints (the same batch
extraction as ``motionscope extract``) -> train -> evaluate on independent held-out videos
(another seed: new people, backgrounds, cameras and timings) -> predict straight from held-out
video files. ``keypoints=True`` skips video and MediaPipe: synthetic keypoint sequences, about a
minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from motionscope.errors import DataError
from motionscope.kinds import InputKind

HELDOUT_SEED_OFFSET = 1000  # held-out data: another seed, so nothing is shared with training


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo. The defaults run in a few minutes on 2 CPU cores."""

    keypoints: bool = False  # synthetic keypoint sequences instead of videos (no MediaPipe)
    model: str = "kpnet"
    classes: int = 6
    per_class: int | None = None  # training clips per class (None: 10 videos, 40 sequences)
    heldout_per_class: int | None = None  # held-out clips per class (None: 3 videos, 10 seqs)
    seconds: float = 1.5  # video clip length
    size: tuple[int, int] = (320, 240)  # video frame size (width, height)
    fps: int = 15
    frames: int = 30  # keypoint sequence length (keypoints mode)
    workers: int | None = None  # extraction processes (None: one per core)
    epochs: int | None = None  # None: 100 (videos), 60 (keypoints)
    seed: int = 0

    def train_per_class(self) -> int:
        return self.per_class if self.per_class is not None else (40 if self.keypoints else 10)

    def test_per_class(self) -> int:
        if self.heldout_per_class is not None:
            return self.heldout_per_class
        return 10 if self.keypoints else 3

    def train_epochs(self) -> int:
        return self.epochs if self.epochs is not None else (60 if self.keypoints else 100)


def _bar(console: Console, description: str):
    from motionscope.progress import progress_bar

    return progress_bar(description, timing=False, console=console, enabled=console.is_terminal)


def _write_videos(out: Path, cfg: DemoConfig, per_class: int, seed: int, console: Console):
    from motionscope.video.synth import write_synthetic_videos

    with _bar(console, "writing videos") as bar:
        task = bar.add_task("videos", total=cfg.classes * per_class)
        return write_synthetic_videos(
            out,
            classes=cfg.classes,
            per_class=per_class,
            seed=seed,
            size=cfg.size,
            seconds=cfg.seconds,
            fps=cfg.fps,
            progress=lambda done, total: bar.update(task, completed=done),
        )


def _pose_rate(report, under: Path) -> float:
    """Share of the extracted frames of the videos under ``under`` in which a pose was found."""
    videos = [
        v for v in report.videos if v.status != "failed" and Path(v.source).is_relative_to(under)
    ]
    frames = sum(v.frames for v in videos)
    hits = sum(v.frames * v.detection_rate.get("pose", 0.0) for v in videos)
    return hits / frames if frames else 0.0


def _data(
    out: Path, cfg: DemoConfig, console: Console, rgb: bool
) -> tuple[Path, Path, list[Path], dict]:
    """Training and held-out folders (keypoints, or videos for an RGB model), held-out samples
    to predict, and a summary."""
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.pose.batch import extract_batch

    train_per_class, test_per_class = cfg.train_per_class(), cfg.test_per_class()
    heldout_seed = cfg.seed + HELDOUT_SEED_OFFSET
    if cfg.keypoints:
        console.rule("1. synthetic keypoint sequences")
        train_dir, heldout_dir = out / "data", out / "heldout"
        write_synthetic_keypoints(
            train_dir,
            classes=cfg.classes,
            per_class=train_per_class,
            frames=cfg.frames,
            seed=cfg.seed,
        )
        write_synthetic_keypoints(
            heldout_dir,
            classes=cfg.classes,
            per_class=test_per_class,
            frames=cfg.frames,
            seed=heldout_seed,
        )
        console.print(f"training data: {train_dir}   held-out data: {heldout_dir}")
        return train_dir, heldout_dir, sorted(heldout_dir.glob("*/0.npy"))[:4], {}

    w, h = cfg.size
    console.rule("1. synthetic videos")
    videos = out / "videos"
    train_videos, heldout_videos = videos / "train", videos / "heldout"
    _write_videos(train_videos, cfg, train_per_class, cfg.seed, console)
    _write_videos(heldout_videos, cfg, test_per_class, heldout_seed, console)
    n_frames = round(cfg.seconds * cfg.fps)
    console.print(
        f"{cfg.classes} actions x {train_per_class} training clips in {train_videos}, "
        f"x {test_per_class} held-out clips (seed {heldout_seed}) in {heldout_videos}; "
        f"{n_frames} frames at {w}x{h}, {cfg.fps} fps"
    )

    samples = [
        sorted((heldout_videos / label).glob("*.mp4"))[0]
        for label in sorted(p.name for p in heldout_videos.iterdir() if p.is_dir())
    ][:3]
    if rgb:  # an RGB model reads the videos themselves
        return train_videos, heldout_videos, samples, {}
    console.rule("2. extract keypoints (MediaPipe Holistic)")
    keypoints = out / "keypoints"  # mirrors videos/: keypoints/train, keypoints/heldout
    report = extract_batch(videos, keypoints, workers=cfg.workers, progress=console.is_terminal)
    if report.failed:
        first = report.failed[0]
        raise DataError(f"extraction failed for {first.source}: {first.error}")
    rates = [_pose_rate(report, part) for part in (train_videos, heldout_videos)]
    no_person = report.counts["no-person"]
    console.print(
        f"pose found in {rates[0]:.1%} of training frames and {rates[1]:.1%} of held-out frames; "
        f"{report.frames_extracted} frames in {report.seconds:.0f} s with {report.workers} "
        f"worker{'s' if report.workers != 1 else ''}"
        + (f"; {no_person} clips without a person left out" if no_person else "")
    )
    return keypoints / "train", keypoints / "heldout", samples, {"pose_detection_rate": rates}


def run_demo(
    out: Path,
    cfg: DemoConfig | None = None,
    *,
    console: Console | None = None,
) -> dict:
    """Synthetic data -> (extract) -> train -> evaluate on an independent held-out set ->
    predict. Returns the training-split metrics, the held-out metrics, the predictions and the
    seconds each stage took."""
    from motionscope.evaluate.evaluate import evaluate_bundle
    from motionscope.infer.loader import load_recognizer
    from motionscope.models.registry import get_model_info
    from motionscope.train import TrainConfig
    from motionscope.train.run import train_from_source

    cfg = cfg or DemoConfig()
    console = console or Console()
    out = Path(out)
    run_dir, eval_dir = out / "run", out / "eval"
    t0 = time.perf_counter()
    rgb = get_model_info(cfg.model).input_kind == InputKind.FRAMES.value
    if rgb and cfg.keypoints:
        raise DataError(f"{cfg.model} reads video frames: run the demo without --keypoints")
    train_dir, heldout_dir, samples, extra = _data(out, cfg, console, rgb)
    t_data = time.perf_counter()
    step = 2 if cfg.keypoints or rgb else 3

    console.rule(f"{step}. train {cfg.model}")
    # force: the demo's held-out videos are the real test; a tiny --per-class still runs
    tcfg = TrainConfig(
        model=cfg.model, seed=cfg.seed, split="stratified", epochs=cfg.train_epochs(), force=True
    )
    result = train_from_source(train_dir, run_dir, tcfg)
    console.print(
        f"test accuracy {result.metrics['accuracy']:.3f} on "
        f"{result.metrics['n_test']} held-out sequences of the training set, "
        f"{result.metrics['train_seconds']:.0f} s of training"
    )
    t_train = time.perf_counter()

    console.rule(f"{step + 1}. evaluate on the independent held-out set")
    metrics = evaluate_bundle(run_dir, heldout_dir, eval_dir, progress=False)
    kind = "sequences" if cfg.keypoints else "videos"
    console.print(
        f"accuracy {metrics['accuracy']:.3f}, macro F1 {metrics['macro_f1']:.3f} "
        f"on {metrics['n_test']} held-out {kind} never seen in training"
    )
    t_eval = time.perf_counter()

    console.rule(f"{step + 2}. predict")
    predictions = []
    rec = load_recognizer(run_dir)
    try:
        for p in rec.predict_many(samples, top_k=2):
            truth = Path(p.source).parent.name
            mark = "[green]✓[/]" if truth == p.label else "[red]✗[/]"
            console.print(
                f"{mark} {Path(p.source).relative_to(out)}: {p.label} "
                f"({p.confidence:.2f}); true {truth}"
            )
            predictions.append({"source": p.source, "label": p.label, "truth": truth})
    finally:
        rec.close()
    end = time.perf_counter()
    if not cfg.keypoints and not rgb:
        console.print(
            "(predicting from a video file extracts its keypoints first: "
            f"[bold]motionscope predict {run_dir} {samples[0]}[/])"
        )

    seconds = {
        "data": round(t_data - t0, 1),
        "train": round(t_train - t_data, 1),
        "evaluate": round(t_eval - t_train, 1),
        "predict": round(end - t_eval, 1),
        "total": round(end - t0, 1),
    }
    console.rule("summary")
    if extra.get("pose_detection_rate"):
        console.print(f"pose detection:    {extra['pose_detection_rate'][0]:.1%} of frames")
    console.print(f"held-out accuracy: {metrics['accuracy']:.3f} ({metrics['n_test']} {kind})")
    console.print(f"bundle:            {run_dir}")
    console.print(f"report:            {run_dir / 'report' / 'report.md'}")
    console.print(
        f"plots:             {run_dir / 'report' / 'curves.png'}, "
        f"{run_dir / 'report' / 'confusion_matrix.png'}"
    )
    console.print(f"held-out metrics:  {eval_dir / 'metrics.json'}")
    console.print(f"time:              {seconds['total']:.0f} s " + _stages(seconds))
    return {
        "test": result.metrics,
        "heldout": metrics,
        "predictions": predictions,
        "seconds": seconds,
        **extra,
    }


def _stages(seconds: dict) -> str:
    parts: list[str] = [f"{k} {v:.0f} s" for k, v in seconds.items() if k != "total"]
    return "(" + ", ".join(parts) + ")"
