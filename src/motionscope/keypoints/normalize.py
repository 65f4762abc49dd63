"""Body-centred, scale-invariant normalisation of keypoint sequences.

MediaPipe coordinates are image coordinates (x, y in 0..1): they depend on where the person stands
and how far from the camera. :func:`normalize` maps them to a body frame:

* centre: the shoulder midpoint (pose landmarks 11 and 12), scale: the shoulder width. Both are
  robust per-sequence statistics (medians over the frames where the pose was detected) by default,
  so whole-body motion (a mimed jump, a fall) stays visible; ``per_frame=True`` re-centres each
  frame instead.
* without a pose block (``hands`` layout) the centre is the median of the detected wrists and the
  scale a multiple of the median hand size.
* a block that was not detected in a frame stays all zeros ("missing" is never turned into a
  landmark at the body centre). Pose visibility values are passed through unchanged.

:func:`hand_shape` gives the hand in its own frame: landmarks relative to the wrist, divided by the
hand size (wrist to middle-finger MCP), which is what a sign's hand shape looks like regardless of
where the hand is and how large it appears.

All functions are numpy only and never return NaN or inf, whatever the input (zero-width
shoulders, all-missing frames, constant sequences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscope.keypoints.layout import Layout

L_SHOULDER, R_SHOULDER = 11, 12
WRIST, MIDDLE_MCP = 0, 9  # hand landmark indices
# Shoulder width is ~2.2 hand sizes (wrist to middle MCP) for an adult; used when a layout has hands
# but no pose, so that the body-frame unit stays roughly "one shoulder width".
HAND_TO_SHOULDER = 2.2
_EPS = 1e-6


@dataclass
class NormalizeConfig:
    """How to map image coordinates to the body frame."""

    per_frame: bool = False  # True: centre/scale each frame; False: robust per-sequence medians
    min_scale: float = 0.02  # scales below this (image units) are treated as undetected
    clip: float = 10.0  # clip normalised coordinates to +-clip body units (guards outliers)


def present(block: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: which frames of a ``(T, W)`` block were detected (not all zeros)."""
    return np.any(block != 0, axis=1)


