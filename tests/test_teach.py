"""The Teach API (``create_app(..., teach=DIR)``) through FastAPI's TestClient.

Bad input gets a clear message and leaves nothing on disk; training is one job at a time (409),
cancellable, writes a normal bundle beside the dataset and swaps it in without a restart; the
dataset is the layout ``motionscope train DIR`` reads; the API key guards every teach route.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from motionscope.data.synth import synth_sequence  # noqa: E402
from motionscope.models.registry import list_models  # noqa: E402
from motionscope.serve.app import create_app  # noqa: E402
from motionscope.serve.settings import ServeSettings  # noqa: E402
from motionscope.serve.teach import NoModel, TeachTraining  # noqa: E402
from motionscope.serve.teach import capture as capture_mod  # noqa: E402
from tests.test_serve import shared_bundle  # noqa: E402

KEY = "teach-key"
FAST = TeachTraining(epochs=3, threads=1)
KEYPOINT_MODELS = [m.name for m in list_models() if m.input_kind == "keypoints"]


def make(tmp_path: Path, *, run=None, key: str | None = None, training=FAST):
    settings = ServeSettings(api_key=key)
    app = create_app(run, settings, teach=tmp_path / "taught")
    app.state.teach.trainer.settings = training
    return app, TestClient(app)


def fill(app, counts: dict[str, int], frames: int = 12, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for action, n in counts.items():
        for _ in range(n):
            app.state.teach.data.save_example(
                action, list(synth_sequence(action, frames, rng)), {"frames": frames}
            )


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def wait_done(client, headers=None, seconds: float = 120) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        job = client.get("/v1/teach/train", headers=headers or {}).json()
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"training did not finish: {job}")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 65, "at most 64"),
        ("../evil", "cannot be a folder name"),
        ("..", "cannot be a folder name"),
        (".hidden", "cannot be a folder name"),
        ("a/b", "cannot be a folder name"),
        ("a\\b", "cannot be a folder name"),
        (123, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_teach_refuses_bad_action_names_and_writes_nothing(tmp_path, name, says):
    app, client = make(tmp_path)
    r = client.post("/v1/teach/actions", json={"name": name})
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]
    assert files(tmp_path / "taught") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taught"]


def test_teach_refuses_a_huge_body_and_bad_json(tmp_path):
    app, client = make(tmp_path)
    r = client.post("/v1/teach/actions", json={"name": "x" * 10_000})
    assert r.status_code == 413 and "at most 4096" in r.json()["error"]
    r = client.post("/v1/teach/actions", content=b"not json")
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    assert files(tmp_path / "taught") == []


def test_teach_paths_never_leave_the_dataset_folder(tmp_path):
    app, client = make(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.npy").write_bytes(b"x")
    for path in ("/v1/teach/actions/..", "/v1/teach/actions/%2E%2E",
                 "/v1/teach/actions/..%2Foutside", "/v1/teach/actions/../outside"):  # fmt: skip
        r = client.delete(path)
        assert r.status_code in (404, 405, 422), (path, r.status_code)
    r = client.delete("/v1/teach/actions/..%2Foutside/examples/0")
    assert r.status_code in (404, 422)
    assert (outside / "keep.npy").is_file()


def test_teach_actions_examples_list_and_delete(tmp_path):
    app, client = make(tmp_path)
    assert client.post("/v1/teach/actions", json={"name": " wave "}).json()["name"] == "wave"
    fill(app, {"wave": 2})
    info = client.get("/v1/teach").json()
    assert info["model"] is None and info["min_examples"] == 3
    (wave,) = info["actions"]
    assert [e["number"] for e in wave["examples"]] == [0, 1]
    ex = wave["examples"][0]
    assert ex["frames"] == 12 and ex["detection_rate"]["pose"] == 1.0
    assert len(ex["preview"]["pose"]) == 33  # the middle frame's skeleton, for the thumbnail
    assert client.delete("/v1/teach/actions/wave/examples/0").status_code == 200
    assert files(tmp_path / "taught") == ["wave", "wave/1.json", "wave/1.npy"]
    r = client.delete("/v1/teach/actions/wave/examples/0")
    assert r.status_code == 404 and "no example 0" in r.json()["error"]
    assert client.delete("/v1/teach/actions/wave").status_code == 200
    assert files(tmp_path / "taught") == []
    assert client.delete("/v1/teach/actions/wave").status_code == 404


@pytest.mark.parametrize(
    ("counts", "says"),
    [
        ({}, "at least 2 actions"),
        ({"wave": 5}, "at least 2 actions"),
        ({"wave": 5, "squat": 1}, "'squat' has 1"),
    ],
)
def test_teach_training_needs_enough_examples(tmp_path, counts, says):
    app, client = make(tmp_path)
    fill(app, counts)
    before = files(tmp_path / "taught")
    r = client.post("/v1/teach/train")
    assert r.status_code == 422 and says in r.json()["error"]
    assert files(tmp_path / "taught") == before
    assert not (tmp_path / "taught-runs").exists()
    assert client.get("/v1/teach/train").json()["state"] == "idle"


def test_teach_one_training_at_a_time_and_cancel_leaves_no_bundle(tmp_path):
    app, client = make(tmp_path, training=TeachTraining(epochs=5000, patience_updates=10**6))
    fill(app, {"wave": 4, "squat": 4})
    assert client.post("/v1/teach/train").status_code == 202
    r = client.post("/v1/teach/train")  # a second tab
    assert r.status_code == 409 and "already being trained" in r.json()["error"]
    end = time.monotonic() + 60
    while client.get("/v1/teach/train").json().get("epoch", 0) < 1:  # progress is reported
        assert time.monotonic() < end
        time.sleep(0.05)
    assert client.delete("/v1/teach/train").status_code == 202
    job = wait_done(client)
    assert job["state"] == "cancelled" and 1 <= job["epoch"] < 5000
    assert files(tmp_path / "taught-runs") == []  # no bundle, no staging folder
    assert isinstance(app.state.service, NoModel)
    assert client.get("/v1/model").status_code == 503
    r = client.delete("/v1/teach/train")
    assert r.status_code == 409 and "no training" in r.json()["error"]


@pytest.mark.parametrize("model", KEYPOINT_MODELS)
def test_teach_trains_a_bundle_swaps_it_in_and_zips(tmp_path, model):
    app, client = make(tmp_path, training=TeachTraining(model=model, epochs=3, threads=1))
    assert client.get("/v1/model").status_code == 503  # no model yet: a clear error
    health = client.get("/health")  # ...but the server is up (what `studio` waits for)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok" and health.json()["worker_restarts"] == 0
    r = client.post("/v1/predict", files={"video": ("a.mp4", b"0" * 64)})
    assert r.status_code == 503 and "Teach tab" in r.json()["error"]
    assert client.get("/v1/teach/bundle.zip").status_code == 404
    fill(app, {"wave": 4, "squat": 4})
    r = client.post("/v1/teach/train")
    assert r.status_code == 202 and r.json()["examples"] == {"squat": 4, "wave": 4}
    job = wait_done(client)
    assert job["state"] == "done", job
    assert job["bundle"] == "model-1" and job["epoch"] >= 1 and "val_accuracy" in job
    run = tmp_path / "taught-runs" / "model-1"
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == model
    assert "unknown_threshold" in config["calibration"]
    assert (run / "report" / "report.md").is_file()
    # served at once, no restart
    assert client.get("/health").json()["model"] == "model-1"
    assert client.get("/v1/model").json()["classes"] == ["squat", "wave"]
    assert client.get("/v1/teach").json()["model"] == "model-1"
    names = zipfile.ZipFile(io.BytesIO(client.get("/v1/teach/bundle.zip").content)).namelist()
    assert "model-1/config.json" in names and "model-1/model.safetensors" in names
    data = zipfile.ZipFile(io.BytesIO(client.get("/v1/teach/dataset.zip").content))
    assert sorted(data.namelist()) == sorted(
        f"{a}/{i}.{ext}" for a in ("squat", "wave") for i in range(4) for ext in ("json", "npy")
    )
    assert np.load(io.BytesIO(data.read("wave/0.npy"))).shape == (12, 1662)


def test_teach_hot_swaps_a_served_bundle_and_closes_the_old_one(tmp_path, tmp_path_factory):
    app, client = make(tmp_path, run=shared_bundle(tmp_path_factory))
    old = app.state.service
    old_classes = client.get("/v1/model").json()["classes"]
    fill(app, {"wave": 3, "squat": 3})
    client.post("/v1/teach/train")
    assert wait_done(client)["state"] == "done"
    assert app.state.service is not old
    assert client.get("/v1/model").json()["classes"] == ["squat", "wave"] != old_classes
    end = time.monotonic() + 30
    while not old._closed:  # the old service is closed once nothing uses it
        assert time.monotonic() < end
        time.sleep(0.05)


def test_teach_dataset_trains_with_the_cli(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app as cli

    app, _ = make(tmp_path)
    fill(app, {"wave": 5, "squat": 5})
    out = tmp_path / "cli-run"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(tmp_path / "taught"),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--threads",
            "1",
            "--force",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "classes.json").read_text()) == ["squat", "wave"]
    assert json.loads((out / "config.json").read_text())["data"]["n_sequences"] == 10


def test_teach_api_key_guards_every_teach_route(tmp_path):
    app, client = make(tmp_path, key=KEY)
    paths = {p: ops for p, ops in app.openapi()["paths"].items() if p.startswith("/v1/teach")}
    assert sum(len(ops) for ops in paths.values()) >= 9
    for template, ops in paths.items():
        path = template.replace("{name}", "wave").replace("{number}", "0")
        for method in ops:
            r = client.request(method.upper(), path)
            assert r.status_code == 401, (method, path, r.status_code)
            r = client.request(method, path, headers={"X-API-Key": "wrong"})
            assert r.status_code == 401, (method, path)
    ok = client.post("/v1/teach/actions", json={"name": "wave"}, headers={"X-API-Key": KEY})
    assert ok.status_code == 201
    with client.websocket_connect("/v1/teach/live") as ws:
        ws.send_text(json.dumps({"api_key": "wrong"}))
        assert "API key" in ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    with client.websocket_connect("/v1/teach/live", headers={"X-API-Key": KEY}) as ws:
        ws.send_text(json.dumps({"type": "record", "action": "", "frames": 8}))
        assert "empty" in ws.receive_json()["error"]  # in: the key was taken


# -- the recording socket ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    import cv2

    from motionscope.video.synth import render_clip, sample_rng

    clip = render_clip("wave", sample_rng(3, 0, 0), (256, 192), 8, fps=15)
    return [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in clip]


def send_frame(ws, data: bytes) -> dict:
    ws.send_bytes(data)
    while True:
        msg = ws.receive_json()
        if msg["type"] in ("frame", "saved", "discarded", "error"):
            return msg


def test_teach_socket_records_a_complete_example_with_skeletons(tmp_path, jpegs):
    app, client = make(tmp_path)
    with client.websocket_connect("/v1/teach/live") as ws:
        first = send_frame(ws, jpegs[0])  # before recording: skeleton only
        assert first["type"] == "frame" and first["recording"] is None
        assert first["person_detected"] and len(first["keypoints"]["pose"]) == 33
        ws.send_text(json.dumps({"type": "record", "action": "bad/name", "frames": 4}))
        assert "cannot be a folder name" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"type": "record", "action": "wave", "frames": 2}))
        assert "frames must be 4..150" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"type": "record", "action": "wave", "frames": 4}))
        assert ws.receive_json() == {"type": "recording", "action": "wave", "done": 0, "frames": 4}
        for i in range(4):
            msg = send_frame(ws, jpegs[1 + i])
            assert msg["recording"]["done"] == i + 1
        saved = ws.receive_json()
    assert saved["type"] == "saved" and saved["example"]["number"] == 0
    assert np.load(tmp_path / "taught" / "wave" / "0.npy").shape == (4, 1662)
    meta = json.loads((tmp_path / "taught" / "wave" / "0.json").read_text())
    assert meta["detection_rate"]["pose"] == 1.0 and meta["frames"] == 4


def test_teach_socket_discards_an_example_when_the_camera_stops(tmp_path, jpegs, monkeypatch):
    monkeypatch.setattr(capture_mod, "STALL_S", 0.3)
    app, client = make(tmp_path)
    with client.websocket_connect("/v1/teach/live") as ws:
        ws.send_text(json.dumps({"type": "record", "action": "wave", "frames": 6}))
        ws.receive_json()
        send_frame(ws, jpegs[0])
        send_frame(ws, jpegs[1])
        msg = ws.receive_json()  # no more frames: the camera stopped
        assert msg["type"] == "discarded" and "stopped after 2 of 6 frames" in msg["error"]
        # cancelling, and leaving mid-example, save nothing either
        ws.send_text(json.dumps({"type": "record", "action": "wave", "frames": 6}))
        ws.receive_json()
        send_frame(ws, jpegs[2])
        ws.send_text(json.dumps({"type": "cancel"}))
        assert ws.receive_json()["type"] == "discarded"
        ws.send_text(json.dumps({"type": "record", "action": "wave", "frames": 6}))
        ws.receive_json()
        send_frame(ws, jpegs[3])
    time.sleep(0.5)
    assert not list((tmp_path / "taught").rglob("*.npy"))
    assert not list((tmp_path / "taught").rglob("*.tmp"))


def test_teach_cli_serve_needs_a_bundle_or_a_teach_folder():
    from typer.testing import CliRunner

    from motionscope.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code != 0
    assert "give a bundle RUN to serve, or --teach DIR" in result.output
    studio = CliRunner().invoke(cli, ["studio", "--help"])
    assert studio.exit_code == 0 and "Teach actions in the browser" in studio.output


def test_teach_training_settings_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from motionscope.cli import app as cli
    from motionscope.cli.serve import _build, teach_training
    from tests.helpers import free_port

    other = next(m for m in KEYPOINT_MODELS if m != "kpnet")
    _, app, _ = _build(None, {}, tmp_path / "taught", teach_training(tmp_path, other, 7))
    assert (app.state.teach.trainer.settings.model, app.state.teach.trainer.settings.epochs) == (
        other,
        7,
    )
    rgb = next(m.name for m in list_models() if m.input_kind != "keypoints")
    port = str(free_port())
    bad = CliRunner().invoke(cli, ["studio", str(tmp_path / "t"), "--model", rgb, "--port", port])
    assert bad.exit_code == 2 and "trains keypoint models" in bad.output, bad.output
    for args in (["--model", "nope"], ["--epochs", "0"]):
        r = CliRunner().invoke(cli, ["studio", str(tmp_path / "t"), *args, "--port", port])
        assert r.exit_code == 2, r.output
    assert not (tmp_path / "t").exists()  # nothing created for a refused start


def test_teach_model_says_unknown_for_an_action_it_was_not_taught(tmp_path):
    """The taught model's calibrated unknown threshold: "punch" (never taught) is unknown,
    "squat" (taught) is squat, on fresh synthetic people."""
    app, client = make(tmp_path, training=TeachTraining(threads=1))
    fill(app, {"wave": 5, "squat": 5})
    client.post("/v1/teach/train")
    assert wait_done(client)["state"] == "done"
    rec = app.state.service.recognizer
    assert 0.5 < rec.unknown_threshold < 1.0

    def last_updates(action: str) -> list:
        stream = rec.stream(every=2, smooth=3, top_k=2)
        out = []
        for person in range(5):
            for row in synth_sequence(action, 12, np.random.default_rng(100 + person)):
                update = stream.push_keypoints(row)
            out.append(update)
        return out

    punch = last_updates("punch")
    assert all(u.unknown and u.label == "unknown" for u in punch), [u.confidence for u in punch]
    squat = last_updates("squat")
    assert sum(u.label == "squat" for u in squat) >= 4, [(u.label, u.confidence) for u in squat]


def test_teach_start_up_removes_a_training_left_half_done(tmp_path):
    """A server stopped mid-training leaves ``DIR-runs/.model-<n>.partial``: the next one
    removes it (published bundles are kept)."""
    left = tmp_path / "taught-runs" / ".model-2.partial"
    left.mkdir(parents=True)
    (left / "model.safetensors").write_bytes(b"half")
    (tmp_path / "taught-runs" / "model-1").mkdir()
    make(tmp_path)
    assert sorted(p.name for p in (tmp_path / "taught-runs").iterdir()) == ["model-1"]
