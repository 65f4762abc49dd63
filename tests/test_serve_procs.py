"""Worker *processes* behind ``motionscope serve``: the same answers as in-process, the same
bounded admission (503), a client's departure reaching the child, a killed worker answered
with a clear 500 and restarted, and no process left once the server is closed.

One server with two worker processes is started per module (loading a bundle in a spawned
process takes a few seconds); the bundle is the tiny one of ``tests/test_serve.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="needs httpx (the dev extra) for TestClient")

from fastapi.testclient import TestClient  # noqa: E402

import motionscope  # noqa: E402
from motionscope.kinds import InputKind  # noqa: E402
from motionscope.serve import ServeSettings, create_app  # noqa: E402
from motionscope.serve.limits import Cancelled, Deadline  # noqa: E402
from motionscope.serve.procpool import ProcessWorker, start_workers  # noqa: E402
from motionscope.serve.service import run_analysis  # noqa: E402
from tests.helpers import torch_threads  # noqa: E402
from tests.test_serve import (  # noqa: E402
    FRAMES,
    assert_error,
    person_video,
    post_video,
    shared_bundle,
    wait_until,
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("procs-videos")
    return {
        "person": person_video(root / "wave.mp4"),
        "long": person_video(root / "long.mp4", frames=120),
        "garbage": _garbage(root / "garbage.mp4"),
    }


def _garbage(path):
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return path


@pytest.fixture(scope="module")
def server(bundle, tmp_path_factory):
    """Two worker processes, no queue: capacity 2."""
    uploads = tmp_path_factory.mktemp("procs-uploads")
    settings = ServeSettings(workers=2, queue_size=0, worker_kind="process", tmp_dir=uploads)
    app = create_app(bundle, settings)
    with TestClient(app) as c:
        yield c, app.state.service, uploads
    # closed by the lifespan: every worker process has exited
    for w in app.state.service._workers:
        assert w.proc.exitcode is not None, f"worker process {w.proc.pid} still running"
    assert list(uploads.iterdir()) == []


def test_worker_processes_answer_like_the_python_api(server, bundle, videos):
    c, service, _ = server
    pids = {w.proc.pid for w in service._workers}
    assert len(pids) == 2 and os.getpid() not in pids  # two processes of their own
    expected = motionscope.load(bundle).predict(videos["person"], top_k=3)
    body = post_video(c, videos["person"], params={"top_k": 3, "segments": True}).json()
    assert body["success"] and body["label"] == expected.label
    assert [t["label"] for t in body["top_k"]] == [lab for lab, _ in expected.top_k]
    assert body["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
    assert body["segments"] and body["video"]["frames"] == FRAMES
    seed = post_video(c, videos["person"], "/predict").json()
    assert seed == {
        "success": True,
        "prediction": {"action": expected.label, "confidence": round(100 * expected.confidence, 2)},
    }
    assert_error(post_video(c, videos["garbage"]), 422)  # the child's ApiError, same status
    health = c.get("/health").json()
    assert health["workers"] == 2 and health["capacity"] == 2
    assert health["worker_kind"] == "process"
    assert service.status()["worker_kind"] == "process"


def test_progress_crosses_the_process_boundary(server, videos):
    _, service, _ = server
    seen = []
    worker = service._workers[0]
    result = worker.analyse(
        videos["person"],
        top_k=1,
        want_segments=False,
        deadline=Deadline(60),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.person and seen == [(i, FRAMES) for i in range(1, FRAMES + 1)]


def test_full_queue_is_503_with_retry_after(server, videos):
    c, service, _ = server
    release = threading.Event()
    held = []
    for _ in range(2):  # both workers busy, both places taken
        assert service.admission.try_enter()
        held.append(service.submit(lambda w: release.wait(30)))
    try:
        wait_until(lambda: service.status()["running"] == 2, "both workers to be busy")
        r = post_video(c, videos["person"], "/predict")
        assert_error(r, 503, "busy")
        assert int(r.headers["Retry-After"]) >= 1
    finally:
        release.set()
        for f in held:
            f.result(30)
            service.admission.leave()
    assert post_video(c, videos["person"]).status_code == 200


def test_a_client_that_leaves_stops_the_worker_process(server, videos):
    _, service, _ = server
    deadline = Deadline(3600)
    frames = []

    class HungUp:
        async def is_disconnected(self) -> bool:
            return bool(frames)  # leaves once the child has started on the frames

    future = service.submit(
        lambda w: run_analysis(
            w,
            videos["long"],
            top_k=1,
            want_segments=False,
            settings=service.settings,
            deadline=deadline,
            progress=lambda done, total: frames.append(done),
        )
    )
    with pytest.raises(Cancelled):
        asyncio.run(service._wait(HungUp(), future, deadline))
    with pytest.raises(Cancelled):
        future.result(60)
    assert 0 < len(frames) < 120  # stopped part-way, not after the whole video


def test_a_killed_worker_is_a_clear_500_and_is_restarted(server, videos, monkeypatch):
    import motionscope.serve.service as service_mod

    c, service, _ = server
    working = threading.Event()
    victims: list[ProcessWorker] = []
    answers = {}

    def long_video(w, path, *, progress=None, **kw):  # the server thread driving worker w
        victims.append(w)
        return w.analyse(videos["long"], progress=lambda *_: working.set(), **kw)

    monkeypatch.setattr(service_mod, "run_analysis", long_video)
    t = threading.Thread(target=lambda: answers.setdefault("r", post_video(c, videos["person"])))
    t.start()
    assert working.wait(60)  # the child is on the frames...
    os.kill(victims[0].proc.pid, signal.SIGKILL)  # ...when it is killed
    t.join(120)
    monkeypatch.undo()
    body = assert_error(answers["r"], 500, "worker process stopped")
    assert "restarted" in body["error"]
    wait_until(lambda: c.get("/health").json()["worker_restarts"] == 1, "the worker restart")
    wait_until(lambda: victims[0].ready, "the restarted worker to be ready")
    wait_until(lambda: service._idle.qsize() == len(service._workers), "both workers idle")
    for _ in range(2):  # both workers answer again
        assert post_video(c, videos["person"]).status_code == 200
    assert service.admission.active == 0


@pytest.mark.parametrize("kind", [k.value for k in InputKind])
def test_every_input_kind_runs_in_a_worker_process(kind, server, bundle, videos, tmp_path):
    """The first registered model of each input kind: the worker process answers what the
    Python API does (keypoint models through MediaPipe in the child, RGB models on frames)."""
    from motionscope.models import list_models
    from motionscope.video.synth import write_synthetic_videos
    from tests.test_contract import train_tiny

    _, service, _ = server
    if kind == InputKind.KEYPOINTS.value:
        run, worker = bundle, service._idle.get(timeout=300)  # not one a request is using
    else:
        name = next(m.name for m in list_models() if m.input_kind == kind)
        write_synthetic_videos(
            tmp_path / "videos", classes=3, per_class=4, seed=3, size=(64, 64), seconds=0.6,
            fps=15,
        )  # fmt: skip
        with torch_threads(1):
            run = train_tiny(name, {"videos": tmp_path / "videos"}, tmp_path / name)
        own = ServeSettings(workers=1, worker_kind="process", tmp_dir=tmp_path / "u")
        worker = start_workers(run, own)[0]
    try:
        got = worker.analyse(videos["person"], top_k=2, want_segments=False, deadline=Deadline(300))
    finally:
        if worker in service._workers:
            service._idle.put(worker)
        else:
            worker.close()
            assert worker.proc.exitcode is not None
    expected = motionscope.load(run).predict(videos["person"], top_k=2)
    assert got.label == expected.label
    assert got.confidence == pytest.approx(expected.confidence, abs=1e-5)
    assert [lab for lab, _ in got.top_k] == [lab for lab, _ in expected.top_k]


ORPHAN_SCRIPT = """
import sys, time
from motionscope.serve.procpool import ProcessWorker
from motionscope.serve.settings import ServeSettings
if __name__ == "__main__":
    w = ProcessWorker(sys.argv[1], ServeSettings(), 0).start()
    w.wait_ready()
    print(w.proc.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")
def test_worker_processes_exit_when_the_server_is_killed(bundle, tmp_path):
    """A server killed with SIGKILL (no shutdown code runs) leaves no worker process behind."""
    import subprocess
    import sys
    import time

    script = tmp_path / "server.py"
    script.write_text(ORPHAN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, str(script), str(bundle)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        child = int(server.stdout.readline())
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
        for _ in range(200):  # the worker notices within about a second
            if not _alive(child):
                break
            time.sleep(0.05)
        assert not _alive(child), f"worker process {child} outlived its server"
    finally:
        server.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_cli_workers_default_and_kind(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app
    from motionscope.errors import MotionscopeError
    from motionscope.serve.settings import default_workers

    assert 1 <= default_workers() <= 2
    r = CliRunner().invoke(app, ["serve", "--help"])
    for opt in (
        "--worker-kind",
        "--engine",
        "--replicas",
        "--max-ongoing-requests",
        "--ray-address",
    ):
        assert opt in r.output
    with pytest.raises(MotionscopeError, match="worker kind"):
        ServeSettings(worker_kind="fork")
