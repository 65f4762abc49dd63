"""Recognizing actions with RGB bundles (``config.json`` ``input_kind: "frames"``).

:class:`FramesRecognizer` is the :class:`~motionscope.infer.recognizer.Recognizer` of an RGB
model: ``motionscope.load(RUN)`` returns one for such a bundle, and ``predict``,
``predict_many``, ``probabilities`` take a video file, a folder of frame images or a
``(T, H, W, 3)`` uint8 RGB array. The clip is sampled exactly as in training's evaluation
(the bundle's ``sampling``: frames spread over the whole clip, short side resized, centre crop;
videos are decoded by seeking to the needed frames), then the model (whose weights include the
input normalisation) gives the logits; the bundle's calibration applies as for keypoint models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionscope.bundle import Bundle
from motionscope.errors import BundleError, DataError
from motionscope.infer.backend import TorchBackend
from motionscope.infer.recognizer import Recognizer
from motionscope.models.registry import get_model_info
from motionscope.progress import progress_iter
from motionscope.video.decode import is_frame_folder, is_video_file
from motionscope.video.sampling import SamplingConfig, sample_clip, sample_frames

CLIP_BATCH = 4  # clips per forward pass: 16 frames of 112x112 each, EfficientNet per frame


@dataclass(frozen=True)
class SampledClip:
    """A clip already sampled by the bundle's sampling: ``(frames, size, size, 3)`` uint8."""

    frames: np.ndarray


class ClipPreprocessor:
    """The bundle's transform for RGB models: raw frames ``(T, H, W, 3)`` uint8 (or a
    :class:`SampledClip`) -> model input ``(frames, size, size, 3)`` float32 (0..255; the model
    normalises)."""

    layout = None  # no keypoint layout: RGB models take frames

    def __init__(self, sampling: SamplingConfig, window: int | None = None) -> None:
        self.sampling = sampling
        # video frames a window covers when a long video is cut into windows: the typical
        # training clip length (config "clip_frames"), else the sampled frame count
        self.window = int(window or sampling.frames)

    def __call__(self, clip) -> np.ndarray:
        if isinstance(clip, SampledClip):
            return clip.frames.astype(np.float32)
        return sample_frames(clip, self.sampling).astype(np.float32)

    def batch(self, clips: list) -> np.ndarray:
        s = self.sampling
        if not clips:
            return np.zeros((0, s.frames, s.size, s.size, 3), dtype=np.float32)
        return np.stack([self(c) for c in clips])

    def to_dict(self) -> dict:
        return {"sampling": self.sampling.to_dict(), "window": self.window}


class FramesRecognizer(Recognizer):
    """A :class:`Recognizer` over an RGB bundle (see the module docstring)."""

    input_kind = "frames"

    @property
    def layout(self):
        return None

    @property
    def sampling(self) -> SamplingConfig:
        return self.pre.sampling

    def keypoints_and_fps(self, path):  # noqa: D102
        raise DataError(f"{self.bundle.path} is an RGB model: it reads frames, not keypoints")

    def clip(self, item: np.ndarray | Path | str) -> np.ndarray:
        """The model's view of ``item``: ``(frames, size, size, 3)`` uint8 RGB."""
        loaded, _ = self._as_sequence(item)
        return (
            loaded.frames
            if isinstance(loaded, SampledClip)
            else sample_frames(loaded, self.sampling)
        )

    def _as_sequence(self, item) -> tuple[SampledClip | np.ndarray, str]:
        if isinstance(item, (str, Path)):
            path = Path(item)
            if not path.exists():
                raise DataError(f"{path} does not exist")
            if is_video_file(path) or is_frame_folder(path):
                return SampledClip(sample_clip(path, self.sampling)), str(path)
            raise DataError(
                f"{path}: an RGB model takes a video file, a folder of frame images or a "
                "(T, H, W, 3) uint8 RGB array"
            )
        arr = np.asarray(item)
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) == 0:
            raise DataError(
                f"an RGB model takes frames as a (T, H, W, 3) uint8 RGB array with T >= 1, got "
                f"shape {arr.shape} {arr.dtype}"
            )
        return arr, ""

    def probabilities(self, items: list, *, progress: bool = False) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for videos, frame folders or frame arrays,
        decoded and run a few clips at a time."""
        chunks = [items[i : i + CLIP_BATCH] for i in range(0, len(items), CLIP_BATCH)]
        out = [np.zeros((0, len(self.classes)), dtype=np.float32)]
        for chunk in progress_iter(chunks, "clips", enabled=progress):
            inputs = self.pre.batch([self._as_sequence(i)[0] for i in chunk])
            out.append(self.probabilities_of_inputs(inputs))
        return np.concatenate(out)


def load_frames_recognizer(
    bundle: Bundle, *, threads: int | None = None, unknown_threshold: float | None = None
) -> FramesRecognizer:
    """Build the model of an RGB bundle and its :class:`FramesRecognizer`."""
    cfg = bundle.config
    try:
        sampling = SamplingConfig.from_dict(cfg["sampling"])
        name = cfg["model"]["name"]
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{bundle.path}: config.json lacks a valid RGB model entry ({e})") from e
    info = get_model_info(name)
    if info.input_kind != "frames":
        raise BundleError(f"{bundle.path}: model {name!r} does not take frames")
    net = info.build(
        input_dim=3,
        num_classes=len(bundle.classes),
        window=sampling.frames,
        **cfg["model"].get("hparams", {}),
    )
    bundle.load_weights_into(net)
    net.eval()
    if threads:
        torch.set_num_threads(threads)
    window = (cfg.get("clip_frames") or {}).get("median")
    pre = ClipPreprocessor(sampling, int(round(window)) if window else None)
    rec = FramesRecognizer(bundle, net, pre, TorchBackend(net, batch_size=CLIP_BATCH))
    if unknown_threshold is not None:
        rec.set_unknown_threshold(unknown_threshold)
    return rec
