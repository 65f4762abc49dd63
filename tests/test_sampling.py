"""Frame sampling for RGB models: indices, transforms, determinism and seeking decoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionscope.errors import DataError, MotionscopeError
from motionscope.video import seek as S
from motionscope.video.decode import read_frames
from motionscope.video.sampling import (
    SamplingConfig,
    count_frames,
    frame_indices,
    read_frames_at,
    sample_clip,
    sample_frames,
    transform_frames,
)
from motionscope.video.synth import render_clip, write_synthetic_videos

W, H = 96, 72


def _clip(n: int, seed: int = 0) -> np.ndarray:
    return render_clip("wave", np.random.default_rng(seed), (W, H), n)


def _encode(path: Path, frames: np.ndarray, codec: str, gop: int, fmt: str | None = None) -> Path:
    """Encode with a key frame every ``gop`` frames (x264 with B-frames)."""
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=15)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        s.codec_context.gop_size = gop
        s.codec_context.thread_count = 1
        if codec == "libx264":
            s.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=2"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Synthetic clips (30 frames, key frame every 4) in several containers and codecs."""
    root = tmp_path_factory.mktemp("sampling")
    clip = _clip(30)
    return {
        "mp4": _encode(root / "h264.mp4", clip, "libx264", 4),
        "avi": _encode(root / "mpeg4.avi", clip, "mpeg4", 4),
        "mkv": _encode(root / "mpeg4.mkv", clip, "mpeg4", 4),
        "mpg": _encode(root / "mpeg2.mpg", clip, "mpeg2video", 4, fmt="mpeg"),
    }


# ---------------------------------------------------------------------------------------------
# Config


def test_config_round_trip_and_errors():
    cfg = SamplingConfig(frames=8, mode="segment", size=64, resize=72, flip=False, color_jitter=0)
    assert SamplingConfig.from_dict(cfg.to_dict()) == cfg
    assert SamplingConfig.from_dict({}) == SamplingConfig()
    with pytest.raises(MotionscopeError, match="unknown sampling settings.*'fps'"):
        SamplingConfig.from_dict({"frames": 8, "fps": 10})
    for bad, match in (
        ({"frames": 0}, "frames"),
        ({"mode": "random"}, "mode"),
        ({"size": 128, "resize": 112}, "resize"),
        ({"color_jitter": 1.5}, "color_jitter"),
        ({"frames": 2.5}, "frames"),
    ):
        with pytest.raises(MotionscopeError, match=match):
            SamplingConfig(**bad)


# ---------------------------------------------------------------------------------------------
# Which frames


@pytest.mark.parametrize("n", [1, 3, 16, 17, 100, 1000])
def test_uniform_indices_span_the_clip_evenly(n):
    cfg = SamplingConfig(frames=16, mode="uniform")
    idx = frame_indices(n, cfg, train=False, rng=None)
    assert idx.shape == (16,) and idx.dtype == np.int64
    assert idx[0] == 0 and idx[-1] == n - 1
    assert (np.diff(idx) >= 0).all()
    if n >= 16:
        assert len(set(idx.tolist())) == 16  # no repeats when the clip is long enough
        gaps = np.diff(idx)
        assert gaps.max() - gaps.min() <= 1
    else:
        assert set(idx.tolist()) == set(range(n))  # a short clip: every frame, some repeated
    # uniform does not depend on training randomness
    train = frame_indices(n, cfg, train=True, rng=np.random.default_rng(5))
    assert np.array_equal(idx, train)


@pytest.mark.parametrize("n", [2, 5, 16, 40, 333])
def test_segment_indices_one_per_segment(n):
    k = 8
    cfg = SamplingConfig(frames=k, mode="segment")
    edges = np.linspace(0, n, k + 1)
    ev = frame_indices(n, cfg, train=False, rng=np.random.default_rng(1))
    assert np.array_equal(ev, frame_indices(n, cfg, train=False, rng=None))  # rng ignored
    assert np.array_equal(ev, np.clip(np.floor((edges[:-1] + edges[1:]) / 2), 0, n - 1))
    draws = []
    for seed in range(20):
        idx = frame_indices(n, cfg, train=True, rng=np.random.default_rng(seed))
        assert (np.diff(idx) >= 0).all() and idx.min() >= 0 and idx.max() <= n - 1
        # every index lies in its own segment
        assert (idx >= np.floor(edges[:-1])).all() and (idx <= np.ceil(edges[1:]) - 1).all()
        draws.append(idx)
    same = frame_indices(n, cfg, train=True, rng=np.random.default_rng(3))
    assert np.array_equal(same, draws[3])
    if n >= 2 * k:
        assert len({tuple(d) for d in draws}) > 5  # random offsets in training
    if n < k:
        assert set(ev.tolist()) <= set(range(n))


