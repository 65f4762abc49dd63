"""Training-time augmentation of raw keypoint sequences.

INTERFACE (owned by the feature/model work; keep these names and signatures):
- ``AugmentConfig``: dataclass, ``enabled`` plus the knobs; JSON-serialisable via ``asdict``.
- ``augment(x, layout, cfg, rng) -> np.ndarray``: float32 ``(T, D)`` to float32 ``(T', D)``
  (time crop/warp may change T), ``rng`` a ``np.random.Generator``. Missing blocks stay zero.
- ``mirror(x, layout)``: the left-right mirror image of a sequence (an involution).

Augmentation works on raw image coordinates, before :mod:`motionscope.keypoints.features`:
left-right mirror (x -> 1 - x, left/right pose landmarks and the two hands swapped), a random
similarity transform about the body centre (scale, small rotation in x/y, shift), a speed change
that keeps the window's length (faster: the action is followed by/preceded by still frames; slower:
only part of it fits), a smooth random time warp, a random time crop, hand dropout (a whole hand for
the sequence, or random frames) and small Gaussian noise. A block that is missing in a frame stays
exactly zero. Generic layouts (accelerometers ...) get amplitude scaling, offset, noise and the time
operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscope.keypoints.layout import Layout

# MediaPipe pose: left/right landmark pairs (left eye inner <-> right eye inner, ...).
POSE_LR_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 4),
    (2, 5),
    (3, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
    (17, 18),
    (19, 20),
    (21, 22),
    (23, 24),
    (25, 26),
    (27, 28),
    (29, 30),
    (31, 32),
)
POSE_MIRROR_PERM = np.arange(33)
for _a, _b in POSE_LR_PAIRS:
    POSE_MIRROR_PERM[_a], POSE_MIRROR_PERM[_b] = _b, _a


@dataclass
class AugmentConfig:
    enabled: bool = False
    p_mirror: float = 0.5  # probability of the left-right mirror
    scale: float = 0.15  # uniform scale factor in [1 - scale, 1 + scale]
    rotate_deg: float = 10.0  # rotation in the image plane, uniform in +-rotate_deg
    shift: float = 0.05  # translation, uniform in +-shift image units (x and y)
    speed: float = 1.4  # speed factor, log-uniform in [1/speed, speed]; 1 = off
    warp: float = 0.15  # strength of the smooth random time warp; 0 = off
    crop_min: float = 0.85  # keep a random contiguous fraction in [crop_min, 1] of the frames
    p_hand_drop: float = 0.15  # per hand: drop the whole hand for the sequence
    p_frame_drop: float = 0.1  # per hand and frame: drop the hand in that frame
    # per hand and sequence: a drop rate drawn in [0, frame_drop_max] (instead of p_frame_drop)
    # imitates a person whose hands the camera finds less often; 0 = off
    frame_drop_max: float = 0.0
    noise: float = 0.003  # Gaussian noise (image units; x std for generic channels)
    # "another person, another camera" (all 0 = off; pose/hand layouts only):
    aspect: float = 0.0  # x stretched against y by a log-uniform factor in [e^-a, e^a]
    yaw_deg: float = 0.0  # 3D turn of the body about the vertical axis (uses z), +-deg
    arm_scale: float = 0.0  # per arm: elbow/wrist/hand moved from the shoulder by 1 +- arm_scale
    hand_offset: float = 0.0  # per hand: shifted by +-hand_offset shoulder widths (x and y)
    hand_rotate_deg: float = 0.0  # per hand: in-plane rotation of the hand about its wrist
    hand_scale: float = 0.0  # per hand: size about the wrist in [1 - s, 1 + s]
    hand_yaw_deg: float = 0.0  # per hand: 3D turn of the hand about its wrist (uses z)


# pose landmarks that move with each arm: elbow, wrist, pinky, index, thumb
_ARM = {"left_hand": (11, (13, 15, 17, 19, 21)), "right_hand": (12, (14, 16, 18, 20, 22))}
_HAND_POSE = {"left_hand": (15, 17, 19, 21), "right_hand": (16, 18, 20, 22)}


def _present(blk: np.ndarray) -> np.ndarray:
    return np.any(blk != 0, axis=1)


def mirror(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Left-right mirror of raw keypoints: x -> 1 - x for detected landmarks, left/right pose
    landmarks swapped, left and right hands swapped (face: x mirrored only). Missing blocks stay
    zero; generic layouts are returned unchanged. ``mirror(mirror(x)) == x``."""
    x = np.asarray(x, dtype=np.float32)
    out = x.copy()
    if layout.is_generic or x.shape[0] == 0:
        return out
    t = x.shape[0]
    for b in layout.blocks:
        if b.channels < 3:
            continue
        sl = layout.slice(b.name)
        blk = x[:, sl].reshape(t, b.landmarks, b.channels).copy()
        ok = _present(x[:, sl])
        blk[ok, :, 0] = 1.0 - blk[ok, :, 0]
        if b.name == "pose":
            blk = blk[:, POSE_MIRROR_PERM]
        out[:, sl] = blk.reshape(t, -1)
    if layout.has("left_hand") and layout.has("right_hand"):
        lsl, rsl = layout.slice("left_hand"), layout.slice("right_hand")
        left = out[:, lsl].copy()
        out[:, lsl] = out[:, rsl]
        out[:, rsl] = left
    return out


