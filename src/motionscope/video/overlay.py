"""Draw what the recogniser sees on a frame: skeleton, label, top-k confidence bars, FPS.

Every function returns a new ``uint8`` RGB frame and leaves its input untouched. Keypoints are
one frame's vector in any named layout (Holistic 1662, pose + hands 258, pose 132, hands 126);
x and y are MediaPipe's normalised image coordinates, and all-zero landmarks (not detected) are
not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscope.keypoints.layout import HOLISTIC, Layout

# MediaPipe pose landmark pairs (33 landmarks): face, torso, arms with hands, legs with feet.
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 23), (12, 24), (23, 24),
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
)  # fmt: skip
# MediaPipe hand landmark pairs (21 landmarks): thumb, four fingers, palm.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (9, 10), (10, 11), (11, 12),
    (13, 14), (14, 15), (15, 16),
    (0, 17), (17, 18), (18, 19), (19, 20),
    (5, 9), (9, 13), (13, 17),
)  # fmt: skip

POSE_COLOUR = (255, 255, 255)
JOINT_COLOUR = (255, 80, 60)
HAND_COLOURS = {"left_hand": (80, 200, 255), "right_hand": (255, 170, 40)}
UNKNOWN_COLOUR = (160, 160, 160)
VISIBILITY_MIN = 0.3  # pose landmarks MediaPipe thinks are less visible are not drawn

# Distinct bar colours (RGB), one per class index.
PALETTE = (
    (66, 135, 245),
    (245, 117, 16),
    (117, 245, 16),
    (16, 117, 245),
    (200, 60, 200),
    (240, 200, 40),
    (40, 200, 170),
    (230, 70, 70),
    (150, 110, 250),
    (120, 190, 60),
)


def class_colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def _scale(img: np.ndarray) -> float:
    """Text and line size relative to a 480-pixel-high frame."""
    return max(0.35, img.shape[0] / 480.0)


def _points(vec: np.ndarray, layout: Layout, block: str, w: int, h: int):
    """Pixel coordinates ``(n, 2)`` int and a 'draw it' mask for one block, or ``None``."""
    if not layout.has(block):
        return None
    b = layout.block(block)
    arr = np.asarray(vec, np.float32)[layout.slice(block)].reshape(b.landmarks, b.channels)
    if not arr.any():
        return None
    ok = np.abs(arr[:, :3]).sum(axis=1) > 0
    if b.channels == 4:
        ok &= arr[:, 3] >= VISIBILITY_MIN
    ok &= np.isfinite(arr[:, :2]).all(axis=1)
    xy = np.nan_to_num(arr[:, :2]) * np.array([w, h], np.float32)
    xy = np.clip(xy, -4 * max(w, h), 4 * max(w, h))  # cv2 needs sane int coordinates
    return np.round(xy).astype(np.int32), ok


def draw_skeleton(
    frame: np.ndarray, keypoints: np.ndarray | None, layout: Layout = HOLISTIC
) -> np.ndarray:
    """Pose and hand connections of one frame's ``keypoints`` (the face mesh is left out)."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    _skeleton_into(out, keypoints, layout)
    return out


def _skeleton_into(out: np.ndarray, keypoints: np.ndarray | None, layout: Layout) -> None:
    import cv2

    if keypoints is None or layout.is_generic:
        return
    h, w = out.shape[:2]
    s = _scale(out)
    thick = max(1, int(round(2 * s)))
    radius = max(1, int(round(3 * s)))
    for block, edges, colour in (
        ("pose", POSE_CONNECTIONS, POSE_COLOUR),
        ("left_hand", HAND_CONNECTIONS, HAND_COLOURS["left_hand"]),
        ("right_hand", HAND_CONNECTIONS, HAND_COLOURS["right_hand"]),
    ):
        got = _points(keypoints, layout, block, w, h)
        if got is None:
            continue
        xy, ok = got
        for a, b in edges:
            if ok[a] and ok[b]:
                cv2.line(out, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, thick,
                         cv2.LINE_AA)  # fmt: skip
        joint = JOINT_COLOUR if block == "pose" else colour
        for p in xy[ok]:
            cv2.circle(out, (int(p[0]), int(p[1])), radius, joint, -1, cv2.LINE_AA)


def _panel(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float = 0.55) -> None:
    """Darken a rectangle in place (a translucent background for text)."""
    h, w = img.shape[:2]
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi.astype(np.float32) * (1 - alpha)).astype(np.uint8)


def _text(img, text, org, scale, colour=(255, 255, 255), thick=1) -> None:
    import cv2

    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


@dataclass
class OverlayStyle:
    """Where and how big the text panel is (fractions of the frame width)."""

    panel_width: float = 0.42
    bar_height: float = 0.045  # of the frame height


