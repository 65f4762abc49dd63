"""`motionscope serve` under load, on loopback: REST throughput and latency, memory, live WebSocket.

    .venv/bin/python bench/serve.py [--run demo-out/run] [--workers 2] [--soak 500]

Starts `motionscope serve RUN` as its own process on a free 127.0.0.1 port, then in one run:
- in-process baseline: ``Recognizer.predict`` on the same clip (no HTTP), median of 3;
- 1, 4 and 16 concurrent clients, each posting a 3 s 640x480 synthetic clip (15 fps, H.264) to
  ``/v1/predict`` in a loop: requests/s, p50/p99 latency of the answered requests, 503s (the
  deliberate "queue full" answers: a client then waits the Retry-After seconds and tries again)
  and errors (anything else, the goal is 0);
- a soak of ``--soak`` requests (4 clients): the server's resident memory (VmRSS) before and after;
- ``WS /v1/live``: a client sends the clip's frames as JPEG, at most 2 unanswered at a time (as
  the web app does), for ``--live-seconds``: frames/s answered, round-trip latency per frame,
  frames the server dropped; and stop-and-wait (1 in flight) for the bare round trip.
Every address is loopback; every loop is bounded in count and time. Writes bench/results/serve.json.

    .venv/bin/python bench/serve.py --run RUN --only-procs [--procs-clients 8 --procs-requests 48]

Worker processes (issue 14): the server is started twice, with 1 and then 2 worker processes
(``--worker-kind process``, a queue as long as the clients so that no request is refused), each
warmed up with one request per worker; then ``--procs-clients`` clients share
``--procs-requests`` requests to ``/v1/predict``: requests/s of each, their ratio (goal >= 1.7
on 2 cores), errors (goal 0; a 503 here is unintended too). Writes bench/results/serve-procs.json.

    .venv/bin/python bench/serve.py --run RUN --hostile-minutes 3 --only-hostile

The hostile soak (``--hostile-minutes``, 0 = skip; default 3): for that long, good clients post
the clip in a loop, slow clients trickle upload bodies at ~4 bytes/s (they must get 408, and
must not lock the good ones out), hostile clients cycle through bad requests (garbage, wrong
field, wrong type, huge Content-Length, truncated video, bad top_k, malformed multipart, hang-ups
mid-upload, bad WebSocket text and frames); ``/health`` is polled every 0.25 s (max / p99
latency, answers over 100 ms) and the server's RSS and open files are sampled every 5 s. Any
5xx other than the deliberate 503 is counted as unintended (the goal is 0). Writes
bench/results/serve-hostile.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from motionscope.atomic import write_json

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "serve.json"
HOSTILE_OUT = REPO / "bench" / "results" / "serve-hostile.json"
PROCS_OUT = REPO / "bench" / "results" / "serve-procs.json"
HOST = "127.0.0.1"  # loopback only


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def start_server(
    run: Path, workers: int, queue: int, log: Path, kind: str = "process"
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "motionscope.cli", "serve", str(run), "--host", HOST,
           "--port", str(port), "--workers", str(workers), "--queue", str(queue),
           "--worker-kind", kind, "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    base = f"http://{HOST}:{port}"
    for _ in range(900):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if json.load(r)["status"] == "ok":
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def load_run(base: str, clip: bytes, clients: int, requests: int, max_s: float) -> dict:
    """``clients`` threads share ``requests`` answered requests (bounded by ``max_s``)."""
    import httpx

    lock = threading.Lock()
    left = {"n": requests}
    lat: list[float] = []
    busy = errors = 0
    messages: list[str] = []
    deadline = time.monotonic() + max_s

    def client() -> None:
        nonlocal busy, errors
        with httpx.Client(base_url=base, timeout=300) as c:
            while time.monotonic() < deadline:
                with lock:
                    if left["n"] <= 0:
                        return
                    left["n"] -= 1
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/predict", files={"video": ("clip.mp4", clip, "video/mp4")})
                except httpx.HTTPError as e:
                    with lock:
                        errors += 1
                        messages.append(repr(e))
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    if r.status_code == 200:
                        lat.append(dt)
                    elif r.status_code == 503:
                        busy += 1
                        left["n"] += 1  # refused, not answered: try again later
                    else:
                        errors += 1
                        messages.append(f"{r.status_code} {r.text[:200]}")
                if r.status_code == 503:
                    time.sleep(min(10.0, float(r.headers.get("Retry-After", "1"))))

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    seconds = time.perf_counter() - t
    return {
        "clients": clients,
        "answered": len(lat),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(lat) / seconds, 3),
        "p50_s": round(pct(lat, 50), 3) if lat else None,
        "p99_s": round(pct(lat, 99), 3) if lat else None,
        "deliberate_503": busy,
        "errors": errors,
        "error_examples": messages[:3],
    }


def live_run(base: str, jpegs: list[bytes], in_flight: int, seconds: float) -> dict:
    """Send frames (looping over the clip) with at most ``in_flight`` unanswered."""
    from websockets.sync.client import connect

    sent_at: dict[int, float] = {}
    rtts: list[float] = []
    answered = sent = dropped = 0
    last_answered = -1
    with connect(base.replace("http", "ws") + "/v1/live", max_size=2**22) as ws:
        t_end = time.monotonic() + seconds
        t0 = time.perf_counter()
        while time.monotonic() < t_end:
            while sent - 1 - last_answered < in_flight:
                sent_at[sent] = time.perf_counter()
                ws.send(jpegs[sent % len(jpegs)])
                sent += 1
            msg = json.loads(ws.recv(timeout=60))
            if msg.get("type") != "prediction":
                raise RuntimeError(f"live error: {msg}")
            now = time.perf_counter()
            answered += 1
            last_answered = msg["frame"]
            rtts.append(now - sent_at.pop(msg["frame"]))
            for k in [k for k in sent_at if k < msg["frame"]]:
                sent_at.pop(k)
            dropped = msg["dropped"]
        elapsed = time.perf_counter() - t0
    return {
        "in_flight": in_flight,
        "frames_sent": sent,
        "frames_answered": answered,
        "frames_dropped_by_server": dropped,
        "answered_per_s": round(answered / elapsed, 2),
        "rtt_p50_ms": round(1e3 * pct(rtts, 50), 1),
        "rtt_p99_ms": round(1e3 * pct(rtts, 99), 1),
    }


def _shown(path: Path) -> str:
    """A path as recorded in the results: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return path.name


