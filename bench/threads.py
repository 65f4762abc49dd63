"""Training-step time of the keypoint models with 1 and 2 torch threads, in one run.

    .venv/bin/python bench/threads.py [--busy]

``--busy`` starts one CPU-bound process beside the measurement (as when two jobs share a 2-core
machine). Writes bench/results/threads[-busy].json. Why ``motionscope train --threads`` is 1 by
default: small recurrent models gain nothing from a second intra-op thread and lose a lot when
the cores are shared.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import torch

from motionscope.models import get_model_info

OUT = Path(__file__).resolve().parent / "results"


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def step_ms(name: str, threads: int, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = get_model_info(name).build(
        input_dim=238 if name != "seed-lstm" else 1662, num_classes=16, window=30
    )
    x = torch.randn(32, 30, 238 if name != "seed-lstm" else 1662)
    y = torch.randint(0, 16, (32,))
    opt = torch.optim.AdamW(net.parameters())
    times = []
    for i in range(repeats + 2):
        t = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    times.sort()
    return 1e3 * times[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", action="store_true")
    args = ap.parse_args()
    stop = mp.Event()
    spinner = mp.Process(target=_spin, args=(stop,)) if args.busy else None
    if spinner:
        spinner.start()
    rows = []
    try:
        for name in ("seed-lstm", "kpnet"):
            one, two = step_ms(name, 1), step_ms(name, 2)
            rows.append(
                {
                    "model": name,
                    "ms_per_step_1_thread": round(one, 2),
                    "ms_per_step_2_threads": round(two, 2),
                    "ratio_2_over_1": round(two / one, 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if spinner:
            stop.set()
            spinner.join()
    OUT.mkdir(exist_ok=True)
    out = OUT / ("threads-busy.json" if args.busy else "threads.json")
    result = {
        "command": "python bench/threads.py" + (" --busy" if args.busy else ""),
        "cpus": os.cpu_count(),
        "batch": 32,
        "window": 30,
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