def _finite(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN/inf replaced by 0 (no copy when already finite)."""
    if np.isfinite(x).all():
        return x
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def body_frame(
    x: np.ndarray, layout: Layout, cfg: NormalizeConfig | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre ``(T, 2)``, scale ``(T,)`` and a ``(T,)`` flag "the frame had its own reference"
    (pose, or a hand when the layout has no pose).

    Frames without a reference take the sequence's median (or the nearest available value when
    ``per_frame``); a sequence without any reference gets centre (0.5, 0.5) and scale 1.
    """
    cfg = cfg or NormalizeConfig()
    x = _finite(np.asarray(x, dtype=np.float32))
    t = x.shape[0]
    centre = np.full((t, 2), 0.5, dtype=np.float32)
    scale = np.ones(t, dtype=np.float32)
    ok = np.zeros(t, dtype=bool)
    if t == 0:
        return centre, scale, ok

    if layout.has("pose"):
        pose = x[:, layout.slice("pose")].reshape(t, 33, 4)
        ls, rs = pose[:, L_SHOULDER, :2], pose[:, R_SHOULDER, :2]
        c = (ls + rs) / 2
        s = np.linalg.norm(ls - rs, axis=1)
        ok = present(x[:, layout.slice("pose")]) & (s >= cfg.min_scale)
    else:
        cs, ss, oks = [], [], []
        for name in ("left_hand", "right_hand"):
            if not layout.has(name):
                continue
            h = x[:, layout.slice(name)].reshape(t, 21, 3)
            cs.append(h[:, WRIST, :2])
            ss.append(np.linalg.norm(h[:, MIDDLE_MCP, :2] - h[:, WRIST, :2], axis=1))
            oks.append(present(x[:, layout.slice(name)]))
        if not cs:
            return centre, scale, ok
        okm = np.stack(oks, 1)  # (T, H)
        cnt = okm.sum(1)
        c = (np.stack(cs, 1) * okm[..., None]).sum(1) / np.maximum(cnt, 1)[:, None]
        s = (np.stack(ss, 1) * okm).sum(1) / np.maximum(cnt, 1) * HAND_TO_SHOULDER
        ok = (cnt > 0) & (s >= cfg.min_scale)

    if not ok.any():
        return centre, scale, ok
    if cfg.per_frame:
        # frames without a reference borrow the nearest frame that has one
        idx = np.flatnonzero(ok)
        pos = np.clip(np.searchsorted(idx, np.arange(t)), 0, len(idx) - 1)
        prev = np.clip(pos - 1, 0, len(idx) - 1)
        near = np.where(
            np.abs(idx[prev] - np.arange(t)) <= np.abs(idx[pos] - np.arange(t)), idx[prev], idx[pos]
        )
        centre = c[near].astype(np.float32)
        scale = s[near].astype(np.float32)
    else:
        centre[:] = np.median(c[ok], axis=0)
        scale[:] = np.median(s[ok])
    scale = np.maximum(scale, cfg.min_scale).astype(np.float32)
    return centre, scale, ok


def normalize(
    x: np.ndarray,
    layout: Layout,
    cfg: NormalizeConfig | None = None,
    blocks: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Map ``(T, D)`` image-coordinate keypoints to the body frame; same layout, same shape.

    x, y become ``(v - centre) / scale`` (body units: one shoulder width), z becomes ``z / scale``,
    pose visibility is unchanged; undetected blocks stay all zeros. Generic layouts are returned
    unchanged (there is no body to centre on). ``blocks`` restricts the work to those blocks (the
    others are left zero), e.g. to skip the 468 face landmarks when they are not used.
    """
    cfg = cfg or NormalizeConfig()
    x = _finite(np.asarray(x, dtype=np.float32))
    if layout.is_generic or x.shape[0] == 0:
        return x.copy()
    t = x.shape[0]
    centre, scale, _ = body_frame(x, layout, cfg)
    out = np.zeros_like(x)
    for b in layout.blocks:
        if blocks is not None and b.name not in blocks:
            continue
        sl = layout.slice(b.name)
        blk = x[:, sl]
        if b.channels < 3:
            out[:, sl] = blk
            continue
        v = blk.reshape(t, b.landmarks, b.channels).copy()
        v[..., :2] = (v[..., :2] - centre[:, None, :]) / scale[:, None, None]
        v[..., 2] = v[..., 2] / scale[:, None]
        v[..., :3] = np.clip(v[..., :3], -cfg.clip, cfg.clip)
        v = v.reshape(t, -1)
        v[~present(blk)] = 0.0  # missing stays missing
        out[:, sl] = v
    return out


def hand_shape(hand: np.ndarray, mirror_x: bool = False) -> np.ndarray:
    """``(T, 21, 3)`` hand landmarks (any frame) to the hand's own frame: relative to the wrist,
    divided by the hand size (wrist to middle MCP, in x/y). Undetected frames stay zeros.
    ``mirror_x`` flips x so that a left hand looks like a right hand."""
    hand = _finite(np.asarray(hand, dtype=np.float32))
    ok = np.any(hand.reshape(hand.shape[0], -1) != 0, axis=1)
    rel = hand - hand[:, WRIST : WRIST + 1, :]
    size = np.linalg.norm(rel[:, MIDDLE_MCP, :2], axis=1)
    size = np.where(size > _EPS, size, 1.0).astype(np.float32)
    rel = rel / size[:, None, None]
    if mirror_x:
        rel[..., 0] = -rel[..., 0]
    rel = np.clip(rel, -10.0, 10.0)
    rel[~ok] = 0.0
    return _finite(rel).astype(np.float32)
