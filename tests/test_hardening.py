"""Regression tests of issue #12's rows 2, 4, 10, 11 and 12: slow uploads, orphaned extract
workers, stale uploads, input-kind messages and ranges, hostile WebSocket messages, UTF-8 keys.

Servers run in-process (uvicorn on a free port in a thread, or FastAPI's TestClient) on a tiny
kpnet bundle trained on synthetic keypoints; videos are synthetic cartoon people.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from motionscope.video.synth import render_clip, sample_rng, write_video

REPO = Path(__file__).resolve().parents[1]


def person_video(path: Path, frames: int = 8, seed: int = 0, size=(256, 192)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, render_clip("wave", sample_rng(seed, 0, 0), size, frames, fps=15), 15)
    return path


def wait_for(condition, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up after {seconds:g} s waiting for {what}")


# -- row 4: extract workers exit when the batch process is killed -------------------------------


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_on_extract_leaves_no_worker_or_resource_tracker_behind(tmp_path):
    pytest.importorskip("mediapipe")
    src, out = tmp_path / "src", tmp_path / "out"
    for i in range(8):
        person_video(src / "wave" / f"v{i}.mp4", frames=40, seed=i)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "motionscope.cli", "extract", str(src), str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # two workers and the multiprocessing resource tracker, then the first finished video
        kids = wait_for(lambda: len(_children(proc.pid)) >= 3 and _children(proc.pid), 120, "pool")
        wait_for(lambda: list(out.glob("wave/*.json")) or proc.poll() is not None, 120, "a video")
        if proc.poll() is not None:
            pytest.fail("the extraction finished before it could be killed")
        kids = sorted(set(kids) | set(_children(proc.pid)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        end = time.monotonic() + 10
        while time.monotonic() < end and any(_alive(k) for k in kids):
            time.sleep(0.1)
        left = [k for k in kids if _alive(k)]
    finally:
        if proc.poll() is None:
            proc.kill()
    for k in left:  # do not leave them running if the test fails
        os.kill(k, signal.SIGKILL)
    assert not left, f"processes still running 10 s after kill -9 of their parent: {left}"
