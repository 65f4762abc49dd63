"""Video input: decode files and frame folders into ``uint8`` RGB frames ``(H, W, 3)``."""

from motionscope.video.decode import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    TruncatedVideoError,
    VideoInfo,
    frame_files,
    is_frame_folder,
    is_video_file,
    iter_frames,
    probe,
    read_frames,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "TruncatedVideoError",
    "VideoInfo",
    "frame_files",
    "is_frame_folder",
    "is_video_file",
    "iter_frames",
    "probe",
    "read_frames",
]
