"""``serve --engine ray``: the API contract over HTTP against a Ray Serve deployment of the app.

One local Ray runtime (2 CPUs) and one port per module; one replica admitting one prediction
at a time (so back-pressure is easy to reach), redeployed when a test needs another bundle
(the contract runs last, over every input kind); skipped when Ray Serve is missing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install -e '.[ray]')")
httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.slow  # a Ray runtime and actors (or replicas) per module

import motionscope  # noqa: E402
from motionscope.errors import MotionscopeError  # noqa: E402
from motionscope.kinds import InputKind  # noqa: E402
from motionscope.serve import ServeSettings  # noqa: E402
from motionscope.serve.ray_serve import (  # noqa: E402
    RayServeOptions,
    deploy,
    ray_ongoing_limit,
    replica_settings,
)
from tests.helpers import free_port  # noqa: E402
from tests.ray_runtime import local_ray  # noqa: E402
from tests.test_serve import person_video, shared_bundle  # noqa: E402


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-serve-videos")
    (root / "garbage.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return {
        "person": person_video(root / "wave.mp4"),
        "long": person_video(root / "long.mp4", frames=30),
        "garbage": root / "garbage.mp4",
    }


class Deployments:
    """One Ray runtime and one HTTP port for the module; the app of one bundle at a time."""

    def __init__(self, port: int, uploads) -> None:
        self.port, self.uploads = port, uploads
        self.current = None
        self.deployment = None

    def url(self, run) -> str:
        if run != self.current:
            if self.deployment is not None:
                self.deployment.close()  # removes the app; Ray and Serve stay up
            settings = ServeSettings(port=self.port, tmp_dir=self.uploads)
            self.deployment = deploy(run, settings, RayServeOptions(max_ongoing_requests=1))
            self.current = run
        return self.deployment.url


@pytest.fixture(scope="module")
def deployments(tmp_path_factory):
    with local_ray(num_cpus=2):
        d = Deployments(free_port(), tmp_path_factory.mktemp("ray-uploads"))
        try:
            yield d
        finally:
            if d.deployment is not None:
                d.deployment.close()


@pytest.fixture
def url(deployments, bundle) -> str:
    return deployments.url(bundle)


@pytest.fixture(scope="module")
def rgb_bundle(tmp_path_factory):
    """A tiny bundle of the first registered RGB (frames) model."""
    from motionscope.models import list_models
    from motionscope.video.synth import write_synthetic_videos
    from tests.helpers import torch_threads
    from tests.test_contract import train_tiny

    root = tmp_path_factory.mktemp("ray-rgb")
    name = next(m.name for m in list_models() if m.input_kind == InputKind.FRAMES.value)
    write_synthetic_videos(
        root / "videos", classes=3, per_class=4, seed=3, size=(64, 64), seconds=0.6, fps=15
    )
    with torch_threads(1):
        return train_tiny(name, {"videos": root / "videos"}, root / name)


def post(url: str, path, route: str = "/predict", **params) -> httpx.Response:
    with open(path, "rb") as fh:
        files = {"video": (path.name, fh, "video/mp4")}
        return httpx.post(url + route, files=files, params=params, timeout=120)


def test_errors_keep_the_local_json_shape(url, videos):
    r = post(url, videos["garbage"], "/v1/predict")
    assert r.status_code == 422 and r.json()["success"] is False and r.json()["error"]
    r = httpx.post(url + "/predict", content=b"x", timeout=30)
    assert r.status_code == 415 and r.json()["success"] is False


def test_back_pressure_is_a_json_503_with_retry_after(url, videos):
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(url, videos["long"]), range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 200 and set(codes) <= {200, 503} and 503 in codes, codes
    for r in answers:
        if r.status_code == 503:
            assert r.json()["success"] is False and "busy" in r.json()["error"]
            assert int(r.headers["Retry-After"]) >= 1
    assert httpx.get(url + "/health").json()["running"] == 0


def test_replica_settings_and_option_checks():
    s = replica_settings(ServeSettings(workers=4, worker_kind="process"), RayServeOptions(3, 6))
    assert (s.workers, s.worker_kind, s.capacity) == (1, "thread", 6)
    assert ray_ongoing_limit(s) > s.capacity  # Ray hands the request on; the app says 503
    with pytest.raises(MotionscopeError, match="--replicas"):
        RayServeOptions(replicas=0)
    with pytest.raises(MotionscopeError, match="--max-ongoing-requests"):
        RayServeOptions(max_ongoing_requests=0)


@pytest.mark.parametrize("kind", [k.value for k in InputKind])
def test_seed_and_v1_contract_over_ray_serve(kind, deployments, request, videos):
    """Every input kind (the first registered model of each): the contract of
    tests/test_contract.py, over HTTP, through Ray Serve."""
    fixture = "bundle" if kind == InputKind.KEYPOINTS.value else "rgb_bundle"
    bundle = request.getfixturevalue(fixture)
    url = deployments.url(bundle)
    rec = motionscope.load(bundle)
    expected = rec.predict(videos["person"])
    r = post(url, videos["person"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"success", "prediction"}  # the seed contract, nothing added
    assert body["success"] is True and set(body["prediction"]) == {"action", "confidence"}
    assert body["prediction"]["action"] == expected.label
    assert body["prediction"]["confidence"] == round(100 * expected.confidence, 2)
    r = post(url, videos["person"], "/v1/predict", segments="true", top_k=2, progress_id="ray00001")
    assert r.status_code == 200, r.text
    v1 = r.json()
    assert v1["label"] == expected.label and v1["best_label"] in rec.classes
    assert len(v1["top_k"]) == 2 and v1["segments"] and v1["segments"][0]["start_s"] == 0.0
    assert httpx.get(url + "/v1/progress/ray00001").status_code == 404  # finished, cleared
    model = httpx.get(url + "/v1/model").json()
    assert model["classes"] == list(rec.classes)
    assert model["limits"]["workers"] == 1 and model["limits"]["queue_size"] == 0
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok" and health["capacity"] == 1