_COLS: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _coord_columns(layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column indices of all x, y, z values (pose visibility excluded) and of the noisy ones."""
    if layout.name not in _COLS:
        xs, ys, zs, noisy = [], [], [], []
        for b in layout.blocks:
            if b.channels < 3:
                continue
            base = layout.slice(b.name).start + np.arange(b.landmarks) * b.channels
            xs.append(base)
            ys.append(base + 1)
            zs.append(base + 2)
            if b.name != "face":
                noisy.append(np.concatenate([base, base + 1, base + 2]))
        cat = lambda v: np.concatenate(v) if v else np.zeros(0, np.int64)  # noqa: E731
        _COLS[layout.name] = (cat(xs), cat(ys), cat(zs), cat(noisy))
    return _COLS[layout.name]


def _body_centre(x: np.ndarray, layout: Layout) -> np.ndarray:
    from motionscope.keypoints.normalize import body_frame

    centre, _, ok = body_frame(x, layout)
    return centre[0] if ok.any() else np.array([0.5, 0.5], dtype=np.float32)


def _time_index(t: int, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Frame indices into the original ``t`` frames (nearest-frame; length may differ from t)."""
    # crop
    frac = rng.uniform(min(cfg.crop_min, 1.0), 1.0) if cfg.crop_min < 1.0 else 1.0
    n = max(2, int(round(t * frac)))
    n = min(n, t)
    start = int(rng.integers(0, t - n + 1))
    # smooth monotone warp of [0, 1]
    u = np.linspace(0.0, 1.0, n)
    if cfg.warp > 0 and n > 2:
        knots = 5
        w = np.exp(rng.uniform(-cfg.warp, cfg.warp, knots) * 2.0)
        cdf = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
        u = np.interp(u, np.linspace(0.0, 1.0, knots + 1), cdf)
    src = start + u * (n - 1)
    # speed change keeping the length n
    if cfg.speed > 1.0:
        f = float(np.exp(rng.uniform(-np.log(cfg.speed), np.log(cfg.speed))))
        m = max(2, int(round(n / f)))  # frames the action occupies after the change
        src_m = np.interp(np.linspace(0, n - 1, m), np.arange(n), src)
        if m >= n:  # slower: only a window of it fits
            off = int(rng.integers(0, m - n + 1))
            src = src_m[off : off + n]
        else:  # faster: still frames before/after
            pad = n - m
            before = int(rng.integers(0, pad + 1))
            src = np.concatenate(
                [np.full(before, src_m[0]), src_m, np.full(pad - before, src_m[-1])]
            )
    return np.clip(np.rint(src), 0, t - 1).astype(np.int64)


def _person(x: np.ndarray, layout: Layout, cfg: AugmentConfig, rng: np.random.Generator):
    """Imitate another body and another camera in raw image coordinates: camera aspect, body yaw,
    arm length, where and how each hand is held. Missing landmarks are restored to zero by the
    caller. Returns a new array."""
    out = x.copy()
    t = x.shape[0]
    pose = out[:, layout.slice("pose")].reshape(t, 33, 4) if layout.has("pose") else None
    hands = {
        n: out[:, layout.slice(n)].reshape(t, 21, 3)
        for n in ("left_hand", "right_hand")
        if layout.has(n)
    }
    sw = 0.25  # shoulder width in image units, for offsets given in shoulder widths
    if pose is not None:
        d = np.linalg.norm(pose[:, 11, :2] - pose[:, 12, :2], axis=1)
        ok = np.any(pose != 0, axis=(1, 2)) & (d > 0.02)
        if ok.any():
            sw = float(np.median(d[ok]))
    for name, hand in hands.items():
        hok = np.any(hand != 0, axis=(1, 2))
        wrist = hand[:, :1, :].copy()
        # arm length: elbow, wrist and hand about the shoulder
        if cfg.arm_scale > 0 and pose is not None:
            a = rng.uniform(1 - cfg.arm_scale, 1 + cfg.arm_scale)
            sh, idx = _ARM[name]
            base = pose[:, sh : sh + 1, :2]
            moved = base[:, 0] + (wrist[:, 0, :2] - base[:, 0]) * a - wrist[:, 0, :2]
            pose[:, list(idx), :2] = base + (pose[:, list(idx), :2] - base) * a
            hand[hok, :, :2] += moved[hok, None, :]
        if cfg.hand_offset > 0:
            off = rng.uniform(-cfg.hand_offset, cfg.hand_offset, 2).astype(np.float32) * sw
            hand[hok, :, :2] += off
            if pose is not None:
                pose[:, list(_HAND_POSE[name]), :2] += off
        # the hand about its own wrist: rotation, size, 3D turn
        wrist = hand[:, :1, :].copy()
        rel = hand - wrist
        if cfg.hand_yaw_deg > 0:
            ph = np.deg2rad(rng.uniform(-cfg.hand_yaw_deg, cfg.hand_yaw_deg))
            rx, rz = rel[..., 0].copy(), rel[..., 2].copy()
            rel[..., 0] = np.cos(ph) * rx + np.sin(ph) * rz
            rel[..., 2] = -np.sin(ph) * rx + np.cos(ph) * rz
        if cfg.hand_rotate_deg > 0:
            th = np.deg2rad(rng.uniform(-cfg.hand_rotate_deg, cfg.hand_rotate_deg))
            rx, ry = rel[..., 0].copy(), rel[..., 1].copy()
            rel[..., 0] = np.cos(th) * rx - np.sin(th) * ry
            rel[..., 1] = np.sin(th) * rx + np.cos(th) * ry
        if cfg.hand_scale > 0:
            rel = rel * rng.uniform(1 - cfg.hand_scale, 1 + cfg.hand_scale)
        hand[hok] = (wrist + rel)[hok]
    # the camera: body yaw (x foreshortened, depth mixed in) and aspect ratio
    centre = _body_centre(out, layout)
    if cfg.yaw_deg > 0 and pose is not None:
        ph = np.deg2rad(rng.uniform(-cfg.yaw_deg, cfg.yaw_deg))
        pz = pose[..., 2]
        pose[..., 0] = centre[0] + (pose[..., 0] - centre[0]) * np.cos(ph) + pz * np.sin(ph)
        for name, hand in hands.items():
            hok = np.any(hand != 0, axis=(1, 2))
            pw = 15 if name == "left_hand" else 16
            wrist = hand[:, :1, :].copy()
            rel = hand - wrist
            rx, rz = rel[..., 0].copy(), rel[..., 2].copy()
            rel[..., 0] = np.cos(ph) * rx + np.sin(ph) * rz
            rel[..., 2] = -np.sin(ph) * rx + np.cos(ph) * rz
            wx = centre[0] + (wrist[..., 0] - centre[0]) * np.cos(ph)
            wx = wx + pose[:, pw : pw + 1, 2] * np.sin(ph)
            new = rel.copy()
            new[..., 0] += wx
            new[..., 1:] += wrist[..., 1:]
            hand[hok] = new[hok]
    if cfg.aspect > 0:
        f = float(np.exp(rng.uniform(-cfg.aspect, cfg.aspect)))
        xc, _, _, _ = _coord_columns(layout)
        present_cols = out[:, xc] != 0
        out[:, xc] = np.where(present_cols, centre[0] + (out[:, xc] - centre[0]) * f, 0.0)
    if pose is not None:
        out[:, layout.slice("pose")] = pose.reshape(t, -1)
    for name, hand in hands.items():
        out[:, layout.slice(name)] = hand.reshape(t, -1)
    return out


def _uses_person(cfg: AugmentConfig) -> bool:
    return any(
        v > 0
        for v in (
            cfg.aspect,
            cfg.yaw_deg,
            cfg.arm_scale,
            cfg.hand_offset,
            cfg.hand_rotate_deg,
            cfg.hand_scale,
            cfg.hand_yaw_deg,
        )
    )


def augment(
    x: np.ndarray, layout: Layout, cfg: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if not cfg.enabled or x.shape[0] == 0:
        return x.copy()
    if x.shape[0] >= 2:
        x = x[_time_index(x.shape[0], cfg, rng)]
    t = x.shape[0]

    if layout.is_generic:
        mean = x.mean(0, keepdims=True)
        std = x.std(0, keepdims=True) + 1e-6
        s = rng.uniform(1 - cfg.scale, 1 + cfg.scale)
        off = rng.uniform(-cfg.shift, cfg.shift, size=(1, x.shape[1])) * std
        out = mean + s * (x - mean) + off + rng.normal(0, 1, x.shape) * cfg.noise * std
        return np.nan_to_num(out).astype(np.float32)

    if rng.random() < cfg.p_mirror:
        x = mirror(x, layout)

    masks = {b.name: _present(x[:, layout.slice(b.name)]) for b in layout.blocks}
    if _uses_person(cfg):
        x = _person(x, layout, cfg, rng)
    # hand dropout (raw zeros = "not detected")
    for name in ("left_hand", "right_hand"):
        if not layout.has(name):
            continue
        if rng.random() < cfg.p_hand_drop:
            masks[name] = np.zeros(t, dtype=bool)
        elif cfg.frame_drop_max > 0:
            rate = rng.uniform(0, cfg.frame_drop_max)
            masks[name] = masks[name] & (rng.random(t) >= rate)
        elif cfg.p_frame_drop > 0:
            masks[name] = masks[name] & (rng.random(t) >= cfg.p_frame_drop)

    centre = _body_centre(x, layout)
    s = rng.uniform(1 - cfg.scale, 1 + cfg.scale)
    th = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    shift = rng.uniform(-cfg.shift, cfg.shift, size=2).astype(np.float32)
    xc, yc, zc, noisy = _coord_columns(layout)
    out = x.copy()
    px, py = x[:, xc] - centre[0], x[:, yc] - centre[1]
    c, sn = s * np.cos(th), s * np.sin(th)
    out[:, xc] = c * px - sn * py + centre[0] + shift[0]
    out[:, yc] = sn * px + c * py + centre[1] + shift[1]
    out[:, zc] = x[:, zc] * s
    if cfg.noise > 0 and len(noisy):  # face excluded: 1404 values of noise, little gain
        out[:, noisy] += rng.normal(0, cfg.noise, size=(t, len(noisy))).astype(np.float32)
    for b in layout.blocks:
        out[~masks[b.name], layout.slice(b.name)] = 0.0
    return np.nan_to_num(out).astype(np.float32)
