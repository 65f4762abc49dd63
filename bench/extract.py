"""Keypoint extraction: speed (`extract` vs a bare MediaPipe loop, 2 workers vs 1, worker thread
settings), the face-free graph vs Holistic, worker scaling with graph threads, and the
synthetic-video pipeline (pose detection rate, kpnet accuracy on held-out videos).

    .venv/bin/python bench/extract.py                      # speed + synthetic (~15 min on 2 cores)
    .venv/bin/python bench/extract.py --part speed --rounds 3
    .venv/bin/python bench/extract.py --part synthetic
    .venv/bin/python bench/extract.py --part graph         # ~4 min
    .venv/bin/python bench/extract.py --part scaling       # ~8 min

graph: the same decoded frames (the first ``--graph-frames`` of real clips in
``../shared/datasets/mmaction2-samples``, when present, and of a synthetic cartoon video) through
one Holistic and one face-free (``pose-hands``) graph, with MediaPipe's default threads and with
``graph_threads=1`` (and the ``pose`` graph, Holistic's pose alone, as a reference); per round
the graphs run in a rotated order. Frames per second of
``process`` only (decoding is done beforehand), the cores each graph keeps busy, the ratio
face-free / Holistic (median of the per-round ratios), and the landmark agreement (as
``tests/test_pose_graph.py`` measures it). Writes bench/results/extract-graph.json.

scaling: ``extract_batch`` end to end on synthetic videos (as ``speed``) with 1 worker of one
graph thread (the single-threaded worker), 1 worker with the auto threads (cores / workers), 2
workers with 1 graph thread (the auto setting), and 2 workers with 2 graph threads each (what
MediaPipe's default amounts to on 2 cores); rotated order per round. Ratios within a round: 2
workers / 1 worker (both one thread each), and best / (cores x single-threaded worker). Writes
bench/results/extract-scaling.json.

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
from motionscope.pose.graph import GRAPHS, landmark_agreement
from motionscope.pose.holistic import HolisticExtractor
from motionscope.video.decode import iter_frames
from motionscope.video.synth import VIDEO_ACTIONS, write_synthetic_videos

RESULTS = Path(__file__).resolve().parent / "results"
REAL_CLIPS = (
    "tests/data/test.avi",
    "demo/demo.mp4",
)  # 320x240 with a face; 340x256 (arm wrestling)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mmaction2-samples"
VARIANTS = ("pinned", "one-thread")
FPS = 15


# ---------------------------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
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
# graph: face-free vs Holistic on the same frames
# ---------------------------------------------------------------------------------------------


def _graph_fps(ex, frames) -> tuple[float, float, object, dict]:
    ex.reset()
    t, c = time.perf_counter(), _cpu_seconds()
    kp, rates = ex.extract_frames(frames)
    seconds = time.perf_counter() - t
    return len(frames) / seconds, (_cpu_seconds() - c) / seconds, kp, rates


def graph_part(args, tmp: Path) -> dict:
    import numpy as np

    from motionscope.video.synth import render_clip

    clips: dict[str, list] = {}
    for rel in REAL_CLIPS:
        path = SHARED / rel
        if path.is_file():
            frames = list(iter_frames(path))[: args.graph_frames]
            clips[f"real:{path.name}"] = [np.ascontiguousarray(f) for f in frames]
        else:
            print(f"skipping {rel}: ../shared/datasets not present", flush=True)
    synth = render_clip("wave", np.random.default_rng(5), (320, 240), args.graph_frames, fps=FPS)
    clips["synthetic:wave-320x240"] = [np.ascontiguousarray(f) for f in synth]
    settings = [(g, t) for t in (None, 1) for g in GRAPHS]  # (graph, graph_threads)
    names = [f"{g}/threads={t or 'default'}" for g, t in settings]
    extractors: dict = {
        n: HolisticExtractor(graph=g, graph_threads=t)
        for n, (g, t) in zip(names, settings, strict=True)
    }
    fps: dict = {c: {n: [] for n in names} for c in clips}
    cores: dict = {c: {n: [] for n in names} for c in clips}
    keypoints: dict = {c: {} for c in clips}
    rates: dict = {c: {} for c in clips}
    loads = []
    try:
        warm = next(iter(clips.values()))[0]
        for ex in extractors.values():  # one at a time: each ends its quiet start-up first
            ex.process(warm)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            if r % 2:
                order.reverse()
            for clip, frames in clips.items():
                for n in order:
                    f, c, kp, rate = _graph_fps(extractors[n], frames)
                    fps[clip][n].append(f)
                    cores[clip][n].append(c)
                    keypoints[clip][n], rates[clip][n] = kp, rate
                    print(
                        f"round {r} {clip:28s} {n:28s} {f:6.2f} frames/s {c:.2f} cores", flush=True
                    )
            loads.append(os.getloadavg()[0])
    finally:
        for ex in extractors.values():
            ex.close()
    result: dict = {
        "command": "python bench/extract.py " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "frames_per_clip": {c: len(f) for c, f in clips.items()},
        "load_average_1min_before": round(args.load_before, 2),
        "load_average_1min_after_each_round": [round(x, 2) for x in loads],
        "clips": {},
    }
    ratios_all = {"threads=default": [], "threads=1": []}
    for clip in clips:
        per = {n: round(statistics.median(v), 2) for n, v in fps[clip].items()}
        ratio = {}
        for t in ("default", "1"):
            free, full = fps[clip][f"pose-hands/threads={t}"], fps[clip][f"holistic/threads={t}"]
            per_round = [a / b for a, b in zip(free, full, strict=True)]
            ratios_all[f"threads={t}"].extend(per_round)
            ratio[f"threads={t}"] = {
                "median": round(statistics.median(per_round), 3),
                "per_round": [round(x, 3) for x in per_round],
            }
        result["clips"][clip] = {
            "frames_per_second_median": per,
            "frames_per_second": {n: [round(x, 2) for x in v] for n, v in fps[clip].items()},
            "cores_busy_median": {
                n: round(statistics.median(v), 2) for n, v in cores[clip].items()
            },
            # CPU time a frame costs (cores busy / frames per second): less sensitive to other
            # load on the machine than frames per second
            "cpu_ms_per_frame_median": {
                n: round(
                    statistics.median(
                        1e3 * c / f for c, f in zip(cores[clip][n], fps[clip][n], strict=True)
                    ),
                    1,
                )
                for n in names
            },
            "ratio_face_free_over_holistic": ratio,
            "detection_rate": {
                n: {k: round(v, 3) for k, v in rt.items()} for n, rt in rates[clip].items()
            },
            "agreement_face_free_vs_holistic": landmark_agreement(
                keypoints[clip]["holistic/threads=default"],
                keypoints[clip]["pose-hands/threads=default"],
            ),
            "agreement_one_thread_vs_default": landmark_agreement(
                keypoints[clip]["pose-hands/threads=default"],
                keypoints[clip]["pose-hands/threads=1"],
            ),
        }
    result["ratio_face_free_over_holistic_all_clips_median"] = {
        k: round(statistics.median(v), 3) for k, v in ratios_all.items()
    }
    result["goal_face_free_at_least_1.4x"] = {
        k: statistics.median(v) >= 1.4 for k, v in ratios_all.items()
    }
    return result


# ---------------------------------------------------------------------------------------------
# scaling: workers x graph threads, extract_batch end to end
# ---------------------------------------------------------------------------------------------

SCALING = {  # name -> (workers, graph_threads)
    "1w-1t": (1, 1),
    "1w-auto": (1, None),
    "2w-1t": (2, 1),
    "2w-2t": (2, 2),
}


def scaling_part(args, tmp: Path) -> dict:
    w, h = (int(v) for v in args.size.split("x"))
    src = tmp / "scaling-videos"
    write_synthetic_videos(
        src, classes=2, per_class=max(1, args.clips // 2), seed=0, size=(w, h),
        seconds=args.seconds, fps=FPS,
    )  # fmt: skip
    graph = args.scaling_graph
    configs = list(SCALING)
    runs: dict[str, list[float]] = {c: [] for c in configs}
    per_cpu: dict[str, list[float]] = {c: [] for c in configs}  # frames per CPU second
    loads = []
    for r in range(args.rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        if r % 2:
            order.reverse()
        for c in order:
            workers, threads = SCALING[c]
            cpu = _cpu_seconds() + _children_cpu_seconds()
            report = extract_batch(
                src, tmp / f"scaling-{c}-{r}", workers=workers, progress=False, graph=graph,
                graph_threads=threads,
            )  # fmt: skip
            if report.failed:
                raise RuntimeError(f"extraction failed: {report.failed}")
            cpu = _cpu_seconds() + _children_cpu_seconds() - cpu  # the workers were joined
            runs[c].append(report.frames_per_second)
            per_cpu[c].append(report.frames_extracted / cpu)
            print(
                f"round {r} {c:8s} {report.frames_per_second:6.2f} frames/s "
                f"{per_cpu[c][-1]:6.2f} frames per CPU second",
                flush=True,
            )
        loads.append(os.getloadavg()[0])
    cpus = len(os.sched_getaffinity(0))
    per_round = {
        "2w_1t_over_1w_1t": [a / b for a, b in zip(runs["2w-1t"], runs["1w-1t"], strict=True)],
        "best_over_cores_x_single": [
            max(runs[c][i] for c in configs) / (cpus * runs["1w-1t"][i]) for i in range(args.rounds)
        ],
        "2w_1t_over_2w_2t": [a / b for a, b in zip(runs["2w-1t"], runs["2w-2t"], strict=True)],
    }
    med = {c: statistics.median(v) for c, v in runs.items()}
    ratios = {k: round(statistics.median(v), 3) for k, v in per_round.items()}
    return {
        "command": "python bench/extract.py " + " ".join(sys.argv[1:]),
        "cpus": cpus,
        "graph": graph,
        "clips": len(sorted(src.rglob("*.mp4"))),
        "size": args.size,
        "frames_per_clip": round(args.seconds * FPS),
        "rounds": args.rounds,
        "configurations": {
            c: {"workers": wk, "graph_threads": t or "auto"} for c, (wk, t) in SCALING.items()
        },
        "load_average_1min_before": round(args.load_before, 2),
        "load_average_1min_after_each_round": [round(x, 2) for x in loads],
        "frames_per_second": {c: [round(x, 2) for x in v] for c, v in runs.items()},
        "frames_per_second_median": {c: round(v, 2) for c, v in med.items()},
        # frames per CPU second (this process and its joined workers): how much work a frame
        # costs in each configuration, whatever else the machine runs; equal values for 1 and
        # 2 workers mean 2 idle cores would give 2x
        "frames_per_cpu_second": {c: [round(x, 2) for x in v] for c, v in per_cpu.items()},
        "frames_per_cpu_second_median": {
            c: round(statistics.median(v), 2) for c, v in per_cpu.items()
        },
        "best_per_round": [max(configs, key=lambda c, i=i: runs[c][i]) for i in range(args.rounds)],
        "ratios_per_round": {k: [round(x, 3) for x in v] for k, v in per_round.items()},
        "ratios": ratios,
        "goal_2_workers_at_least_1.9x": ratios["2w_1t_over_1w_1t"] >= 1.9,
        "goal_best_over_cores_x_single_at_least_0.9": ratios["best_over_cores_x_single"] >= 0.9,
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
    ap.add_argument(
        "--part",
        "--only",
        dest="part",
        default="speed,synthetic",
        help="comma-separated: speed, synthetic, graph, scaling",
    )
    ap.add_argument("--graph-frames", type=int, default=120, help="graph: frames per clip")
    ap.add_argument(
        "--scaling-graph", default="holistic", choices=GRAPHS, help="scaling: the graph"
    )
    ap.add_argument("--clips", type=int, default=8, help="speed: clips")
    ap.add_argument("--seconds", type=float, default=6.0, help="speed: seconds per clip")
    ap.add_argument("--size", default="640x480", help="speed: frame size")
    ap.add_argument("--rounds", type=int, default=2, help="speed: rounds of every configuration")
    ap.add_argument("--per-class", type=int, default=12, help="synthetic: 640x480 clips a class")
    ap.add_argument("--synth-seconds", type=float, default=2.0, help="synthetic: clip length")
    ap.add_argument("--workers", type=int, default=None, help="synthetic: extraction workers")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    parts = set(args.part.split(","))
    unknown = parts - {"speed", "synthetic", "graph", "scaling"}
    if unknown:
        ap.error(f"unknown --part {', '.join(sorted(unknown))}")
    args.load_before = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    parts_run = {"graph": (graph_part, "extract-graph.json"),
                 "scaling": (scaling_part, "extract-scaling.json"),
                 "speed": (speed, "extract.json"),
                 "synthetic": (synthetic, "extract-synthetic.json")}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="motionscope-extract-") as tmp:
        for name, (run, file) in parts_run.items():
            if name in parts:
                result = run(args, Path(tmp))
                print(json.dumps(result, indent=2))
                (args.out / file).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
