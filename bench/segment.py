"""Long videos as a timeline, and knowing when the model does not know, on synthetic videos.

    .venv/bin/python bench/segment.py [--classes 6] [--train-per-class 16] [--test-per-class 6]
                                      [--size 320x240] [--fps 15] [--work DIR]

Data (all synthetic cartoon videos, ``motionscope.video.synth``):
- training clips: ``--train-per-class`` clips of 2 s per action (seed S), their MediaPipe
  Holistic keypoints extracted with ``extract_batch``; kpnet is trained on them with
  ``motionscope.train.train`` (which also calibrates it on its validation split);
- held-out clips: ``--test-per-class`` clips per action drawn with another seed (other people,
  clothes, backgrounds), each 2 to 3.5 s long;
- long videos: held-out clip ``i`` of every action, in a random order, concatenated into long
  video ``i`` (so ``--test-per-class`` videos of ``--classes`` segments each, known boundaries).

Segmentation (model trained on all classes): the long video's keypoints are extracted once
(``Recognizer.keypoints_and_fps``, i.e. what ``Recognizer.segments(video)`` does) and segmented
with the defaults (window = the bundle's, stride = window // 4, smooth 3, min segment = half a
window) and a few other settings. Frame accuracy counts every frame (an "unknown" frame is
wrong); the boundary error is, for every true boundary, the distance in seconds to the nearest
predicted boundary.

Unknown actions: for every action in turn, kpnet is trained without it (leave one class out).
The held-out clips (their central window, as one ``predict`` call each) and the long videos are
then labelled under several rules: no threshold; a fixed 0.5 threshold on the top probability
(the seed tutorial's) before and after temperature scaling; the validation rule
(``train/calibrate.py``: log-odds midpoint between the 5% quantile of correct validation top
probabilities and the 95% quantile of the top probability without the true class) on
uncalibrated probabilities (T = 1) and on calibrated ones (the default); and only its first
part (keep 95% of the correct validation predictions). Reported: how often the left-out action
is called "unknown" versus given a known name, and how often known actions are wrongly called
"unknown".

``--work DIR`` keeps videos, keypoints and bundles between runs (use the same arguments);
``--reuse`` then skips training. Writes bench/results/segment.json and
bench/results/segment-example.png (the timeline of long video 0).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motionscope.atomic import write_json
from motionscope.data.dataset import KeypointDataset
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.infer import Recognizer, load_recognizer
from motionscope.infer.segment import UNKNOWN
from motionscope.pose.batch import extract_batch
from motionscope.train import TrainConfig, train
from motionscope.video.decode import read_frames
from motionscope.video.synth import (
    VIDEO_ACTIONS,
    render_clip,
    sample_rng,
    write_synthetic_videos,
    write_video,
)

OUT = Path(__file__).resolve().parent / "results" / "segment.json"
HELD_OUT_SEED = 1000  # added to --seed for the held-out clips


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Data


def make_training_keypoints(work: Path, args, classes: list[str]) -> Path:
    videos, kp = work / "train-videos", work / "train-keypoints"
    if not (videos / classes[-1] / f"{args.train_per_class - 1}.mp4").exists():
        write_synthetic_videos(
            videos,
            classes=len(classes),
            per_class=args.train_per_class,
            seed=args.seed,
            size=args.size,
            seconds=2.0,
            fps=args.fps,
        )
    log(f"extracting training keypoints ({len(classes)} x {args.train_per_class} clips)")
    report = extract_batch(videos, kp, workers=args.workers, progress=False)
    if report.failed:
        raise RuntimeError(f"extraction failed: {report.failed}")
    return kp


def make_held_out(work: Path, args, classes: list[str]) -> tuple[list[dict], list[dict]]:
    """Held-out clips (``clips``: action, index, path, frames) and long videos (``videos``:
    path, segments as (start_frame, end_frame, action))."""
    clip_dir, long_dir = work / "test-videos", work / "long-videos"
    rng = np.random.default_rng(args.seed + HELD_OUT_SEED)
    lengths = rng.integers(
        2 * args.fps, int(3.5 * args.fps) + 1, (len(classes), args.test_per_class)
    )
    orders = [rng.permutation(len(classes)) for _ in range(args.test_per_class)]
    clips = []
    for c, action in enumerate(classes):
        for i in range(args.test_per_class):
            path = clip_dir / action / f"{i}.mp4"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                frames = render_clip(
                    action,
                    sample_rng(args.seed + HELD_OUT_SEED, c, i),
                    args.size,
                    int(lengths[c, i]),
                    fps=args.fps,
                )
                write_video(path, frames, args.fps)
            clips.append({"action": action, "index": i, "path": path, "frames": int(lengths[c, i])})
    videos = []
    long_dir.mkdir(parents=True, exist_ok=True)
    for i, order in enumerate(orders):
        path = long_dir / f"long{i}.mp4"
        segs, start = [], 0
        for c in order:
            n = int(lengths[c, i])
            segs.append((start, start + n, classes[c]))
            start += n
        if not path.exists():
            frames = np.concatenate(
                [read_frames(clip_dir / classes[c] / f"{i}.mp4") for c in order]
            )
            write_video(path, frames, args.fps)
        videos.append({"path": path, "segments": segs, "frames": start})
    return clips, videos


# ----------------------------------------------------------------------------------------------
# Metrics


def truth_labels(segs: list[tuple[int, int, str]], n: int, known: set[str]) -> np.ndarray:
    out = np.empty(n, dtype=object)
    for a, b, lab in segs:
        out[a:b] = lab if lab in known else UNKNOWN
    return out


def boundaries(labels) -> np.ndarray:
    labels = np.asarray(labels, dtype=object)
    return np.flatnonzero(labels[1:] != labels[:-1]) + 1


def boundary_errors(true_b: np.ndarray, pred_b: np.ndarray, fps: float, n: int) -> list[float]:
    """For every true boundary, seconds to the nearest predicted boundary (or to the nearer end
    of the video when nothing was predicted)."""
    out = []
    for b in true_b:
        if len(pred_b):
            out.append(float(np.min(np.abs(pred_b - b))) / fps)
        else:
            out.append(min(b, n - b) / fps)
    return out


def segmentation_scores(timelines: list, videos: list[dict], known: set[str]) -> dict:
    correct = total = 0
    errors, n_pred, n_true, unknown_frames = [], 0, 0, 0
    for tl, v in zip(timelines, videos, strict=True):
        pred = np.array(tl.frame_labels(), dtype=object)
        truth = truth_labels(v["segments"], v["frames"], known)
        correct += int((pred == truth).sum())
        total += len(truth)
        unknown_frames += int((pred == UNKNOWN).sum())
        tb, pb = boundaries(truth), boundaries(pred)
        errors += boundary_errors(tb, pb, tl.fps, len(truth))
        n_true += len(v["segments"])
        n_pred += len(tl.segments)
    return {
        "frame_accuracy": round(correct / total, 4),
        "mean_boundary_error_s": round(float(np.mean(errors)), 3) if errors else None,
        "median_boundary_error_s": round(float(np.median(errors)), 3) if errors else None,
        "true_segments": n_true,
        "predicted_segments": n_pred,
        "unknown_frame_share": round(unknown_frames / total, 4),
    }


def set_rule(rec: Recognizer, rule: str, cal: dict) -> None:
    """Temperature and unknown threshold of one labelling rule."""
    t = float(cal.get("temperature") or 1.0)
    rules = {
        "no threshold": (1.0, 0.0),
        "T=1, threshold 0.5": (1.0, 0.5),
        "calibrated T, threshold 0.5": (t, 0.5),
        "T=1, validation rule": (1.0, cal.get("unknown_threshold_uncalibrated") or 0.0),
        "calibrated T, 95% of correct only": (t, cal.get("unknown_threshold_known_quantile") or 0),
        "calibrated T, validation rule (default)": (t, cal.get("unknown_threshold") or 0.0),
    }
    rec.temperature, threshold = rules[rule]
    rec.set_unknown_threshold(threshold)


RULES = [
    "no threshold",
    "T=1, threshold 0.5",
    "calibrated T, threshold 0.5",
    "T=1, validation rule",
    "calibrated T, 95% of correct only",
    "calibrated T, validation rule (default)",
]


def central_window(kp: np.ndarray, window: int) -> np.ndarray:
    if len(kp) <= window:
        return kp
    a = (len(kp) - window) // 2
    return kp[a : a + window]


# ----------------------------------------------------------------------------------------------
# Runs


def train_bundle(ds: KeypointDataset, out: Path, args, keep: list[str] | None = None) -> Path:
    if keep is not None:
        ds = ds.select_classes(keep)
    if args.reuse and (out / "config.json").exists():
        log(f"reusing {out}")
        return out
    cfg = TrainConfig(
        model="kpnet",
        seed=args.seed,
        epochs=args.epochs,
        progress=False,
        threads=1,
        test_fraction=0.1,
        val_fraction=0.2,
    )
    t = time.perf_counter()
    res = train(ds, out, cfg)
    log(
        f"trained {out.name}: {len(ds.classes)} classes, test accuracy "
        f"{res.metrics['accuracy']:.3f}, {time.perf_counter() - t:.0f} s"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--train-per-class", type=int, default=16)
    ap.add_argument("--test-per-class", type=int, default=6)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="keep videos/keypoints/bundles here")
    ap.add_argument("--no-unknown", action="store_true", help="skip the leave-one-out part")
    ap.add_argument("--reuse", action="store_true", help="reuse the bundles in --work")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(1)
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-segment-")
        args.work = Path(tmp.name)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    classes = list(VIDEO_ACTIONS[: args.classes])
    t_all = time.perf_counter()

    log(f"data in {work}")
    kp_dir = make_training_keypoints(work, args, classes)
    clips, videos = make_held_out(work, args, classes)
    log(f"extracting held-out clip keypoints ({len(clips)} clips)")
    report = extract_batch(
        work / "test-videos", work / "test-keypoints", workers=args.workers, progress=False
    )
    if report.failed:
        raise RuntimeError(f"extraction failed: {report.failed}")
    for c in clips:
        c["keypoints"] = np.load(work / "test-keypoints" / c["action"] / f"{c['index']}.npy")
    ds = load_keypoint_dataset(kp_dir, progress=False)
    assert ds.classes == sorted(classes), ds.classes

    # -- segmentation with the model of all classes --------------------------------------------
    full = train_bundle(ds, work / "bundle-all", args)
    rec = load_recognizer(full)
    cal_full = rec.config.calibration.to_dict()
    long_kp, extract_s = [], 0.0
    for v in videos:
        cache = work / "long-keypoints" / (v["path"].stem + ".npz")
        if cache.exists():  # the same videos for the same arguments
            with np.load(cache) as z:
                kp, fps, seconds = z["keypoints"], float(z["fps"]), float(z["seconds"])
        else:
            t = time.perf_counter()
            kp, fps = rec.keypoints_and_fps(v["path"])
            seconds = time.perf_counter() - t
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, keypoints=kp, fps=fps, seconds=seconds)
        extract_s += seconds
        assert len(kp) == v["frames"], (len(kp), v["frames"])
        long_kp.append((kp, fps))
    rec.close()
    known = set(classes)
    settings = {
        "default (stride window/4, smooth 3)": {},
        "smooth 1": {"smooth": 1},
        "smooth 5": {"smooth": 5},
        "stride window/2": {"stride": rec.pre.window // 2},
        "stride 1": {"stride": 1},
        "no min segment": {"min_segment_s": 0.0},
    }
    seg_results = {}
    for name, kw in settings.items():
        for rule in ("calibrated T, validation rule (default)", "no threshold"):
            set_rule(rec, rule, cal_full)
            t = time.perf_counter()
            tls = [rec.segments(kp, fps=fps, **kw) for kp, fps in long_kp]
            seconds = time.perf_counter() - t
            scores = segmentation_scores(tls, videos, known)
            scores["segment_seconds_all_videos"] = round(seconds, 3)
            seg_results.setdefault(name, {})[rule] = scores
            log(f"segments [{name}; {rule}]: {scores}")
    n_frames = sum(v["frames"] for v in videos)
    segmentation = {
        "videos": len(videos),
        "segments_per_video": len(classes),
        "frames": n_frames,
        "seconds_of_video": round(n_frames / args.fps, 1),
        "window": rec.pre.window,
        "calibration": cal_full,
        "mediapipe_seconds": round(extract_s, 2),
        "mediapipe_frames_per_second": round(n_frames / extract_s, 2),
        "results": seg_results,
    }
    set_rule(rec, "calibrated T, validation rule (default)", cal_full)
    example = rec.segments(long_kp[0][0], fps=long_kp[0][1])
    from motionscope.video.timeline_plot import plot_timeline

    plot_dir = args.out.parent / "segment-example.png"
    truth = [(a / args.fps, b / args.fps, lab) for a, b, lab in videos[0]["segments"]]
    plot_timeline(example, plot_dir, truth=truth, title="synthetic long video 0 (truth lane below)")

    # -- unknown: leave one class out ----------------------------------------------------------
    unknown = None
    if not args.no_unknown:
        per_left_out = {}
        for left in classes:
            keep = [c for c in classes if c != left]
            bundle = train_bundle(ds, work / f"bundle-without-{left}", args, keep)
            r = load_recognizer(bundle)
            cal = r.config.calibration.to_dict()
            inputs = [central_window(c["keypoints"], r.pre.window) for c in clips]
            rows = {}
            for rule in RULES:
                set_rule(r, rule, cal)
                preds = r.predict_many(inputs)
                is_left = np.array([c["action"] == left for c in clips])
                lab = np.array([p.label for p in preds], dtype=object)
                truth = np.array([c["action"] for c in clips], dtype=object)
                tls = [r.segments(kp, fps=fps) for kp, fps in long_kp]
                frames = np.concatenate([np.array(t.frame_labels(), dtype=object) for t in tls])
                ftruth = np.concatenate(
                    [truth_labels(v["segments"], v["frames"], set(keep)) for v in videos]
                )
                f_left = ftruth == UNKNOWN
                rows[rule] = {
                    "clips_left_out_unknown": float((lab[is_left] == UNKNOWN).mean()),
                    "clips_left_out_misnamed": float((lab[is_left] != UNKNOWN).mean()),
                    "clips_known_wrongly_unknown": float((lab[~is_left] == UNKNOWN).mean()),
                    "clips_known_correct": float((lab[~is_left] == truth[~is_left]).mean()),
                    "frames_left_out_unknown": float((frames[f_left] == UNKNOWN).mean()),
                    "frames_known_wrongly_unknown": float((frames[~f_left] == UNKNOWN).mean()),
                    "frames_known_correct": float((frames[~f_left] == ftruth[~f_left]).mean()),
                }
            per_left_out[left] = {"calibration": cal, "rules": rows}
            log(
                f"left out {left}: T={cal['temperature']}, threshold {cal['unknown_threshold']}: "
                f"{rows['calibrated T, validation rule (default)']}"
            )
        mean = {
            rule: {
                k: round(float(np.mean([per_left_out[c]["rules"][rule][k] for c in classes])), 4)
                for k in per_left_out[classes[0]]["rules"][rule]
            }
            for rule in RULES
        }
        unknown = {"mean_over_left_out_classes": mean, "per_left_out_class": per_left_out}

    result = {
        "command": "python bench/segment.py " + " ".join(sys.argv[1:]),
        "classes": classes,
        "train_clips_per_class": args.train_per_class,
        "held_out_clips_per_class": args.test_per_class,
        "size": list(args.size),
        "fps": args.fps,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "segmentation": segmentation,
        "unknown": unknown,
        "seconds": round(time.perf_counter() - t_all, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    log(f"wrote {args.out} ({result['seconds']} s)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