def test_indices_of_an_empty_clip_are_an_error():
    with pytest.raises(DataError, match="at least 1 frame"):
        frame_indices(0, SamplingConfig(), train=False, rng=None)


# ---------------------------------------------------------------------------------------------
# How they look


def test_transform_resizes_and_centre_crops_in_evaluation():
    frames = _clip(4)  # 96x72
    cfg = SamplingConfig(frames=4, size=48, resize=60)
    out = transform_frames(frames, cfg, train=False, rng=None)
    assert out.shape == (4, 48, 48, 3) and out.dtype == np.uint8
    import cv2

    resized = cv2.resize(frames[2], (80, 60), interpolation=cv2.INTER_AREA)  # short side 60
    assert np.array_equal(out[2], resized[6:54, 16:64])


def test_transform_flip_and_jitter_in_training_only():
    square = _clip(3)[:, :, 12:84]  # 72x72: with resize == size the crop is fixed
    plain = SamplingConfig(frames=3, size=72, resize=72, flip=True, color_jitter=0.0)
    ev = transform_frames(square, plain, train=False, rng=None)
    assert np.array_equal(ev, square)
    outs = [
        transform_frames(square, plain, train=True, rng=np.random.default_rng(s)) for s in range(12)
    ]
    flipped = [np.array_equal(o, square[:, :, ::-1]) for o in outs]
    unflipped = [np.array_equal(o, square) for o in outs]
    assert all(a or b for a, b in zip(flipped, unflipped, strict=True))
    assert any(flipped) and any(unflipped)
    no_flip = SamplingConfig(frames=3, size=72, resize=72, flip=False, color_jitter=0.0)
    assert np.array_equal(transform_frames(square, no_flip, train=True, rng=None), square)
    jitter = SamplingConfig(frames=3, size=72, resize=72, flip=False, color_jitter=0.4)
    j = transform_frames(square, jitter, train=True, rng=np.random.default_rng(0))
    assert j.shape == square.shape and not np.array_equal(j, square)
    diff = np.abs(j.astype(int) - square.astype(int)).mean()
    assert 0 < diff < 80


def test_random_crop_stays_inside_and_varies():
    frames = _clip(2)
    cfg = SamplingConfig(frames=2, size=32, resize=48, flip=False, color_jitter=0.0)
    crops = {
        transform_frames(frames, cfg, train=True, rng=np.random.default_rng(s)).tobytes()
        for s in range(10)
    }
    assert len(crops) > 3


def test_sample_frames_determinism():
    frames = _clip(20)
    cfg = SamplingConfig(frames=6, mode="segment", size=48, resize=56)
    a = sample_frames(frames, cfg)
    assert a.shape == (6, 48, 48, 3)
    assert np.array_equal(a, sample_frames(frames, cfg))
    t1 = sample_frames(frames, cfg, train=True, rng=np.random.default_rng(7))
    t2 = sample_frames(frames, cfg, train=True, rng=np.random.default_rng(7))
    t3 = sample_frames(frames, cfg, train=True, rng=np.random.default_rng(8))
    assert np.array_equal(t1, t2)
    assert not np.array_equal(t1, t3)
    with pytest.raises(DataError, match="uint8"):
        sample_frames(frames.astype(np.float32), cfg)
    with pytest.raises(DataError, match="no frames"):
        sample_frames(frames[:0], cfg)


# ---------------------------------------------------------------------------------------------
# Decoding: seeking must give exactly the frames of a full decode


class _Counter:
    """Counts frames the seeking reader decodes; fails the test on a whole-clip fallback."""

    def __init__(self, monkeypatch, *, allow_fallback: bool = False):
        self.decoded = 0
        self.seeks = 0
        run = S._run

        def counting_run(container, stream, index, key, *, seek=True):
            self.seeks += int(seek)
            for item in run(container, stream, index, key, seek=seek):
                self.decoded += 1
                yield item

        monkeypatch.setattr(S, "_run", counting_run)
        if not allow_fallback:

            def no_fallback(*a, **k):
                raise AssertionError("fell back to decoding the whole clip")

            monkeypatch.setattr(S, "_all_frames", no_fallback)
            monkeypatch.setattr(S, "_decode_in_order", no_fallback)


