"""The hostile soak of ``bench/serve.py`` (see its docstring): good, slow and hostile clients at
once against a running server, /health latency, RSS and open files sampled over time."""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serve import HOST, pct, rss_mb  # bench/ is on sys.path when bench/serve.py runs


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _raw_request(
    port: int,
    head: str,
    body: bytes,
    *,
    trickle_s: float = 0.0,
    hang_up_after: int | None = None,
    timeout: float = 120.0,
) -> int | None:
    """Send one HTTP request over a raw socket; the status answered (None: no answer)."""
    import select

    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + b"\r\n")
        if hang_up_after is not None:
            s.sendall(body[:hang_up_after])
            return "hung-up"  # the client leaves mid-upload: nothing to answer
        if not trickle_s:
            s.sendall(body)
        else:
            for i in range(0, len(body), 1):
                if select.select([s], [], [], trickle_s)[0]:
                    break  # the server answered (408) before the body was complete
                s.sendall(body[i : i + 1])
        reply = s.recv(256)
    return int(reply.split()[1]) if reply.startswith(b"HTTP/") else None


def _form(data: bytes, field: str = "video", boundary: str = "soakb0undary") -> tuple[bytes, str]:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="a.mp4"\r\n'
        f"Content-Type: video/mp4\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def _post_head(path: str, ctype: str, length: int | str) -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {length}\r\n")  # fmt: skip


