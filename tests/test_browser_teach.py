"""The Teach tab in a real browser: record 2 actions x 5 examples, train, recognise both live.

``motionscope studio DIR`` runs as a real process (no bundle). Chromium's fake camera plays one
``.y4m`` file in a loop, so the browser is launched once per action, each time with a clip of a
synthetic person doing that action: examples of "wave" are recorded with the wave camera, of
"squat" with the squat camera, then "Train" is pressed, and "Try it" must show "squat" on the
squat camera and, in a browser relaunched with the wave camera, "wave". Screenshots go to
``test-artifacts/browser/`` (see tests/test_browser.py).

Skipped, with the reason, when ``/usr/bin/chromium`` or ``playwright`` is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian chromium not installed at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )
pytest.importorskip("playwright", reason="needs playwright (the dev extra); no browser download")
pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from motionscope.video.synth import render_clip, sample_rng  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.test_browser import artifacts_dir, camera_browser, write_y4m  # noqa: E402

pytestmark = pytest.mark.slow

TIMEOUT_MS = 120_000  # a loaded 2-core machine runs MediaPipe slowly; never a timing assertion
ACTIONS = ("wave", "squat")
EXAMPLES = 5
FRAMES = 8


def camera_clip(action: str, root: Path) -> Path:
    """A y4m of one synthetic person doing ``action`` (Chromium loops it)."""
    clip = render_clip(action, sample_rng(11, ACTIONS.index(action), 0), (320, 240), 45, fps=15)
    return write_y4m(root / f"{action}.y4m", np.asarray(clip), 15)


@contextmanager
def studio(folder: Path, log_path: Path):
    """``motionscope studio DIR`` on a free loopback port."""
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "motionscope.cli", "studio", str(folder), "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    env = dict(os.environ)  # a relative PYTHONPATH (PYTHONPATH=src) must survive the new cwd
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(x).resolve()) for x in paths if x)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder.parent, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail(f"studio exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if json.load(r)["status"] == "ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("studio did not answer /health")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@contextmanager
def camera_page(p, y4m: Path, url: str):
    """A browser whose fake camera plays ``y4m``, and a page of the app at ``url``."""
    with camera_browser(p, y4m) as browser:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.grant_permissions(["camera"], origin=url)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        yield page
        assert errors == [], errors


def record(page, action: str) -> None:
    card = page.locator(f'.teach-action[data-action="{action}"]')
    expect(card.locator(".teach-record")).to_be_enabled(timeout=TIMEOUT_MS)
    card.locator(".teach-record").click()
    expect(card.locator(".teach-example")).to_have_count(EXAMPLES, timeout=TIMEOUT_MS)


def live_label_is(page, action: str) -> None:
    page.wait_for_function(
        "(name) => (document.getElementById('live-label').textContent || '')"
        ".startsWith(name + ' ')",
        arg=action,
        timeout=TIMEOUT_MS,
    )


def test_teach_two_actions_in_the_browser_then_recognise_them_live(tmp_path):
    cams = {a: camera_clip(a, tmp_path) for a in ACTIONS}
    folder = tmp_path / "taught"
    with studio(folder, tmp_path / "studio.log") as url, sync_playwright() as p:
        with camera_page(p, cams["wave"], url) as page:
            # no model yet: the page opens on the Teach tab
            expect(page.locator("#panel-teach")).to_be_visible()
            expect(page.locator("#model-badge")).to_contain_text("no model yet")
            for action in ACTIONS:
                page.fill("#teach-name", action)
                page.click("#teach-add button[type=submit]")
                expect(page.locator(f'.teach-action[data-action="{action}"]')).to_be_visible()
            page.fill("#teach-frames", str(FRAMES))
            page.fill("#teach-countdown", "0")
            page.fill("#teach-repeat", str(EXAMPLES))
            page.click("#teach-camera-start")
            record(page, "wave")
            # delete a bad one, record one more
            wave = page.locator('.teach-action[data-action="wave"]')
            wave.locator(".teach-example .teach-x").first.click()
            expect(wave.locator(".teach-example")).to_have_count(EXAMPLES - 1)
            page.fill("#teach-repeat", "1")
            record(page, "wave")
            page.fill("#teach-repeat", str(EXAMPLES))
            page.screenshot(path=str(artifacts_dir() / "teach-recorded.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})  # a phone
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"the Teach tab scrolls sideways on a phone by {overflow} px"
            page.screenshot(path=str(artifacts_dir() / "teach-phone.png"), full_page=True)
        with camera_page(p, cams["squat"], url) as page:
            page.fill("#teach-frames", str(FRAMES))
            page.fill("#teach-countdown", "0")
            page.fill("#teach-repeat", str(EXAMPLES))
            page.click("#teach-camera-start")
            record(page, "squat")
            # every example shows its skeleton preview and detection rate
            caption = page.locator(".teach-example figcaption").first.inner_text()
            assert "pose" in caption and "%" in caption
            page.click("#teach-train")
            expect(page.locator("#teach-status")).to_contain_text("epoch", timeout=TIMEOUT_MS)
            expect(page.locator("#teach-status")).to_have_attribute(
                "data-state", "done", timeout=TIMEOUT_MS
            )
            page.screenshot(path=str(artifacts_dir() / "teach-trained.png"), full_page=True)
            page.click("#teach-try")
            expect(page.locator("#panel-live")).to_be_visible()
            live_label_is(page, "squat")
            expect(page.locator("#model-badge")).to_contain_text("model-1")
            page.screenshot(path=str(artifacts_dir() / "teach-live-squat.png"))
        with camera_page(p, cams["wave"], url) as page:
            page.click("#tab-live")
            page.click("#live-start")
            live_label_is(page, "wave")
    # the examples are the project's dataset layout, and the bundle is beside it
    numbers = {"wave": range(1, EXAMPLES + 1), "squat": range(EXAMPLES)}  # wave/0 was deleted
    for action in ACTIONS:
        found = sorted(int(q.stem) for q in (folder / action).glob("*.npy"))
        assert found == list(numbers[action])
        assert np.load(folder / action / f"{found[0]}.npy").shape == (FRAMES, 1662)
    assert not list(folder.rglob("*.tmp"))
    assert (tmp_path / "taught-runs" / "model-1" / "config.json").is_file()
