"""Long sequences as a timeline: windows, smoothing, per-frame labels, segments, the CLI."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import motionscope
from motionscope.cli import app
from motionscope.data.synth import synth_sequence
from motionscope.errors import DataError
from motionscope.infer.segment import (
    UNKNOWN,
    Segment,
    absorb_short,
    build_timeline,
    frame_probabilities,
    smooth_probabilities,
    window_starts,
)
from tests.helpers import train_kpnet_bundle

FPS = 15.0

# ---------------------------------------------------------------------------------------------
# The steps, on hand-made probabilities
# ---------------------------------------------------------------------------------------------


def test_window_starts_cover_every_frame():
    s = window_starts(100, 30, 7)
    assert s[0] == 0 and s[-1] == 70 and np.all(np.diff(s) <= 7)
    assert list(window_starts(20, 30, 7)) == [0]  # shorter than a window: one window
    assert list(window_starts(30, 30, 7)) == [0]
    with pytest.raises(DataError):
        window_starts(0, 30, 7)
    with pytest.raises(DataError):
        window_starts(10, 30, 0)


def test_smoothing_is_a_centred_moving_average():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    s = smooth_probabilities(p, 3)
    np.testing.assert_allclose(s[1], [2 / 3, 1 / 3])
    np.testing.assert_allclose(s[0], [0.5, 0.5])  # shorter at the ends
    np.testing.assert_allclose(s.sum(1), 1.0)
    np.testing.assert_array_equal(smooth_probabilities(p, 1), p)


def test_frame_probabilities_average_the_covering_windows():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    fp = frame_probabilities(probs, np.array([0, 2]), 4, 6)
    np.testing.assert_allclose(fp[:, 0], [1, 1, 0.5, 0.5, 0, 0])


def test_short_runs_are_absorbed_by_the_more_probable_neighbour():
    fp = np.zeros((30, 3))
    fp[:, 0] = 0.2
    fp[:, 1] = 0.3
    runs = [[0, 10, 0], [10, 12, 2], [12, 30, 1]]
    assert absorb_short(runs, fp, 5) == [[0, 10, 0], [10, 30, 1]]
    assert absorb_short([[0, 10, 0], [10, 12, 2], [12, 30, 0]], fp, 5) == [[0, 30, 0]]
    # an unknown neighbour takes a short run only when it is the only choice
    assert absorb_short([[0, 10, -1], [10, 12, 2], [12, 30, 1]], fp, 5)[0] == [0, 10, -1]
    assert absorb_short([[0, 10, -1], [10, 12, 2], [12, 30, -1]], fp, 5) == [[0, 30, -1]]
    assert absorb_short([[0, 2, 1]], fp, 5) == [[0, 2, 1]]  # a lone run stays


def _window_probs(starts, window, truth, classes, sure=0.9):
    """Probabilities of windows over a frame labelling ``truth``: the mean over the window's
    frames of ``sure`` on the frame's class (flat on ``"unknown"`` frames)."""
    k = len(classes)
    per_frame = np.full((len(truth), k), 1 / k)
    for j, c in enumerate(classes):
        per_frame[truth == c] = (1 - sure) / (k - 1)
        per_frame[truth == c, j] = sure
    return np.array([per_frame[s : s + window].mean(0) for s in starts])


def test_build_timeline_finds_the_boundaries_and_unknown_stretches():
    classes = ["a", "b", "c"]
    truth = np.array(["a"] * 60 + ["b"] * 45 + [UNKNOWN] * 60 + ["c"] * 75)
    starts = window_starts(len(truth), 20, 5)
    probs = _window_probs(starts, 20, truth, classes)
    tl = build_timeline(probs, starts, window=20, stride=5, n_frames=len(truth), fps=FPS,
                        classes=classes, unknown_threshold=0.6, smooth=3,
                        min_segment_s=0.5)  # fmt: skip
    assert [s.label for s in tl.segments] == ["a", "b", UNKNOWN, "c"]
    bounds = [s.end_s for s in tl.segments[:-1]]
    np.testing.assert_allclose(bounds, np.array([60, 105, 165]) / FPS, atol=5 / FPS)
    assert tl.segments[0].start_s == 0 and tl.segments[-1].end_s == pytest.approx(240 / FPS)
    for a, b in zip(tl.segments, tl.segments[1:], strict=False):
        assert a.end_s == b.start_s  # contiguous
    labels = tl.frame_labels()
    assert len(labels) == 240 and (np.array(labels) == truth).mean() > 0.9
    # without a threshold there is no unknown
    tl0 = build_timeline(probs, starts, window=20, stride=5, n_frames=len(truth), fps=FPS,
                         classes=classes, unknown_threshold=None)  # fmt: skip
    assert UNKNOWN not in [s.label for s in tl0.segments]


def test_timeline_serialisation():
    classes = ["a", "b"]
    truth = np.array(["a"] * 40 + ["b"] * 40)
    starts = window_starts(80, 20, 5)
    tl = build_timeline(_window_probs(starts, 20, truth, classes), starts, window=20, stride=5,
                        n_frames=80, fps=10.0, classes=classes, source="x")  # fmt: skip
    d = tl.to_dict()
    assert d["classes"] == classes and d["n_frames"] == 80 and d["duration_s"] == 8.0
    assert len(d["windows"]["times_s"]) == len(starts) == len(d["windows"]["probabilities"])
    assert d["segments"] == [s.to_dict() for s in tl.segments]
    rows = list(csv.DictReader(io.StringIO(tl.to_csv())))
    assert [r["label"] for r in rows] == ["a", "b"]
    assert float(rows[0]["end_s"]) == pytest.approx(4.0, abs=0.25)
    assert Segment(1.0, 2.5, "a", 0.9).duration_s == 1.5


