"""The bundle's keypoint transform: raw ``(T, D)`` sequence to model input ``(window, F)``.

Everything it needs is stored in the bundle's ``config.json``, so training, evaluation,
prediction and serving apply exactly the same preprocessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from motionscope.keypoints.features import FeatureConfig, feature_dim, make_features
from motionscope.keypoints.layout import Layout, get_layout
from motionscope.keypoints.resample import fit_length


@dataclass
class Preprocessor:
    layout: Layout
    window: int
    features: FeatureConfig = field(default_factory=FeatureConfig)

    @property
    def input_dim(self) -> int:
        return feature_dim(self.layout, self.features)

    @property
    def uses_face(self) -> bool:
        """Whether the model input reads the face block (raw features of a layout with a face,
        or ``features.face``): if not, video needs no face landmarks."""
        return self.layout.has("face") and (self.features.kind == "raw" or self.features.face)

    @property
    def uses_hands(self) -> bool:
        """Whether the model input reads a hand block (every feature kind reads the hands of
        its layout)."""
        return self.layout.has("left_hand") or self.layout.has("right_hand")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(T, D)`` float32 to ``(window, F)`` float32."""
        return make_features(
            fit_length(np.asarray(x, np.float32), self.window), self.layout, self.features
        )

    def batch(self, sequences: list[np.ndarray]) -> np.ndarray:
        return np.stack([self(x) for x in sequences]).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {
            "layout": self.layout.to_dict(),
            "window": self.window,
            "features": asdict(self.features),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        return cls(
            get_layout(d["layout"]["name"]), int(d["window"]), FeatureConfig(**d["features"])
        )
