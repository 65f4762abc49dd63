"""Keypoint layouts, normalisation, features and augmentation (numpy only)."""

from motionscope.keypoints.layout import HOLISTIC, Layout, get_layout, resolve_layout

__all__ = ["HOLISTIC", "Layout", "get_layout", "resolve_layout"]
