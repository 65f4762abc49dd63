"""Live recognition: frame sources that drop instead of queueing, the streaming recogniser, the
overlay, the video writer and ``motionscope live`` on a file source, headless."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import motionscope
from motionscope.cli import app
from motionscope.data.synth import synth_sequence
from motionscope.errors import DataError
from motionscope.infer.stream import FrameBuffer, StreamRecognizer
from motionscope.keypoints.layout import HOLISTIC, POSE_HANDS, convert
from motionscope.video.capture import FileSource, LatestFrameReader, open_source, parse_source
from motionscope.video.decode import probe, read_frames
from motionscope.video.overlay import draw_overlay, draw_predictions, draw_skeleton
from motionscope.video.synth import render_clip, write_video
from motionscope.video.writer import VideoWriter
from tests.helpers import torch_threads, train_kpnet_bundle

WINDOW = 8


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny kpnet bundle (3 synthetic classes, window 8)."""
    root = tmp_path_factory.mktemp("live")
    return train_kpnet_bundle(
        root, classes=3, per_class=10, frames=16, seed=1, epochs=2, window=WINDOW
    )


@pytest.fixture(scope="module")
def rec(run):
    r = motionscope.load(run)
    yield r
    r.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 24-frame 160x120 synthetic video at 12 fps."""
    path = tmp_path_factory.mktemp("clip") / "wave.mp4"
    frames = render_clip("wave", np.random.default_rng(3), (160, 120), 24, fps=12)
    write_video(path, frames, 12)
    return path


def sequence(n: int, seed: int = 0) -> np.ndarray:
    return synth_sequence("wave", n, np.random.default_rng(seed))


# ---------------------------------------------------------------------------------------------
# Capture


class GatedCamera:
    """A fake device: ``tick(k)`` lets it deliver k more frames (pixel value = frame number)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.made = 0
        self._gate = threading.Semaphore(0)

    def tick(self, k: int = 1) -> None:
        for _ in range(k):
            self._gate.release()

    def grab(self) -> np.ndarray | None:
        if self.made >= self.total:
            return None
        self._gate.acquire()
        img = np.full((4, 6, 3), self.made, np.uint8)
        img[..., 2] = 200  # BGR blue channel: must end up in RGB channel 0
        self.made += 1
        return img


def test_live_reader_hands_a_slow_consumer_the_newest_frame_and_drops_the_rest():
    cam = GatedCamera(total=12)
    src = LatestFrameReader(cam.grab, name="fake camera", bgr=True)
    try:
        seen = []
        # a slow consumer: while it works on one frame the camera delivers `k` more
        for k, expected_drops in ((5, 4), (1, 4), (3, 6), (3, 8)):
            before = src.grabbed
            cam.tick(k)
            assert src.wait_grabbed(before + k, timeout=30)
            frame = src.read(timeout=30)
            seen.append(frame.index)
            assert frame.index == before + k - 1  # the newest, not the oldest
            assert frame.image[0, 0, 1] == frame.index
            assert frame.image[0, 0, 0] == 200  # converted BGR -> RGB
            assert src.dropped == expected_drops
        assert seen == [4, 5, 8, 11]
        assert src.read(timeout=30) is None  # the device ended: no frame is handed out twice
        assert (src.grabbed, src.delivered, src.dropped) == (12, 4, 8)
    finally:
        cam.tick(100)
        src.close()


def test_live_reader_reports_device_errors():
    def broken():
        raise OSError("device unplugged")

    src = LatestFrameReader(broken, name="camera 3", bgr=False)
    with pytest.raises(DataError, match="reading camera 3 failed: device unplugged"):
        src.read(timeout=30)
    src.close()


