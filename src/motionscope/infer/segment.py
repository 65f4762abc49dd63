"""Long videos as a timeline: per-window probabilities to labelled segments.

The :meth:`~motionscope.infer.Recognizer.segments` method slides a window of ``window`` frames
every ``stride`` frames over the whole sequence, runs the model on every window (in batches) and
hands the calibrated probabilities to :func:`build_timeline`, which

1. smooths them over time: a centred moving average over ``smooth`` consecutive windows;
2. gives every frame the mean of the smoothed probabilities of the windows covering it;
3. labels every frame with its most probable class, or ``"unknown"`` when most of the windows
   around it are unsure: each window is flagged when its own top probability is below the
   bundle's unknown threshold (see :mod:`motionscope.train.calibrate`), the flags go through the
   same smoothing and per-frame averaging as the probabilities, and a frame whose share of
   flagged windows is above one half is unknown. (Thresholding the averaged probabilities
   instead would call every boundary between two confidently recognised actions unknown for
   about a window's length, since the windows there disagree);
4. merges runs of equal labels into segments and absorbs segments shorter than
   ``min_segment_s`` into a neighbour: the neighbour whose class is more probable over the short
   segment's frames (an ``"unknown"`` neighbour only takes it when both neighbours are unknown
   or the short segment has no other neighbour), repeated shortest first until none is left.

Times are in seconds from the first frame: frame ``i`` covers ``[i / fps, (i + 1) / fps)``, so a
segment's ``end_s`` is the start of the first frame after it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionscope.atomic import replace_from_tmp, write_json
from motionscope.errors import DataError

UNKNOWN = "unknown"


@dataclass
class Segment:
    """One stretch of the timeline with a single label."""

    start_s: float
    end_s: float
    label: str
    confidence: float  # mean probability of ``label`` over the frames (top probability if unknown)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "label": self.label,
            "confidence": round(self.confidence, 6),
        }


@dataclass
class Timeline:
    """Segments of a long sequence plus the per-window probabilities they came from."""

    segments: list[Segment]
    fps: float
    window: int  # frames per window
    stride: int  # frames between window starts
    times: np.ndarray  # (N,) centre of each window, seconds
    probabilities: np.ndarray  # (N, classes) smoothed calibrated probabilities per window
    labels: list[str]  # class names, the columns of ``probabilities``
    n_frames: int = 0
    source: str = ""
    smooth: int = 1
    min_segment_s: float = 0.0
    unknown_threshold: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0

    def frame_labels(self) -> list[str]:
        """The label of every frame (from the segments)."""
        out = [UNKNOWN] * self.n_frames
        for seg in self.segments:
            a = int(round(seg.start_s * self.fps))
            b = min(self.n_frames, int(round(seg.end_s * self.fps)))
            out[a:b] = [seg.label] * (b - a)
        return out

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "fps": self.fps,
            "n_frames": self.n_frames,
            "duration_s": round(self.duration_s, 4),
            "window": self.window,
            "stride": self.stride,
            "smooth": self.smooth,
            "min_segment_s": round(self.min_segment_s, 4),
            "unknown_threshold": self.unknown_threshold,
            "classes": list(self.labels),
            "segments": [s.to_dict() for s in self.segments],
            "windows": {
                "times_s": [round(float(t), 4) for t in self.times],
                "probabilities": np.round(self.probabilities.astype(np.float64), 5).tolist(),
            },
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def to_csv(self) -> str:
        """The segments as CSV text: ``start_s,end_s,label,confidence``."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["start_s", "end_s", "label", "confidence"])
        for s in self.segments:
            d = s.to_dict()
            w.writerow([d["start_s"], d["end_s"], d["label"], d["confidence"]])
        return buf.getvalue()

    def write_json(self, path: Path | str) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        path = Path(path)
        write_json(path, self.to_dict())
        return path

    def write_csv(self, path: Path | str) -> Path:
        """Write :meth:`to_csv`, atomically."""
        path = Path(path)
        text = self.to_csv().encode("utf-8")
        replace_from_tmp(path, lambda fh: fh.write(text))
        return path


# ----------------------------------------------------------------------------------------------
# The steps (pure numpy, usable on any per-window probabilities).