def main_phases(args, result: dict, proc, base: str, clip: bytes, jpegs: list[bytes]) -> None:
    """The load levels, the request soak and the live socket runs (the original benchmark)."""
    result["rss_mb_at_start"] = round(rss_mb(proc.pid), 1)
    result["load"] = []
    for n in (int(c) for c in args.clients.split(",")):
        r = load_run(base, clip, n, args.requests or max(8, 2 * n), args.max_seconds)
        r["p50_over_in_process"] = (
            round(r["p50_s"] / result["in_process_predict_s"], 2) if r["p50_s"] else None
        )
        result["load"].append(r)
        print(json.dumps(r), flush=True)
    before = rss_mb(proc.pid)
    soak = load_run(base, clip, 4, args.soak, args.max_seconds * 2)
    after = rss_mb(proc.pid)
    result["soak"] = {
        **soak,
        "rss_mb_before": round(before, 1),
        "rss_mb_after": round(after, 1),
        "rss_growth_mb": round(after - before, 1),
    }
    print(json.dumps(result["soak"]), flush=True)
    result["live"] = [
        live_run(base, jpegs, 2, args.live_seconds),
        live_run(base, jpegs, 1, args.live_seconds),
    ]
    for r in result["live"]:
        print(json.dumps(r), flush=True)
    with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
        result["health_after"] = json.load(r)


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server and its worker processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def tree_rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes."""
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError, RuntimeError):  # a child that just exited
            total += rss_mb(p)
    return total


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def procs_phase(args, clip: bytes, tmp: Path) -> dict:
    """Requests/s with 1 and 2 worker processes at ``--procs-clients`` concurrent clients."""
    levels = []
    for n in (1, 2):
        proc, base = start_server(args.run, n, args.procs_clients, tmp / f"server-{n}.log")
        try:
            warm = load_run(base, clip, n, n, args.max_seconds)  # each worker's graph starts
            cpu0 = tree_cpu_s(proc.pid)
            r = load_run(base, clip, args.procs_clients, args.procs_requests, args.max_seconds)
            cpu = tree_cpu_s(proc.pid) - cpu0
            r.update(
                workers=n,
                warmup_errors=warm["errors"],
                rss_mb=round(tree_rss_mb(proc.pid)),
                # the cores the server got: on a shared machine, what limits the ratio
                server_cpu_s=round(cpu, 1),
                server_cores_busy=round(cpu / r["seconds"], 2),
                cpu_s_per_request=round(cpu / max(r["answered"], 1), 2),
            )
        finally:
            kids = _tree(proc.pid)[1:]
            stop_server(proc)
        time.sleep(2)
        r["processes_left_after_stop"] = sum(Path(f"/proc/{k}").exists() for k in kids)
        levels.append(r)
        print(json.dumps(r), flush=True)
    one, two = (lv["requests_per_s"] for lv in levels)
    unintended = sum(lv["errors"] + lv["deliberate_503"] + lv["warmup_errors"] for lv in levels)
    return {
        "clients": args.procs_clients,
        "requests": args.procs_requests,
        "levels": levels,
        "ratio_2_over_1": round(two / one, 3) if one else None,
        "goal_ratio": 1.7,
        "unintended_errors": unintended,
        "load_average_at_end": list(os.getloadavg()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=REPO / "demo-out" / "run",
                    help="bundle to serve (default: the `make demo` bundle)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=4)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=0,
                    help="answered requests per level (default: max(8, 2 x clients))")  # fmt: skip
    ap.add_argument("--soak", type=int, default=500)
    ap.add_argument("--live-seconds", type=float, default=20.0)
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="cap per load phase")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--hostile-minutes", type=float, default=3.0,
                    help="length of the good + slow + hostile soak (0: skip it)")  # fmt: skip
    ap.add_argument("--only-hostile", action="store_true", help="run only the hostile soak")
    ap.add_argument("--hostile-out", type=Path, default=HOSTILE_OUT)
    ap.add_argument("--only-procs", action="store_true",
                    help="run only the 1 vs 2 worker processes comparison")  # fmt: skip
    ap.add_argument("--procs-clients", type=int, default=8)
    ap.add_argument("--procs-requests", type=int, default=48)
    ap.add_argument("--procs-out", type=Path, default=PROCS_OUT)
    args = ap.parse_args()
    if not (args.run / "model.safetensors").is_file():
        print(f"no bundle at {args.run}: run `make demo` or pass --run", file=sys.stderr)
        return 2

    import cv2
    import torch

    import motionscope
    from motionscope.video.synth import render_clip, sample_rng, write_video

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="motionscope-bench-serve-"))
    frames = render_clip("wave", sample_rng(0, 0, 0), (640, 480), 45, fps=15)  # 3 s at 15 fps
    clip_path = tmp / "clip.mp4"
    write_video(clip_path, frames, 15)
    clip = clip_path.read_bytes()
    jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]

    result: dict = {
        "command": "python bench/serve.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "shared 2-core machine (other jobs running): absolute numbers are noisy",
        "bundle": _shown(args.run),
        "server": {"workers": args.workers, "queue": args.queue, "host": HOST},
        "clip": {"seconds": 3, "size": "640x480", "fps": 15, "bytes": len(clip)},
    }
    if args.only_procs:
        result["worker_processes"] = procs_phase(args, clip, tmp)
        args.procs_out.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.procs_out, result)
        print(f"wrote {args.procs_out}")
        return 0
    if not args.only_hostile:
        rec = motionscope.load(args.run)
        rec.predict(clip_path)  # graph start-up
        inproc = []
        for _ in range(3):
            t = time.perf_counter()
            rec.predict(clip_path)
            inproc.append(time.perf_counter() - t)
        rec.close()
        print(f"in-process predict: median {statistics.median(inproc):.2f} s", flush=True)
        result["in_process_predict_s"] = round(statistics.median(inproc), 3)

    proc, base = start_server(args.run, args.workers, args.queue, tmp / "server.log")
    try:
        if not args.only_hostile:
            main_phases(args, result, proc, base, clip, jpegs)
        if args.hostile_minutes > 0:
            from serve_hostile import hostile_soak

            soak = hostile_soak(base, proc.pid, clip, args.hostile_minutes)
            print(json.dumps({k: v for k, v in soak.items() if k != "samples"}), flush=True)
            args.hostile_out.parent.mkdir(parents=True, exist_ok=True)
            write_json(args.hostile_out, {**result, "hostile_soak": soak})
            print(f"wrote {args.hostile_out}")
    finally:
        stop_server(proc)
    if args.only_hostile:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