def test_http_stream_is_read_by_opencv_in_a_thread_keeping_only_the_latest(clip):
    handler = functools.partial(QuietHandler, directory=str(clip.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = open_source(f"http://127.0.0.1:{server.server_address[1]}/{clip.name}")
        assert src.is_live
        src.wait_grabbed(10**6, timeout=60)  # the consumer is slower than the whole stream
        frames = list(src)
        src.close()
    finally:
        server.shutdown()
    assert [f.index for f in frames] == [23]  # only the newest of the 24 frames is delivered
    assert src.dropped == 23
    expected = read_frames(clip)[-1].astype(int)
    assert frames[0].image.shape == (120, 160, 3)
    assert np.abs(frames[0].image.astype(int) - expected).mean() < 3  # RGB, not BGR


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_file_source_gives_every_frame_in_order_with_file_time(clip):
    with open_source(str(clip)) as src:
        frames = list(src)
    assert not src.is_live and src.fps == pytest.approx(12)
    assert [f.index for f in frames] == list(range(24))
    assert [f.t for f in frames] == pytest.approx([i / 12 for i in range(24)])
    np.testing.assert_array_equal(np.stack([f.image for f in frames]), read_frames(clip))
    assert src.dropped == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_realtime_file_waits_when_ahead_and_drops_frames_when_behind(clip):
    # a fast consumer: the file's clock paces it, nothing is dropped
    clock = FakeClock()
    src = FileSource(clip, realtime=True, clock=clock, sleep=clock.sleep)
    assert len(list(src)) == 24 and src.dropped == 0
    assert len(clock.slept) == 23 and sum(clock.slept) == pytest.approx(23 / 12)
    # a consumer needing 2.5 frame times per frame: frames whose time passed are skipped
    clock = FakeClock()
    src = FileSource(clip, realtime=True, clock=clock, sleep=clock.sleep)
    start, got = clock.now, []
    for frame in src:
        got.append((frame.index, clock.now - start))
        clock.now += 2.5 / 12
    assert src.dropped > 0 and len(got) + src.dropped == 24
    assert len(got) < 24 / 2
    for index, now in got:  # each delivered frame was due when it was handed out
        assert index / 12 <= now + 1e-9 and now <= (index + 1) / 12 + 1e-9


def test_sources_that_cannot_be_opened_are_named(tmp_path):
    with pytest.raises(DataError, match="missing.mp4 does not exist"):
        open_source(str(tmp_path / "missing.mp4"))
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(DataError, match="notes.mp4"):
        open_source(str(bad))
    with pytest.raises(DataError, match="cannot open camera 9"):
        open_source("9")
    assert parse_source("0") == 0
    assert parse_source("rtsp://cam.local/live") == "rtsp://cam.local/live"
    assert parse_source("clip.mp4") == Path("clip.mp4")


# ---------------------------------------------------------------------------------------------
# StreamRecognizer


def test_stream_waits_for_a_full_window_then_predicts_every_k_on_the_last_window(rec):
    seq = sequence(20)
    live = rec.stream(every=3, smooth=1)
    assert live.window == WINDOW
    updates = [live.push_keypoints(row, t=i / 10) for i, row in enumerate(seq)]
    made = [u.frame for u in updates if u.predicted]
    assert made == [8, 11, 14, 17, 20]
    assert all(u.label is None for u in updates[: WINDOW - 1])
    assert [u.buffered for u in updates[:10]] == [1, 2, 3, 4, 5, 6, 7, 8, 8, 8]
    for u in updates:
        if u.predicted:  # the ring buffer holds exactly the last W frames, in order
            expected = rec.probabilities([seq[u.frame - WINDOW : u.frame]])[0]
            np.testing.assert_allclose(u.probabilities, expected, atol=1e-6)
            assert u.label == rec.classes[int(np.argmax(expected))]
            assert u.confidence == pytest.approx(float(expected.max()), abs=1e-6)
            assert u.top_k[0][0] == u.label and len(u.top_k) == 3
    # between predictions the last result is repeated
    assert updates[12].label == updates[10].label and not updates[12].predicted
    assert updates[12].t == pytest.approx(1.2)
    np.testing.assert_array_equal(live.buffer(), seq[-WINDOW:])


def test_stream_smooths_over_the_last_n_predictions(rec):
    seq = np.concatenate([sequence(14, 1), synth_sequence("clap", 14, np.random.default_rng(2))])
    live = rec.stream(every=2, smooth=3)
    raw = []
    for i, row in enumerate(seq):
        u = live.push_keypoints(row)
        if u.predicted:
            raw.append(rec.probabilities([seq[i + 1 - WINDOW : i + 1]])[0])
            np.testing.assert_allclose(u.probabilities, np.mean(raw[-3:], axis=0), atol=1e-6)
    assert len(raw) == (len(seq) - WINDOW) // 2 + 1


def test_stream_unknown_threshold_reset_and_input_checks(rec):
    seq = sequence(WINDOW)
    sure = rec.stream(every=1, unknown_threshold=0.0)
    doubtful = rec.stream(every=1, unknown_threshold=1.0)
    for row in seq:
        a, b = sure.push_keypoints(row), doubtful.push_keypoints(row)
    assert a.label in rec.classes and not a.unknown
    assert b.label == "unknown" and b.unknown and b.confidence == pytest.approx(a.confidence)
    rec.unknown_threshold = 1.0  # the recogniser's threshold is the default
    try:
        assert rec.stream().unknown_threshold == 1.0
    finally:
        rec.unknown_threshold = 0.0
    doubtful.reset()
    u = doubtful.push_keypoints(seq[0])
    assert (u.frame, u.buffered, u.label, u.predicted) == (1, 1, None, False)
    with pytest.raises(DataError, match="does not fit this model"):
        sure.push_keypoints(np.zeros(10))
    with pytest.raises(DataError, match="NaN"):
        sure.push_keypoints(np.full(HOLISTIC.width, np.nan))
    with pytest.raises(DataError, match="every must be"):
        rec.stream(every=0)
    d = a.to_dict(keypoints=True)
    assert json.loads(json.dumps(d))["label"] == a.label and len(d["keypoints"]) == 1662


def test_stream_push_runs_holistic_on_frames(rec):
    frames = render_clip("wave", np.random.default_rng(0), (320, 240), 3)
    with rec.stream(every=1) as live:
        updates = [live.push(f, t=i / 15) for i, f in enumerate(frames)]
    u = updates[-1]
    assert u.detections["pose"] and u.layout is HOLISTIC
    assert u.keypoints.shape == (1662,) and u.keypoints[:132].any()
    assert set(u.timings) == {"pose", "model", "total"}
    np.testing.assert_array_equal(live.buffer()[-1], u.keypoints)  # holistic bundle: same
    with pytest.raises(DataError, match="uint8"):
        rec.stream().push(np.zeros((10, 10, 3), np.float32))


class FakeRgbRecognizer:
    """What StreamRecognizer needs of an RGB (``input_kind: frames``) recogniser; its
    'probabilities' encode which frames it was given."""

    window = 4
    fps = None
    layout = None
    classes = ["a", "b"]
    unknown_threshold = 0.0

    def stream_buffer(self, window, extractor=None):
        return FrameBuffer(window, short_side=128)

    def __init__(self) -> None:
        self.seen: list[list[int]] = []

    def probabilities(self, clips: list) -> np.ndarray:
        (clip,) = clips
        ids = [int(f[0, 0, 0]) for f in clip]  # frame i has pixel value i
        self.seen.append(ids)
        p = ids[-1] / 100
        return np.array([[p, 1 - p]], np.float32)


def test_stream_of_an_rgb_model_buffers_frames_and_skips_mediapipe():
    fake = FakeRgbRecognizer()
    live = StreamRecognizer(fake, every=2, smooth=1)
    frames = [np.full((6, 8, 3), i, np.uint8) for i in range(9)]
    updates = [live.push(f) for f in frames]
    assert fake.seen == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]
    assert [u.frame for u in updates if u.predicted] == [4, 6, 8]
    u = updates[7]
    assert u.keypoints is None and u.layout is None and u.timings["pose"] == 0
    assert u.label == "b" and u.confidence == pytest.approx(0.93)
    assert live.buffer().shape == (4, 6, 8, 3) and isinstance(live._source, FrameBuffer)
    frames[8][:] = 99  # the caller reusing its frame buffer does not change what was pushed
    assert live.buffer()[-1, 0, 0, 0] == 8
    with pytest.raises(DataError, match="RGB model"):
        live.push_keypoints(np.zeros(1662))
    with pytest.raises(DataError, match="frame size changed"):
        live.push(np.zeros((4, 4, 3), np.uint8))


# ---------------------------------------------------------------------------------------------
# Overlay and writer


def test_overlay_draws_skeleton_label_bars_and_fps_without_touching_the_input():
    frame = np.full((240, 320, 3), 40, np.uint8)
    original = frame.copy()
    vec = sequence(2, 5)[0]
    out = draw_overlay(
        frame,
        keypoints=vec,
        label="wave",
        confidence=0.8,
        top_k=[("wave", 0.8), ("clap", 0.2)],
        classes=["clap", "wave"],
        fps=24.5,
    )
    np.testing.assert_array_equal(frame, original)
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    # the shoulder line (pose landmarks 11-12) is drawn between the two shoulders
    pose = vec[:132].reshape(33, 4)
    mid = ((pose[11, :2] + pose[12, :2]) / 2 * [320, 240]).round().astype(int)
    assert changed[mid[1] - 2 : mid[1] + 3, mid[0] - 2 : mid[0] + 3].any()
    assert changed[:40, :100].any()  # label panel, top left
    assert changed[:20, -60:].any()  # FPS, top right
    # bars: the 0.8 bar is about four times as long as the 0.2 bar
    bars = draw_predictions(
        np.zeros((480, 640, 3), np.uint8),
        label="wave",
        top_k=[("wave", 0.8), ("clap", 0.2)],
        classes=["clap", "wave"],
    )
    wave_colour, clap_colour = (245, 117, 16), (66, 135, 245)  # palette entries 1 and 0

    def bar_end(colour) -> int:
        return int(np.nonzero(np.all(bars == colour, axis=2))[1].max())

    left = int(np.nonzero(np.all(bars == wave_colour, axis=2))[1].min())
    ratio = (bar_end(wave_colour) + 1 - left) / (bar_end(clap_colour) + 1 - left)
    assert ratio == pytest.approx(4.0, rel=0.05)


def test_skeleton_only_where_landmarks_were_detected():
    frame = np.zeros((120, 160, 3), np.uint8)
    np.testing.assert_array_equal(draw_skeleton(frame, np.zeros(1662, np.float32)), frame)
    vec = sequence(2, 6)[0]
    small = convert(vec[None], HOLISTIC, POSE_HANDS)[0]  # other layouts draw the same lines
    np.testing.assert_array_equal(
        draw_skeleton(frame, small, POSE_HANDS), draw_skeleton(frame, vec, HOLISTIC)
    )
    assert draw_skeleton(frame, vec).any()


def test_video_writer_is_atomic_and_playable(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, fps=10) as w:
        w.write(np.zeros((121, 161, 3), np.uint8))
        raise RuntimeError("stop")
    assert not path.exists() and not list(tmp_path.iterdir())  # nothing half-written left
    with VideoWriter(path, fps=10) as w:
        for i in range(6):
            w.write(np.full((121, 161, 3), 40 * i, np.uint8), t=i * 0.2)
    info = probe(path)
    assert (info.frames, info.width, info.height) == (6, 160, 120)  # cropped to even sides
    assert info.duration == pytest.approx(1.2, abs=0.21)  # timestamps kept (5 fps of content)
    with pytest.raises(DataError, match="suffix"):
        VideoWriter(tmp_path / "out.gif")


# ---------------------------------------------------------------------------------------------
# motionscope live


def test_live_on_a_file_headless_writes_an_annotated_video_and_a_log(run, clip, tmp_path):
    out, log = tmp_path / "annotated.mp4", tmp_path / "log.jsonl"
    args = ["live", str(run), "--source", str(clip), "--no-display", "--every", "3"]
    result = CliRunner().invoke(app, [*args, "--output", str(out), "--log", str(log)])
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.frames, info.width, info.height) == (24, 160, 120)
    annotated, source = read_frames(out), read_frames(clip)
    assert annotated.shape == source.shape
    assert np.abs(annotated[:, :30].astype(int) - source[:, :30]).mean() > 5  # panel drawn
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["frame"] for r in rows] == [8, 11, 14, 17, 20, 23]
    assert [r["source_frame"] for r in rows] == [7, 10, 13, 16, 19, 22]
    classes = motionscope.load(run).classes
    assert all(r["label"] in [*classes, "unknown"] and r["predicted"] for r in rows)
    assert "24 frames" in result.output and "6 predictions" in result.output


def test_live_without_a_display_falls_back_to_headless_defaults(run, clip, tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    args = ["live", str(run), "--source", str(clip), "--max-frames", "10", "--every", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "annotated.mp4").frames == 10
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 10 - WINDOW + 1
    bad = CliRunner().invoke(app, ["live", str(run), "--source", "missing.mp4", "--no-display"])
    assert bad.exit_code == 2 and "missing.mp4 does not exist" in bad.output
