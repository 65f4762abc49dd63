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
from motionscope.infer.backend import Backend, TorchBackend, make_backend, softmax
from motionscope.infer.segment import UNKNOWN, Timeline, build_timeline, window_starts
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
    unknown: bool = False  # top probability below the unknown threshold (label is "unknown")

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "top_k": [{"label": lab, "confidence": round(p, 6)} for lab, p in self.top_k],
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
            "unknown": self.unknown,
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
        # calibration (train/calibrate.py): logits are divided by the temperature before the
        # softmax; a top probability below unknown_threshold is reported as "unknown" (0 = off)
        cal = bundle.config.get("calibration") or {}
        self.temperature = float(cal.get("temperature") or 1.0)
        self.unknown_threshold = float(cal.get("unknown_threshold") or 0.0)
        self.classes = bundle.classes
        self._extractor = None  # MediaPipe graph, created on the first video and kept
        self._video_ms: dict[str, float] = {}  # decode / pose time of videos, for timings

    def close(self) -> None:
        """Release the MediaPipe graph (if a video was predicted)."""
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def keypoints_from_video(self, path: Path | str) -> np.ndarray:
        """MediaPipe Holistic keypoints of a video file or frame folder, in the model's layout."""
        return self.keypoints_and_fps(path)[0]

    def keypoints_and_fps(self, path: Path | str) -> tuple[np.ndarray, float | None]:
        """:meth:`keypoints_from_video` plus the keypoints' frame rate (``None`` for a folder of
        frame images, which has none)."""
        from motionscope.pose.holistic import HolisticExtractor

        if self.pre.layout.is_generic:
            raise DataError(
                f"this model takes {self.pre.layout.name} sequences, not video; pass arrays"
            )
        if self._extractor is None:
            self._extractor = HolisticExtractor()
        self._extractor.reset()
        arr, info = self._extractor.extract_video(path)
        decode_ms = float(info.get("decode_seconds") or 0.0) * 1e3
        self._video_ms["decode"] = self._video_ms.get("decode", 0.0) + decode_ms
        pose_ms = float(info.get("seconds") or 0.0) * 1e3 - decode_ms  # MediaPipe Holistic
        self._video_ms["pose"] = self._video_ms.get("pose", 0.0) + pose_ms
        if not arr.any():
            raise DataError(f"no person detected in {path}: nothing to recognise")
        return convert(arr, HOLISTIC, self.pre.layout), info.get("keypoint_fps")

    @classmethod
    def load(
        cls,
        run: Path | str,
        *,
        threads: int | None = None,
        unknown_threshold: float | None = None,
        backend: str = "torch",
    ) -> Recognizer:
        """Load a bundle. ``unknown_threshold`` overrides the bundle's calibrated threshold
        (0 disables "unknown"; ``None`` keeps the bundle's). ``backend`` runs the network:
        ``torch``, or ``onnx`` / ``onnx-int8`` (ONNX Runtime on the graphs written by
        ``motionscope export RUN --format onnx [--int8]``); ``threads`` sets its threads."""
        bundle = read_bundle(run)
        cfg = bundle.config
        if cfg.get("input_kind") == "frames":  # RGB models: infer/frames.py
            from motionscope.infer.frames import load_frames_recognizer

            rec = load_frames_recognizer(
                bundle, threads=threads, unknown_threshold=unknown_threshold
            )
            if backend != "torch":
                rec.backend = make_backend(backend, bundle, rec.model, threads=threads)
            return rec
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
        bundle.load_weights_into(model, run)
        model.eval()
        if threads:
            torch.set_num_threads(threads)
        rec = cls(bundle, model, pre, make_backend(backend, bundle, model, threads=threads))
        if unknown_threshold is not None:
            rec.set_unknown_threshold(unknown_threshold)
        return rec

    def set_unknown_threshold(self, threshold: float | None) -> None:
        """Report "unknown" when the top calibrated probability is below ``threshold``
        (0 or ``None`` disables it)."""
        value = float(threshold or 0.0)
        if not 0.0 <= value <= 1.0:
            raise DataError(f"the unknown threshold is a probability in [0, 1], got {threshold}")
        self.unknown_threshold = value

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
        self._video_ms = {}
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
            # videos: the part of "load" spent decoding and in MediaPipe Holistic
            **{stage: ms / n for stage, ms in self._video_ms.items()},
        }
        k = max(1, min(top_k, len(self.classes)))
        out = []
        for (_, src), p in zip(loaded, probs, strict=True):
            order = np.argsort(-p)[:k]
            unknown = bool(p[order[0]] < self.unknown_threshold)
            out.append(
                Prediction(
                    label=UNKNOWN if unknown else self.classes[order[0]],
                    confidence=float(p[order[0]]),
                    top_k=[(self.classes[i], float(p[i])) for i in order],
                    timings=dict(timings),
                    source=src,
                    unknown=unknown,
                )
            )
        return out

    # -- long videos ----------------------------------------------------------------------------

    def _segment_source(
        self, item: np.ndarray | Path | str, fps: float | None
    ) -> tuple[np.ndarray, float | None, str]:
        """The whole sequence to slide windows over, its frame rate and its name.

        The hook for other input kinds: a keypoint bundle gets keypoints (extracted once for a
        whole video), a bundle whose ``input_kind`` is ``frames`` gets the decoded RGB frames
        (its ``pre.batch`` then turns windows of frames into model inputs)."""
        if self.bundle.config.get("input_kind") == "frames":
            if not isinstance(item, (str, Path)):
                return np.asarray(item), fps, ""
            from motionscope.video.decode import probe, read_frames

            return read_frames(item), fps or probe(item).fps, str(item)
        if isinstance(item, (str, Path)):
            path = Path(item)
            if is_video_file(path) or is_frame_folder(path):
                arr, found = self.keypoints_and_fps(path)
                return arr, fps or found, str(path)
            arr, _ = load_sequence(path, self.pre.layout)
            return arr, fps or _sidecar_fps(path), str(path)
        arr, _ = self._as_sequence(item)
        return arr, fps, ""

    def _window_inputs(self, seq: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Model inputs for the windows ``seq[s : s + window]`` (the bundle's preprocessing)."""
        return self.pre.batch([seq[s : s + window] for s in starts])

    def segments(
        self,
        item: np.ndarray | Path | str,
        *,
        fps: float | None = None,
        window: int | None = None,
        stride: int | None = None,
        smooth: int = 3,
        min_segment_s: float | None = None,
        batch_size: int = 256,
    ) -> Timeline:
        """Cut a long video (file or frame folder), keypoint file or ``(T, D)`` array into
        labelled segments (see :mod:`motionscope.infer.segment`).

        ``window`` frames per window (default: the bundle's window; other lengths are resampled
        to it), a window every ``stride`` frames (default ``window // 4``), probabilities
        averaged over ``smooth`` consecutive windows, segments shorter than ``min_segment_s``
        absorbed by a neighbour (default: half a window). ``fps`` is needed for arrays and frame
        folders (a ``.npy`` written by ``motionscope extract`` has it in its ``.json`` sidecar).
        """
        t0 = time.perf_counter()
        seq, fps, src = self._segment_source(item, fps)
        name = src or "the input array"
        if not fps or fps <= 0:
            raise DataError(
                f"{name} has no frame rate: pass fps= (on the command line --fps) to segment it"
            )
        window = int(window or getattr(self.pre, "window", 0) or 0)
        if window < 1:
            raise DataError(f"window must be at least 1 frame, got {window}")
        stride = int(stride or max(1, window // 4))
        if stride < 1:
            raise DataError(f"stride must be at least 1 frame, got {stride}")
        if smooth < 1:
            raise DataError(f"smooth must be at least 1 window, got {smooth}")
        if min_segment_s is None:
            min_segment_s = 0.5 * window / fps
        t1 = time.perf_counter()
        starts = window_starts(len(seq), window, stride)
        chunks, t_pre, t_model = [], 0.0, 0.0
        for i in range(0, len(starts), batch_size):
            a = time.perf_counter()
            inputs = self._window_inputs(seq, starts[i : i + batch_size], window)
            b = time.perf_counter()
            chunks.append(self.probabilities_of_inputs(inputs))
            t_pre, t_model = t_pre + b - a, t_model + time.perf_counter() - b
        t2 = time.perf_counter()
        timeline = build_timeline(
            np.concatenate(chunks),
            starts,
            window=window,
            stride=stride,
            n_frames=len(seq),
            fps=float(fps),
            classes=self.classes,
            unknown_threshold=self.unknown_threshold or None,
            smooth=smooth,
            min_segment_s=float(min_segment_s),
            source=src,
        )
        timeline.timings = {
            "load": (t1 - t0) * 1e3,
            "preprocess": t_pre * 1e3,
            "model": t_model * 1e3,
            "segment": (time.perf_counter() - t2) * 1e3,
        }
        return timeline

    # -- live -----------------------------------------------------------------------------------

    def stream(
        self,
        *,
        every: int = 5,
        smooth: int = 3,
        window: int | None = None,
        top_k: int = 3,
        unknown_threshold: float | None = None,
    ):
        """A :class:`~motionscope.infer.stream.StreamRecognizer` over this model: push frames
        (or keypoint vectors) one at a time; a prediction every ``every`` frames once the last
        ``window`` frames (default: the bundle's window) are buffered, averaged over the last
        ``smooth`` predictions. One per camera or connection; close it when done."""
        from motionscope.infer.stream import StreamRecognizer

        return StreamRecognizer(
            self,
            every=every,
            smooth=smooth,
            window=window,
            top_k=top_k,
            unknown_threshold=unknown_threshold,
        )


def _sidecar_fps(path: Path) -> float | None:
    """The keypoint frame rate in the ``.json`` sidecar ``motionscope extract`` writes."""
    import json

    sidecar = path.with_suffix(".json")
    if not path.is_file() or not sidecar.is_file():
        return None
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fps = info.get("keypoint_fps") or info.get("fps") if isinstance(info, dict) else None
    return float(fps) if fps else None
