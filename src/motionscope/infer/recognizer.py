"""``Recognizer``: a bundle loaded once, predicting actions for keypoint sequences."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from motionscope.bundle import Bundle, read_bundle
from motionscope.data.loaders import check_sequence, load_sequence
from motionscope.errors import BundleError, DataError
from motionscope.infer.backend import Backend, TorchBackend, softmax
from motionscope.keypoints.layout import HOLISTIC, convert
from motionscope.keypoints.preprocess import Preprocessor
from motionscope.models.classifier import Classifier
from motionscope.models.registry import get_model_info
from motionscope.video.decode import is_frame_folder, is_video_file


@dataclass
class Prediction:
    """What the model thinks a clip shows."""

    label: str
    confidence: float  # probability of ``label``, 0..1
    top_k: list[tuple[str, float]]  # best first
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    source: str = ""

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "top_k": [{"label": lab, "confidence": round(p, 6)} for lab, p in self.top_k],
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
        }


class Recognizer:
    """Load with :meth:`load` (or ``motionscope.load(RUN)``), then call :meth:`predict`."""

    def __init__(
        self,
        bundle: Bundle,
        model: Classifier,
        pre: Preprocessor,
        backend: Backend | None = None,
    ) -> None:
        self.bundle = bundle
        self.model = model  # the PyTorch module (also kept when another backend runs it)
        self.pre = pre
        self.backend: Backend = backend or TorchBackend(model)
        self.temperature = 1.0  # logits are divided by it before the softmax (calibration)
        self.classes = bundle.classes
        self._extractor = None  # MediaPipe graph, created on the first video and kept

    def close(self) -> None:
        """Release the MediaPipe graph (if a video was predicted)."""
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def keypoints_from_video(self, path: Path | str) -> np.ndarray:
        """MediaPipe Holistic keypoints of a video file or frame folder, in the model's layout."""
        from motionscope.pose.holistic import HolisticExtractor

        if self.pre.layout.is_generic:
            raise DataError(
                f"this model takes {self.pre.layout.name} sequences, not video; pass arrays"
            )
        if self._extractor is None:
            self._extractor = HolisticExtractor()
        self._extractor.reset()
        arr, _ = self._extractor.extract_video(path)
        if not arr.any():
            raise DataError(f"no person detected in {path}: nothing to recognise")
        return convert(arr, HOLISTIC, self.pre.layout)

    @classmethod
    def load(cls, run: Path | str, *, threads: int | None = None) -> Recognizer:
        bundle = read_bundle(run)
        cfg = bundle.config
        if cfg.get("input_kind") != "keypoints":
            raise BundleError(f"{run}: input kind {cfg.get('input_kind')!r} is not supported yet")
        pre = Preprocessor.from_dict(cfg["preprocessing"])
        info = get_model_info(cfg["model"]["name"])
        net = info.build(
            input_dim=pre.input_dim,
            num_classes=len(bundle.classes),
            window=pre.window,
            **cfg["model"].get("hparams", {}),
        )
        model = Classifier(net, pre.input_dim)
        try:
            model.load_state_dict(bundle.state_dict())
        except RuntimeError as e:
            raise BundleError(
                f"{run}: weights do not match the architecture in config.json: "
                f"{str(e).splitlines()[0]}"
            ) from e
        model.eval()
        if threads:
            torch.set_num_threads(threads)
        return cls(bundle, model, pre)

    @property
    def layout(self):
        return self.pre.layout

    def _as_sequence(self, item: np.ndarray | Path | str) -> tuple[np.ndarray, str]:
        if isinstance(item, (str, Path)):
            if is_video_file(item) or is_frame_folder(item):
                return self.keypoints_from_video(item), str(item)
            arr, _ = load_sequence(item, self.pre.layout)
            return arr, str(item)
        arr = np.asarray(item)
        if arr.ndim == 1:
            arr = arr[None]
        arr = check_sequence(arr, "input array")
        if arr.shape[1] != self.pre.layout.width:
            raise DataError(
                f"input array has {arr.shape[1]} features per frame but the model expects "
                f"{self.pre.layout.width} ({self.pre.layout.name} layout)"
            )
        return arr, ""

    def probabilities_of_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for preprocessed model inputs."""
        if len(inputs) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return softmax(self.backend.logits(inputs), self.temperature)

    def probabilities(self, sequences: list[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for raw ``(T, D)`` sequences."""
        return self.probabilities_of_inputs(self.pre.batch(sequences))

    def predict(self, item: np.ndarray | Path | str, *, top_k: int = 3) -> Prediction:
        """Predict one clip: a ``(T, D)`` keypoint array, a ``.npy`` sequence, a folder of
        per-frame ``.npy`` files, a video file or a folder of frame images (keypoints are
        extracted with MediaPipe Holistic)."""
        return self.predict_many([item], top_k=top_k)[0]

    def predict_many(self, items: list, *, top_k: int = 3) -> list[Prediction]:
        t0 = time.perf_counter()
        loaded = [self._as_sequence(i) for i in items]
        t1 = time.perf_counter()
        inputs = self.pre.batch([a for a, _ in loaded])
        t2 = time.perf_counter()
        probs = self.probabilities_of_inputs(inputs)
        t3 = time.perf_counter()
        n = max(1, len(items))
        timings = {
            "load": (t1 - t0) * 1e3 / n,
            "preprocess": (t2 - t1) * 1e3 / n,
            "model": (t3 - t2) * 1e3 / n,
        }
        k = max(1, min(top_k, len(self.classes)))
        out = []
        for (_, src), p in zip(loaded, probs, strict=True):
            order = np.argsort(-p)[:k]
            out.append(
                Prediction(
                    label=self.classes[order[0]],
                    confidence=float(p[order[0]]),
                    top_k=[(self.classes[i], float(p[i])) for i in order],
                    timings=dict(timings),
                    source=src,
                )
            )
        return out
