"""Inference benchmarks, one section each; results merged into bench/results/infer.json.

    .venv/bin/python bench/infer.py [--only live,...] [--run RUN] [--size 640x480]

Sections (``--only`` picks some; the others' results already in the JSON are kept):

- ``live``: the live pipeline's frames/s versus MediaPipe Holistic alone, on the same decoded
  frames of synthetic 640x480 videos, in one run. "Holistic alone" is
  ``HolisticExtractor.process_blocks`` on every frame; "pipeline" is what ``motionscope live``
  does per frame: ``StreamRecognizer.push`` (Holistic, layout conversion, ring buffer, a
  prediction every ``--every`` frames, smoothing) plus the overlay (skeleton, label, top-k bars,
  FPS). Each way has its own MediaPipe graph (reset at every clip) and they take turns frame by
  frame (rotating who goes first), so load from other processes hits all alike; frames/s are
  from the summed per-frame times, and the ratio to Holistic alone is the result (goal
  >= 0.90). Also measured: the pipeline with a prediction on every frame, the pipeline with
  H.264 encoding of the annotated frames (headless ``live --output``), and the cost per frame
  of each stage.
- ``latency``: keypoint classifier latency per window at batch 1 on one core (torch 1 thread,
  ONNX Runtime intra-op 1): PyTorch vs ONNX Runtime vs int8 for ``--models`` (kpnet,
  seed-lstm), median and p90 over ``--runs`` interleaved calls (goal: ONNX <= 1 ms).
- ``predict``: ``Recognizer.predict`` on one ``--video-seconds`` (10) s ``--size`` synthetic
  video at 15 fps: seconds end to end and the share spent in MediaPipe, PyTorch vs ONNX backend.
- ``rate``: the frame-rate policy. One ``--video-seconds`` s ``--size`` synthetic clip at
  15 fps and its 30 fps and 60 fps copies (every frame 2 and 4 times), ``Recognizer.predict``
  with a 15 fps bundle on each, interleaved over ``--predict-rounds`` rounds (median): the
  time of each copy over the original (goal: 30 fps <= 1.3x) and the labels (goal: the same).
  For contrast, the same bundle with no recorded rate (``fps: null``) on the 30 fps copy, which
  then sends every frame to MediaPipe.
- ``int8-accuracy``: accuracy of PyTorch, ONNX fp32 and ONNX int8 on the recaptcha16
  contiguous test split (../shared/datasets), for ``--models``.

Without ``--run`` a small kpnet bundle (window 30) is trained on synthetic keypoints first;
only its speed matters here. Torch runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent / "results" / "infer.json"


# ---------------------------------------------------------------------------------------------
# shared helpers


def synthetic_bundle(root: Path) -> Path:
    """A kpnet bundle trained briefly on synthetic Holistic keypoints (window 30)."""
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.train import TrainConfig, train

    write_synthetic_keypoints(root / "data", classes=5, per_class=12, frames=30, seed=0)
    ds = load_keypoint_dataset(root / "data", progress=False)
    cfg = TrainConfig(model="kpnet", epochs=3, window=30, threads=1, progress=False)
    train(ds, root / "run", cfg)
    return root / "run"


def synthetic_frames(root: Path, size: tuple[int, int], clips: int, seconds: float) -> list:
    """Decoded frames of ``clips`` synthetic H.264 videos (as ``motionscope live`` reads them):
    cartoon people doing different actions, 15 fps."""
    from motionscope.video.decode import read_frames
    from motionscope.video.synth import VIDEO_ACTIONS, render_clip, sample_rng, write_video

    out = []
    for c in range(clips):
        action = VIDEO_ACTIONS[c % len(VIDEO_ACTIONS)]
        frames = render_clip(action, sample_rng(0, c, 0), size, round(seconds * 15), fps=15)
        path = root / f"{c}-{action}.mp4"
        write_video(path, frames, 15)
        out.append(read_frames(path))
    return out


# ---------------------------------------------------------------------------------------------
# live


class _Mode:
    """One way of processing frames, with its own MediaPipe graph and its own clock."""

    def __init__(self, rec, every: int | None, encode: bool, tmp: Path) -> None:
        from motionscope.infer.stream import StreamRecognizer
        from motionscope.pose.holistic import HolisticExtractor

        self.ex = HolisticExtractor()
        self.live = (
            None
            if every is None
            else StreamRecognizer(rec, every=every, smooth=3, extractor=self.ex)
        )
        self.encode, self.tmp = encode, tmp
        self.seconds = 0.0
        self.ms = {"pose": 0.0, "model": 0.0, "overlay": 0.0, "encode": 0.0}
        self.predictions = 0
        self.writer = None

    def start_clip(self, c: int) -> None:
        from motionscope.infer.live import FpsMeter
        from motionscope.video.writer import VideoWriter

        self.meter = FpsMeter()
        if self.live is None:
            self.ex.reset()
        else:
            self.live.reset()  # buffer, smoothing and the graph's tracking
        if self.encode:
            self.writer = VideoWriter(self.tmp / f"annotated-{c}.mp4", fps=15)

    def step(self, f, t: float) -> None:
        from motionscope.infer.live import annotate

        start = time.perf_counter()
        if self.live is None:
            self.ex.process_blocks(f)
            self.seconds += time.perf_counter() - start
            return
        u = self.live.push(f, t)
        a = time.perf_counter()
        img = annotate(f, u, self.live.classes, self.meter.tick())
        b = time.perf_counter()
        if self.writer is not None:
            self.writer.write(img, t)
        end = time.perf_counter()
        self.seconds += end - start
        self.ms["pose"] += u.timings["pose"]
        self.ms["model"] += u.timings["model"]
        self.ms["overlay"] += (b - a) * 1e3
        self.ms["encode"] += (end - b) * 1e3
        self.predictions += u.predicted

    def end_clip(self) -> None:
        if self.writer is not None:
            start = time.perf_counter()
            self.writer.close()  # flushing the encoder is part of the work
            spent = time.perf_counter() - start
            self.seconds += spent
            self.ms["encode"] += spent * 1e3
            self.writer = None


def live_section(args, tmp: Path) -> dict:
    import motionscope

    size = tuple(int(v) for v in args.size.lower().split("x"))
    run = args.run or synthetic_bundle(tmp)
    clips = synthetic_frames(tmp, size, args.clips, args.seconds)
    n = sum(len(c) for c in clips)
    rec = motionscope.load(run)
    modes = {
        "holistic_alone": _Mode(rec, None, False, tmp),
        "pipeline": _Mode(rec, args.every, False, tmp),
        "pipeline_every_1": _Mode(rec, 1, False, tmp),
        "pipeline_with_h264_output": _Mode(rec, args.every, True, tmp),
    }
    for m in modes.values():  # graph start-up and first inference, outside the timing
        m.ex.process(clips[0][0])
        if m.live is not None:
            rec.probabilities([np.zeros((m.live.window, rec.layout.width), np.float32)])
    names = list(modes)
    for _ in range(args.rounds):
        for c, frames in enumerate(clips):
            for m in modes.values():
                m.start_clip(c)
            for i, f in enumerate(frames):
                k = i % len(names)  # every mode takes every position in turn
                for name in names[k:] + names[:k]:
                    modes[name].step(f, i / 15)
            for m in modes.values():
                m.end_clip()
    for m in modes.values():
        m.ex.close()
    rec.close()
    frames = n * args.rounds
    fps = {k: frames / m.seconds for k, m in modes.items()}
    base = fps["holistic_alone"]
    ms = {
        k: {stage: round(v / frames, 3) for stage, v in m.ms.items()}
        for k, m in modes.items()
        if m.live is not None
    }
    return {
        "size": args.size,
        "clips": len(clips),
        "frames_per_round": n,
        "rounds": args.rounds,
        "every": args.every,
        "smooth": 3,
        "window": int(rec.pre.window),
        "bundle": "synthetic kpnet" if not args.run else str(args.run),
        "fps": {k: round(v, 2) for k, v in fps.items()},
        "ratio_over_holistic": {k: round(v / base, 3) for k, v in fps.items()},
        "goal_pipeline_ratio": 0.90,
        "ms_per_frame": ms,
        "ms_per_prediction": round(
            modes["pipeline_every_1"].ms["model"] / max(1, modes["pipeline_every_1"].predictions),
            3,
        ),
        "predictions": {k: m.predictions for k, m in modes.items() if m.live is not None},
    }


# ---------------------------------------------------------------------------------------------
# latency, predict and int8 accuracy (ONNX export)


def model_bundle(root: Path, model: str, window: int = 30) -> Path:
    """A ``model`` bundle trained briefly on synthetic Holistic keypoints (only its speed is
    measured), exported to ONNX fp32 and int8."""
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.export import export_onnx
    from motionscope.train import TrainConfig, train

    data = root / "data"
    if not data.exists():
        write_synthetic_keypoints(data, classes=5, per_class=12, frames=window, seed=0)
    ds = load_keypoint_dataset(data, progress=False)
    cfg = TrainConfig(model=model, epochs=2, window=window, threads=1, progress=False)
    train(ds, root / model, cfg)
    export_onnx(root / model, int8=True)
    return root / model


def interleaved_ms(
    calls: dict[str, Callable[[], object]], runs: int
) -> dict[str, dict[str, np.ndarray]]:
    """Milliseconds per call of each function, wall clock and this thread's CPU time: ``runs``
    rounds, one call of each per round in a rotating order, so load from other processes hits
    all of them alike. (With one thread, PyTorch and ONNX Runtime compute in the calling thread,
    so its CPU time is the work itself, without the waits a busy machine adds to the wall
    clock.)"""
    names = list(calls)
    for fn in calls.values():  # warm-up (allocations, first-run graph optimisation)
        for _ in range(20):
            fn()
    out = {k: {"wall": np.empty(runs), "cpu": np.empty(runs)} for k in names}
    for r in range(runs):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start, cpu = time.perf_counter(), time.thread_time()
            calls[name]()
            out[name]["cpu"][r] = (time.thread_time() - cpu) * 1e3
            out[name]["wall"][r] = (time.perf_counter() - start) * 1e3
    return out


def _summary(ms: dict[str, np.ndarray]) -> dict:
    return {
        f"{clock}_{stat}_ms": round(float(fn(v)), 4)
        for clock, v in ms.items()
        for stat, fn in (("median", np.median), ("p90", lambda a: np.percentile(a, 90)))
    }


def latency_section(args, tmp: Path) -> dict:
    """Keypoint classifier latency per window at batch 1 on one core: the backend call the
    Recognizer makes (preprocessed window in, logits out), PyTorch vs ONNX Runtime vs int8."""
    import motionscope
    from motionscope.infer.backend import OnnxBackend, TorchBackend

    models = {}
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        run = model_bundle(tmp, model)
        rec = motionscope.load(run)
        export = rec.config.export
        rng = np.random.default_rng(0)
        x = rec.pre.batch([rng.random((rec.pre.window, rec.layout.width), np.float32)])
        backends = {
            "torch": TorchBackend(rec.model),
            "onnx": OnnxBackend(run / "model.onnx", threads=1),
            "onnx-int8": OnnxBackend(run / "model.int8.onnx", name="onnx-int8", threads=1),
        }
        calls = {k: (lambda b=b, x=x: b.logits(x)) for k, b in backends.items()}
        ms = interleaved_ms(calls, args.runs)
        res = {k: _summary(v) for k, v in ms.items()}
        models[model] = {
            "input": list(x.shape),
            "backends": res,
            "speedup_over_torch": {
                clock: {
                    k: round(res["torch"][f"{clock}_median_ms"] / v[f"{clock}_median_ms"], 2)
                    for k, v in res.items()
                }
                for clock in ("cpu", "wall")
            },
            "onnx_goal_1ms_met": res["onnx"]["cpu_median_ms"] <= 1.0,
            "sizes_bytes": export["sizes_bytes"],
            "dynamic_axes": export["dynamic_axes"],
            "fixed_window": export["fixed_window"],
            "parity_random_inputs": {
                k: export["parity"][k]["max_abs_prob_diff"] for k in ("onnx", "onnx-int8")
            },
            "export_seconds": export["seconds"],
        }
    return {
        "batch": 1,
        "threads": 1,
        "runs": args.runs,
        "what": "backend.logits on one preprocessed window (window 30), median/p90 over runs, "
        "thread CPU time and wall clock",
        "models": models,
    }


def predict_section(args, tmp: Path) -> dict:
    """``Recognizer.predict`` on one synthetic video (default 10 s, 640x480, 15 fps): seconds
    end to end and the share spent in MediaPipe Holistic, with the PyTorch and ONNX backends."""
    import motionscope
    from motionscope.video.synth import render_clip, sample_rng, write_video

    size = tuple(int(v) for v in args.size.lower().split("x"))
    fps = 15
    frames = round(args.video_seconds * fps)
    video = tmp / "video.mp4"
    write_video(video, render_clip("wave", sample_rng(0, 0, 0), size, frames, fps=fps), fps)
    run = args.run or model_bundle(tmp, "kpnet")
    if not (Path(run) / "model.onnx").exists():
        from motionscope.export import export_onnx

        export_onnx(run)
    recs = {b: motionscope.load(run, backend=b, threads=1) for b in ("torch", "onnx")}
    cold = {}
    for b, rec in recs.items():  # the first call creates the MediaPipe graph
        start = time.perf_counter()
        rec.predict(video)
        cold[b] = round(time.perf_counter() - start, 3)
    runs: dict[str, list[dict]] = {b: [] for b in recs}
    for r in range(args.predict_rounds):
        order = list(recs) if r % 2 == 0 else list(recs)[::-1]
        for b in order:
            start, cpu = time.perf_counter(), time.process_time()
            p = recs[b].predict(video)
            spent = {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}
            runs[b].append({**spent, **p.timings})
    for rec in recs.values():
        rec.close()
    out = {}
    for b, rows in runs.items():
        med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        total_ms = med["seconds"] * 1e3
        out[b] = {
            "seconds_end_to_end": round(med["seconds"], 3),
            "cpu_seconds": round(med["cpu"], 3),  # all threads of the process
            "seconds_first_call": cold[b],
            "ms": {k: round(v, 2) for k, v in med.items() if k not in ("seconds", "cpu")},
            "mediapipe_share": round(med["pose"] / total_ms, 4),
            "decode_share": round(med["decode"] / total_ms, 4),
            "model_share": round(med["model"] / total_ms, 6),
        }
    return {
        "video": {"seconds": args.video_seconds, "size": args.size, "fps": fps, "frames": frames},
        "bundle": "synthetic kpnet (window 30)" if not args.run else str(args.run),
        "threads": 1,
        "rounds": args.predict_rounds,
        "what": "median over rounds of Recognizer.predict(video) after a first (cold) call",
        "backends": out,
    }


def rate_section(args, tmp: Path) -> dict:
    """Predict on 30 and 60 fps copies of a 15 fps clip with a 15 fps bundle (see the module
    docstring)."""
    import shutil
    from dataclasses import replace

    import motionscope
    from motionscope.bundle import read_bundle, update_config
    from motionscope.video.synth import render_clip, sample_rng, write_video

    size = tuple(int(v) for v in args.size.lower().split("x"))
    n = round(args.video_seconds * 15)
    frames = np.asarray(render_clip("wave", sample_rng(0, 0, 0), size, n, fps=15))
    videos = {}
    for fps in (15, 30, 60):
        videos[fps] = tmp / f"clip-{fps}.mp4"
        write_video(videos[fps], np.repeat(frames, fps // 15, axis=0), fps)
    run = tmp / "run15"
    shutil.copytree(args.run or model_bundle(tmp, "kpnet"), run)
    update_config(run, replace(read_bundle(run).config, fps=15.0))
    free = tmp / "run-no-rate"
    shutil.copytree(run, free)
    update_config(free, replace(read_bundle(free).config, fps=None))
    cases = {"15 fps": (run, 15), "30 fps": (run, 30), "60 fps": (run, 60),
             "30 fps, bundle without a rate": (free, 30)}  # fmt: skip
    recs = {r: motionscope.load(r, threads=1) for r in (run, free)}
    for r in recs.values():
        r.predict(videos[15])  # the first call creates the MediaPipe graph
    times: dict[str, list[float]] = {c: [] for c in cases}
    labels: dict[str, str] = {}
    for k in range(args.predict_rounds):
        order = list(cases) if k % 2 == 0 else list(cases)[::-1]
        for case in order:
            r, fps = cases[case]
            start = time.perf_counter()
            p = recs[r].predict(videos[fps])
            times[case].append(time.perf_counter() - start)
            labels[case] = f"{p.label} {p.confidence:.3f}"
    for r in recs.values():
        r.close()
    med = {c: float(np.median(v)) for c, v in times.items()}
    base = med["15 fps"]
    return {
        "video": {"seconds": args.video_seconds, "size": args.size, "frames_at_15": n},
        "bundle": "synthetic kpnet (window 30), fps set to 15" if not args.run else str(args.run),
        "rounds": args.predict_rounds,
        "predict_seconds": {c: round(v, 3) for c, v in med.items()},
        "ratio_to_15fps": {c: round(v / base, 3) for c, v in med.items()},
        "labels": labels,
        "same_label": len({labels[c].split()[0] for c in ("15 fps", "30 fps", "60 fps")}) == 1,
        "goal": "30 fps <= 1.3x the 15 fps time, same label",
    }


def int8_accuracy_section(args, tmp: Path) -> dict:
    """Accuracy on a real held-out test set with PyTorch, ONNX fp32 and ONNX int8: recaptcha16
    (../shared/datasets), contiguous split (the last 20% of each class's sequences)."""
    import motionscope
    from motionscope.data.archive import extract_cached
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.splits import SplitSpec, split_dataset
    from motionscope.export import export_onnx
    from motionscope.train import TrainConfig, train

    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    archive = shared / "mp-recaptcha16" / "MP_Data.tar.xz"
    if not archive.exists():
        return {"skipped": f"{archive} not found"}
    ds = load_keypoint_dataset(extract_cached(archive, "mp-recaptcha16") / "MP_Data")
    _, test_idx = split_dataset(ds, SplitSpec("contiguous"), test_fraction=0.2, seed=0)
    models = {}
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        run = tmp / model
        cfg = TrainConfig(model=model, seed=0, split="contiguous", threads=1, progress=False)
        metrics = train(ds, run, cfg).metrics
        export_onnx(run, int8=True)
        seqs = [ds.samples[i].data for i in test_idx]
        acc, probs = {}, {}
        for b in ("torch", "onnx", "onnx-int8"):
            rec = motionscope.load(run, backend=b, threads=1)
            y = np.array([rec.classes.index(ds.samples[i].label) for i in test_idx])
            probs[b] = rec.probabilities(seqs)
            acc[b] = round(float((probs[b].argmax(1) == y).mean()), 4)
        models[model] = {
            "accuracy": acc,
            "accuracy_in_metrics_json": round(metrics["accuracy"], 4),
            "int8_accuracy_change": round(acc["onnx-int8"] - acc["torch"], 4),
            "max_abs_prob_diff": {
                b: float(np.abs(probs[b] - probs["torch"]).max()) for b in ("onnx", "onnx-int8")
            },
            "top1_agreement_int8": round(
                float((probs["onnx-int8"].argmax(1) == probs["torch"].argmax(1)).mean()), 4
            ),
        }
    return {
        "dataset": "mp-recaptcha16",
        "split": "contiguous 80/20 (seed 0)",
        "n_test": len(test_idx),
        "models": models,
    }


SECTIONS: dict[str, Callable] = {
    "live": live_section,
    "latency": latency_section,
    "predict": predict_section,
    "int8-accuracy": int8_accuracy_section,
    "rate": rate_section,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all: {', '.join(SECTIONS)})",
    )
    ap.add_argument("--run", type=Path, default=None, help="bundle to use (default: train one)")
    ap.add_argument("--size", default="640x480", help="synthetic video size (live)")
    ap.add_argument("--clips", type=int, default=2, help="synthetic clips (live)")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per clip (live)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (live)")
    ap.add_argument("--every", type=int, default=5, help="predict every K frames (live)")
    ap.add_argument("--models", default="kpnet,seed-lstm", help="models (latency, int8-accuracy)")
    ap.add_argument("--runs", type=int, default=2000, help="timed calls per backend (latency)")
    ap.add_argument(
        "--video-seconds", type=float, default=10.0, help="video length (predict, rate)"
    )
    ap.add_argument(
        "--predict-rounds", type=int, default=3, help="timed predictions (predict, rate)"
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    torch.set_num_threads(1)
    for name in only:
        with tempfile.TemporaryDirectory(prefix=f"motionscope-bench-{name}-") as tmp:
            t = time.perf_counter()
            section = SECTIONS[name](args, Path(tmp))
        section["command"] = "python bench/infer.py " + " ".join(sys.argv[1:])
        section["cpus"] = os.cpu_count()
        section["seconds"] = round(time.perf_counter() - t, 1)
        # re-read just before writing: other sections may have been written meanwhile
        results = json.loads(args.out.read_text()) if args.out.exists() else {}
        results[name] = section
        print(json.dumps({name: section}, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = args.out.with_name(args.out.name + ".tmp")
        tmp_out.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp_out, args.out)  # merged per section, atomically
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
