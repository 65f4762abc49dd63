"""Label-free checks of a keypoint dataset: exact and near duplicate sequences, sequences with no
pose or no hands, and outlier lengths and body sizes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from motionscope.data.dataset import KeypointDataset
from motionscope.keypoints.normalize import present

NEAR_RMS = 1e-3  # near duplicates: root-mean-square difference below this (image coordinates)
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
    """Index sets of exact duplicates (same shape and float32 bytes) and of near duplicates
    (same shape, root-mean-square difference below ``NEAR_RMS``, not exact), each of 2+
    sequences. Near pairs are found on a fixed random projection of the flattened sequences
    (64 numbers each) and checked on the full data."""
    exact: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(ds.samples):
        exact[f"{s.data.shape}{_digest(s.data)}"].append(i)
    exact_sets = [v for v in exact.values() if len(v) > 1]
    first = {i: v[0] for v in exact.values() for i in v}  # each exact set's representative
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(ds.samples):
        if first[i] == i:
            by_shape[s.data.shape].append(i)
    parent = {i: i for i in range(len(ds))}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for shape, members in by_shape.items():
        if len(members) < 2:
            continue
        size = int(np.prod(shape))
        proj = np.random.default_rng(0).standard_normal((size, 64)).astype(np.float32) / 8.0
        z = np.stack([ds.samples[i].data.reshape(-1) @ proj for i in members])
        limit = 2.0 * NEAR_RMS * np.sqrt(size)  # the projection keeps L2 distances roughly
        sq = (z**2).sum(1)
        for a in range(len(members)):
            d2 = sq[a] + sq[a + 1 :] - 2.0 * z[a + 1 :] @ z[a]
            for b in np.flatnonzero(d2 < limit**2) + a + 1:
                i, j = members[a], members[int(b)]
                diff = ds.samples[i].data - ds.samples[j].data
                if float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))) < NEAR_RMS:
                    parent[root(j)] = root(i)
    near: dict[int, list[int]] = defaultdict(list)
    for reps in by_shape.values():
        for i in reps:
            near[root(i)].append(i)
    near_sets = []
    for reps in near.values():
        if len(reps) > 1:  # every member of the exact sets of these representatives
            near_sets.append(sorted(i for i in range(len(ds)) if first[i] in set(reps)))
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
