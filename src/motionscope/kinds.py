"""The kinds of input a model takes. A bundle's ``config.json`` names one; the loader table in
:mod:`motionscope.infer.loader` maps it to the recognizer that knows how to feed that model."""

from __future__ import annotations

from enum import Enum


class InputKind(str, Enum):
    KEYPOINTS = "keypoints"  # (T, D) float32 keypoint sequences with a Layout
    FRAMES = "frames"  # (T, H, W, 3) uint8 RGB frames

    def __str__(self) -> str:
        return self.value
