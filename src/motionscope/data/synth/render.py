"""Geometry (joint targets -> 3-D landmarks), the camera, noise and detection drop-outs, and the
rendering into 1662-wide Holistic frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscope.data.synth.body import (
    _DOWN,
    _FACE,
    _FACE_BASIS,
    _FINGER_BEND,
    _HANDS,
    _HEAD_PTS,
    _MCP3,
    _PHALANX,
    _POSE,
    _SIDE_SIGN,
    _SPREAD,
    _THUMB_BASE,
    _THUMB_BEND,
    _THUMB_DIR,
    _THUMB_FOLD,
    _THUMB_SEG,
    _WIDTH,
    _X_SIGN,
    LEFT,
    RIGHT,
    _apply,
    _Body,
    _rotation,
    _unit,
)
from motionscope.data.synth.motion import _Motion

# ----------------------------------------------------------------------------------------------
# Geometry: joint targets -> 3-D landmarks.


def _legs(m: _Motion, body: _Body) -> np.ndarray:
    """Hips, knees, ankles, heels, toes per side ``(2, T, 5, 3)``, hip centre at the origin."""
    t = m.tau.shape[0]
    sign = _X_SIGN[:, None, :]
    hips = np.zeros((2, t, 3))
    hips[:, :, 0] = _SIDE_SIGN[:, None] * body.hip
    shin = m.shin * sign
    knees = hips + body.thigh * m.thigh * sign
    ankles = knees + body.shin * shin
    fwd = _unit(np.stack([np.zeros_like(shin[..., 0]), shin[..., 2], -shin[..., 1]], axis=-1))
    out = np.zeros_like(hips)
    out[:, :, 0] = 0.02 * _SIDE_SIGN[:, None]  # toes turned slightly out
    drop = 0.06 * body.foot * shin
    heels = ankles + drop - 0.05 * body.foot * fwd
    toes = ankles + drop + 0.15 * body.foot * fwd + out
    return np.stack([hips, knees, ankles, heels, toes], axis=2)


def _hand_local(curl: np.ndarray, spread: np.ndarray, scale: float) -> np.ndarray:
    """21 hand landmarks in the hand frame (u fingers, v thumb side, n palm): curl ``(..., 5)``
    and spread ``(...)`` give ``(..., 21, 3)``."""
    lead = curl.shape[:-1]
    pts = np.zeros(lead + (21, 3))
    # thumb: 1 CMC, 2 MCP, 3 IP, 4 tip
    ang = np.cumsum(curl[..., :1] * _THUMB_BEND, axis=-1)[..., None]  # (..., 3, 1)
    seg = np.cos(ang) * _THUMB_DIR + np.sin(ang) * _THUMB_FOLD
    pts[..., 1, :] = _THUMB_BASE
    pts[..., 2:5, :] = _THUMB_BASE + np.cumsum(_THUMB_SEG[:, None] * seg, axis=-2)
    # fingers: MCP, PIP, DIP, tip for index, middle, ring, pinky
    alpha = (spread[..., None] * _SPREAD)[..., None]  # (..., 4, 1)
    bend = np.cumsum(curl[..., 1:, None] * _FINGER_BEND, axis=-1)  # (..., 4, 3)
    cb = np.cos(bend)
    dirs = np.stack([cb * np.cos(alpha), cb * np.sin(alpha), np.sin(bend)], axis=-1)
    fingers = np.empty(lead + (4, 4, 3))  # finger, joint (MCP, PIP, DIP, tip), xyz
    fingers[..., 0, :] = _MCP3
    fingers[..., 1:, :] = _MCP3[:, None, :] + np.cumsum(_PHALANX[..., None] * dirs, axis=-2)
    pts[..., 5:21, :] = fingers.reshape(lead + (16, 3))
    return pts * scale


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product along the last axis (cheaper than np.cross for small arrays)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _hands(m: _Motion, body: _Body, wrists: np.ndarray) -> np.ndarray:
    """Both hands' 21 landmarks in the torso frame ``(2, T, 21, 3)``."""
    sign = _X_SIGN[:, None, :]
    u = _unit(m.hand_dir() * sign)
    target = m.palm * sign
    n = _unit(target - np.sum(target * u, axis=-1, keepdims=True) * u, _DOWN)
    n = _unit(n - np.sum(n * u, axis=-1, keepdims=True) * u)
    v = _SIDE_SIGN[:, None, None] * _cross(n, u)
    basis = np.stack([u, v, n], axis=-2)  # (2, T, 3, 3): rows u, v, n
    local = _hand_local(np.clip(m.curl, 0.0, 1.0), m.spread, body.hand)
    return wrists[:, :, None, :] + local @ basis


