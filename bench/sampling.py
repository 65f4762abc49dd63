"""Seeking frame sampler versus decoding every frame (motionscope.video.sampling).

    .venv/bin/python bench/sampling.py [--repeats 3] [--out bench/results/sampling.json]

For each video: the time of ``sample_clip`` (16 frames, uniform and segment, evaluation) and of
``sample_frames(read_frames(path))`` (decode everything, then pick), in the same run, with the
frames the seeking reader decoded (counted, not timed) and a check that both give the same clip.
Videos: synthetic clips written here (320x240, 10 s at 25 fps = 250 frames) with a key frame
every 12, 25 and 250 frames (x264's default), an MPEG-2 .mpg (read without seeking), and the real
clips of ../shared/datasets/mmaction2-samples when present. One thread; medians of --repeats.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results" / "sampling.json"


def encode(path: Path, frames: np.ndarray, codec: str, gop: int, fmt: str | None = None) -> Path:
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        s.codec_context.gop_size = gop
        if codec == "libx264":
            s.options = {"x264-params": f"keyint={gop}:min-keyint={min(gop, 25)}"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decoded_by_seeking(path: Path, idx: np.ndarray) -> int:
    """Frames the sampler decodes for ``idx`` (all of them when it falls back to a full decode)."""
    from motionscope.video import sampling as S

    index = S._index_video(path)
    if index is None:
        return S.count_frames(path)
    count = 0
    run = S._run

    def counting(*a, **k):
        nonlocal count
        for item in run(*a, **k):
            count += 1
            yield item

    in_order = S._decode_in_order

    def whole(path, n, wanted, prep):
        nonlocal count
        count = n  # every frame decoded, in order
        return in_order(path, n, wanted, prep)

    S._run, S._decode_in_order = counting, whole
    try:
        S._indexed_frames(path, index, idx, lambda f: f)
    except S._CannotSeek:
        count = len(index.pts)  # the whole clip, by the fallback
    finally:
        S._run, S._decode_in_order = run, in_order
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    import cv2
    import torch

    from motionscope.atomic import write_json
    from motionscope.video.decode import probe, read_frames
    from motionscope.video.sampling import (
        SamplingConfig,
        count_frames,
        frame_indices,
        sample_clip,
        sample_frames,
    )
    from motionscope.video.synth import render_clip

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    workdir = tempfile.TemporaryDirectory(prefix="bench-sampling-")  # removed at exit
    tmp = Path(workdir.name)
    clip = render_clip("wave", np.random.default_rng(0), (320, 240), 250, fps=25)
    videos = {
        "synthetic h264 keyint 12": encode(tmp / "k12.mp4", clip, "libx264", 12),
        "synthetic h264 keyint 25": encode(tmp / "k25.mp4", clip, "libx264", 25),
        "synthetic h264 keyint 250": encode(tmp / "k250.mp4", clip, "libx264", 250),
        "synthetic mpeg4 avi keyint 25": encode(tmp / "k25.avi", clip, "mpeg4", 25),
        "synthetic mpeg2 .mpg keyint 12": encode(tmp / "k12.mpg", clip, "mpeg2video", 12, "mpeg"),
    }
    mm = SHARED / "mmaction2-samples"
    for rel in ("demo/demo.mp4", "tests/data/test.mp4", "tests/data/test.avi"):
        if (mm / rel).is_file():
            videos[f"mmaction2 {rel}"] = mm / rel

    rows = []
    for name, path in videos.items():
        info = probe(path)
        n = count_frames(path)
        for mode in ("uniform", "segment"):
            cfg = SamplingConfig(frames=16, mode=mode)
            idx = frame_indices(n, cfg, train=False, rng=None)
            seek_t, full_t = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                a = sample_clip(path, cfg)
                seek_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                b = sample_frames(read_frames(path), cfg)
                full_t.append(time.perf_counter() - t)
            row = {
                "video": name,
                "size": f"{info.width}x{info.height}",
                "codec": info.codec,
                "frames": n,
                "mode": mode,
                "decoded_by_sampler": decoded_by_seeking(Path(path), idx),
                "sample_clip_ms": 1000 * statistics.median(seek_t),
                "full_decode_ms": 1000 * statistics.median(full_t),
                "same_clip": bool(np.array_equal(a, b)),
            }
            row["speedup"] = row["full_decode_ms"] / row["sample_clip_ms"]
            rows.append(row)
            print(
                f"{name:34s} {mode:8s} {row['decoded_by_sampler']:4d}/{n:<4d} decoded  "
                f"{row['sample_clip_ms']:7.1f} ms vs {row['full_decode_ms']:7.1f} ms  "
                f"x{row['speedup']:.1f}  same={row['same_clip']}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "repeats": args.repeats,
    }
    write_json(args.out, {"meta": meta, "rows": rows})
    print(f"wrote {args.out}")
    workdir.cleanup()


if __name__ == "__main__":
    main()