def window_starts(n_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of windows of ``window`` frames every ``stride`` frames covering all of
    ``n_frames`` (the last window ends on the last frame; one window if the sequence is
    shorter than a window)."""
    if n_frames < 1:
        raise DataError("cannot segment an empty sequence")
    if window < 1 or stride < 1:
        raise DataError(f"window and stride must be at least 1 frame, got {window} and {stride}")
    if n_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] + window < n_frames:
        starts = np.append(starts, n_frames - window)
    return starts


def smooth_probabilities(probs: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average over ``k`` consecutive windows (shorter at the ends)."""
    probs = np.asarray(probs, dtype=np.float64)
    if k <= 1 or len(probs) < 2:
        return probs
    half = k // 2
    c = np.concatenate([np.zeros((1, probs.shape[1])), np.cumsum(probs, axis=0)])
    idx = np.arange(len(probs))
    lo = np.maximum(0, idx - half)
    hi = np.minimum(len(probs), idx - half + k)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def frame_probabilities(
    probs: np.ndarray, starts: np.ndarray, window: int, n_frames: int
) -> np.ndarray:
    """``(n_frames, classes)``: each frame gets the mean probabilities of the windows covering
    it."""
    probs = np.asarray(probs, dtype=np.float64)
    acc = np.zeros((n_frames + 1, probs.shape[1]))
    count = np.zeros(n_frames + 1)
    ends = np.minimum(starts + window, n_frames)
    np.add.at(acc, starts, probs)
    np.add.at(acc, ends, -probs)
    np.add.at(count, starts, 1.0)
    np.add.at(count, ends, -1.0)
    acc = np.cumsum(acc, axis=0)[:n_frames]
    count = np.cumsum(count)[:n_frames]
    if (count <= 0).any():  # cannot happen with window_starts; guards custom starts
        raise DataError("some frames are covered by no window; use a stride <= window")
    return acc / count[:, None]


def _runs(idx: np.ndarray) -> list[list[int]]:
    """``[start, end, value]`` for each run of equal values (end exclusive)."""
    change = np.flatnonzero(np.diff(idx)) + 1
    bounds = np.concatenate([[0], change, [len(idx)]])
    return [[int(a), int(b), int(idx[a])] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _merge_equal(runs: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for r in runs:
        if out and out[-1][2] == r[2]:
            out[-1][1] = r[1]
        else:
            out.append(list(r))
    return out


def absorb_short(runs: list[list[int]], frame_probs: np.ndarray, min_frames: int) -> list:
    """Absorb runs shorter than ``min_frames`` into a neighbour (see the module docstring);
    label ``-1`` is unknown."""
    runs = _merge_equal(runs)
    while len(runs) > 1:
        lengths = [b - a for a, b, _ in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_frames:
            break
        a, b, _ = runs[i]
        best, best_score = None, -1.0
        for j in (i - 1, i + 1):
            if not 0 <= j < len(runs):
                continue
            lab = runs[j][2]
            score = 0.0 if lab < 0 else float(frame_probs[a:b, lab].mean())
            longer = best is None or lengths[j] > lengths[best]
            if score > best_score or (score == best_score and longer):
                best, best_score = j, score
        runs[i][2] = runs[best][2]
        runs = _merge_equal(runs)
    return runs


def build_timeline(
    probs: np.ndarray,
    starts: np.ndarray,
    *,
    window: int,
    stride: int,
    n_frames: int,
    fps: float,
    classes: list[str],
    unknown_threshold: float | None = None,
    smooth: int = 3,
    min_segment_s: float = 0.0,
    source: str = "",
) -> Timeline:
    """Per-window probabilities ``(N, classes)`` of windows starting at ``starts`` to a
    :class:`Timeline` (the steps in the module docstring)."""
    if not fps or fps <= 0:
        raise DataError(f"fps must be positive, got {fps}")
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) != len(starts) or probs.ndim != 2 or probs.shape[1] != len(classes):
        raise DataError(
            f"expected probabilities of shape ({len(starts)}, {len(classes)}), got {probs.shape}"
        )
    smoothed = smooth_probabilities(probs, smooth)
    fp = frame_probabilities(smoothed, starts, window, n_frames)
    idx = fp.argmax(axis=1)
    conf = fp.max(axis=1)
    if unknown_threshold:
        unsure = (probs.max(axis=1) < unknown_threshold).astype(np.float64)[:, None]
        share = frame_probabilities(smooth_probabilities(unsure, smooth), starts, window, n_frames)
        idx[share[:, 0] > 0.5] = -1
    min_frames = int(round(max(0.0, min_segment_s) * fps))
    runs = absorb_short(_runs(idx), fp, min_frames)
    segments = []
    for a, b, lab in runs:
        c = float(conf[a:b].mean()) if lab < 0 else float(fp[a:b, lab].mean())
        segments.append(Segment(a / fps, b / fps, UNKNOWN if lab < 0 else classes[lab], c))
    lengths = np.minimum(starts + window, n_frames) - starts
    return Timeline(
        segments=segments,
        fps=float(fps),
        window=int(window),
        stride=int(stride),
        times=(starts + lengths / 2.0) / fps,
        probabilities=smoothed.astype(np.float32),
        labels=list(classes),
        n_frames=int(n_frames),
        source=source,
        smooth=int(smooth),
        min_segment_s=float(min_segment_s),
        unknown_threshold=unknown_threshold or None,
    )
