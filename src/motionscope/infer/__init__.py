"""Using a trained bundle: the Recognizer and its typed results."""

from motionscope.infer.recognizer import Prediction, Recognizer
from motionscope.infer.segment import UNKNOWN, Segment, Timeline

__all__ = ["UNKNOWN", "Prediction", "Recognizer", "Segment", "Timeline"]
