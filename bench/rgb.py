"""RGB video models against the default keypoint model, on synthetic videos; real-clip smoke run.

    .venv/bin/python bench/rgb.py [--classes 10] [--train-per-class 12] [--test-per-class 8]
                                  [--models cnn-lstm,c3d-lstm-gru,kpnet] [--work DIR]

Writes bench/results/rgb.json and prints a Markdown summary (docs/BENCHMARKS.md shows it).

- Data: ``motionscope synth videos`` at 320x240, 2 s at 15 fps: a training set (seed 0; the
  bundle's own stratified train/val/test split inside it) and a **held-out** set drawn with
  another seed (other people, looks, backgrounds), evaluated with ``evaluate``.
- Models: ``cnn-lstm`` (frozen EfficientNet-Lite0, features cached), ``c3d-lstm-gru`` (from
  scratch), ``kpnet`` (on MediaPipe keypoints extracted from the same videos).
- Training speed of ``cnn-lstm`` with and without the feature cache: seconds per epoch (training
  and validation) and clips per second, measured in the same run; the cache fill is reported
  separately, and a second run shows it reused.
- Inference: milliseconds per clip on one thread (``threads=1``), median over held-out clips,
  split into decoding/sampling (or keypoint extraction) and the model.
- Real clips: every RGB bundle predicts the clips in ../shared/datasets/mmaction2-samples (real
  codecs and resolutions up to 1080p); only that it works and how long it takes is recorded
  (the labels are synthetic actions: no accuracy claim).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from motionscope.data.videos import load_video_dataset
from motionscope.evaluate.evaluate import evaluate_bundle
from motionscope.infer import load_recognizer
from motionscope.train import TrainConfig
from motionscope.train.fit_frames import FramesConfig, train_frames
from motionscope.video.decode import probe
from motionscope.video.synth import write_synthetic_videos

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "mmaction2-samples"
RESULTS = ROOT / "bench" / "results" / "rgb.json"
REAL_CLIPS = (
    "demo/demo.mp4",
    "tests/data/test.mp4",
    "tests/data/test.avi",
    "demo/test_video_structuralize.mp4",
    "tools/data/skeleton/S001C001P001R001A001_rgb.avi",
    "demo/ntu_sample.avi",
    "demo/demo_skeleton.mp4",
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_data(work: Path, classes: int, train_pc: int, test_pc: int) -> tuple[Path, Path]:
    common = dict(classes=classes, size=(320, 240), seconds=2.0, fps=15)
    train_dir, test_dir = work / "train", work / "heldout"
    for folder, per_class, seed in ((train_dir, train_pc, 0), (test_dir, test_pc, 1)):
        stamp = folder / ".bench.json"
        want = {**common, "per_class": per_class, "seed": seed, "size": [320, 240]}
        if stamp.is_file() and json.loads(stamp.read_text()) == want:
            continue
        log(f"writing synthetic videos to {folder}")
        write_synthetic_videos(folder, per_class=per_class, seed=seed, **common)
        stamp.write_text(json.dumps(want))
    return train_dir, test_dir


def epoch_seconds(metrics: dict) -> float:
    return metrics["train_seconds"] / max(1, metrics["epochs"])


def inference_ms(run: Path, clips: list[Path]) -> dict:
    rec = load_recognizer(run, threads=1)
    rec.predict(clips[0])  # warm-up (first-call allocations)
    rows = [rec.predict(c).timings for c in clips]
    rec.close()
    keys = rows[0].keys()
    med = {k: round(statistics.median(r[k] for r in rows), 2) for k in keys}
    med["total"] = round(statistics.median(sum(r.values()) for r in rows), 2)
    med["clips"] = len(rows)
    return med


def train_rgb(
    name: str, ds, work: Path, seed: int, *, fcfg: FramesConfig | None = None, **train_kw
) -> tuple[Path, dict, dict]:
    out = work / "bundles" / (train_kw.pop("tag", None) or name)
    cfg = TrainConfig(model=name, seed=seed, threads=1, progress=False, **train_kw)
    t0 = time.perf_counter()
    result = train_frames(ds, out, cfg, fcfg or FramesConfig())
    wall = time.perf_counter() - t0
    config = json.loads((out / "config.json").read_text())
    return out, {**result.metrics, "wall_seconds": round(wall, 1)}, config


def bench_kpnet(train_dir: Path, test_dir: Path, work: Path, seed: int, clips: list[Path]) -> dict:
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.pose.batch import extract_batch
    from motionscope.train import train

    t0 = time.perf_counter()
    kp_train, kp_test = work / "kp-train", work / "kp-heldout"
    extract_batch(train_dir, kp_train, workers=2, progress=False)
    extract_batch(test_dir, kp_test, workers=2, progress=False)
    extract_s = time.perf_counter() - t0
    ds = load_keypoint_dataset(kp_train, progress=False)
    out = work / "bundles" / "kpnet"
    cfg = TrainConfig(model="kpnet", seed=seed, threads=1, progress=False)
    result = train(ds, out, cfg)
    held = evaluate_bundle(out, kp_test, progress=False)
    return {
        "model": "kpnet",
        "input": "MediaPipe Holistic keypoints of the same videos",
        "internal_test_accuracy": round(result.metrics["accuracy"], 4),
        "heldout_accuracy": round(held["accuracy"], 4),
        "heldout_macro_f1": round(held["macro_f1"], 4),
        "n_heldout": held["n_test"],
        "train_seconds": result.metrics["train_seconds"],
        "epochs": result.metrics["epochs"],
        "extract_seconds_both_sets_2_workers": round(extract_s, 1),
        "inference_ms_per_clip": inference_ms(out, clips),
    }


def bench_real(runs: dict[str, Path]) -> dict:
    if not SHARED.is_dir():
        return {"skipped": f"{SHARED} is absent"}
    out = {}
    for rel in REAL_CLIPS:
        path = SHARED / rel
        info = probe(path)
        entry = {
            "codec": info.codec,
            "size": f"{info.width}x{info.height}",
            "frames": info.frames,
            "predictions": {},
        }
        for name, run in runs.items():
            rec = load_recognizer(run, threads=1)
            try:
                p = rec.predict(path)
                entry["predictions"][name] = {
                    "label": p.label,
                    "confidence": round(p.confidence, 3),
                    "timings_ms": {k: round(v, 1) for k, v in p.timings.items()},
                }
            except Exception as e:  # record, do not stop: this is the smoke test
                entry["predictions"][name] = {"error": f"{type(e).__name__}: {e}"}
        out[rel] = entry
        log(f"real clip {rel}: {entry['predictions']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--train-per-class", type=int, default=12)
    ap.add_argument("--test-per-class", type=int, default=8)
    ap.add_argument("--models", default="cnn-lstm,c3d-lstm-gru,kpnet")
    ap.add_argument("--speed-epochs", type=int, default=2, help="epochs of the no-cache run")
    ap.add_argument("--inference-clips", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ms-bench-rgb")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--update",
        action="store_true",
        help="replace only the rows of --models in an existing --out (the others are kept)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.work.mkdir(parents=True, exist_ok=True)
    train_dir, test_dir = make_data(
        args.work, args.classes, args.train_per_class, args.test_per_class
    )
    ds = load_video_dataset(train_dir)
    held_ds = load_video_dataset(test_dir)
    clips = [s.path for s in held_ds.samples][:: max(1, len(held_ds) // args.inference_clips)]
    clips = clips[: args.inference_clips]
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "torch": torch.__version__,
            "threads": 1,
        },
        "data": {
            "generator": "motionscope synth videos, 320x240, 2 s at 15 fps (30 frames)",
            "classes": ds.classes,
            "train_set": f"seed 0, {args.train_per_class} clips a class ({len(ds)} clips; the "
            "bundle's stratified train/val/test split inside it)",
            "heldout_set": f"seed 1, {args.test_per_class} clips a class ({len(held_ds)} clips)",
        },
        "models": [],
    }
    runs: dict[str, Path] = {}
    for name in models:
        if name == "kpnet":
            log("kpnet: extracting keypoints and training")
            results["models"].append(bench_kpnet(train_dir, test_dir, args.work, args.seed, clips))
            continue
        log(f"{name}: training")
        run, m, config = train_rgb(name, ds, args.work, args.seed)
        runs[name] = run
        log(f"{name}: evaluating on the held-out set")
        held = evaluate_bundle(run, test_dir, progress=False)
        row = {
            "model": name,
            "input": "RGB frames, "
            f"{config['sampling']['frames']}x{config['sampling']['size']}x"
            f"{config['sampling']['size']}",
            "parameters": config["model"]["parameters"],
            "internal_test_accuracy": round(m["accuracy"], 4),
            "heldout_accuracy": round(held["accuracy"], 4),
            "heldout_macro_f1": round(held["macro_f1"], 4),
            "n_heldout": held["n_test"],
            "train_seconds": m["train_seconds"],
            "epochs": m["epochs"],
            "seconds_per_epoch": round(epoch_seconds(m), 3),
            "train_clips_per_second": m["train_clips_per_second"],
            "wall_seconds": m["wall_seconds"],
            "feature_cache": config["extras"].get("feature_cache"),
            "inference_ms_per_clip": inference_ms(run, clips),
        }
        results["models"].append(row)
        log(json.dumps(row))
        if name == "cnn-lstm":
            log("cnn-lstm: second run (cache reused)")
            _, m2, c2 = train_rgb(
                name,
                ds,
                args.work,
                args.seed,
                tag="cnn-lstm-rerun",
                fcfg=FramesConfig(cache_dir=str(run / "features")),
            )
            log(f"cnn-lstm: {args.speed_epochs} epochs without the feature cache")
            _, m3, _ = train_rgb(
                name,
                ds,
                args.work,
                args.seed,
                tag="cnn-lstm-nocache",
                fcfg=FramesConfig(feature_cache=False),
                epochs=args.speed_epochs,
            )
            results["cache_speed"] = {
                "model": "cnn-lstm (frozen backbone)",
                "cached_seconds_per_epoch": round(epoch_seconds(m), 3),
                "cached_clips_per_second": m["train_clips_per_second"],
                "uncached_seconds_per_epoch": round(epoch_seconds(m3), 3),
                "uncached_clips_per_second": m3["train_clips_per_second"],
                "uncached_epochs_measured": m3["epochs"],
                "speedup_per_epoch": round(epoch_seconds(m3) / epoch_seconds(m), 1),
                "cache_fill_seconds_first_run": config["extras"]["feature_cache"]["seconds"],
                "cache_entries_first_run": config["extras"]["feature_cache"]["computed"],
                "second_run_cache": c2["feature_cache"],
                "second_run_same_accuracy": m2["accuracy"] == m["accuracy"],
            }
            log(json.dumps(results["cache_speed"]))
    log("real clips")
    results["real_clips"] = bench_real(runs)
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.update and args.out.is_file():
        results = merge(json.loads(args.out.read_text()), results, models)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def merge(old: dict, new: dict, models: list[str]) -> dict:
    """``old`` with the rows of ``models`` (and their real-clip predictions) from ``new``."""
    out = dict(old)
    rows = {m["model"]: m for m in old["models"]}
    for m in new["models"]:
        rows[m["model"]] = {**m, "machine": new["machine"]}
    out["models"] = list(rows.values())
    if "cache_speed" in new:
        out["cache_speed"] = new["cache_speed"]
    for clip, entry in new.get("real_clips", {}).items():
        if clip in out.get("real_clips", {}) and "predictions" in entry:
            out["real_clips"][clip]["predictions"].update(entry["predictions"])
    out.setdefault("updates", []).append({"models": models, "machine": new["machine"]})
    return out


def markdown(r: dict) -> str:
    lines = [
        "| model | input | held-out accuracy | macro F1 | internal test acc. | train s (epochs) "
        "| inference ms/clip (1 thread) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in r["models"]:
        inf = m["inference_ms_per_clip"]
        parts = ", ".join(f"{k} {v:.0f}" for k, v in inf.items() if k not in ("total", "clips"))
        lines.append(
            f"| {m['model']} | {m['input']} | {m['heldout_accuracy']:.3f} | "
            f"{m['heldout_macro_f1']:.3f} | {m['internal_test_accuracy']:.3f} | "
            f"{m['train_seconds']:.0f} ({m['epochs']}) | {inf['total']:.0f} ({parts}) |"
        )
    if "cache_speed" in r:
        c = r["cache_speed"]
        lines += [
            "",
            f"cnn-lstm training, seconds per epoch: cached {c['cached_seconds_per_epoch']:.2f}, "
            f"uncached {c['uncached_seconds_per_epoch']:.2f} -> {c['speedup_per_epoch']}x "
            f"(cache fill {c['cache_fill_seconds_first_run']:.0f} s once; second run: "
            f"{c['second_run_cache']['computed']} computed, {c['second_run_cache']['reused']} "
            "reused)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
