"""Drawing a skeleton as a filled cartoon person (OpenCV), and where it goes in the frame."""

from __future__ import annotations

import numpy as np

from motionscope.video.synth.body import _Body, _Motion, _Skeleton
from motionscope.video.synth.look import _DEG, _SIDES, LEFT, RIGHT, _Look

# ----------------------------------------------------------------------------------------------
# Drawing.


def _pt(p: np.ndarray) -> tuple[int, int]:
    """Pixel point with 4 fractional bits (cv2 ``shift=4``)."""
    return int(round(p[0] * 16)), int(round(p[1] * 16))


class _Painter:
    """Draws one frame of the figure with OpenCV, anti-aliased, outlined limbs."""

    SHIFT = 4

    def __init__(self, look: _Look, body: _Body, scale: float, origin: np.ndarray) -> None:
        self.look = look
        self.body = body
        self.scale = scale
        self.origin = origin
        self.line_w = max(1, int(round(scale * 0.006)))  # outline thickness, pixels

    def px(self, p: np.ndarray) -> np.ndarray:
        return self.origin + p * self.scale

    def limb(self, img, a, b, width: float, colour) -> None:
        import cv2

        w = max(2, int(round(width * self.scale)))
        pa, pb = _pt(self.px(a)), _pt(self.px(b))
        o = self.look.outline
        cv2.line(img, pa, pb, o, w + 2 * self.line_w, cv2.LINE_AA, self.SHIFT)
        cv2.line(img, pa, pb, colour, w, cv2.LINE_AA, self.SHIFT)

    def joint(self, img, p, radius: float, colour, outline: bool = True) -> None:
        import cv2

        r = max(1, int(round(radius * self.scale * 16)))
        c = _pt(self.px(p))
        if outline:
            cv2.circle(img, c, r + self.line_w * 16, self.look.outline, -1, cv2.LINE_AA, 4)
        cv2.circle(img, c, r, colour, -1, cv2.LINE_AA, self.SHIFT)

    def poly(self, img, pts: list[np.ndarray], colour) -> None:
        import cv2

        arr = np.array([_pt(self.px(p)) for p in pts], dtype=np.int32)
        cv2.fillPoly(img, [arr], colour, cv2.LINE_AA, self.SHIFT)
        cv2.polylines(img, [arr], True, self.look.outline, self.line_w, cv2.LINE_AA, self.SHIFT)

    def ellipse(self, img, centre, axes, angle: float, colour, thickness: int = -1, arc=(0, 360)):
        import cv2

        c = _pt(self.px(centre))
        ax = (
            max(1, int(round(axes[0] * self.scale * 16))),
            max(1, int(round(axes[1] * self.scale * 16))),
        )
        cv2.ellipse(img, c, ax, angle, arc[0], arc[1], colour, thickness, cv2.LINE_AA, self.SHIFT)

    def hand(self, img, wrist, elbow, side: float, fist: bool, size: float) -> None:
        b, look = self.body, self.look
        d = wrist - elbow
        d = d / max(float(np.hypot(*d)), 1e-6)
        r = b.hand * size
        palm = wrist + d * r * 0.8
        if fist:
            self.joint(img, palm, r * 1.05, look.skin)
            for k in (-1, 0, 1):  # knuckles
                q = palm + d * r * 0.55 + np.array([-d[1], d[0]]) * r * 0.45 * k
                self.joint(img, q, r * 0.28, look.skin)
            return
        # fingers: four spread around the forearm direction, the thumb turned to the midline
        for k, spread in enumerate((-24.0, -8.0, 8.0, 24.0)):
            ang = spread * _DEG
            rot = np.array(
                [d[0] * np.cos(ang) - d[1] * np.sin(ang), d[0] * np.sin(ang) + d[1] * np.cos(ang)]
            )
            length = r * (1.5, 1.75, 1.65, 1.35)[k]
            self.limb(
                img, palm + rot * r * 0.6, palm + rot * (r * 0.6 + length), r * 0.5, look.skin
            )
        inward = np.array([-side, 0.0])
        thumb_dir = d * 0.45 + inward * 0.9
        thumb_dir /= max(float(np.hypot(*thumb_dir)), 1e-6)
        self.limb(img, palm + thumb_dir * r * 0.5, palm + thumb_dir * r * 1.7, r * 0.55, look.skin)
        self.joint(img, palm, r, look.skin)

    def head(self, img, sk: _Skeleton, i: int) -> None:
        b, look = self.body, self.look
        c = sk.head[i]
        r = b.head
        dx, dy = float(sk.face_dx[i]), float(sk.face_dy[i])
        self.limb(img, sk.neck[i], c, b.head * 0.7, look.skin)  # neck
        # ears, then the head
        for s in _SIDES:
            ex = s * r * 0.98 * max(0.25, np.cos(np.arcsin(np.clip(dx / 0.55, -1, 1))))
            if abs(ex) > 0.3 * r:
                self.joint(img, c + np.array([ex - dx * r * 0.3, r * 0.05]), r * 0.2, look.skin)
        self.joint(img, c, r, look.skin)
        if not look.bald:  # hair cap on top of the head
            self.ellipse(
                img,
                c + np.array([0.0, -r * 0.35]),
                (r * 1.02, r * 0.7),
                0,
                look.hair,
                arc=(180, 360),
            )
        f = c + np.array([dx * r, dy * r])  # face centre, shifted by turning and bowing
        dark = (25, 20, 20)
        for s in _SIDES:
            e = f + np.array([s * r * 0.38 * (1 - 0.5 * abs(dx)), -r * 0.1])
            if abs(e[0] - c[0]) > r * 0.85:
                continue  # this eye is round the side of the head
            self.ellipse(img, e, (r * 0.21, r * 0.14), 0, (250, 250, 250))
            iris = e + np.array([dx * r * 0.06, 0.0])
            self.joint(img, iris, r * 0.1, look.eyes, outline=False)
            self.joint(img, iris, r * 0.045, dark, outline=False)
            self.limb(
                img,
                e + np.array([-r * 0.2, -r * 0.3]),
                e + np.array([r * 0.2, -r * 0.33]),
                r * 0.055,
                tuple(int(v * 0.7) for v in look.hair),
            )  # eyebrow
        nose = f + np.array([dx * r * 0.1, r * 0.2])
        self.ellipse(img, nose, (r * 0.08, r * 0.12), 0, tuple(int(v * 0.8) for v in look.skin))
        self.ellipse(
            img,
            f + np.array([0.0, r * 0.42]),
            (r * 0.3, r * 0.14),
            0,
            (150, 40, 50),
            thickness=max(1, int(round(self.scale * r * 0.09))),
            arc=(10, 170),
        )

    def draw(self, img: np.ndarray, sk: _Skeleton, i: int, m: _Motion) -> None:
        b, look = self.body, self.look
        # legs (behind the torso), with shoes
        for s in _SIDES:
            hip, knee, ankle = sk.hip[s][i], sk.knee[s][i], sk.ankle[s][i]
            self.limb(img, hip, knee, b.leg_w, look.pants)
            self.limb(img, knee, ankle, b.leg_w * 0.9, look.pants)
            toe = ankle + np.array([s * b.leg_w * 0.5, b.foot * 0.6])
            self.ellipse(img, toe, (b.leg_w * 0.85, b.foot * 0.75), 0, look.shoes)
        # torso: shoulders to hips, with a rounded belt line
        w = float(sk.width[i])
        sl, sr = sk.shoulder[LEFT][i], sk.shoulder[RIGHT][i]
        hl, hr = sk.hip[LEFT][i], sk.hip[RIGHT][i]
        pad = np.array([b.arm_w * 0.5 * w, -b.arm_w * 0.3])
        pad_r = np.array([-b.arm_w * 0.5 * w, -b.arm_w * 0.3])
        hip_pad = np.array([b.leg_w * 0.55 * w, b.leg_w * 0.3])
        hip_pad_r = np.array([-b.leg_w * 0.55 * w, b.leg_w * 0.3])
        self.poly(img, [sr + pad_r, sl + pad, hl + hip_pad, hr + hip_pad_r], look.shirt)
        # head (drawn before the arms: hands may pass in front of the face)
        self.head(img, sk, i)
        sleeve = look.shirt
        fore = look.shirt if look.long_sleeves else look.skin
        for s in _SIDES:
            sh, el, wr = sk.shoulder[s][i], sk.elbow[s][i], sk.wrist[s][i]
            self.joint(img, sh, b.arm_w * 0.55, sleeve)
            self.limb(img, sh, el, b.arm_w, sleeve)
            self.limb(img, el, wr, b.arm_w * 0.85, fore)
            self.hand(img, wr, el, s, bool(m.fist[s][i]), float(m.fist_scale[s][i]))


def _layout(
    sk: _Skeleton, body: _Body, rng: np.random.Generator, w: int, h: int
) -> tuple[float, np.ndarray]:
    """Random zoom and position that keep the whole figure in the frame over the clip."""
    pts = sk.points()
    pad = body.head + body.hand * 2.5  # reach beyond the joints (head, hands, shoes)
    lo = pts.reshape(-1, 2).min(axis=0) - pad
    hi = pts.reshape(-1, 2).max(axis=0) + pad
    lo[1] = min(lo[1], -1.0)
    hi[1] = max(hi[1], 0.01)
    extent = hi - lo
    margin = 0.02 * min(w, h)
    scale = rng.uniform(0.62, 0.85) * h
    scale = min(scale, (h - 2 * margin) / extent[1], (w - 2 * margin) / extent[0])
    free = np.array([w, h]) - 2 * margin - extent * scale
    origin = margin + rng.uniform(0, 1, 2) * np.maximum(free, 0) - lo * scale
    return float(scale), origin