def hostile_cases(clip: bytes) -> list[tuple[str, object]]:
    """(name, call(port) -> status or close code) of bad requests a server must refuse."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    def post(path, data, field="video", **kw):
        body, ctype = _form(data, field)
        return lambda port: _raw_request(port, _post_head(path, ctype, len(body)), body, **kw)

    def raw(path, ctype, body, length=None):
        n = len(body) if length is None else length
        return lambda port: _raw_request(port, _post_head(path, ctype, n), body)

    def ws(messages):
        def call(port):
            try:
                with connect(f"ws://{HOST}:{port}/v1/live", max_size=2**22, open_timeout=30) as c:
                    for m in messages:
                        c.send(m)
                    while True:
                        c.recv(timeout=3)
            except ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None
            except TimeoutError:
                return "ws-open"  # still open after answering with errors: refused per frame

        return call

    return [
        ("garbage as video", post("/v1/predict", os.urandom(4096))),
        ("png as video", post("/predict", b"\x89PNG\r\n\x1a\n" + b"\0" * 512)),
        ("truncated video", post("/v1/predict", clip[: len(clip) // 3])),
        ("wrong field", post("/v1/predict", clip, field="file")),
        ("top_k=0", post("/v1/predict?top_k=0", clip)),
        ("top_k=-3", post("/v1/predict?top_k=-3", clip)),
        ("not multipart", raw("/v1/predict", "application/json", b'{"video": "x"}')),
        (
            "malformed multipart",
            raw("/v1/predict", "multipart/form-data; boundary=zz", b"--zz\r\nnonsense"),
        ),  # fmt: skip
        (
            "huge Content-Length",
            raw("/predict", "multipart/form-data; boundary=zz", b"x", length=10**12),
        ),  # fmt: skip
        (
            "bad Content-Length",
            raw("/predict", "multipart/form-data; boundary=zz", b"", length="12abc"),
        ),  # fmt: skip
        ("hang-up mid-upload", post("/v1/predict", clip, hang_up_after=len(clip) // 2)),
        (
            "path traversal",
            lambda port: _raw_request(
                port,
                "GET /static/../../etc/passwd HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n",
                b"",
            ),
        ),  # fmt: skip
        ("ws deep json", ws(["[" * 100_000 + "]" * 100_000])),
        ("ws not json", ws(["{nope"])),
        ("ws garbage frames", ws([os.urandom(2048), b"\xff\xd8\xff" + os.urandom(512)])),
    ]


def hostile_soak(
    base: str,
    pid: int,
    clip: bytes,
    minutes: float,
    *,
    good: int = 2,
    slow: int = 3,
    hostile: int = 2,
) -> dict:
    """Good, slow and hostile clients at once for ``minutes``; see the module docstring."""
    import http.client

    import httpx

    port = int(base.rsplit(":", 1)[1])
    end = time.monotonic() + 60 * minutes
    lock = threading.Lock()
    codes: dict[str, dict[str, int]] = {"good": {}, "slow": {}, "hostile": {}}
    per_case: dict[str, dict[str, int]] = {}
    samples: list[dict] = []
    health_ms: list[float] = []
    health_failures: list[str] = []
    t_start = time.monotonic()

    def count(kind: str, code, case: str | None = None) -> None:
        with lock:
            key = str(code)
            codes[kind][key] = codes[kind].get(key, 0) + 1
            if case is not None:
                per_case.setdefault(case, {})
                per_case[case][key] = per_case[case].get(key, 0) + 1

    def good_client() -> None:
        with httpx.Client(base_url=base, timeout=300) as c:
            while time.monotonic() < end:
                try:
                    r = c.post("/v1/predict", files={"video": ("clip.mp4", clip, "video/mp4")})
                except httpx.HTTPError as e:
                    count("good", type(e).__name__)
                    continue
                count("good", r.status_code)
                if r.status_code == 503:
                    time.sleep(min(5.0, float(r.headers.get("Retry-After", "1"))))

    def slow_client() -> None:
        body, ctype = _form(clip)
        while time.monotonic() < end:
            try:
                code = _raw_request(port, _post_head("/v1/predict", ctype, len(body)), body,
                                    trickle_s=0.25)  # fmt: skip
            except OSError as e:
                code = type(e).__name__
            count("slow", code)

    def hostile_client(offset: int) -> None:
        cases = hostile_cases(clip)
        i = offset
        while time.monotonic() < end:
            name, call = cases[i % len(cases)]
            i += 1
            try:
                code = call(port)
            except OSError as e:
                code = type(e).__name__
            count("hostile", code, name)

    def health() -> None:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError as e:
                ok = False
                health_failures.append(repr(e))
            dt = (time.perf_counter() - t0) * 1e3
            if ok:
                health_ms.append(dt)
            time.sleep(0.25)

    def sampler() -> None:
        while True:
            samples.append({
                "t_s": round(time.monotonic() - t_start, 1),
                "rss_mb": round(rss_mb(pid), 1),
                "open_files": open_files(pid),
            })  # fmt: skip
            if time.monotonic() >= end:
                return
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))

    jobs = [good_client] * good + [slow_client] * slow + [health, sampler]
    jobs += [lambda k=k: hostile_client(7 * k) for k in range(hostile)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        for f in [pool.submit(j) for j in jobs]:
            f.result()
    time.sleep(2)  # the last requests' files are removed; then the after-sample
    samples.append({"t_s": round(time.monotonic() - t_start, 1), "rss_mb": round(rss_mb(pid), 1),
                    "open_files": open_files(pid), "after": True})  # fmt: skip
    fivexx = {
        kind: sum(n for c, n in got.items() if c.isdigit() and c.startswith("5") and c != "503")
        for kind, got in codes.items()
    }
    hostile_tried = sum(codes["hostile"].values())
    # a 4xx, a WebSocket close code (1xxx), an open socket answering errors, or a hang-up
    clean = sum(n for c, n in codes["hostile"].items() if c.isdigit() and c[0] in "41" or
                c in ("ws-open", "hung-up"))  # fmt: skip
    return {
        "minutes": minutes,
        "clients": {"good": good, "slow": slow, "hostile": hostile},
        "codes": codes,
        "hostile_cases": per_case,
        "hostile_tried": hostile_tried,
        "hostile_handled_cleanly": clean,
        "unintended_5xx": fivexx,
        "good_answered_200": codes["good"].get("200", 0),
        "slow_cut_off_408": codes["slow"].get("408", 0),
        "health": {
            "probes": len(health_ms),
            "failures": len(health_failures),
            "max_ms": round(max(health_ms), 1) if health_ms else None,
            "p99_ms": round(pct(health_ms, 99), 1) if health_ms else None,
            "p50_ms": round(pct(health_ms, 50), 1) if health_ms else None,
            "over_100ms": sum(1 for v in health_ms if v > 100),
        },
        "samples": samples,
        "rss_mb": {
            "start": samples[0]["rss_mb"],
            "max": max(x["rss_mb"] for x in samples),
            "end": samples[-1]["rss_mb"],
        },  # fmt: skip
        "open_files": {
            "start": samples[0]["open_files"],
            "max": max(x["open_files"] for x in samples),
            "end": samples[-1]["open_files"],
        },  # fmt: skip
    }
