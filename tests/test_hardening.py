"""Regression tests of issue #12's rows 2, 4, 10, 11 and 12: slow uploads, orphaned extract
workers, stale uploads, input-kind messages and ranges, hostile WebSocket messages, UTF-8 keys.

Servers run in-process (uvicorn on a free port in a thread, or FastAPI's TestClient) on a tiny
kpnet bundle trained on synthetic keypoints; videos are synthetic cartoon people.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
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


# -- a real server on a free port (raw sockets need one) -----------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    pytest.importorskip("fastapi", reason="needs the serve extra")
    from tests.test_serve import shared_bundle

    return shared_bundle(tmp_path_factory)


@pytest.fixture
def video(tmp_path) -> Path:
    return person_video(tmp_path / "wave.mp4")


@contextlib.contextmanager
def running_server(bundle: Path, **settings):
    """uvicorn serving ``bundle`` in a thread; yields ``(host, port, app)``."""
    import uvicorn

    from motionscope.serve import ServeSettings, create_app

    app = create_app(bundle, ServeSettings(**settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, "the server to start")
        yield sock.getsockname()[:2], app
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def multipart(data: bytes, field: str = "video", boundary: str = "b0undary") -> tuple[bytes, str]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def slow_sender(addr, body: bytes, boundary: str, every_s: float, out: dict, key: str) -> None:
    """Send a request whose body trickles in one byte every ``every_s``; record the status the
    server answers (or ``None`` when it never answers before the body would be complete)."""
    with socket.create_connection(addr, timeout=60) as s:
        s.sendall(
            (
                f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        for byte in body:
            readable, _, _ = select.select([s], [], [], every_s)
            if readable:
                break
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
        reply = s.recv(4096)
        out[key] = (int(reply.split()[1]) if reply else None, time.monotonic() - started)


# -- row 2: slow uploads do not hold queue places; they are cut off with 408 ---------------------


def test_slow_senders_do_not_lock_out_other_uploads_and_get_408(bundle, video, tmp_path):
    import httpx

    body, boundary = multipart(video.read_bytes())
    settings = dict(
        workers=1, queue_size=0, upload_grace_s=1.0, min_upload_kbps=1.0, tmp_dir=tmp_path / "u"
    )
    with running_server(bundle, **settings) as (addr, app):
        out: dict = {}
        slow = [
            threading.Thread(target=slow_sender, args=(addr, body, boundary, 0.2, out, f"s{i}"))
            for i in range(3)
        ]
        for t in slow:
            t.start()
        wait_for(lambda: app.state.service.receiving.active == 3, 10, "the slow uploads")
        url = f"http://{addr[0]}:{addr[1]}/v1/predict"
        with open(video, "rb") as fh:  # while the slow ones trickle, a normal upload succeeds
            r = httpx.post(url, files={"video": ("a.mp4", fh, "video/mp4")}, timeout=60)
        assert r.status_code == 200, r.text
        for t in slow:
            t.join(30)
        service = app.state.service
        assert service.admission.active == 0 and service.receiving.active == 0
    assert sorted(out) == ["s0", "s1", "s2"]
    for status, seconds in out.values():
        assert status == 408 and seconds < 10  # cut off after the 1 s grace, not at the timeout
    assert list((tmp_path / "u").iterdir()) == []


def test_upload_pace_checks_rate_after_the_grace_and_settings_validate():
    from motionscope.errors import MotionscopeError
    from motionscope.serve import ServeSettings
    from motionscope.serve.limits import ApiError, UploadPace

    pace = UploadPace(idle_s=5, min_kbps=10, grace_s=2)
    pace.check(0, 1.9)  # within the grace: anything goes
    pace.check(30 * 1024, 3.0)  # 10 kB/s
    with pytest.raises(ApiError) as e:
        pace.check(10 * 1024, 3.0)
    assert e.value.status == 408 and "kB/s" in e.value.message
    UploadPace(min_kbps=0).check(0, 1e6)  # 0 turns the rate check off
    for bad in ({"max_receiving": 0}, {"upload_idle_s": 0}, {"min_upload_kbps": -1}):
        with pytest.raises(MotionscopeError):
            ServeSettings(**bad)
    assert ServeSettings().upload_pace == UploadPace(15.0, 16.0, 5.0)


@pytest.fixture
def make_client(bundle, tmp_path):
    """``make_client(**settings)`` -> an entered TestClient on a fresh app."""
    from fastapi.testclient import TestClient

    from motionscope.serve import ServeSettings, create_app

    made = []

    def make(**kw):
        kw.setdefault("tmp_dir", tmp_path / "uploads")
        c = TestClient(create_app(bundle, ServeSettings(**kw)))
        c.__enter__()
        made.append(c)
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)


# -- row 10: upload folders of a killed server are swept at start-up ------------------------------


def test_upload_folders_left_by_a_killed_server_are_swept_at_start_up(make_client, tmp_path):
    base = tmp_path / "uploads"
    base.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)  # a process that has exited
    old = time.time() - 3600

    def folder(name: str, age: float | None = None) -> Path:
        p = base / name
        p.mkdir()
        (p / "upload").write_bytes(b"x" * 1000)
        if age is not None:
            for q in (p / "upload", p):
                os.utime(q, (age, age))
        return p

    killed = folder(f"motionscope-upload-{dead_pid}-abc")  # fresh, but its server is gone
    legacy_old = folder("motionscope-upload-k3j2h1", old)  # older versions' name: by age
    live = folder(f"motionscope-upload-{os.getppid()}-xyz")  # a running server's upload
    legacy_new = folder("motionscope-upload-q9w8e7")
    other = folder("not-motionscope", old)
    other_file = base / "motionscope-upload-file"
    other_file.write_bytes(b"keep")
    os.utime(other_file, (old, old))
    link = base / f"motionscope-upload-{dead_pid}-link"
    link.symlink_to(other, target_is_directory=True)
    make_client()
    assert not killed.exists() and not legacy_old.exists()
    for kept in (live, legacy_new, other, other_file, link, other / "upload"):
        assert kept.exists() or kept.is_symlink(), kept


# -- row 11: a file under another field than 'video' is the documented 400 -----------------------


def test_a_big_file_or_long_field_under_the_wrong_name_is_400_not_413(make_client):
    c = make_client()
    big = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 300_000
    for files in ({"file": ("a.mp4", big, "video/mp4")}, {"upload": (None, big)}):
        r = c.post("/v1/predict", files=files)
        assert r.status_code == 400, r.text
        assert "field 'video'" in r.json()["error"]


# -- row 12: hostile WebSocket text and non-ASCII API keys ---------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 100_000 + "]" * 100_000, 1008),  # far over the control-message size
        ("[" * 2000 + "]" * 2000, 1007),  # small, but nested too deep for the JSON parser
        ("not json", 1007),
    ],
    ids=["deep-100k", "deep-2k", "not-json"],
)
@pytest.mark.parametrize("keyed", [False, True], ids=["open", "keyed"])
def test_hostile_live_text_is_closed_with_a_code_and_logged(make_client, caplog, text, code, keyed):
    from starlette.websockets import WebSocketDisconnect

    c = make_client(api_key="k" if keyed else None)
    caplog.set_level("WARNING", logger="motionscope.serve")
    with c.websocket_connect("/v1/live") as ws:
        ws.send_text(text)  # the first message when keyed: where the key would be
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
    assert e.value.code == code
    assert any(f"with {code}" in r.getMessage() for r in caplog.records), caplog.text
    assert c.get("/health").json()["live_streams"] == 0


def test_a_non_ascii_api_key_is_compared_as_utf8_bytes(bundle, make_client, tmp_path):
    import httpx

    key = "clé-ключ"
    with running_server(bundle, api_key=key, tmp_dir=tmp_path / "u") as (addr, _):
        url = f"http://{addr[0]}:{addr[1]}/v1/model"  # a real server: header bytes as sent
        assert httpx.get(url, headers={"X-API-Key": key.encode("utf-8")}).status_code == 200
        assert httpx.get(url, headers={"X-API-Key": b"wrong"}).status_code == 401
    with running_server(bundle, api_key="clé", tmp_dir=tmp_path / "u") as (addr, _):
        url = f"http://{addr[0]}:{addr[1]}/v1/model"
        assert httpx.get(url, headers={"X-API-Key": "clé".encode()}).status_code == 200
        assert httpx.get(url, headers={"X-API-Key": b"cl\xe9"}).status_code == 401  # Latin-1
    c = make_client(api_key=key)
    with c.websocket_connect("/v1/live", headers={"X-API-Key": key.encode("utf-8")}) as ws:
        ws.send_bytes(b"not a jpeg")
        assert "not a JPEG" in ws.receive_json()["error"]  # authenticated
    with c.websocket_connect("/v1/live") as ws:  # the key as the first JSON message
        ws.send_text(json.dumps({"api_key": key}))
        ws.send_bytes(b"not a jpeg")
        assert "not a JPEG" in ws.receive_json()["error"]


# -- row 11: inputs of the wrong kind say what they are; top_k is range-checked -------------------


@pytest.fixture(scope="module")
def recognizer(bundle):
    from motionscope.infer.loader import load_recognizer

    rec = load_recognizer(bundle)
    yield rec
    rec.close()


def _wrong_inputs(root: Path) -> dict[str, Path]:
    import cv2
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "photo.png"), np.zeros((8, 8, 3), np.uint8))
    (root / "notes.txt").write_text("hello\n")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return {
        "PNG image": root / "photo.png",
        "text file": root / "notes.txt",
        "binary file": root / "blob.bin",
    }


def test_wrong_input_kinds_are_named_with_what_is_accepted(recognizer, bundle, tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app
    from motionscope.errors import DataError

    for what, path in _wrong_inputs(tmp_path).items():
        with pytest.raises(DataError) as e:
            recognizer.predict(path)
        msg = str(e.value)
        assert str(path) in msg and what in msg, msg
        assert "pickled" not in msg and ".mp4" in msg and "frame images" in msg, msg
        r = CliRunner().invoke(app, ["predict", str(bundle), str(path)])
        assert r.exit_code == 1 and what in r.output and "pickled" not in r.output, r.output


@pytest.mark.parametrize("k", [0, -3, 1.5, True])
def test_top_k_out_of_range_is_refused_by_api_cli_and_server(
    recognizer, bundle, make_client, tmp_path, k
):
    import numpy as np
    from typer.testing import CliRunner

    from motionscope.cli import app
    from motionscope.errors import DataError

    seq = np.zeros((8, recognizer.layout.width), np.float32)
    for call in (
        lambda: recognizer.predict(seq, top_k=k),
        lambda: recognizer.predict_many([seq], top_k=k),
        lambda: recognizer.prediction(np.full(len(recognizer.classes), 0.5), top_k=k),
    ):
        with pytest.raises(DataError, match="top_k must be a whole number >= 1"):
            call()
    if isinstance(k, int) and not isinstance(k, bool):
        np.save(tmp := tmp_path / "seq.npy", seq)
        r = CliRunner().invoke(app, ["predict", str(bundle), str(tmp), "--top-k", str(k)])
        assert r.exit_code == 2 and "top-k must be at least 1" in r.output, r.output
        c = make_client()
        r = c.post(f"/v1/predict?top_k={k}", files={"video": ("a.mp4", b"x")})
        assert r.status_code == 422 and "top_k" in r.text


# -- what the fuzz pass (tests/test_fuzz.py) found, pinned -----------------------------------------


def test_fuzz_findings_in_the_dataset_loaders_are_clean_errors(tmp_path):
    import numpy as np

    from motionscope.data.folders import natural_key
    from motionscope.data.loaders import load_sequence
    from motionscope.errors import DataError
    from motionscope.video.decode import natural_key as video_natural_key

    names = [Path(n) for n in ("²", "a10", "a2", "٣", "b", "1")]
    for key in (natural_key, video_natural_key):  # "²".isdigit() but int("²") fails
        assert [p.name for p in sorted(names, key=key)][:3] == ["1", "a2", "a10"]
    with open(tmp_path / "two.npy", "wb") as fh:  # an .npz under a .npy name
        np.savez(fh, a=np.zeros(3), b=np.ones(3))
    np.save(tmp_path / "complex.npy", np.zeros((4, 126), np.complex64))
    (tmp_path / "zip.npy").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (tmp_path / "empty.npy").write_bytes(b"")
    for name, what in [("two", "ZIP"), ("complex", "real ones"), ("zip", "ZIP"),
                       ("empty", "empty file")]:  # fmt: skip
        with pytest.raises(DataError, match=what):
            load_sequence(tmp_path / f"{name}.npy")


def test_fuzz_findings_in_the_bundle_loader_are_clean_errors(bundle, tmp_path):
    import shutil
    import struct

    from motionscope.bundle import read_bundle
    from motionscope.errors import BundleError

    run = tmp_path / "run"
    shutil.copytree(bundle, run)
    config = json.loads((run / "config.json").read_text())
    config["preprocessing"]["features"]["presence"] = None
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="presence"):
        read_bundle(run)
    shutil.copy(bundle / "config.json", run / "config.json")
    raw = (run / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"] = [None, 8]
    new = json.dumps(header).encode()
    (run / "model.safetensors").write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])
    with pytest.raises(BundleError, match="no valid offsets"):
        read_bundle(run)
