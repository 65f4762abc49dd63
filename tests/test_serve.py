"""``motionscope serve``: every endpoint and every error path, through FastAPI's TestClient.

A tiny kpnet bundle is trained once per module on synthetic keypoints; the videos are synthetic
cartoon people (``motionscope.video.synth``). No test compares wall-clock times: timeouts are
driven by a fake clock and the busy server by a worker held on an event.
"""

from __future__ import annotations

import hmac
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="needs httpx (the dev extra) for TestClient")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import motionscope  # noqa: E402
from motionscope.serve import ServeSettings, create_app  # noqa: E402
from motionscope.serve.limits import Deadline, key_matches, sniff_video  # noqa: E402
from motionscope.video.synth import render_clip, sample_rng, write_video  # noqa: E402
from tests.helpers import train_kpnet_bundle  # noqa: E402

SIZE = (256, 192)
FPS = 15
FRAMES = 8


def tiny_bundle(root: Path) -> Path:
    """A kpnet bundle trained for two epochs on synthetic holistic keypoints (a few seconds)."""
    return train_kpnet_bundle(root, classes=3, per_class=10, frames=FRAMES, seed=1, epochs=2)


def person_video(path: Path, frames: int = FRAMES, action: str = "wave", seed: int = 0) -> Path:
    write_video(path, render_clip(action, sample_rng(seed, 0, 0), SIZE, frames, fps=FPS), FPS)
    return path


def empty_video(path: Path, frames: int = 8) -> Path:
    w, h = SIZE
    write_video(path, np.full((frames, h, w, 3), (90, 160, 210), dtype=np.uint8), FPS)
    return path


_BUNDLES: dict[str, Path] = {}


