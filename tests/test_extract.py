"""Video decoding and MediaPipe Holistic keypoint extraction (``motionscope.video``, ``.pose``).

Videos are generated here with PyAV: a cartoon person drawn with OpenCV (skin-coloured head with
eyes and mouth, filled torso, thick limbs), which MediaPipe detects as a pose in every frame.
The real-data tests use ``../shared/datasets`` and skip when it is absent.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")
mp = pytest.importorskip("mediapipe")

from rich.console import Console  # noqa: E402

from motionscope.cli.extract import extract_command  # noqa: E402
from motionscope.data import load_keypoint_dataset  # noqa: E402
from motionscope.errors import DataError, MotionscopeError  # noqa: E402
from motionscope.keypoints.layout import HOLISTIC  # noqa: E402
from motionscope.pose import ExtractorError, HolisticExtractor, extract_batch  # noqa: E402
from motionscope.pose.batch import REPORT, discover  # noqa: E402
from motionscope.video import VIDEO_SUFFIXES, iter_frames, probe  # noqa: E402

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
W, H = 320, 240

# ---------------------------------------------------------------------------------------------
# Generated videos
# ---------------------------------------------------------------------------------------------


def cartoon(t: int, n: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame ``t`` of ``n`` of a cartoon person waving its right arm (uint8 RGB)."""
    img = np.full((h, w, 3), (200, 220, 235), np.uint8)
    s, cx = h / 240, w // 2
    skin, shirt, pants = (235, 190, 150), (40, 90, 200), (60, 60, 70)

    def p(x: float, y: float) -> tuple[int, int]:
        return int(cx + x * s), int(y * s)

    sh_y, hip_y, r = 95, 165, int(22 * s)
    cv2.rectangle(img, p(-28, sh_y - 8), p(28, hip_y), shirt, -1)  # torso
    cv2.line(img, p(0, 77), p(0, sh_y), skin, int(10 * s))  # neck
    for side in (-1, 1):  # legs
        cv2.line(img, p(15 * side, hip_y), p(22 * side, 205), pants, int(14 * s))
        cv2.line(img, p(22 * side, 205), p(24 * side, 238), pants, int(12 * s))
    cv2.line(img, p(30, sh_y), p(45, 130), shirt, int(12 * s))  # still arm
    cv2.line(img, p(45, 130), p(50, 160), skin, int(10 * s))
    cv2.circle(img, p(50, 160), int(7 * s), skin, -1)
    a = math.sin(2 * math.pi * t / max(n, 1)) * 0.6  # waving arm
    wrist = p(-55 - 30 * math.sin(a), 80 - 30 * math.cos(a))
    cv2.line(img, p(-30, sh_y), p(-55, 80), shirt, int(12 * s))
    cv2.line(img, p(-55, 80), wrist, skin, int(10 * s))
    cv2.circle(img, wrist, int(7 * s), skin, -1)
    head = p(0, 55)
    cv2.circle(img, head, r, skin, -1)
    for ex in (-8, 8):
        cv2.circle(img, p(ex, 50), max(2, int(3 * s)), (20, 20, 20), -1)
    cv2.ellipse(img, p(0, 64), (int(8 * s), int(4 * s)), 0, 0, 180, (150, 40, 40), 2)
    cv2.ellipse(img, p(0, 55 - 0.8 * 22), (r, int(r * 0.5)), 0, 180, 360, (60, 40, 20), -1)
    return img


def write_video(path: Path, frames, *, codec: str = "libx264", fps: int = 25) -> Path:
    frames = list(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12"}
        else:
            stream.bit_rate = 4_000_000
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def cartoon_video(path: Path, n: int = 30, **kw) -> Path:
    return write_video(path, [cartoon(t, n) for t in range(n)], **kw)


COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]  # red, green, blue, white


def colour_frames(n: int) -> list[np.ndarray]:
    return [np.full((H, W, 3), COLOURS[i % 4], np.uint8) for i in range(n)]


def colour_index(frame: np.ndarray) -> int:
    """Which of COLOURS a decoded (lossy) frame is."""
    mean = frame.reshape(-1, 3).mean(0)
    return int(np.argmin([np.abs(mean - c).sum() for c in COLOURS]))