@dataclass
class _World:
    """3-D landmarks (metres) and the reference points their depth is measured from."""

    pose: np.ndarray  # (T, 33, 3)
    face_rot: np.ndarray  # (T, 3, 3) orientation of the face (torso and head rotations)
    face_scale: float
    hands: np.ndarray  # (2, T, 21, 3)
    hip_centre: np.ndarray  # (T, 3)
    head_centre: np.ndarray  # (T, 3)
    face_pitch: np.ndarray  # (T,) how far the face is tipped down, radians


def _world(m: _Motion, body: _Body) -> _World:
    """Build the skeleton, hands and face for every frame from the joint targets."""
    t = m.tau.shape[0]
    legs = _legs(m, body)
    lowest = np.minimum(legs[:, :, 3, 1], legs[:, :, 4, 1]).min(axis=0)
    hip_centre = np.stack([m.sway, m.lift - lowest, np.zeros(t)], axis=1)

    # upper body in the torso frame (origin at the hip centre, before the torso rotation)
    neck = np.array([0.0, body.torso, 0.0])
    shoulders = np.zeros((2, t, 3))
    shoulders[:, :, 0] = _SIDE_SIGN[:, None] * body.shoulder
    shoulders[:, :, 1] = body.torso + m.shrug
    sign = _X_SIGN[:, None, :]
    elbows = shoulders + body.upper_arm * m.upper_arm * sign
    wrists = elbows + body.forearm * m.forearm * sign
    hands = _hands(m, body, wrists)
    head_rot = _rotation(m.head[:, 0], m.head[:, 1], m.head[:, 2])
    head_centre = neck + head_rot[:, :, 1] * body.neck
    head_pts = head_centre[:, None, :] + _apply(head_rot, _HEAD_PTS * body.head)

    torso_rot = _rotation(m.torso[:, 0], m.torso[:, 1], m.torso[:, 2])
    upper = np.concatenate(
        [
            head_pts,
            shoulders.transpose(1, 0, 2),
            elbows.transpose(1, 0, 2),
            wrists.transpose(1, 0, 2),
        ],
        axis=1,
    )
    upper = _apply(torso_rot, upper) + hip_centre[:, None, :]
    hands = _apply(torso_rot, hands) + hip_centre[:, None, :]
    head_c = np.einsum("tij,tj->ti", torso_rot, head_centre) + hip_centre
    lower = legs.transpose(1, 2, 0, 3) + hip_centre[:, None, None, :]  # (T, 5, 2, 3)

    pose = np.empty((t, 33, 3))
    pose[:, :11] = upper[:, :11]
    pose[:, 11:17] = upper[:, 11:]  # shoulders, elbows, wrists (left, right)
    pose[:, [17, 18]] = hands[:, :, 17].transpose(1, 0, 2)  # pinky
    pose[:, [19, 20]] = hands[:, :, 5].transpose(1, 0, 2)  # index
    pose[:, [21, 22]] = hands[:, :, 2].transpose(1, 0, 2)  # thumb
    pose[:, 23:33] = lower.reshape(t, 10, 3)
    return _World(
        pose=pose,
        face_rot=torso_rot @ head_rot,
        face_scale=body.head,
        hands=hands,
        hip_centre=hip_centre,
        head_centre=head_c,
        face_pitch=m.torso[:, 0] + m.head[:, 0],
    )


# ----------------------------------------------------------------------------------------------
# Camera, noise and detection drop-outs.