@pytest.mark.parametrize("kind", ["mp4", "avi", "mkv"])
def test_seeking_equals_full_decode(videos, kind, monkeypatch):
    path = videos[kind]
    full = read_frames(path)
    n = len(full)
    index = S._index_video(path)
    assert index is not None and index.seekable
    assert index.keys == list(range(0, n, 4))  # the key frame interval the file was written with
    assert count_frames(path) == n
    counter = _Counter(monkeypatch)
    rng = np.random.default_rng(0)
    for idx in ([n - 1], [0], [5, 6, 7], [1, 13, 13, 29, 2], rng.integers(0, n, 9), range(n)):
        got = read_frames_at(path, idx)
        assert np.array_equal(got, full[np.asarray(list(idx))]), (kind, idx)
    # it sought: the last frame alone costs at most one key-frame interval of decoding
    counter.decoded = counter.seeks = 0
    read_frames_at(path, [n - 1])
    assert counter.seeks == 1 and counter.decoded <= 4
    counter.decoded = 0
    read_frames_at(path, [2, 17, 26])
    assert counter.decoded < n // 2


def test_mpeg_ps_reads_from_the_start_and_stops_early(videos, monkeypatch):
    """MPEG-PS timestamps shift after a seek (measured), so .mpg (UCF11) is read without seeking,
    still decoding only up to the last wanted frame."""
    path = videos["mpg"]
    full = read_frames(path)
    index = S._index_video(path)
    assert index is not None and not index.seekable
    counter = _Counter(monkeypatch)
    for idx in ([3, 9], [0, 29], [7, 7, 7]):
        assert np.array_equal(read_frames_at(path, idx), full[idx])
    counter.decoded = 0
    read_frames_at(path, [3, 9])
    assert counter.seeks == 0 and counter.decoded <= 12


def test_sample_clip_equals_sampling_the_full_decode(videos):
    for kind in ("mp4", "avi", "mpg"):
        path = videos[kind]
        full = read_frames(path)
        for mode in ("uniform", "segment"):
            cfg = SamplingConfig(frames=8, mode=mode, size=48, resize=56)
            ev = sample_clip(path, cfg)
            assert ev.shape == (8, 48, 48, 3)
            assert np.array_equal(ev, sample_clip(path, cfg))
            assert np.array_equal(ev, sample_frames(full, cfg))
            t1 = sample_clip(path, cfg, train=True, rng=np.random.default_rng(4))
            t2 = sample_clip(path, cfg, train=True, rng=np.random.default_rng(4))
            t3 = sample_clip(path, cfg, train=True, rng=np.random.default_rng(5))
            assert np.array_equal(t1, t2) and not np.array_equal(t1, t3)
            ref = sample_frames(full, cfg, train=True, rng=np.random.default_rng(4))
            assert np.array_equal(t1, ref)


def test_fallback_gives_the_same_clip(videos, monkeypatch):
    """A video whose packets give no usable index is decoded whole, with the same result."""
    path = videos["mp4"]
    cfg = SamplingConfig(frames=5, mode="segment", size=48, resize=56)
    want_ev = sample_clip(path, cfg)
    want_tr = sample_clip(path, cfg, train=True, rng=np.random.default_rng(9))
    monkeypatch.setattr(S, "_index_video", lambda p: None)
    assert np.array_equal(sample_clip(path, cfg), want_ev)
    assert np.array_equal(sample_clip(path, cfg, train=True, rng=np.random.default_rng(9)), want_tr)
    assert np.array_equal(read_frames_at(path, [4, 1]), read_frames(path)[[4, 1]])


def test_a_failed_seek_falls_back_with_the_same_random_draws(videos, monkeypatch):
    path = videos["mp4"]
    cfg = SamplingConfig(frames=5, mode="segment", size=48, resize=56)
    want = sample_clip(path, cfg, train=True, rng=np.random.default_rng(2))

    def broken(*a, **k):
        raise S._CannotSeek("test")

    monkeypatch.setattr(S, "_indexed_frames", broken)
    got = sample_clip(path, cfg, train=True, rng=np.random.default_rng(2))
    assert np.array_equal(got, want)


