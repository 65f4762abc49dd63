"""Training: Lightning module, data pipeline, ``train`` writing a bundle."""

from motionscope.train.config import OptimConfig, TrainConfig
from motionscope.train.fit import TrainResult, train

__all__ = ["OptimConfig", "TrainConfig", "TrainResult", "train"]