def draw_predictions(
    frame: np.ndarray,
    *,
    label: str | None = None,
    confidence: float | None = None,
    top_k: list[tuple[str, float]] | None = None,
    classes: list[str] | None = None,
    fps: float | None = None,
    status: str | None = None,
    unknown_label: str = "unknown",
    style: OverlayStyle | None = None,
) -> np.ndarray:
    """The label panel (top left: label and confidence, then one bar per top-k class, longer for
    a higher probability, coloured by class index in ``classes``), an FPS counter (top right)
    and a status line (bottom left, e.g. "waiting for 30 frames")."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    _predictions_into(
        out, label, confidence, top_k, classes, fps, status, unknown_label, style or OverlayStyle()
    )
    return out


def _predictions_into(
    out: np.ndarray,
    label: str | None,
    confidence: float | None,
    top_k: list[tuple[str, float]] | None,
    classes: list[str] | None,
    fps: float | None,
    status: str | None,
    unknown_label: str,
    style: OverlayStyle,
) -> None:
    import cv2

    h, w = out.shape[:2]
    s = _scale(out)
    font = 0.6 * s
    thick = max(1, int(round(1.5 * s)))
    line = int(round(30 * s))
    pad = int(round(8 * s))
    panel_w = int(w * style.panel_width)
    top_k = list(top_k or [])
    if label is not None:
        bar_h = max(4, int(h * style.bar_height))
        panel_h = pad + line + len(top_k) * (bar_h + pad) + pad
        _panel(out, 0, 0, panel_w, panel_h)
        colour = UNKNOWN_COLOUR if label == unknown_label else (255, 255, 255)
        if confidence is None:
            text = label
        elif label == unknown_label and top_k:  # the number is the best real class's
            text = f"{label} (best: {top_k[0][0]} {confidence:.0%})"
        else:
            text = f"{label} {confidence:.0%}"
        _text(out, text, (pad, pad + int(line * 0.75)), font * 1.15, colour, max(1, round(2 * s)))
        y = pad + line
        bar_max = panel_w - 2 * pad
        for i, (name, p) in enumerate(top_k):
            idx = classes.index(name) if classes and name in classes else i
            length = int(round(bar_max * float(np.clip(p, 0.0, 1.0))))
            cv2.rectangle(out, (pad, y), (pad + bar_max, y + bar_h), (70, 70, 70), -1)
            if length > 0:
                cv2.rectangle(out, (pad, y), (pad + length, y + bar_h), class_colour(idx), -1)
            _text(
                out,
                f"{name} {p:.2f}",
                (pad + 3, y + bar_h - max(1, bar_h // 5)),
                font * 0.8 * min(1.0, bar_h / (22 * s)),
                (255, 255, 255),
                max(1, thick - 1),
            )
            y += bar_h + pad
    if fps is not None:
        text = f"{fps:.1f} FPS"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        _panel(out, w - tw - 2 * pad, 0, w, th + 2 * pad)
        _text(out, text, (w - tw - pad, th + pad), font, (255, 255, 255), thick)
    if status:
        (tw, th), _ = cv2.getTextSize(status, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        _panel(out, 0, h - th - 2 * pad, tw + 2 * pad, h)
        _text(out, status, (pad, h - pad), font, (255, 255, 255), thick)


def draw_banner(frame: np.ndarray, text: str, *, colour=(255, 255, 255), big: bool = True):
    """A centred line of large text on a dark band (prompts and countdowns)."""
    import cv2

    out = np.array(frame, dtype=np.uint8, copy=True)
    h, w = out.shape[:2]
    s = _scale(out)
    font = (1.0 if big else 0.7) * s
    thick = max(1, int(round(2 * s)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
    while tw > w * 0.95 and font > 0.3:  # long prompts on small frames: shrink to fit
        font *= 0.85
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
    y = h // 2
    pad = int(round(10 * s))
    _panel(out, 0, y - th - pad, w, y + pad, alpha=0.6)
    _text(out, text, ((w - tw) // 2, y), font, colour, thick)
    return out


def draw_overlay(
    frame: np.ndarray,
    *,
    keypoints: np.ndarray | None = None,
    layout: Layout = HOLISTIC,
    label: str | None = None,
    confidence: float | None = None,
    top_k: list[tuple[str, float]] | None = None,
    classes: list[str] | None = None,
    fps: float | None = None,
    status: str | None = None,
    unknown_label: str = "unknown",
) -> np.ndarray:
    """Skeleton, then the label panel, FPS and status (see :func:`draw_predictions`); one
    copy of ``frame``, drawn on."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    _skeleton_into(out, keypoints, layout)
    _predictions_into(
        out, label, confidence, top_k, classes, fps, status, unknown_label, OverlayStyle()
    )
    return out