def no_tmp_left(root: Path) -> bool:
    return not list(root.rglob("*.tmp"))


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec,suffix", [("libx264", ".mp4"), ("mpeg4", ".avi")])
def test_decode_count_rgb_order_and_every(tmp_path, codec, suffix):
    path = write_video(tmp_path / f"colours{suffix}", colour_frames(10), codec=codec)
    frames = list(iter_frames(path))
    assert len(frames) == 10
    assert frames[0].dtype == np.uint8 and frames[0].shape == (H, W, 3)
    assert [colour_index(f) for f in frames] == [i % 4 for i in range(10)]  # red first: RGB
    assert frames[0][..., 0].mean() > 200 and frames[0][..., 2].mean() < 50
    kept = list(iter_frames(path, every=3))
    assert [colour_index(f) for f in kept] == [0, 3, 2, 1]  # frames 0, 3, 6, 9

    info = probe(path)
    assert (info.width, info.height, info.frames) == (W, H, 10)
    assert info.fps == pytest.approx(25)
    assert info.duration == pytest.approx(0.4, abs=0.05)
    assert info.codec == {"libx264": "h264", "mpeg4": "mpeg4"}[codec]
    assert not info.is_frame_folder


# The display matrix of a portrait phone video (iPhone, H.264 in .mov/.mp4): the stored pixels
# are landscape and players turn them 90 degrees clockwise ("rotation of -90.00 degrees").
PORTRAIT_PHONE_MATRIX = [0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30]


def write_rotated(path: Path, frames, matrix=None, degrees: float | None = None) -> Path:
    """Like write_video, with a display matrix (raw, or a counter-clockwise rotation)."""
    frames = list(frames)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        if matrix is not None:
            stream.set_display_matrix(matrix)
        if degrees is not None:
            stream.set_display_rotation(degrees)
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def quadrants(frame: np.ndarray) -> list[int]:
    """COLOURS indices of the top-left, top-right, bottom-left, bottom-right quarters."""
    h, w = frame.shape[0] // 2, frame.shape[1] // 2
    return [colour_index(q) for q in (frame[:h, :w], frame[:h, w:], frame[h:, :w], frame[h:, w:])]


