"""Using a trained bundle: recognizers for every model kind and their typed results."""

from motionscope.infer.frames import FramesRecognizer
from motionscope.infer.keypoints import KeypointRecognizer
from motionscope.infer.loader import LOADERS, load_recognizer
from motionscope.infer.prediction import Prediction
from motionscope.infer.recognizer import Recognizer
from motionscope.infer.segment import UNKNOWN, Segment, Timeline

__all__ = [
    "LOADERS",
    "UNKNOWN",
    "FramesRecognizer",
    "KeypointRecognizer",
    "Prediction",
    "Recognizer",
    "Segment",
    "Timeline",
    "load_recognizer",
]
