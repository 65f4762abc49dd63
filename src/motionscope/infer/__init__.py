"""Using a trained bundle: the Recognizer and its typed results."""

from motionscope.infer.recognizer import Prediction, Recognizer

__all__ = ["Prediction", "Recognizer"]
