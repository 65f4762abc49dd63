"""Keypoint extraction: speed (`extract` vs a bare MediaPipe loop, 2 workers vs 1, worker thread
settings) and the synthetic-video pipeline (pose detection rate, kpnet accuracy on held-out
videos).

    .venv/bin/python bench/extract.py                      # everything (~15 min on 2 cores)
    .venv/bin/python bench/extract.py --only speed --rounds 3
    .venv/bin/python bench/extract.py --only synthetic

speed: on synthetic cartoon videos (8 clips of 6 s at 640x480 by default, generated into a
temporary folder; long enough that starting the worker processes is a small part), in one run:
- bare: decode every clip into memory first, then time only ``Holistic.process`` over the frames
  (one graph, reset between clips), and the cores it keeps busy (CPU time / wall time);
- extract x1: ``extract_batch(workers=1)`` end to end (decoding, extraction, atomic writes);
- extract x2: the same with 2 worker processes, as shipped;
- x2 variants, set up in each worker before MediaPipe loads: "pinned" (worker k pinned to core
  k with ``os.sched_setaffinity``) and "one-thread" (one thread for OpenMP, TensorFlow, OpenCV
  and PyAV decoding).
  Each round runs every configuration once, in a rotated order (reversed every other round), so
  the machine's other load hits them alike; the ratios are medians over rounds.

synthetic: ``write_synthetic_videos`` (10 actions, seed 0), extracted with ``extract_batch``:
- pose detection rate over every frame, per action, at 640x480 (12 clips a class; the first 6
  a class reported separately) and at 320x240 (6 clips a class);
- kpnet (``motionscope.train.fit.train``, defaults) trained on the 640x480 keypoints with
  ``split="contiguous"``, ``test_fraction=0.25``: per class clips 0-8 train (the last 15% of
  those are the early-stopping slice) and clips 9-11 are the test set. Every clip is its own
  random person, body, clothes, background, camera and timing, so test clips are unseen videos.

Writes bench/results/extract.json (speed) and bench/results/extract-synthetic.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from motionscope.pose import batch
from motionscope.pose.batch import extract_batch
from motionscope.pose.holistic import HolisticExtractor
from motionscope.video.decode import iter_frames
from motionscope.video.synth import VIDEO_ACTIONS, write_synthetic_videos

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = ("pinned", "one-thread")
FPS = 15


# ---------------------------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bare_fps(videos: list[Path], cpu: list[float] | None = None) -> float:
    """Frames per second of the bare loop; appends the cores it kept busy to ``cpu``."""
    clips = [list(iter_frames(v)) for v in videos]
    n = sum(len(c) for c in clips)
    with HolisticExtractor() as ex:
        ex.process(clips[0][0])  # graph start-up, outside the timing
        t, c = time.perf_counter(), _cpu_seconds()
        for frames in clips:
            ex.reset()
            for f in frames:
                ex.process(f)
        seconds = time.perf_counter() - t
        if cpu is not None:
            cpu.append((_cpu_seconds() - c) / seconds)
    return n / seconds


def _variant_init(settings: dict, variant: str, counter) -> None:
    """Worker set-up for a variant, then the shipped initializer (runs in the worker)."""
    if variant == "one-thread":
        for name in ("OMP_NUM_THREADS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
            os.environ[name] = "1"
        import cv2

        cv2.setNumThreads(1)
        import motionscope.video.decode as decode

        opened = decode._open

        def _open(path):  # PyAV decoding on one thread
            container = opened(path)
            container.streams.video[0].thread_count = 1
            return container

        decode._open = _open
    elif variant == "pinned":  # worker k on core k
        with counter.get_lock():
            k = counter.value
            counter.value += 1
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[k % len(cpus)]})
    batch._init_worker(settings)


def _variant_run(variant: str, workers: int):
    settings = batch.engine_settings(workers)

    def run(tasks: list[dict], on_done) -> int:
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        with ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_variant_init,
            initargs=(settings, variant, counter),
        ) as pool:
            futures = [pool.submit(batch._worker_run, t) for t in tasks]
            for i, fut in enumerate(futures):
                on_done(i, fut.result())
        return workers

    return run


def extract_fps(src: Path, out: Path, workers: int, variant: str | None = None) -> float:
    if variant is None:
        report = extract_batch(src, out, workers=workers, progress=False)
    else:
        report = batch.run_batch(
            src,
            out,
            every=1,
            progress=False,
            settings=batch.engine_settings(workers),
            engine=f"local-{variant}",
            run=_variant_run(variant, workers),
        )
    if report.failed:
        raise RuntimeError(f"extraction failed: {report.failed}")
    return report.frames_per_second


def speed(args, tmp: Path) -> dict:
    w, h = (int(v) for v in args.size.split("x"))
    src = tmp / "speed-videos"
    write_synthetic_videos(
        src,
        classes=2,
        per_class=max(1, args.clips // 2),
        seed=0,
        size=(w, h),
        seconds=args.seconds,
        fps=FPS,
    )
    videos = sorted(src.rglob("*.mp4"))
    configs = ["bare", "x1", "x2", *(f"x2-{v}" for v in VARIANTS)]
    runs: dict[str, list[float]] = {c: [] for c in configs}
    loads: list[float] = []
    cores: list[float] = []  # CPU seconds per wall second of the bare loop
    for r in range(args.rounds):
        # rotated, and reversed every other round: no configuration always follows another
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        if r % 2:
            order.reverse()
        for c in order:
            out = tmp / f"speed-{c}-{r}"
            if c == "bare":
                fps = bare_fps(videos, cores)
            elif c == "x1":
                fps = extract_fps(src, out, 1)
            elif c == "x2":
                fps = extract_fps(src, out, 2)
            else:
                fps = extract_fps(src, out, 2, c.removeprefix("x2-"))
            runs[c].append(fps)
            print(f"round {r} {c:14s} {fps:6.2f} frames/s", flush=True)
        loads.append(os.getloadavg()[0])
    med = {c: statistics.median(v) for c, v in runs.items()}
    per_round = {
        "extract1_over_bare": [a / b for a, b in zip(runs["x1"], runs["bare"], strict=True)],
        "2_workers_over_1": [a / b for a, b in zip(runs["x2"], runs["x1"], strict=True)],
        **{
            f"2_workers_{v}_over_1": [
                a / b for a, b in zip(runs[f"x2-{v}"], runs["x1"], strict=True)
            ]
            for v in VARIANTS
        },
    }
    return {
        "command": "python bench/extract.py " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(),
        "clips": len(videos),
        "size": args.size,
        "frames_per_clip": round(args.seconds * FPS),
        "rounds": args.rounds,
        "load_average_1min_after_each_round": [round(x, 2) for x in loads],
        "frames_per_second": {c: [round(x, 2) for x in v] for c, v in runs.items()},
        # how many cores one MediaPipe graph keeps busy (its calculators run on a pool of one
        # thread per core): with 2 cores, 2 workers can give at most 2 / this times 1 worker
        "bare_loop_cores_busy": [round(x, 2) for x in cores],
        "bare_holistic_fps": round(med["bare"], 2),
        "extract_1_worker_fps": round(med["x1"], 2),
        "extract_2_workers_fps": round(med["x2"], 2),
        **{f"extract_2_workers_{v}_fps": round(med[f"x2-{v}"], 2) for v in VARIANTS},
        "ratios_per_round": {k: [round(x, 3) for x in v] for k, v in per_round.items()},
        "ratio_extract1_over_bare": round(statistics.median(per_round["extract1_over_bare"]), 3),
        "ratio_2_workers_over_1": round(statistics.median(per_round["2_workers_over_1"]), 3),
        **{
            f"ratio_2_workers_{v}_over_1": round(
                statistics.median(per_round[f"2_workers_{v}_over_1"]), 3
            )
            for v in VARIANTS
        },
    }


# ---------------------------------------------------------------------------------------------
# synthetic-video pipeline
# ---------------------------------------------------------------------------------------------


def pose_rates(report, videos: Path, first: int | None = None) -> dict:
    """Pose detection rate over every frame, overall and per action (clips < ``first`` only)."""
    hits: dict[str, float] = {}
    frames: dict[str, int] = {}
    zero = []
    for v in report.videos:
        src = Path(v.source)
        if first is not None and int(src.stem) >= first:
            continue
        if v.status == "failed":
            raise RuntimeError(f"extraction failed: {v.source}: {v.error}")
        action = src.parent.name
        rate = v.detection_rate.get("pose", 0.0)
        hits[action] = hits.get(action, 0.0) + rate * v.frames
        frames[action] = frames.get(action, 0) + v.frames
        if rate == 0:
            zero.append(str(src.relative_to(videos)))
    total = sum(frames.values())
    return {
        "clips": sum(1 for v in report.videos if first is None or int(Path(v.source).stem) < first),
        "frames": total,
        "pose_detection_rate": round(sum(hits.values()) / total, 4),
        "per_action": {a: round(hits[a] / frames[a], 4) for a in VIDEO_ACTIONS if a in frames},
        "clips_with_no_pose": zero,
    }


def synthetic(args, tmp: Path) -> dict:
    import torch

    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.train import TrainConfig, train

    torch.set_num_threads(1)
    result: dict = {
        "command": "python bench/extract.py " + " ".join(sys.argv[1:]),
        "seed": 0,
        "fps": FPS,
        "seconds_per_clip": args.synth_seconds,
    }
    frames_per_clip = round(args.synth_seconds * FPS)

    # detection at 320x240, 6 clips a class
    small = tmp / "synth-320"
    write_synthetic_videos(
        small,
        classes=len(VIDEO_ACTIONS),
        per_class=6,
        seed=0,
        size=(320, 240),
        seconds=args.synth_seconds,
        fps=FPS,
    )
    t = time.perf_counter()
    report = extract_batch(small, tmp / "kp-320", workers=args.workers, progress=False)
    result["detection_320x240"] = {
        **pose_rates(report, small),
        "extract_seconds": round(time.perf_counter() - t, 1),
    }
    print("320x240", json.dumps(result["detection_320x240"]), flush=True)

    # 640x480, 12 clips a class: detection, then kpnet on held-out clips
    big = tmp / "synth-640"
    write_synthetic_videos(
        big,
        classes=len(VIDEO_ACTIONS),
        per_class=args.per_class,
        seed=0,
        size=(640, 480),
        seconds=args.synth_seconds,
        fps=FPS,
    )
    keypoints = tmp / "kp-640"
    t = time.perf_counter()
    report = extract_batch(big, keypoints, workers=args.workers, progress=False)
    result["detection_640x480"] = {
        **pose_rates(report, big),
        "extract_seconds": round(time.perf_counter() - t, 1),
    }
    result["detection_640x480_first_6_clips"] = pose_rates(report, big, first=6)
    print("640x480", json.dumps(result["detection_640x480"]), flush=True)

    ds = load_keypoint_dataset(keypoints, progress=False)
    cfg = TrainConfig(model="kpnet", seed=0, split="contiguous", test_fraction=0.25, threads=1)
    fit = train(ds, tmp / "run", cfg)
    m = fit.metrics
    result["kpnet"] = {
        "train_config": {"model": "kpnet", "seed": 0, "split": "contiguous", "test_fraction": 0.25},
        "split": (
            f"per class, clips 0-{args.per_class - 1 - _n_test(args.per_class)} train (the last "
            "15% of them are the early-stopping slice), clips "
            f"{args.per_class - _n_test(args.per_class)}-{args.per_class - 1} test"
        ),
        "sequences": len(ds),
        "frames_per_clip": frames_per_clip,
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "n_test": m["n_test"],
        "per_class_recall": {k: round(v["recall"], 3) for k, v in m["per_class"].items()},
        "confusion_matrix": m["confusion_matrix"],
        "classes": list(m["per_class"]),
        "train_seconds": round(m.get("train_seconds", fit.seconds), 1),
    }
    print("kpnet", json.dumps(result["kpnet"]), flush=True)
    return result


def _n_test(n: int, fraction: float = 0.25) -> int:
    from motionscope.data.splits import _n_test as n_test

    return n_test(n, fraction)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="speed,synthetic", help="speed, synthetic or both")
    ap.add_argument("--clips", type=int, default=8, help="speed: clips")
    ap.add_argument("--seconds", type=float, default=6.0, help="speed: seconds per clip")
    ap.add_argument("--size", default="640x480", help="speed: frame size")
    ap.add_argument("--rounds", type=int, default=2, help="speed: rounds of every configuration")
    ap.add_argument("--per-class", type=int, default=12, help="synthetic: 640x480 clips a class")
    ap.add_argument("--synth-seconds", type=float, default=2.0, help="synthetic: clip length")
    ap.add_argument("--workers", type=int, default=None, help="synthetic: extraction workers")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    parts = set(args.only.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="motionscope-extract-") as tmp:
        if "speed" in parts:
            result = speed(args, Path(tmp))
            print(json.dumps(result, indent=2))
            (args.out / "extract.json").write_text(json.dumps(result, indent=2) + "\n")
        if "synthetic" in parts:
            result = synthetic(args, Path(tmp))
            print(json.dumps(result, indent=2))
            (args.out / "extract-synthetic.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