# ---------------------------------------------------------------------------------------------
# A trained model on a long synthetic keypoint sequence
# ---------------------------------------------------------------------------------------------

ORDER = ["clap", "wave", "punch", "raise_arms", "wave"]  # actions of the long sequence
CLIPS = 2  # 30-frame clips per action: 4 s per segment at 15 fps


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    return train_kpnet_bundle(root, classes=4, per_class=20, frames=30, seed=0, epochs=8)


def _long_sequence(order, seed=5):
    rng = np.random.default_rng(seed)  # other people than the training data (seed 0)
    seq = np.concatenate([synth_sequence(a, 30, rng) for a in order for _ in range(CLIPS)])
    return seq, np.arange(1, len(order)) * 30 * CLIPS / FPS


def test_segments_of_a_long_sequence_have_the_right_labels_and_boundaries(run):
    rec = motionscope.load(run)
    seq, bounds = _long_sequence(ORDER)
    tl = rec.segments(seq, fps=FPS)
    assert [s.label for s in tl.segments] == ORDER
    np.testing.assert_allclose([s.end_s for s in tl.segments[:-1]], bounds, atol=0.75)
    assert tl.window == rec.pre.window and tl.stride == rec.pre.window // 4
    assert tl.n_frames == len(seq) and tl.fps == FPS
    assert tl.probabilities.shape == (len(tl.times), len(rec.classes))
    truth = np.repeat(ORDER, 30 * CLIPS)
    assert (np.array(tl.frame_labels()) == truth).mean() > 0.85
    # another stride and no smoothing find the same segments
    tl2 = rec.segments(seq, fps=FPS, stride=3, smooth=1)
    assert [s.label for s in tl2.segments] == ORDER
    assert len(tl2.times) > len(tl.times)


def test_unseen_action_in_a_long_sequence_is_unknown(run):
    rec = motionscope.load(run)
    assert rec.unknown_threshold > 0  # calibrated at training time
    order = ["clap", "squat", "wave"]  # squat is not one of the 4 trained classes
    seq, _ = _long_sequence(order, seed=7)
    labels = np.array(rec.segments(seq, fps=FPS).frame_labels())
    n = 30 * CLIPS
    assert (labels[n : 2 * n] == UNKNOWN).mean() > 0.5
    assert (labels[:n] == "clap").mean() > 0.7 and (labels[2 * n :] == "wave").mean() > 0.7
    # 0 disables unknown
    rec.set_unknown_threshold(0)
    assert UNKNOWN not in rec.segments(seq, fps=FPS).frame_labels()
    rec.set_unknown_threshold(1.0)  # nothing is that sure: all unknown
    assert {s.label for s in rec.segments(seq, fps=FPS).segments} == {UNKNOWN}


def test_segments_need_a_frame_rate_for_arrays(run, tmp_path):
    rec = motionscope.load(run)
    seq, _ = _long_sequence(["clap", "wave"])
    with pytest.raises(DataError, match="fps"):
        rec.segments(seq)
    np.save(tmp_path / "long.npy", seq)
    with pytest.raises(DataError, match="fps"):
        rec.segments(tmp_path / "long.npy")
    (tmp_path / "long.json").write_text(json.dumps({"keypoint_fps": 10.0}))  # extract sidecar
    tl = rec.segments(tmp_path / "long.npy")
    assert tl.fps == 10.0 and tl.source == str(tmp_path / "long.npy")


def test_cli_segment_on_a_synthetic_long_video(run, tmp_path):
    from motionscope.video.synth import render_clip, sample_rng, write_video

    clips = [
        render_clip(a, sample_rng(3, i, 0), (320, 240), 20, fps=15)
        for i, a in enumerate(["wave", "squat"])
    ]
    video = tmp_path / "long.mp4"
    write_video(video, np.concatenate(clips), 15)
    out = tmp_path / "out"
    out.mkdir()
    r = CliRunner().invoke(app, ["segment", str(run), str(video), "--stride", "5",
                                 "--json", str(out / "t.json"), "--csv", str(out / "t.csv"),
                                 "--plot", str(out / "t.png")])  # fmt: skip
    assert r.exit_code == 0, r.output
    d = json.loads((out / "t.json").read_text())
    assert d["n_frames"] == 40 and d["fps"] == 15 and d["stride"] == 5
    segs = d["segments"]
    assert segs[0]["start_s"] == 0 and segs[-1]["end_s"] == pytest.approx(40 / 15, abs=1e-3)
    assert all(a["end_s"] == b["start_s"] for a, b in zip(segs, segs[1:], strict=False))
    assert all(s["label"] in [*d["classes"], UNKNOWN] for s in segs)
    rows = list(csv.DictReader((out / "t.csv").open()))
    assert [row["label"] for row in rows] == [s["label"] for s in segs]
    assert (out / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob("*.tmp"))
    for s in segs:
        assert s["label"] in r.output
    # a missing bundle is one clean error line
    bad = CliRunner().invoke(app, ["segment", str(tmp_path / "nope"), str(video)])
    assert bad.exit_code == 2 and "not a bundle" in bad.output
