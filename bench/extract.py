"""Keypoint extraction speed: `motionscope extract` versus a bare MediaPipe loop, 2 workers vs 1.

    .venv/bin/python bench/extract.py [--clips 4] [--seconds 4] [--size 640x480]

On synthetic cartoon videos (generated into a temporary folder), in one run:
- bare: decode every clip into memory first, then time only ``Holistic.process`` over the frames
  (one graph, reset between clips);
- extract x1: ``extract_batch(workers=1)`` end to end (decoding, extraction, atomic writes);
- extract x2: the same with 2 worker processes.
Also the pose detection rate over all frames. Writes bench/results/extract.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from motionscope.pose.batch import extract_batch
from motionscope.pose.holistic import HolisticExtractor
from motionscope.video.decode import iter_frames
from motionscope.video.synth import write_synthetic_videos

OUT = Path(__file__).resolve().parent / "results" / "extract.json"


def bare_fps(videos: list[Path]) -> tuple[float, float]:
    clips = [list(iter_frames(v)) for v in videos]
    n = sum(len(c) for c in clips)
    detected = 0
    with HolisticExtractor() as ex:
        ex.process(clips[0][0])  # graph start-up, outside the timing
        t = time.perf_counter()
        for frames in clips:
            ex.reset()
            for f in frames:
                detected += bool(ex.process(f)[:132].any())
        seconds = time.perf_counter() - t
    return n / seconds, detected / n


def extract_fps(src: Path, out: Path, workers: int) -> float:
    report = extract_batch(src, out, workers=workers, progress=False)
    if report.failed:
        raise RuntimeError(f"extraction failed: {report.failed}")
    return report.frames_per_second


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="motionscope-extract-") as tmp:
        src = Path(tmp) / "videos"
        write_synthetic_videos(
            src,
            classes=2,
            per_class=max(1, args.clips // 2),
            seed=0,
            size=(w, h),
            seconds=args.seconds,
            fps=15,
        )
        videos = sorted(src.rglob("*.mp4"))
        bare, detection = bare_fps(videos)
        one = extract_fps(src, Path(tmp) / "x1", 1)
        two = extract_fps(src, Path(tmp) / "x2", 2)
    result = {
        "command": "python bench/extract.py " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(),
        "clips": len(videos),
        "size": args.size,
        "frames_per_clip": round(args.seconds * 15),
        "bare_holistic_fps": round(bare, 2),
        "extract_1_worker_fps": round(one, 2),
        "extract_2_workers_fps": round(two, 2),
        "ratio_extract1_over_bare": round(one / bare, 3),
        "ratio_2_workers_over_1": round(two / one, 3),
        "pose_detection_rate": round(detection, 4),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
