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

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionscope.bundle import Bundle
from motionscope.errors import DataError
from motionscope.infer.backend import TorchBackend, make_backend
from motionscope.infer.recognizer import Recognizer
from motionscope.kinds import InputKind
from motionscope.video.decode import is_frame_folder, is_video_file
from motionscope.video.rate import RateConverter
from motionscope.video.sampling import SamplingConfig, sample_clip, sample_frames, shrink

CLIP_BATCH = 4  # clips per forward pass: 16 frames of 112x112 each, EfficientNet per frame


@dataclass(frozen=True)
class SampledClip:
    """A clip already sampled by the bundle's sampling: ``(frames, size, size, 3)`` uint8."""

    frames: np.ndarray


class ClipPreprocessor:
    """The bundle's transform for RGB models: raw frames ``(T, H, W, 3)`` uint8 (or a
    :class:`SampledClip`) -> model input ``(frames, size, size, 3)`` float32 (0..255; the model
    normalises)."""

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

    kind = InputKind.FRAMES
    batch_size = CLIP_BATCH
    layout = None  # no keypoint layout: RGB models take frames

    @property
    def sampling(self) -> SamplingConfig:
        return self.pre.sampling

    @classmethod
    def from_bundle(
        cls, bundle: Bundle, *, threads: int | None = None, backend: str = "torch"
    ) -> FramesRecognizer:
        """Build the model of an RGB bundle and its recognizer."""
        cfg = bundle.config
        sampling = cfg.sampling_config()
        net = cls.build_network(bundle, input_dim=3, window=sampling.frames)
        bundle.load_weights_into(net)
        net.eval()
        if threads:
            torch.set_num_threads(threads)
        pre = ClipPreprocessor(sampling, cfg.window)
        if backend == "torch":
            runner = TorchBackend(net, batch_size=CLIP_BATCH)
        else:
            runner = make_backend(backend, bundle, net, threads=threads)
        return cls(bundle, net, pre, runner)

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
        return check_frames(item), ""

    def _segment_source(self, item, fps):
        if not isinstance(item, (str, Path)):
            return check_frames(item), fps, ""
        from motionscope.video.decode import iter_frames, probe

        path = Path(item)
        if not path.exists():
            raise DataError(f"{path} does not exist")
        frames, rate = self.sequence_from_frames(iter_frames(path), fps or probe(path).fps)
        return frames, rate, str(path)

    def sequence_from_frames(self, frames: Iterable[np.ndarray], fps: float | None):
        """Frames at the model's frame rate, each resized to the sampling's short side (all a
        clip needs, a fraction of the memory of full frames)."""
        rate = RateConverter(fps, self.fps)
        kept = []
        for frame, n in rate.select(frames):
            small = shrink(frame, self.sampling.resize)
            kept.extend([small] * n)
        if not kept:
            raise DataError("the video has no frames")
        return np.stack(kept), rate.fps

    def stream_buffer(self, window: int, extractor=None):
        from motionscope.infer.stream import FrameBuffer

        return FrameBuffer(window, self.sampling.resize)

    def input_spec(self) -> dict:
        return {
            "kind": self.kind.value,
            "sampling": self.sampling.to_dict(),
            "window": self.window,
            "fps": self.fps,
            "normalization": (self.config.extras.get("input") or {}).get("normalization"),
        }

    def onnx_input(self) -> tuple[tuple[int, ...], int | None]:
        s = self.sampling
        return (s.frames, s.size, s.size, 3), None


def check_frames(item) -> np.ndarray:
    arr = np.asarray(item)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) == 0:
        raise DataError(
            f"an RGB model takes frames as a (T, H, W, 3) uint8 RGB array with T >= 1, got "
            f"shape {arr.shape} {arr.dtype}"
        )
    return arr
