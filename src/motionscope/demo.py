"""``motionscope demo``: the whole job end to end on synthetic data, a few minutes on 2 cores."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.evaluate.evaluate import evaluate_bundle
from motionscope.infer.recognizer import Recognizer
from motionscope.train import TrainConfig, train


def run_demo(
    out: Path,
    *,
    model: str = "kpnet",
    classes: int = 6,
    per_class: int = 40,
    frames: int = 30,
    seed: int = 0,
    console: Console | None = None,
) -> dict:
    """Synthetic data -> train -> evaluate on an independent held-out set -> predict."""
    console = console or Console()
    out = Path(out)
    train_dir, heldout_dir, run_dir, eval_dir = (
        out / "data",
        out / "heldout",
        out / "run",
        out / "eval",
    )
    console.rule("1. synthetic keypoint data")
    write_synthetic_keypoints(
        train_dir, classes=classes, per_class=per_class, frames=frames, seed=seed
    )
    # A second seed gives new bodies, cameras and timings: an honest held-out set.
    write_synthetic_keypoints(
        heldout_dir,
        classes=classes,
        per_class=max(4, per_class // 4),
        frames=frames,
        seed=seed + 1000,
    )
    console.print(f"training data: {train_dir}   held-out data: {heldout_dir}")

    console.rule(f"2. train {model}")
    ds = load_keypoint_dataset(train_dir)
    # 60 epochs are plenty on this data and keep the demo within a few minutes on 2 cores.
    result = train(ds, run_dir, TrainConfig(model=model, seed=seed, split="stratified", epochs=60))
    console.print(
        f"test accuracy {result.metrics['accuracy']:.3f} on "
        f"{result.metrics['n_test']} held-out sequences of the training set, "
        f"{result.metrics['train_seconds']:.0f} s of training"
    )

    console.rule("3. evaluate on the independent held-out set")
    metrics = evaluate_bundle(run_dir, heldout_dir, eval_dir, progress=False)
    console.print(
        f"accuracy {metrics['accuracy']:.3f}, macro F1 {metrics['macro_f1']:.3f} "
        f"on {metrics['n_test']} sequences"
    )

    console.rule("4. predict")
    rec = Recognizer.load(run_dir)
    samples = sorted(heldout_dir.glob("*/0.npy"))[:4]
    for p in rec.predict_many(samples, top_k=2):
        truth = Path(p.source).parent.name
        mark = "[green]✓[/]" if truth == p.label else "[red]✗[/]"
        console.print(
            f"{mark} {Path(p.source).relative_to(out)}: {p.label} "
            f"({p.confidence:.2f}); true {truth}"
        )

    console.rule("where things are")
    console.print(f"bundle:            {run_dir}")
    console.print(f"report:            {run_dir / 'report' / 'report.md'}")
    console.print(
        f"plots:             {run_dir / 'report' / 'curves.png'}, "
        f"{run_dir / 'report' / 'confusion_matrix.png'}"
    )
    console.print(f"held-out metrics:  {eval_dir / 'metrics.json'}")
    return {"test": result.metrics, "heldout": metrics}
