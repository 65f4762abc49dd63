"""motionscope: human action recognition from video, keypoints and RGB."""

from __future__ import annotations

__version__ = "0.1.0"


def load(run, **kwargs):
    """Load a trained bundle as a :class:`~motionscope.infer.Recognizer`."""
    from motionscope.infer.recognizer import Recognizer

    return Recognizer.load(run, **kwargs)


__all__ = ["__version__", "load"]