def shared_bundle(tmp_path_factory) -> Path:
    """One tiny bundle per test session, shared by this module and tests/test_browser.py
    (tests only read it; those that change a bundle copy it first)."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _BUNDLES:
        _BUNDLES[key] = tiny_bundle(tmp_path_factory.mktemp("serve-bundle"))
    return _BUNDLES[key]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve-videos")
    person = person_video(root / "wave.mp4")
    data = person.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "garbage.mp4").write_bytes(data[:32] + bytes(range(256)) * 40)
    return {
        "person": person,
        "empty": empty_video(root / "empty.mp4"),
        "truncated": root / "truncated.mp4",
        "garbage": root / "garbage.mp4",
    }


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve-uploads")


@pytest.fixture(scope="module")
def client(bundle, uploads):
    """The default server (one worker), shared by the tests that do not change settings."""
    app = create_app(bundle, ServeSettings(tmp_dir=uploads))
    with TestClient(app) as c:
        yield c


@pytest.fixture(autouse=True)
def no_upload_left_behind(uploads):
    """Every test ends with the upload folder empty: temporary files are always removed."""
    yield
    assert list(uploads.iterdir()) == []


@pytest.fixture
def make_client(bundle, tmp_path):
    """``make_client(**settings)`` -> a TestClient on a fresh app; its temporary folder must be
    empty when the test ends."""
    made = []

    def make(**kw):
        kw.setdefault("tmp_dir", tmp_path / "uploads")
        app = create_app(bundle, ServeSettings(**kw))
        c = TestClient(app)
        c.__enter__()
        made.append((c, kw["tmp_dir"]))
        return c

    yield make
    for c, folder in made:
        c.__exit__(None, None, None)
        assert not folder.exists() or list(folder.iterdir()) == []


def post_video(c: TestClient, path: Path, url: str = "/v1/predict", **kw):
    with open(path, "rb") as fh:
        return c.post(url, files={"video": (path.name, fh, "video/mp4")}, **kw)


def assert_error(r, status: int, match: str = "") -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]
    assert match.lower() in body["error"].lower(), body["error"]
    return body


# -- predictions ----------------------------------------------------------------------------------


def test_predict_endpoints_agree_with_the_python_api(client, bundle, videos):
    r = post_video(client, videos["person"], params={"top_k": 2, "segments": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    classes = json.loads((bundle / "classes.json").read_text())
    assert body["success"] is True and body["person_detected"] is True
    assert body["label"] in classes + ["unknown"] and 0 <= body["confidence"] <= 1
    top = body["top_k"]
    assert len(top) == 2 and top[0]["confidence"] >= top[1]["confidence"]
    assert {t["label"] for t in top} <= set(classes)
    assert body["video"]["frames"] == FRAMES and body["video"]["fps"] == FPS
    assert (body["video"]["width"], body["video"]["height"]) == SIZE
    segs = body["segments"]
    assert segs and segs[0]["start_s"] == 0
    assert segs[-1]["end_s"] == pytest.approx(body["video"]["duration_s"], abs=1e-3)
    for a, b in zip(segs, segs[1:], strict=False):
        assert a["end_s"] == pytest.approx(b["start_s"])
    assert all(s["label"] in classes + ["unknown"] for s in segs)
    assert {"queue", "decode", "pose", "model"} <= set(body["timings_ms"])
    assert body["backend"] == "torch"

    seed = post_video(client, videos["person"], "/predict")
    assert seed.status_code == 200, seed.text
    assert seed.json()["success"] is True
    assert set(seed.json()) == {"success", "prediction"}  # the seed contract, nothing added
    prediction = seed.json()["prediction"]
    assert set(prediction) == {"action", "confidence"}
    assert prediction["confidence"] == round(prediction["confidence"], 2)  # percent, 2 decimals

    rec = motionscope.load(bundle)
    try:
        expected = rec.predict(videos["person"])
    finally:
        rec.close()
    # the server applies the bundle's own preprocessing: the Python API's answer, in both forms
    assert body["label"] == prediction["action"] == expected.label
    assert body["confidence"] == pytest.approx(expected.confidence, abs=1e-4)
    assert prediction["confidence"] == pytest.approx(100 * expected.confidence, abs=0.011)


def test_no_person_is_an_explicit_200_result(client, videos):
    r = post_video(client, videos["empty"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person_detected"] is False and body["label"] is None and body["top_k"] == []
    assert "no person detected" in body["message"]
    r = post_video(client, videos["empty"], "/predict")
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "prediction": {"action": "no person detected", "confidence": 0.0},
    }


# -- model, health, docs, web app -----------------------------------------------------------------


def test_model_endpoint_describes_the_bundle(client, bundle):
    r = client.get("/v1/model")
    assert r.status_code == 200
    m = r.json()
    cfg = json.loads((bundle / "config.json").read_text())
    assert m["classes"] == json.loads((bundle / "classes.json").read_text())
    assert m["architecture"]["name"] == cfg["model"]["name"] == "kpnet-v1"
    assert m["input"]["window"] == cfg["preprocessing"]["window"]
    assert m["input"]["layout"] == cfg["preprocessing"]["layout"]["name"]
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert m["metrics"]["accuracy"] == metrics["accuracy"]
    for name in ("confusion_matrix", "curves"):
        url = m["report"][name]
        assert url == f"/v1/model/{name}.png"
        img = client.get(url)
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        assert img.content == (bundle / "report" / f"{name}.png").read_bytes()


def test_a_report_image_missing_from_the_bundle_is_404(bundle, tmp_path, make_client):
    copy = tmp_path / "run"
    shutil.copytree(bundle, copy)
    (copy / "report" / "curves.png").unlink()
    app = create_app(copy, ServeSettings(tmp_dir=tmp_path / "u"))
    with TestClient(app) as c:
        assert c.get("/v1/model").json()["report"]["curves"] is None
        assert_error(c.get("/v1/model/curves.png"), 404, "no report/curves.png")


def test_health_docs_and_openapi(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["auth_required"] is False and h["workers"] == 1
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/v1/predict", "/v1/model", "/health"} <= set(paths)
    body = paths["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["required"] == ["video"]


def test_web_app_and_its_files_are_served_but_nothing_else(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for tab in ("Upload", "Live", "Model"):
        assert f">{tab}</button>" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    for url in ("/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml",
                "/static/..%2f..%2fbundle.py", "/static//etc/passwd"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 404, url
        assert "[project]" not in r.text and "root:" not in r.text


def test_backend_auto_prefers_the_onnx_export_and_falls_back_to_torch(
    bundle, tmp_path, monkeypatch
):
    from motionscope.errors import BundleError
    from motionscope.infer import loader

    with pytest.raises(BundleError, match="no ONNX export"):
        create_app(bundle, ServeSettings(backend="onnx"))  # asked for, not there: refuse
    copy = tmp_path / "run"
    shutil.copytree(bundle, copy)
    (copy / "model.onnx").write_bytes(b"not an onnx graph")  # an export that cannot load here
    asked = []
    real = loader.load_recognizer

    def spy(run, **kw):
        asked.append(kw.get("backend"))
        return real(run, **kw)

    monkeypatch.setattr(loader, "load_recognizer", spy)
    app = create_app(copy, ServeSettings(tmp_dir=tmp_path / "u"))  # backend "auto"
    with TestClient(app) as c:
        assert c.get("/health").json()["backend"] == "torch"
    assert asked[:2] == ["onnx", "torch"]  # tried the export first, then fell back


# -- bad input ------------------------------------------------------------------------------------


def test_upload_over_the_limit_is_413_even_without_content_length(make_client):
    c = make_client(max_upload_mb=0.01)  # 10 KiB
    big = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 60_000
    assert_error(c.post("/v1/predict", files={"video": ("a.mp4", big)}), 413, "too large")
    # a chunked body (no Content-Length) is counted while it streams in
    boundary = "XyZ"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()

    def body():
        yield head
        for _ in range(64):
            yield b"\x00" * 4096
        yield f"\r\n--{boundary}--\r\n".encode()

    r = c.post(
        "/predict",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(r, 413, "--max-upload-mb")
    # the declared length alone is enough to refuse
    r = c.post(
        "/predict",
        content=b"x",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": "999999999",
        },
    )
    assert_error(r, 413)


@pytest.mark.parametrize(
    "kind",
    ["text", "png", "json", "urlencoded", "avif"],
)
def test_non_video_content_is_415(client, kind):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    if kind == "text":
        r = client.post("/v1/predict", files={"video": ("a.mp4", b"just some text", "video/mp4")})
    elif kind == "png":
        r = client.post("/predict", files={"video": ("a.png", png, "image/png")})
    elif kind == "json":
        r = client.post("/v1/predict", json={"video": "x"})
    elif kind == "urlencoded":
        r = client.post("/predict", data={"video": "x"})
    else:  # AVIF still image: the ISO container of mp4, but an image brand
        r = client.post("/predict", files={"video": ("a.mp4", b"\x00\x00\x00\x1cftypavif" + png)})
    assert_error(r, 415)


def test_a_form_without_a_video_field_is_400(client):
    r = client.post("/v1/predict", files={"file": ("a.mp4", b"\x00\x00\x00\x18ftypisom")})
    assert_error(r, 400, "no file field named 'video'")


@pytest.mark.parametrize("which", ["truncated", "garbage", "empty-file"])
def test_undecodable_or_truncated_video_is_422(client, videos, which):
    if which == "empty-file":
        r = client.post("/v1/predict", files={"video": ("a.mp4", b"")})
        assert_error(r, 422, "empty")
        return
    r = post_video(client, videos[which])
    body = assert_error(r, 422)
    assert "upload" not in body["error"] or "re-upload" in body["error"]  # no server paths
    assert "/tmp" not in body["error"] and "motionscope-upload" not in body["error"]


def test_video_longer_than_max_seconds_is_413(make_client, videos, monkeypatch):
    c = make_client(max_seconds=0.2)  # the clip lasts 0.53 s
    assert_error(post_video(c, videos["person"]), 413, "--max-seconds")
    # a container that hides its duration is stopped by counting frames while decoding
    import motionscope.serve.analyse as analyse

    real = analyse.probe

    def no_duration(path):
        info = real(path)
        return type(info)(**{**info.to_dict(), "duration": None, "frames": None})

    monkeypatch.setattr(analyse, "probe", no_duration)
    assert_error(post_video(c, videos["person"], "/predict"), 413, "--max-seconds")


def test_invalid_parameters_are_422(client, videos):
    assert_error(post_video(client, videos["garbage"], params={"top_k": 0}), 422, "top_k")
    assert_error(post_video(client, videos["garbage"], params={"top_k": "many"}), 422, "top_k")
    assert_error(post_video(client, videos["garbage"], params={"segments": "perhaps"}), 422)


def test_no_request_can_name_a_path_the_server_opens(client, videos, tmp_path):
    target = tmp_path / "written-by-server.mp4"
    with open(videos["person"], "rb") as fh:
        r = client.post(
            "/v1/predict",
            files={"video": (f"../../../..{target}", fh, "video/mp4")},
            params={"path": "/etc/passwd", "file": str(target)},
        )
    assert r.status_code == 200, r.text
    assert not target.exists()  # the client's filename is never used
    # a path sent as the field's value is just bytes (and not a video)
    r = client.post("/predict", files={"video": (None, str(videos["person"]).encode())})
    assert_error(r, 415)


# -- load and time limits -------------------------------------------------------------------------


def test_full_queue_answers_503_with_retry_after(make_client, videos, monkeypatch):
    import motionscope.serve.service as service_mod

    release = threading.Event()
    entered = threading.Event()

    def held(worker, path, **kw):
        entered.set()
        assert release.wait(30)
        assert path.is_file()  # the upload exists while the worker uses it
        return real(worker, path, **kw)

    real = service_mod.analyse_video
    monkeypatch.setattr(service_mod, "analyse_video", held)
    c = make_client(workers=1, queue_size=0)
    service = c.app.state.service
    results = {}
    first = threading.Thread(
        target=lambda: results.setdefault("first", post_video(c, videos["person"]))
    )
    first.start()
    try:
        assert entered.wait(30)
        assert service.status()["running"] == 1
        r = post_video(c, videos["person"], "/predict")
        assert_error(r, 503, "busy")
        assert int(r.headers["Retry-After"]) >= 1
        h = c.get("/health").json()
        assert h["running"] == 1 and h["capacity"] == 1
    finally:
        release.set()
        first.join(60)
    assert results["first"].status_code == 200
    assert results["first"].json()["segments"] is None  # not asked for
    assert service.admission.active == 0
    assert_error(post_video(c, videos["garbage"]), 422)  # the place was freed: admitted


def wait_until(condition, what: str) -> None:
    """Poll ``condition`` (another thread makes it true); fail after ~30 s instead of hanging."""
    for _ in range(3000):
        if condition():
            return
        time.sleep(0.01)
    pytest.fail(f"gave up waiting for {what}")


def _jumping_clock(after_calls: int):
    """A monotonic clock that stands still for ``after_calls`` calls, then leaps an hour."""
    calls = {"n": 0}

    def clock():
        calls["n"] += 1
        return 0.0 if calls["n"] <= after_calls else 3600.0

    return clock


def test_slow_upload_is_408_and_slow_processing_is_504(make_client, videos, monkeypatch):
    import motionscope.serve.service as service_mod

    c = make_client(request_timeout_s=5)
    service = c.app.state.service
    service.clock = _jumping_clock(1)  # the deadline is set, then time is up at once
    assert_error(post_video(c, videos["person"]), 408, "receiving the upload")

    real = service_mod.analyse_video

    def late(worker, path, *, deadline, **kw):
        deadline.clock = lambda: 3600.0  # the upload went fine; now processing runs late
        return real(worker, path, deadline=deadline, **kw)

    service.clock = _jumping_clock(10**9)
    monkeypatch.setattr(service_mod, "analyse_video", late)
    assert_error(post_video(c, videos["person"], "/predict"), 504, "processing the video")
    assert service.admission.active == 0


def test_files_of_a_request_whose_client_left_are_removed_when_the_worker_finishes(
    make_client, tmp_path
):
    c = make_client()
    service = c.app.state.service
    folder = service.new_upload_dir()
    (folder / "upload.mp4").write_bytes(b"x")
    assert service.admission.try_enter()
    release = threading.Event()
    future = service.submit(lambda w: release.wait(30))
    wait_until(lambda: service.status()["running"] == 1, "the worker to start")
    deadline = Deadline(60)
    service._finish(deadline, folder, future)  # the client left while the worker runs
    assert folder.exists() and deadline.cancelled and service.admission.active == 1
    release.set()
    future.result(30)
    wait_until(
        lambda: not folder.exists() and service.admission.active == 0, "the place to be freed"
    )


def test_a_client_that_hangs_up_stops_its_worker(make_client):
    import asyncio

    from motionscope.serve.limits import Cancelled

    c = make_client()
    service = c.app.state.service
    deadline = Deadline(3600)

    def frames_forever(worker):  # like analyse_video: the deadline is checked every frame
        while True:
            deadline.check()
            time.sleep(0.01)

    class HungUp:
        async def is_disconnected(self) -> bool:
            return True

    future = service.submit(frames_forever)
    with pytest.raises(Cancelled):
        asyncio.run(service._wait(HungUp(), future, deadline))
    assert deadline.cancelled and future.done()


# -- API key and CORS -----------------------------------------------------------------------------


def test_api_key_is_required_and_checked_in_constant_time(make_client, monkeypatch):
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    c = make_client(api_key="s3cret")
    assert_error(c.get("/v1/model"), 401, "X-API-Key")
    assert_error(c.get("/v1/model", headers={"X-API-Key": "s3creT"}), 401)
    assert_error(c.post("/predict", files={"video": ("a.mp4", b"x")}), 401)
    assert_error(c.get("/v1/model/curves.png"), 401)
    assert c.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert compared  # hmac.compare_digest did the comparing
    h = c.get("/health")  # open, and tells the web app a key is needed
    assert h.status_code == 200 and h.json()["auth_required"] is True
    assert c.get("/").status_code == 200
    assert key_matches(None, None) and not key_matches(None, "k") and key_matches("k", "k")


def test_live_socket_checks_the_api_key(make_client):
    c = make_client(api_key="s3cret")
    with c.websocket_connect("/v1/live") as ws:
        ws.send_text(json.dumps({"api_key": "wrong"}))
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 1008
    with c.websocket_connect("/v1/live", headers={"X-API-Key": "s3cret"}) as ws:
        ws.send_bytes(b"not a jpeg")
        assert ws.receive_json()["type"] == "error"  # authenticated: the frame was read
    with c.websocket_connect("/v1/live") as ws:
        ws.send_text(json.dumps({"api_key": "s3cret"}))
        ws.send_bytes(b"not a jpeg")
        assert "not a JPEG" in ws.receive_json()["error"]


def test_cors_is_off_by_default_and_limited_to_given_origins(client, make_client):
    pre = {"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/predict", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/health", headers=pre).headers
    c = make_client(cors_origins=["http://app.test"])
    ok = c.options("/v1/predict", headers={**pre, "Origin": "http://app.test"})
    assert ok.headers["access-control-allow-origin"] == "http://app.test"
    assert "access-control-allow-origin" not in c.options("/v1/predict", headers=pre).headers


# -- live -----------------------------------------------------------------------------------------


def _jpegs(frames: np.ndarray) -> list[bytes]:
    import cv2

    return [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]


def test_live_socket_answers_each_frame_with_keypoints_and_a_prediction(client, bundle):
    window = json.loads((bundle / "config.json").read_text())["preprocessing"]["window"]
    frames = render_clip("wave", sample_rng(3, 0, 0), SIZE, window + 4, fps=FPS)
    classes = json.loads((bundle / "classes.json").read_text())
    answers = []
    with client.websocket_connect("/v1/live") as ws:
        for i, jpeg in enumerate(_jpegs(frames)):
            ws.send_bytes(jpeg)  # one at a time: nothing is dropped
            msg = ws.receive_json()
            assert msg["type"] == "prediction" and msg["frame"] == i
            answers.append(msg)
    assert all(a["label"] is None for a in answers[: window - 1])  # the window fills first
    last = answers[-1]
    assert last["label"] in classes + ["unknown"] and last["dropped"] == 0
    assert len(last["top_k"]) == min(5, len(classes))
    seen = [a for a in answers if a["person_detected"]]
    assert seen, "MediaPipe found the cartoon person in no frame"
    pose = seen[-1]["keypoints"]["pose"]
    assert len(pose) == 33 and all(len(p) == 3 for p in pose)
    assert all(0 <= p[0] <= 1.5 for p in pose)  # normalised image coordinates
    wait_until(  # the stream is closed and its place freed once the client leaves
        lambda: client.get("/health").json()["live_streams"] == 0, "the live slot to be freed"
    )


def test_live_socket_drops_frames_instead_of_queueing_them(make_client, monkeypatch):
    import motionscope.serve.live as live
    from motionscope.infer.stream import StreamUpdate
    from motionscope.keypoints.layout import HOLISTIC

    release, started = threading.Event(), threading.Event()
    pushed = []

    class SlowStream:
        def push(self, frame):
            pushed.append(frame.shape)
            started.set()
            assert release.wait(30)
            return StreamUpdate(
                frame=len(pushed), t=None, label="a", confidence=0.5, top_k=[("a", 0.5)],
                unknown=False, predicted=True, buffered=1, window=1,
                keypoints=np.zeros(HOLISTIC.width, np.float32), layout=HOLISTIC,
            )  # fmt: skip

        def close(self):
            pass

    monkeypatch.setattr(live, "open_stream", lambda rec: SlowStream())
    c = make_client(max_live=1)
    service = c.app.state.service
    jpegs = _jpegs(np.full((5, 48, 64, 3), 128, np.uint8))
    with c.websocket_connect("/v1/live") as ws:
        ws.send_bytes(jpegs[0])
        assert started.wait(30)  # frame 0 is being recognised...
        for j in jpegs[1:]:
            ws.send_bytes(j)  # ...while 4 more arrive
        wait_until(lambda: service.live_frames == 5, "the server to read 5 frames")
        with c.websocket_connect("/v1/live") as second:  # over max_live
            assert "too many live streams" in second.receive_json()["error"]
            with pytest.raises(WebSocketDisconnect) as e:
                second.receive_json()
            assert e.value.code == 1013
        release.set()
        a, b = ws.receive_json(), ws.receive_json()
    assert (a["frame"], b["frame"]) == (0, 4)  # 1, 2, 3 were replaced by newer frames
    assert b["dropped"] == 3 and len(pushed) == 2
    assert service.live_dropped == 3


# -- helpers and the command line -----------------------------------------------------------------


def test_sniffing_recognises_containers_by_their_bytes(videos):
    assert sniff_video(videos["person"].read_bytes()[:16]) == ".mp4"
    assert sniff_video(b"\x1a\x45\xdf\xa3" + b"\x00" * 12) == ".mkv"
    assert sniff_video(b"RIFF\x00\x00\x00\x00AVI LIST") == ".avi"
    assert sniff_video(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8) is None
    assert sniff_video(b"GIF89a") is None


def test_serve_command_help_and_bad_bundle(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app

    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for opt in ("--host", "--port", "--workers", "--api-key", "--max-upload-mb", "--max-seconds",
                "--cors-origin", "--timeout", "--backend"):  # fmt: skip
        assert opt in r.output
    r = CliRunner().invoke(app, ["serve", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a bundle directory" in r.output


# -- schemathesis ---------------------------------------------------------------------------------


def test_schemathesis_finds_no_server_errors(bundle, tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    app = create_app(bundle, ServeSettings(tmp_dir=tmp_path / "u"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {(o.method.upper(), o.path) for o in ops} >= {
        ("POST", "/predict"),
        ("POST", "/v1/predict"),
        ("GET", "/v1/model"),
        ("GET", "/health"),
    }
    for op in ops:

        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def check(case):
            case.call_and_validate(checks=[not_a_server_error])

        check()
    with TestClient(app):
        pass  # runs the shutdown (workers stopped)
    assert list((tmp_path / "u").iterdir()) == []


def test_frames_larger_than_the_header_says_are_refused_on_every_frame(
    bundle, videos, tmp_path, monkeypatch
):
    """A header announcing small frames does not let large ones through: ``max_side`` is
    checked on every decoded frame (413), before the frame reaches the model."""
    from dataclasses import replace

    from motionscope.serve import analyse
    from motionscope.serve.analyse import Worker, analyse_video
    from motionscope.serve.limits import ApiError

    video = person_video(tmp_path / "small.mp4")
    real_probe = analyse.probe
    monkeypatch.setattr(analyse, "probe", lambda p: replace(real_probe(p), width=64, height=48))

    def frames(path):
        yield np.zeros((48, 64, 3), np.uint8)
        yield np.zeros((600, 800, 3), np.uint8)  # the stream switches to a huge size

    monkeypatch.setattr(analyse, "iter_frames", frames)
    worker = Worker(motionscope.load(bundle))
    settings = ServeSettings(max_side=512, tmp_dir=tmp_path / "u")
    try:
        with pytest.raises(ApiError) as e:
            analyse_video(
                worker,
                video,
                top_k=3,
                want_segments=False,
                settings=settings,
                deadline=Deadline(60.0),
            )
    finally:
        worker.close()
    assert e.value.status == 413 and "800x600" in str(e.value)


# -- issue 13: best label beside "unknown", analysis progress ------------------------------------


def test_v1_predict_names_the_best_class_and_the_seed_route_does_not(client, videos):
    body = post_video(client, videos["person"]).json()
    assert body["best_label"] == body["top_k"][0]["label"]
    assert "best_label" not in post_video(client, videos["person"], "/predict").json()
    assert post_video(client, videos["empty"]).json()["best_label"] is None


def test_analysis_progress_counts_frames_and_is_gone_after(client, videos, monkeypatch):
    from motionscope.serve import analyse

    seen: list[tuple[int, int | None]] = []
    real = analyse.analyse_video

    def spy(*a, progress=None, **kw):
        def report(done, total):
            seen.append((done, total))
            progress(done, total)
            job = client.app.state.progress["abcdef12"]
            assert job == {"frames": done, "total": total}

        return real(*a, progress=report, **kw)

    monkeypatch.setattr("motionscope.serve.service.analyse_video", spy)
    r = post_video(client, videos["person"], params={"progress_id": "abcdef12"})
    assert r.status_code == 200, r.text
    assert seen == [(i, FRAMES) for i in range(1, FRAMES + 1)]
    assert_error(client.get("/v1/progress/abcdef12"), 404, "no video is being analysed")
    assert client.app.state.progress == {}
    assert_error(post_video(client, videos["person"], params={"progress_id": "x/../y"}), 422)


def test_progress_route_reports_a_fraction(client):
    client.app.state.progress["0123456789"] = {"frames": 3, "total": 12}
    try:
        assert client.get("/v1/progress/0123456789").json() == {
            "frames": 3,
            "total": 12,
            "fraction": 0.25,
        }
    finally:
        client.app.state.progress.clear()
