"""motionscope: human action recognition from video, keypoints and RGB."""

from __future__ import annotations

__version__ = "0.1.0"


def load(run, **kwargs):
    """Load a trained bundle (any model kind) as its :class:`~motionscope.infer.Recognizer`;
    see :func:`motionscope.infer.load_recognizer` for the options."""
    from motionscope.infer.loader import load_recognizer

    return load_recognizer(run, **kwargs)


__all__ = ["__version__", "load"]
