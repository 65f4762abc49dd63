"""Label-free checks of a keypoint dataset: exact and near duplicate sequences, sequences with no
pose or no hands, and outlier lengths and body sizes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from motionscope.data.dataset import KeypointDataset
from motionscope.keypoints.normalize import present

NEAR_DECIMALS = 3  # near duplicates: equal once rounded to 1e-3 (normalised image coordinates)
MAD_LIMIT = 5.0  # robust z-score beyond which a length / body size is an outlier


@dataclass
class DataFlag:
    """Something about one sequence worth a look, whatever its label."""

    index: int
    source: str
    kind: str  # duplicate | near_duplicate | no_pose | no_hands | length | body_size | frozen
    detail: str


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()


def duplicate_sets(ds: KeypointDataset) -> tuple[list[list[int]], list[list[int]]]:
    """Index sets of exact duplicates (same float32 bytes and shape) and of near duplicates
    (equal after rounding to ``NEAR_DECIMALS``, not already exact), each of 2+ sequences."""
    exact: dict[str, list[int]] = defaultdict(list)
    near: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(ds.samples):
        shape = f"{s.data.shape}"
        exact[shape + _digest(s.data)].append(i)
        near[shape + _digest(np.round(s.data, NEAR_DECIMALS) + 0.0)].append(i)
    exact_sets = [v for v in exact.values() if len(v) > 1]
    exact_key = {tuple(v) for v in exact_sets}
    near_sets = [v for v in near.values() if len(v) > 1 and tuple(v) not in exact_key]
    return exact_sets, near_sets


def _robust_outliers(values: np.ndarray) -> np.ndarray:
    """Indices whose robust z-score (median / MAD) exceeds ``MAD_LIMIT``."""
    med = np.median(values)
    mad = np.median(np.abs(values - med))
    if mad == 0:
        mad = max(1e-9, 0.05 * abs(med))
    z = np.abs(values - med) / (1.4826 * mad)
    return np.flatnonzero(z > MAD_LIMIT)


def data_flags(ds: KeypointDataset) -> list[DataFlag]:
    """Every label-free flag of ``ds``, in sample order within each kind."""
    flags: list[DataFlag] = []
    exact, near = duplicate_sets(ds)
    for kind, sets in (("duplicate", exact), ("near_duplicate", near)):
        for members in sets:
            labels = sorted({ds.samples[i].label for i in members})
            for i in members:
                others = [ds.samples[j].source for j in members if j != i]
                detail = f"same data as {', '.join(others[:3])}" + (
                    f" (+{len(others) - 3} more)" if len(others) > 3 else ""
                )
                if len(labels) > 1:
                    detail += f"; labelled {' / '.join(labels)}"
                flags.append(DataFlag(i, ds.samples[i].source, kind, detail))
    layout = ds.layout
    hands = [h for h in ("left_hand", "right_hand") if layout.has(h)]
    for i, s in enumerate(ds.samples):
        x = s.data
        if layout.has("pose") and not present(x[:, layout.slice("pose")]).any():
            flags.append(DataFlag(i, s.source, "no_pose", "no frame has a detected pose"))
        if hands and not any(present(x[:, layout.slice(h)]).any() for h in hands):
            flags.append(DataFlag(i, s.source, "no_hands", "no frame has a detected hand"))
        if len(x) > 1 and np.all(x == x[0]):
            flags.append(DataFlag(i, s.source, "frozen", f"all {len(x)} frames are identical"))
    lengths = np.array([len(s.data) for s in ds.samples], dtype=np.float64)
    med = float(np.median(lengths))
    for i in _robust_outliers(lengths):
        n = int(lengths[i])
        flags.append(
            DataFlag(int(i), ds.samples[i].source, "length", f"{n} frames (median {med:g})")
        )
    if layout.has("pose"):
        sizes = np.array([_shoulder_width(s.data, layout) for s in ds.samples])
        ok = np.isfinite(sizes)
        if ok.sum() >= 3:
            med_size = float(np.median(sizes[ok]))
            for j in _robust_outliers(sizes[ok]):
                i = int(np.flatnonzero(ok)[j])
                flags.append(
                    DataFlag(
                        i,
                        ds.samples[i].source,
                        "body_size",
                        f"shoulder width {sizes[i]:.3f} of the image (median {med_size:.3f})",
                    )
                )
    return flags


def _shoulder_width(x: np.ndarray, layout) -> float:
    """Median distance between the shoulders (pose 11, 12) over frames with a pose, in image
    widths; NaN without a pose."""
    pose = x[:, layout.slice("pose")].reshape(len(x), 33, 4)
    ok = present(x[:, layout.slice("pose")])
    if not ok.any():
        return float("nan")
    d = np.linalg.norm(pose[ok, 11, :2] - pose[ok, 12, :2], axis=1)
    return float(np.median(d))