def test_synthetic_dataset_videos(tmp_path):
    """Clips of ``write_synthetic_videos`` (x264 defaults: one key frame in a 1 s clip)."""
    write_synthetic_videos(tmp_path / "v", classes=2, per_class=1, size=(W, H), seconds=1.0)
    path = tmp_path / "v" / "wave" / "0.mp4"
    full = read_frames(path)
    index = S._index_video(path)
    assert index is not None and index.keys == [0] and len(index.pts) == len(full) == 15
    idx = [0, 7, 7, 14, 3]
    assert np.array_equal(read_frames_at(path, idx), full[idx])
    cfg = SamplingConfig(frames=16, size=64, resize=72)
    assert np.array_equal(sample_clip(path, cfg), sample_frames(full, cfg))


def test_short_clip_repeats_frames(tmp_path):
    clip = _clip(3)
    path = _encode(tmp_path / "short.mp4", clip, "libx264", 4)
    cfg = SamplingConfig(frames=8, size=48, resize=56)
    full = read_frames(path)
    assert len(full) == 3
    for mode in ("uniform", "segment"):
        c = SamplingConfig(**{**cfg.to_dict(), "mode": mode})
        out = sample_clip(path, c)
        each = transform_frames(full, c, train=False, rng=None)
        assert out.shape == (8, 48, 48, 3)
        matches = [next(i for i in range(3) if np.array_equal(f, each[i])) for f in out]
        assert matches == sorted(matches) and set(matches) == {0, 1, 2}


def test_frame_folder(tmp_path):
    import cv2

    clip = _clip(7)
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, f in enumerate(clip):  # natural order: 2.png before 10.png
        cv2.imwrite(str(folder / f"frame{i * 5}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    assert count_frames(folder) == 7
    assert np.array_equal(read_frames_at(folder, [6, 0, 2]), clip[[6, 0, 2]])
    cfg = SamplingConfig(frames=4, mode="segment", size=48, resize=56)
    assert np.array_equal(sample_clip(folder, cfg), sample_frames(clip, cfg))
    t = sample_clip(folder, cfg, train=True, rng=np.random.default_rng(1))
    assert np.array_equal(t, sample_frames(clip, cfg, train=True, rng=np.random.default_rng(1)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty"):
        sample_clip(empty, cfg)


def test_unreadable_and_empty_videos_name_the_file(tmp_path):
    import av

    cfg = SamplingConfig(frames=4, size=48, resize=56)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    no_frames = tmp_path / "no_frames.avi"  # a valid AVI with a video stream and 0 frames
    c = av.open(str(no_frames), "w")
    s = c.add_stream("mpeg4", rate=15)
    s.width, s.height, s.pix_fmt = W, H, "yuv420p"
    c.start_encoding()
    c.close()
    for path in (empty, junk, no_frames, tmp_path / "missing.mp4"):
        with pytest.raises(DataError, match=path.name):
            sample_clip(path, cfg)
        with pytest.raises(DataError, match=path.name):
            read_frames_at(path, [0])
    with pytest.raises(DataError, match="no decodable"):
        sample_clip(no_frames, cfg)


def test_out_of_range_indices(videos):
    with pytest.raises(DataError, match="out of range"):
        read_frames_at(videos["mp4"], [0, 30])


def test_real_clips_seek_exactly(shared_datasets, monkeypatch):
    """Real encoders: demo.mp4 (H.264 with B-frames, 4 key frames) seeks; test.avi (MPEG-4 in
    AVI with packed B-frames, whose guessed timestamps are not in display order) is decoded in
    order. Both must give the frames of a full decode."""
    root = shared_datasets / "mmaction2-samples"
    demo = root / "demo" / "demo.mp4"
    full = read_frames(demo)
    counter = _Counter(monkeypatch)
    idx = [0, 100, 190, 191, 231, 279]
    assert np.array_equal(read_frames_at(demo, idx), full[idx])
    assert counter.seeks >= 2 and counter.decoded < len(full)
    monkeypatch.undo()
    avi = root / "tests" / "data" / "test.avi"
    full = read_frames(avi)
    idx = [0, 1, 2, 3, 50, 163]
    assert np.array_equal(read_frames_at(avi, idx), full[idx])
    cfg = SamplingConfig(frames=8, mode="segment")
    assert np.array_equal(sample_clip(avi, cfg), sample_frames(full, cfg))
