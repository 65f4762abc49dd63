"""Pose estimation: MediaPipe Holistic keypoints from frames, videos and whole folders.

Importing this package does not import MediaPipe; the graph starts on first use.
"""

from motionscope.pose.batch import ExtractReport, VideoResult, extract_batch
from motionscope.pose.holistic import (
    EXTRACTOR,
    ExtractorError,
    HolisticExtractor,
    HolisticSettings,
)

__all__ = [
    "EXTRACTOR",
    "ExtractReport",
    "ExtractorError",
    "HolisticExtractor",
    "HolisticSettings",
    "VideoResult",
    "extract_batch",
]