def test_display_matrix_rotation_gives_upright_frames(tmp_path):
    h, w = 32, 64  # landscape pixels, as the phone stores them
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = COLOURS[0]  # red top-left
    img[: h // 2, w // 2 :] = COLOURS[1]  # green top-right
    img[h // 2 :, : w // 2] = COLOURS[2]  # blue bottom-left
    img[h // 2 :, w // 2 :] = COLOURS[3]  # white bottom-right
    plain = write_rotated(tmp_path / "plain.mp4", [img] * 3)
    assert quadrants(next(iter_frames(plain))) == [0, 1, 2, 3]
    assert probe(plain).rotation == 0
    # portrait phone video: turned 90 degrees clockwise, blue comes to the top-left
    phone = write_rotated(tmp_path / "phone.mp4", [img] * 3, matrix=PORTRAIT_PHONE_MATRIX)
    frames = list(iter_frames(phone))
    assert len(frames) == 3
    assert frames[0].shape == (w, h, 3) and frames[0].flags["C_CONTIGUOUS"]
    assert quadrants(frames[0]) == [2, 0, 3, 1]
    assert [quadrants(f) for f in iter_frames(phone, every=2)] == [[2, 0, 3, 1]] * 2
    info = probe(phone)
    assert (info.width, info.height, info.rotation) == (h, w, 270)
    # the other turns, written with PyAV's counter-clockwise helper
    for degrees, expected, shape in (
        (90, [1, 3, 0, 2], (w, h, 3)),
        (180, [3, 2, 1, 0], (h, w, 3)),
    ):
        path = write_rotated(tmp_path / f"ccw{degrees}.mp4", [img] * 2, degrees=degrees)
        frame = next(iter_frames(path))
        assert frame.shape == shape and quadrants(frame) == expected, degrees
        assert probe(path).rotation == degrees


def test_a_rotated_phone_video_is_extracted_upright(tmp_path):
    n = 8
    stored = [np.ascontiguousarray(np.rot90(cartoon(t, n), 1)) for t in range(n)]  # sideways
    path = write_rotated(tmp_path / "phone.mp4", stored, matrix=PORTRAIT_PHONE_MATRIX)
    with HolisticExtractor() as ex:
        keypoints, sidecar = ex.extract_video(path)
    assert (sidecar["width"], sidecar["height"], sidecar["rotation"]) == (W, H, 270)
    pose = keypoints[:, :132].reshape(n, 33, 4)
    found = pose[:, :, 3].sum(axis=1) > 0
    assert found.mean() >= 0.75, found
    nose, hips = pose[found, 0, :2], pose[found][:, [23, 24], :2].mean(axis=1)
    assert (nose[:, 1] < hips[:, 1] - 0.2).all()  # head above the hips: upright
    assert np.abs(nose[:, 0] - 0.5).max() < 0.1  # and centred as drawn


def test_frame_folder_is_one_video_in_natural_order(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(colour_frames(12)):
        ext = ".png" if i % 2 else ".jpg"
        cv2.imwrite(str(folder / f"frame{i}{ext}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a frame")
    frames = list(iter_frames(folder))
    # frame2 before frame10 (a plain sort would give frame0, frame1, frame10, frame11, frame2 ...)
    assert [colour_index(f) for f in frames] == [i % 4 for i in range(12)]
    assert [colour_index(f) for f in iter_frames(folder, every=5)] == [0, 1, 2]  # 0, 5, 10
    info = probe(folder)
    assert info.is_frame_folder and info.frames == 12 and (info.width, info.height) == (W, H)


def test_unreadable_videos_raise_data_errors_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    for path in (empty, junk, tmp_path / "missing.mp4"):
        with pytest.raises(DataError, match=path.name):
            list(iter_frames(path))
    with pytest.raises(DataError, match="every"):
        list(iter_frames(junk, every=0))
    assert set(VIDEO_SUFFIXES) == {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v"}


# ---------------------------------------------------------------------------------------------
# One frame, one video
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("complexity", [0, 2])
def test_model_complexity_other_than_1_is_refused(complexity):
    with pytest.raises(ExtractorError, match=r"model_complexity=1.*0\.10\.21"):
        HolisticExtractor(model_complexity=complexity)


def test_process_gives_the_tutorial_layout_and_is_quiet(capfd):
    with HolisticExtractor() as ex:
        vectors = [ex.process(cartoon(t, 5)) for t in range(5)]
        with pytest.raises(DataError, match="uint8"):
            ex.process(cartoon(0, 5).astype(np.float32))
        with pytest.raises(DataError, match="shape"):
            ex.process(cartoon(0, 5)[..., 0])
    err = capfd.readouterr().err
    assert "Feedback manager" not in err and "XNNPACK" not in err, err
    v = vectors[-1]
    assert v.shape == (1662,) and v.dtype == np.float32 and HOLISTIC.width == 1662
    pose = v[:132].reshape(33, 4)
    assert pose.any(), "the cartoon person was not detected"
    assert ((pose[:, 3] >= 0) & (pose[:, 3] <= 1)).all()  # visibility column
    nose_x, nose_y = pose[0, :2]
    assert abs(nose_x - 0.5) < 0.1 and nose_y < 0.4  # head centred, in the upper part
    for block in ("face", "left_hand", "right_hand"):  # a block is all zeros or all filled in
        part = v[HOLISTIC.slice(block)]
        assert not part.any() or np.count_nonzero(part) > part.size // 2


def test_prefetch_keeps_order_raises_errors_in_place_and_cleans_up():
    import threading

    from motionscope.pose.holistic import prefetch

    closed = []

    def source(n: int, fail_at: int | None = None):
        try:
            for i in range(n):
                if i == fail_at:
                    raise DataError(f"broken at frame {i}")
                yield np.full((2, 2, 3), i, np.uint8)
        finally:
            closed.append(threading.current_thread().name)

    assert [int(f[0, 0, 0]) for f in prefetch(source(10), depth=3)] == list(range(10))
    got = []
    with pytest.raises(DataError, match="broken at frame 5"):
        for f in prefetch(source(10, fail_at=5), depth=2):
            got.append(int(f[0, 0, 0]))
    assert got == [0, 1, 2, 3, 4]  # every frame before the error, then the error
    it = prefetch(source(1000), depth=2)
    assert int(next(it)[0, 0, 0]) == 0
    it.close()  # a consumer that stops early (MediaPipe failed): the source is closed too
    assert closed == ["motionscope-decode"] * 3  # closed in the decoding thread, every time
    assert not [t for t in threading.enumerate() if t.name == "motionscope-decode"]


LATE_WARNING = "landmark_projection_calculator"
_LATE_WARNING_SCRIPT = """
import os, sys
import numpy as np
from motionscope.pose import HolisticExtractor
from tests.test_extract import cartoon

ex = HolisticExtractor()
if sys.argv[1] == "no-warm-up":
    ex._warm_up = lambda: None
with ex:
    blank = np.full((240, 320, 3), 200, np.uint8)
    for i, frame in enumerate([blank, blank] + [cartoon(t, 4) for t in range(4)]):
        ex.process(frame)
        os.write(2, f"frame {i} done\\n".encode())  # our own stderr output must get through
    print("pose", bool(ex.process(cartoon(0, 4))[:132].any()))
"""


def test_overlapping_quiet_sections_give_fd_2_back_when_the_last_ends():
    """Two extractors starting, the first one done first: fd 2 stays quiet while the second
    starts, then is what it was before either began (not /dev/null for good)."""
    from motionscope.pose.holistic import quiet_stderr

    def fd2() -> tuple[int, int]:
        st = os.fstat(2)
        return st.st_dev, st.st_ino

    null = os.stat(os.devnull)
    before = fd2()
    a, b = quiet_stderr(), quiet_stderr()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert fd2() == (null.st_dev, null.st_ino)  # b is still starting
    b.__exit__(None, None, None)
    assert fd2() == before


def test_the_first_pose_warning_does_not_leak_after_start_up(tmp_path):
    """MediaPipe warns once per process when it first finds a pose; a video starting without a
    person used to show that warning mid-batch. Fresh processes: the warning is once only."""

    def run(mode: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", _LATE_WARNING_SCRIPT, mode],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            timeout=120,
        )

    warm = run("warm-up")
    assert warm.returncode == 0, warm.stderr
    assert "pose True" in warm.stdout
    assert [f"frame {i} done" for i in range(6)] == [
        line for line in warm.stderr.splitlines() if line.startswith("frame")
    ]
    assert LATE_WARNING not in warm.stderr and "W0000" not in warm.stderr, warm.stderr
    # the control: without the warm-up frame MediaPipe prints it after the blank frames
    cold = run("no-warm-up")
    assert cold.returncode == 0, cold.stderr
    assert LATE_WARNING in cold.stderr.split("frame 1 done")[1], cold.stderr


def test_the_warm_up_frame_shows_a_person():
    from motionscope.pose.holistic import warm_up_frame

    with HolisticExtractor(static_image_mode=True) as ex:
        assert ex.process(warm_up_frame())[:132].any()


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """A small class-folder tree of cartoon videos, extracted once."""
    root = tmp_path_factory.mktemp("batch")
    src, out = root / "videos", root / "keypoints"
    cartoon_video(src / "wave" / "a.mp4", 30)
    cartoon_video(src / "wave" / "b.avi", 20, codec="mpeg4")
    cartoon_video(src / "clap" / "c.mp4", 12)
    report = extract_batch(src, out, workers=1, progress=False)
    return src, out, report


def test_batch_output_mirrors_the_source_tree(batch):
    src, out, report = batch
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "clap",
        "clap/c.json",
        "clap/c.npy",
        REPORT,
        "wave",
        "wave/a.json",
        "wave/a.npy",
        "wave/b.json",
        "wave/b.npy",
    ]
    assert no_tmp_left(out)
    assert report.counts == {"ok": 3, "skipped": 0, "failed": 0, "no-person": 0}
    for name, frames in (("wave/a", 30), ("wave/b", 20), ("clap/c", 12)):
        arr = np.load(out / f"{name}.npy")
        assert arr.shape == (frames, 1662) and arr.dtype == np.float32


def test_sidecar_records_source_detection_and_settings(batch):
    _, out, _ = batch
    meta = json.loads((out / "wave" / "a.json").read_text())
    assert meta["extractor"] == "mediapipe-holistic"
    assert meta["mediapipe_version"] == mp.__version__
    assert meta["status"] == "ok" and meta["frames"] == 30 and meta["source_frames"] == 30
    assert meta["fps"] == pytest.approx(25) and (meta["width"], meta["height"]) == (W, H)
    assert set(meta["detection_rate"]) == {"pose", "face", "left_hand", "right_hand"}
    s = meta["settings"]
    assert s["model_complexity"] == 1 and s["every"] == 1 and not s["static_image_mode"]
    assert s["min_detection_confidence"] == 0.5 and s["min_tracking_confidence"] == 0.5
    assert meta["seconds"] > 0 and len(meta["key"]) == 64
    report = json.loads((out / REPORT).read_text())
    assert {v["status"] for v in report["videos"]} == {"ok"}
    assert report["counts"]["ok"] == 3


def test_the_cartoon_person_is_detected_in_most_frames(batch):
    _, out, report = batch
    for v in report.videos:
        assert v.detection_rate["pose"] >= 0.9, v
    arr = np.load(out / "wave" / "a.npy")
    detected = (arr[:, :132] != 0).any(1)
    assert detected.mean() >= 0.9
    # the waving wrist (the figure's right arm, image left: pose landmark 16) moves, the
    # other one (15) stays put
    wrist_r, wrist_l = arr[detected][:, 16 * 4 : 16 * 4 + 2], arr[detected][:, 15 * 4 : 15 * 4 + 2]
    assert np.ptp(wrist_r[:, 0]) > 2 * np.ptp(wrist_l[:, 0])


def test_batch_output_loads_as_a_keypoint_dataset(batch):
    _, out, _ = batch
    ds = load_keypoint_dataset(out, progress=False)
    assert ds.layout.name == "holistic"
    assert sorted(s.label for s in ds.samples) == ["clap", "wave", "wave"]


def test_rerun_skips_and_changed_settings_reextract(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    cartoon_video(src / "wave" / "a.mp4", 10)
    assert extract_batch(src, out, workers=1, progress=False).counts["ok"] == 1
    npy = out / "wave" / "a.npy"
    stamp = npy.stat().st_mtime_ns

    again = extract_batch(src, out, workers=1, progress=False)
    assert [v.status for v in again.videos] == ["skipped"]
    assert again.videos[0].frames == 10 and again.videos[0].detection_rate["pose"] > 0
    assert npy.stat().st_mtime_ns == stamp

    every2 = extract_batch(src, out, workers=1, every=2, progress=False)
    assert [v.status for v in every2.videos] == ["ok"]
    assert np.load(npy).shape == (5, 1662)
    assert json.loads((out / "wave" / "a.json").read_text())["settings"]["every"] == 2

    cartoon_video(src / "wave" / "a.mp4", 8)  # new content, same name
    assert [
        v.status for v in extract_batch(src, out, every=2, workers=1, progress=False).videos
    ] == ["ok"]
    assert np.load(npy).shape == (4, 1662)


def test_extract_at_a_chosen_frame_rate_runs_mediapipe_only_on_the_frames_it_keeps(
    tmp_path, monkeypatch
):
    src, out = tmp_path / "src", tmp_path / "out"
    cartoon_video(src / "wave" / "a.mp4", 20, fps=30)
    seen = []
    process = HolisticExtractor.process_blocks
    monkeypatch.setattr(
        HolisticExtractor, "process_blocks", lambda self, f: seen.append(1) or process(self, f)
    )
    console = Console(width=200, record=True)
    assert extract_command(src, out, workers=1, fps=15, progress=False, console=console) == 0
    npy, sidecar = out / "wave" / "a.npy", out / "wave" / "a.json"
    meta = json.loads(sidecar.read_text())
    assert np.load(npy).shape == (10, 1662) and meta["frames"] == 10
    assert meta["fps"] == pytest.approx(30) and meta["keypoint_fps"] == 15
    assert meta["settings"]["fps"] == 15
    assert len(seen) == 10  # the 10 dropped frames never reached MediaPipe

    again = extract_batch(src, out, workers=1, fps=15.0, progress=False)
    assert [v.status for v in again.videos] == ["skipped"]
    native = extract_batch(src, out, workers=1, progress=False)  # another rate: re-extracted
    assert [v.status for v in native.videos] == ["ok"] and np.load(npy).shape == (20, 1662)
    assert json.loads(sidecar.read_text())["keypoint_fps"] == pytest.approx(30)

    for bad in (0, -5, float("nan"), "fast"):
        with pytest.raises(DataError, match="fps must be"):
            extract_batch(src, out, workers=1, fps=bad, progress=False)


def test_bad_videos_are_reported_and_do_not_stop_the_batch(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    rng = np.random.default_rng(0)
    (src / "bad").mkdir(parents=True)
    (src / "bad" / "corrupt.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (src / "bad" / "empty.mp4").write_bytes(b"")
    plain = [np.clip(rng.normal(128, 8, (H, W, 3)), 0, 255).astype(np.uint8) for _ in range(8)]
    write_video(src / "bad" / "nobody.mp4", plain)
    whole = cartoon_video(tmp_path / "whole.avi", 30, codec="mpeg4").read_bytes()
    (src / "bad" / "truncated.avi").write_bytes(whole[: int(len(whole) * 0.9)])
    cartoon_video(src / "good" / "a.mp4", 8)

    code = extract_command(src, out, workers=1, every=1, engine="local", progress=False)
    assert code == 1  # some video failed
    printed = capsys.readouterr().out
    assert "failed" in printed and "corrupt.mp4" in printed

    report = json.loads((out / REPORT).read_text())
    by_name = {Path(v["source"]).name: v for v in report["videos"]}
    assert by_name["a.mp4"]["status"] == "ok"
    for name in ("corrupt.mp4", "empty.mp4"):
        assert by_name[name]["status"] == "failed"
        assert name in by_name[name]["error"]
    assert by_name["nobody.mp4"]["status"] == "no-person"
    assert by_name["nobody.mp4"]["frames"] == 8
    assert by_name["nobody.mp4"]["detection_rate"]["pose"] == 0
    trunc = by_name["truncated.avi"]  # FFmpeg decodes what it can; we warn about the rest
    assert trunc["status"] == "failed" or "truncated" in " ".join(trunc["warnings"]), trunc
    # nothing written for failed videos; a sidecar but no sequence for an empty scene
    assert not list(out.glob("bad/corrupt.*")) and not list(out.glob("bad/empty.*"))
    assert (out / "bad" / "nobody.json").exists() and not (out / "bad" / "nobody.npy").exists()
    assert no_tmp_left(out)

    again = {
        Path(v.source).name: v for v in extract_batch(src, out, workers=1, progress=False).videos
    }
    assert again["corrupt.mp4"].status == "failed"  # retried, still bad
    assert again["nobody.mp4"].status == "skipped" and again["a.mp4"].status == "skipped"


def test_interrupted_runs_leave_nothing_half_done(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    cartoon_video(src / "wave" / "a.mp4", 8)
    cartoon_video(src / "wave" / "b.mp4", 8)
    cartoon_video(src / "wave" / "c.mp4", 8)
    extract_batch(src, out, workers=1, progress=False)
    wave = out / "wave"
    good_c = np.load(wave / "c.npy")
    # A crash after the .npy was renamed into place but before the sidecar was: a.npy without
    # a.json, stale temporary files. A crash that damaged b.npy under a valid sidecar.
    (wave / "a.json").unlink()
    (wave / "a.npy.tmp").write_bytes(b"half a file")
    (wave / "a.json.tmp").write_text("{")
    (wave / "b.npy").write_bytes((wave / "b.npy").read_bytes()[:100])

    report = extract_batch(src, out, workers=1, progress=False)
    status = {Path(v.source).name: v.status for v in report.videos}
    assert status == {"a.mp4": "ok", "b.mp4": "ok", "c.mp4": "skipped"}
    assert no_tmp_left(out)
    for name in "abc":
        assert np.load(wave / f"{name}.npy").shape == (8, 1662)
        assert json.loads((wave / f"{name}.json").read_text())["status"] == "ok"
    np.testing.assert_array_equal(np.load(wave / "c.npy"), good_c)


def test_kill_9_mid_batch_then_resume(tmp_path):
    """A real ``kill -9`` while extracting: whatever is on disk is complete or ignored."""
    src, out = tmp_path / "src", tmp_path / "out"
    for name in "abcdef":
        cartoon_video(src / "wave" / f"{name}.mp4", 12)
    code = (
        "from motionscope.pose import extract_batch; "
        f"extract_batch({str(src)!r}, {str(out)!r}, workers=1, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob("wave/*.json")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("the extraction finished before it could be killed")
        time.sleep(0.02)
    time.sleep(0.3)  # somewhere inside a later video
    proc.kill()
    proc.wait()
    done = {p.stem for p in out.glob("wave/*.json")}
    assert done and proc.returncode == -signal.SIGKILL
    for name in done:  # every sidecar written describes a complete sequence
        assert np.load(out / "wave" / f"{name}.npy").shape == (12, 1662)

    report = extract_batch(src, out, workers=1, progress=False)
    status = {Path(v.source).stem: v.status for v in report.videos}
    assert {n for n, s in status.items() if s == "skipped"} == done
    assert all(s in ("ok", "skipped") for s in status.values()), status
    assert no_tmp_left(out)
    assert len(load_keypoint_dataset(out, progress=False)) == 6


def test_worker_processes_give_the_same_result_as_one_process(tmp_path):
    src = tmp_path / "src"
    cartoon_video(src / "wave" / "a.mp4", 10)
    cartoon_video(src / "wave" / "b.mp4", 10)
    one = extract_batch(src, tmp_path / "one", workers=1, progress=False)
    two = extract_batch(src, tmp_path / "two", workers=2, progress=False)
    assert two.workers == 2 and two.counts["ok"] == 2 and one.counts["ok"] == 2
    for name in ("a", "b"):
        np.testing.assert_allclose(
            np.load(tmp_path / "one" / "wave" / f"{name}.npy"),
            np.load(tmp_path / "two" / "wave" / f"{name}.npy"),
            atol=1e-4,
        )


def test_sources_single_file_frame_folder_and_name_clashes(tmp_path):
    video = cartoon_video(tmp_path / "clip.mp4", 6)
    report = extract_batch(video, tmp_path / "out1", workers=1, progress=False)
    assert report.videos[0].output == "clip.npy"
    assert np.load(tmp_path / "out1" / "clip.npy").shape == (6, 1662)

    frames = tmp_path / "fall" / "0"
    frames.mkdir(parents=True)
    for t in range(6):
        cv2.imwrite(str(frames / f"{t}.png"), cv2.cvtColor(cartoon(t, 6), cv2.COLOR_RGB2BGR))
    report = extract_batch(frames, tmp_path / "out2", workers=1, progress=False)
    assert report.videos[0].status == "ok"
    assert np.load(tmp_path / "out2" / "0.npy").shape == (6, 1662)
    # inside a tree, a frame folder is one video named after the folder
    assert [j.rel.as_posix() for j in discover(tmp_path / "fall")] == ["0"]

    clash = tmp_path / "clash"
    for name in ("c/x.mp4", "c/x.avi", "c/y.mkv", "d/e/f/z.webm", ".hidden/h.mp4"):
        (clash / name).parent.mkdir(parents=True, exist_ok=True)
        (clash / name).write_bytes(b"")
    assert [j.rel.as_posix() for j in discover(clash)] == ["c/x.avi", "c/x.mp4", "c/y", "d/e/f/z"]
    (clash / "kp" / "c").mkdir(parents=True)
    (clash / "kp" / "c" / "old.mp4").write_bytes(b"")
    assert "kp/c/old" not in [j.rel.as_posix() for j in discover(clash, clash / "kp")]  # OUT
    with pytest.raises(DataError, match="no videos"):
        discover(tmp_path / "out1")


def test_unknown_engines_are_refused(tmp_path):
    with pytest.raises(MotionscopeError, match="'spark' is not available; use one of local, ray"):
        extract_command(tmp_path, tmp_path / "out", None, 1, "spark", False)
    with pytest.raises(MotionscopeError, match="--ray-address needs --engine ray"):
        extract_command(
            tmp_path, tmp_path / "out", None, 1, "local", False, ray_address="127.0.0.1:6379"
        )


# ---------------------------------------------------------------------------------------------
# Real data (../shared/datasets)
# ---------------------------------------------------------------------------------------------


def shared(name: str) -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} not present (only in CI and dev machines)")
    return SHARED_DATASETS / name


@pytest.mark.slow
@pytest.mark.realdata
def test_kfall_frames_reproduce_the_authors_keypoints():
    """jiro-mk's MP_Data/fall/0/<i>.npy was computed by MediaPipe Holistic (default settings,
    tracking) from the 30 sorted PNGs of train/fall/0. We measured an exact match (median, 95th
    percentile and maximum |difference| of pose x, y all 0.0, same detections per block): same
    pose model, same frames, same order. The tolerance (1e-3 median, 5e-3 at the 95th
    percentile, i.e. under 1 and 3 pixels at 640x480) leaves room for other CPUs' float
    rounding (XNNPACK kernels), which tracking carries from frame to frame."""
    root = shared("kfall-frames-mp-jiromk")
    with HolisticExtractor() as ex:
        ours, meta = ex.extract_video(root / "train" / "fall" / "0")
    theirs = np.stack([np.load(root / "MP_Data" / "fall" / "0" / f"{i}.npy") for i in range(30)])
    assert ours.shape == theirs.shape == (30, 1662)
    for block in ("pose", "face", "left_hand", "right_hand"):
        sl = HOLISTIC.slice(block)
        np.testing.assert_array_equal((ours[:, sl] != 0).any(1), (theirs[:, sl] != 0).any(1))
    po, pt = ours[:, :132].reshape(30, 33, 4), theirs[:, :132].reshape(30, 33, 4)
    both = (po != 0).any(2).all(1) & (pt != 0).any(2).all(1)
    assert both.sum() >= 25
    diff = np.abs(po[both, :, :2] - pt[both, :, :2]).ravel()
    median, p95 = float(np.median(diff)), float(np.percentile(diff, 95))
    print(f"kfall fall/0: {both.sum()} frames, |dx,dy| median {median:.2e}, p95 {p95:.2e}")
    assert median <= 1e-3 and p95 <= 5e-3
    assert meta["frames"] == 30 and meta["width"] == 640 and meta["height"] == 480


@pytest.mark.slow
@pytest.mark.realdata
def test_real_clips_extract_without_errors(tmp_path, record_property):
    """Every clip of mmaction2-samples (240p to 1080p, h264 and mpeg4) and PaddleVideo's
    example.avi: each has a visible person (SOURCE.md). every=5 keeps this near 10 s."""
    mmaction = shared("mmaction2-samples")
    paddle = shared("paddlevideo-samples") / "data" / "example.avi"
    reports = [
        extract_batch(mmaction, tmp_path / "mmaction2", workers=1, every=5, progress=False),
        extract_batch(paddle, tmp_path / "paddle", workers=1, every=5, progress=False),
    ]
    videos = [v for r in reports for v in r.videos]
    assert len(videos) == 8
    rates = {}
    for v in videos:
        assert v.status == "ok", (v.source, v.error)
        rates[os.path.relpath(v.source, SHARED_DATASETS)] = v.detection_rate
    record_property("pose_detection_rates", json.dumps(rates))
    for name, r in rates.items():
        print(f"{name}: " + ", ".join(f"{k} {x:.2f}" for k, x in r.items()))
        assert r["pose"] >= 0.5, name
    demo = np.load(tmp_path / "mmaction2" / "demo" / "demo.npy")
    assert demo.shape == (56, 1662)  # 280 frames, every 5th


def test_sampling_a_rotated_video_gives_the_upright_frames(tmp_path):
    from motionscope.video.sampling import SamplingConfig, sample_clip, sample_frames

    h, w = 32, 64
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = COLOURS[0]
    img[: h // 2, w // 2 :] = COLOURS[1]
    img[h // 2 :, : w // 2] = COLOURS[2]
    img[h // 2 :, w // 2 :] = COLOURS[3]
    phone = write_rotated(tmp_path / "phone.mp4", [img] * 6, matrix=PORTRAIT_PHONE_MATRIX)
    cfg = SamplingConfig(frames=3, size=32, resize=32, flip=False, color_jitter=0.0)
    seeked = sample_clip(phone, cfg)
    full = sample_frames(np.stack(list(iter_frames(phone))), cfg)
    np.testing.assert_array_equal(seeked, full)
    # upright portrait (blue top-left, red top-right); the square crop's top rows are the
    # lower part of the upper half
    assert colour_index(seeked[0][:8, :8]) == 2 and colour_index(seeked[0][:8, -8:]) == 0
