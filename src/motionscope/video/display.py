"""An OpenCV window for live views, and detecting whether one can be opened at all.

``cv2.imshow`` from ``opencv-contrib-python`` *aborts the process* (Qt "xcb" plugin) when there is
no display, so it cannot be tried and caught: on Linux a window is only opened when ``DISPLAY`` or
``WAYLAND_DISPLAY`` is set; elsewhere (macOS, Windows) a display is assumed.
"""

from __future__ import annotations

import os
import sys

import numpy as np

QUIT_KEYS = (ord("q"), ord("Q"), 27)  # q or Esc


def display_available() -> bool:
    """True when a window can be shown (see the module docstring)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """``show(frame_rgb)`` returns ``False`` once the user pressed q / Esc or closed the
    window."""

    def __init__(self, title: str = "motionscope") -> None:
        import cv2

        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        self._shown = False

    def show(self, frame_rgb: np.ndarray) -> bool:
        import cv2

        cv2.imshow(self.title, cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        if not self._shown:
            self._shown = True
            h, w = frame_rgb.shape[:2]
            cv2.resizeWindow(self.title, w, h)
        key = cv2.waitKey(1) & 0xFF
        if key in QUIT_KEYS:
            return False
        try:  # the user closed the window with the mouse
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # pragma: no cover - backend without the property
            return True

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:  # pragma: no cover
            pass
