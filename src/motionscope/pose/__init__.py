"""Pose estimation: MediaPipe Holistic keypoints from frames, videos and whole folders (Holistic,
or Holistic without its face branch: :mod:`motionscope.pose.graph`).

Importing this package does not import MediaPipe; the graph starts on first use.
"""

from motionscope.pose.batch import ExtractReport, VideoResult, extract_batch
from motionscope.pose.holistic import (
    EXTRACTOR,
    ExtractorError,
    HolisticExtractor,
    HolisticSettings,
    PoseHandsExtractor,
)

__all__ = [
    "EXTRACTOR",
    "ExtractReport",
    "ExtractorError",
    "HolisticExtractor",
    "HolisticSettings",
    "PoseHandsExtractor",
    "VideoResult",
    "extract_batch",
]