@dataclass(frozen=True)
class _Camera:
    """Orthographic view: world metres -> normalised image coordinates."""

    rot: np.ndarray  # (3, 3) yaw of the person and image-plane roll
    pivot: np.ndarray  # (3,) rotation centre
    cx: float  # image x of the world origin
    ground: float  # image y of the floor (Y = 0)
    sx: float  # image-x units per metre
    sy: float  # image-y units per metre

    def xy(self, pts: np.ndarray) -> np.ndarray:
        """Rotated world points, then projected x, y and world depth Z ``(..., 3)``."""
        p = (pts - self.pivot) @ self.rot.T + self.pivot
        return p * (self.sx, -self.sy, 1.0) + (self.cx, self.ground, 0.0)

    def face(self, rot: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
        """Face template posed by ``rot`` (T, 3, 3) around world ``centre`` (T, 3): image x, y
        and depth relative to the centre in image-x units, float32 ``(T, 468, 3)``."""
        t = rot.shape[0]
        lin = np.array([[self.sx], [-self.sy], [-self.sx]]) * (self.rot @ rot) * scale
        face = (lin.reshape(t, 9).astype(np.float32) @ _FACE_BASIS).reshape(t, 468, 3)
        offset = self.xy(centre)
        offset[:, 2] = 0.0
        face += offset[:, None, :].astype(np.float32)
        return face


def _random_camera(rng: np.random.Generator, body: _Body) -> _Camera:
    """Random zoom, aspect ratio, framing, yaw and roll."""
    sy = rng.uniform(0.4, 0.62)
    aspect = rng.choice([4.0 / 3.0, 16.0 / 9.0, 1.0], p=[0.45, 0.45, 0.1])
    hip_height = body.thigh + body.shin + 0.06 * body.foot
    height = hip_height + body.torso + body.neck + 0.12 * body.head
    top = rng.uniform(0.04, 0.16)
    yaw = np.radians(rng.uniform(-22.0, 22.0))
    roll = np.radians(rng.uniform(-6.0, 6.0))
    rot = _rotation(np.zeros(1), np.full(1, yaw), np.full(1, roll))[0]
    return _Camera(
        rot=rot,
        pivot=np.array([0.0, hip_height, 0.0]),
        cx=rng.uniform(0.35, 0.65),
        ground=top + sy * height,
        sx=sy / aspect,
        sy=sy,
    )


def _visibility(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pose visibility: near 1 inside the image, falling off outside it ``(T, 33)``."""
    margin = np.minimum(
        np.minimum(xy[..., 0], 1.0 - xy[..., 0]), np.minimum(xy[..., 1], 1.0 - xy[..., 1])
    )
    base = np.full(33, 0.995)
    base[13:23] = 0.97  # arms and hands are less certain than the face
    base[23:] = 0.93
    vis = base / (1.0 + np.exp(-(margin / 0.025 + 2.5)))
    vis = vis - np.abs(rng.normal(0.0, 0.015, size=vis.shape))
    return np.clip(vis, 0.0, 1.0)


def _runs(t: int, rng: np.random.Generator, rate: float, longest: int) -> np.ndarray:
    """Boolean (T,) mask with a Poisson number of short runs of True."""
    mask = np.zeros(t, dtype=bool)
    for _ in range(min(int(rng.poisson(rate)), 3)):
        n = int(rng.integers(1, max(2, longest) + 1))
        start = int(rng.integers(0, t))
        mask[start : start + n] = True
    return mask


def _hand_missing(wrist_xy: np.ndarray, hip_y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames (T,) where the hand detector misses one hand."""
    t = wrist_xy.shape[0]
    if rng.random() < 0.04:
        return np.ones(t, dtype=bool)
    missing = _runs(t, rng, 0.45, max(1, t // 6))
    outside = (wrist_xy < -0.02) | (wrist_xy > 1.02)
    missing |= outside.any(axis=-1)
    if rng.random() < 0.25:  # a hand hanging low by the side is often not picked up
        missing |= wrist_xy[:, 1] > hip_y + 0.02
    return missing


def _face_missing(face_pitch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frames (T,) where the face is not detected (rare drop-outs, deep bows)."""
    t = face_pitch.shape[0]
    if rng.random() < 0.02:
        return np.ones(t, dtype=bool)
    return _runs(t, rng, 0.08, max(1, t // 4)) | (face_pitch > np.radians(55.0))


def _noise(rng: np.random.Generator, sd: float, shape: tuple[int, ...]) -> np.ndarray:
    """Gaussian jitter (float32, fast)."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sd)


def _render(world: _World, cam: _Camera, rng: np.random.Generator) -> np.ndarray:
    """Project, add jitter and visibility, drop undetected parts: float32 ``(T, 1662)``."""
    t = world.pose.shape[0]
    frames = np.zeros((t, _WIDTH), dtype=np.float32)
    jitter = rng.uniform(0.0012, 0.0035)

    pose = cam.xy(world.pose)
    hip = cam.xy(world.hip_centre)
    pose[..., 2] = -(pose[..., 2] - hip[:, None, 2]) * cam.sx
    pose += _noise(rng, jitter, pose.shape) * (1.0, 1.0, 2.5)
    vis = _visibility(pose, rng)
    frames[:, _POSE] = np.concatenate([pose, vis[..., None]], axis=-1).reshape(t, -1)

    face = cam.face(world.face_rot, world.head_centre, world.face_scale)
    shake = rng.random(face.shape, dtype=np.float32)  # uniform jitter, sd ~0.3 * jitter
    shake -= np.float32(0.5)
    shake *= np.float32(jitter)
    shake += _noise(rng, 0.004 * cam.sy, (1, 468, 3))  # this person's face shape
    face += shake
    face[_face_missing(world.face_pitch, rng)] = 0.0
    frames[:, _FACE] = face.reshape(t, -1)

    for side in (LEFT, RIGHT):
        hand = cam.xy(world.hands[side])
        hand[..., 2] = -(hand[..., 2] - hand[:, :1, 2]) * cam.sx
        hand += _noise(rng, jitter * 0.3, hand.shape) + _noise(rng, jitter * 0.5, (t, 1, 3))
        hand[:, 0, 2] = 0.0  # depth is relative to the wrist
        hand[_hand_missing(hand[:, 0, :2], hip[:, 1], rng)] = 0.0
        frames[:, _HANDS[side]] = hand.reshape(t, -1)
    return frames
