"""Datasets: keypoint folders, per-frame folders, manifests, .ts files, splits, synthetic data."""

from motionscope.data.dataset import KeypointDataset, Sample
from motionscope.data.loaders import load_keypoint_dataset, load_sequence

__all__ = ["KeypointDataset", "Sample", "load_keypoint_dataset", "load_sequence"]
