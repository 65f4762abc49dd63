"""Teach in the browser: time from pressing "Train" to live recognition, 2 actions x 5 examples.

    .venv/bin/python bench/teach.py [--repeats 3] [--frames 12]

Starts ``motionscope studio DIR`` as its own process on a free 127.0.0.1 port and drives
Debian's Chromium (``/usr/bin/chromium``, headless, Playwright) whose fake camera plays a
synthetic person: 5 examples of "wave" are recorded with the wave camera and 5 of "squat" with
the squat camera (a browser per camera: the fake camera plays one file), as a user would in the
Teach tab. Then, ``--repeats`` times: press Train, wait until the page says the new model is
served, press "Try it" and wait until the Live tab's label says "squat" (the camera's action).
Reported per repeat: the training job's own seconds (load data, fit, calibrate, write the
bundle and its report, load it into a new service), of which the fit and the model load,
press-to-served and press-to-live as the page saw them.
Finally a browser with the wave camera must read "wave" live. Writes bench/results/teach.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from motionscope.atomic import write_json

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "teach.json"
CHROMIUM = "/usr/bin/chromium"
ACTIONS = ("wave", "squat")
EXAMPLES = 5
TIMEOUT_MS = 180_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_y4m(path: Path, action: str, index: int) -> Path:
    """A 3 s synthetic clip of ``action`` as YUV4MPEG2 for Chromium's fake camera."""
    import cv2

    from motionscope.video.synth import render_clip, sample_rng

    frames = render_clip(action, sample_rng(11, index, 0), (320, 240), 45, fps=15)
    with open(path, "wb") as fh:
        fh.write(b"YUV4MPEG2 W320 H240 F15:1 Ip A1:1 C420jpeg\n")
        for frame in np.asarray(frames):
            fh.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@contextmanager
def studio(folder: Path):
    port = free_port()
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(x).resolve()) for x in paths if x)
    log = open(folder.parent / "studio.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "motionscope.cli", "studio", str(folder), "--port", str(port),
         "--log-level", "warning"],  # fmt: skip
        stdout=log, stderr=subprocess.STDOUT, cwd=folder.parent, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):
            if proc.poll() is not None:
                raise SystemExit(f"studio exited: {(folder.parent / 'studio.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@contextmanager
def page_with_camera(p, y4m: Path, url: str):
    browser = p.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
            "--autoplay-policy=no-user-gesture-required",
        ],  # fmt: skip
    )
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.grant_permissions(["camera"], origin=url)
        page = ctx.new_page()
        page.goto(url)
        yield page
    finally:
        browser.close()


def record(page, action: str, frames: int) -> None:
    page.fill("#teach-frames", str(frames))
    page.fill("#teach-countdown", "0.5")
    page.fill("#teach-repeat", str(EXAMPLES))
    page.click("#teach-camera-start")
    card = page.locator(f'.teach-action[data-action="{action}"]')
    card.locator(".teach-record:enabled").click(timeout=TIMEOUT_MS)
    card.locator(".teach-example").nth(EXAMPLES - 1).wait_for(timeout=TIMEOUT_MS)


def wait_label(page, action: str) -> None:
    page.wait_for_function(
        "(n) => (document.getElementById('live-label').textContent || '').startsWith(n + ' ')",
        arg=action,
        timeout=TIMEOUT_MS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=12, help="frames per example")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    runs = []
    with tempfile.TemporaryDirectory(prefix="motionscope-teach-bench-") as tmp:
        root = Path(tmp)
        cams = {a: write_y4m(root / f"{a}.y4m", a, i) for i, a in enumerate(ACTIONS)}
        folder = root / "taught"
        with studio(folder) as url, sync_playwright() as p:
            t0 = time.perf_counter()
            with page_with_camera(p, cams["wave"], url) as page:
                for action in ACTIONS:
                    page.fill("#teach-name", action)
                    page.click("#teach-add button[type=submit]")
                    page.locator(f'.teach-action[data-action="{action}"]').wait_for()
                record(page, "wave", args.frames)
            with page_with_camera(p, cams["squat"], url) as page:
                record(page, "squat", args.frames)
                record_s = time.perf_counter() - t0
                for k in range(args.repeats):
                    page.click("#tab-teach")
                    start = time.perf_counter()
                    page.click("#teach-train")
                    page.wait_for_selector(
                        f'#teach-status[data-state="done"]:has-text("model-{k + 1} ")',
                        timeout=TIMEOUT_MS,
                    )
                    served = time.perf_counter() - start
                    page.click("#teach-try")
                    wait_label(page, "squat")
                    live = time.perf_counter() - start
                    job = json.load(urllib.request.urlopen(f"{url}/v1/teach/train", timeout=10))
                    runs.append({"train_job_s": job["elapsed_s"], "epochs": job["epoch"],
                                 "fit_s": job.get("fit_s"), "load_model_s": job.get("load_s"),
                                 "press_to_served_s": round(served, 2),
                                 "press_to_live_s": round(live, 2)})  # fmt: skip
                    print(f"repeat {k + 1}: {runs[-1]}", flush=True)
            with page_with_camera(p, cams["wave"], url) as page:
                page.click("#tab-live")
                page.click("#live-start")
                wait_label(page, "wave")
    median = statistics.median(r["press_to_live_s"] for r in runs)
    result = {
        "what": "2 actions x 5 examples recorded in the browser; press Train -> live label",
        "examples": {"actions": list(ACTIONS), "per_action": EXAMPLES, "frames": args.frames},
        "record_10_examples_s": round(record_s, 1),
        "repeats": runs,
        "median_press_to_live_s": median,
        "goal_s": 60,
        "both_actions_recognised_live": True,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },  # fmt: skip
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(OUT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
