"""Recognizing actions with keypoint bundles (``input_kind: "keypoints"``).

:class:`KeypointRecognizer` takes a ``(T, D)`` keypoint array, a ``.npy`` sequence, a folder of
per-frame ``.npy`` files, a video file or a folder of frame images. Videos go through MediaPipe
(one graph, created on the first video and kept) at the frame rate the model was trained at:
Holistic when the model reads the face block, else Holistic without its face branch
(``"pose-hands"``, :mod:`motionscope.pose.graph`), which gives the same pose and hands for less
work. Keypoints in a wider layout than the bundle's (1662-wide Holistic data for a 258-wide
pose + hands model) are converted to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from motionscope.bundle import Bundle
from motionscope.data.fps import sidecar_fps
from motionscope.data.loaders import check_sequence, load_sequence
from motionscope.errors import DataError
from motionscope.infer.backend import make_backend
from motionscope.infer.recognizer import Recognizer
from motionscope.keypoints.layout import HOLISTIC, Layout, convert, to_layout
from motionscope.keypoints.preprocess import Preprocessor
from motionscope.kinds import InputKind
from motionscope.models.classifier import Classifier
from motionscope.video.decode import is_frame_folder, is_video_file
from motionscope.video.rate import RateConverter, repeat_rows


class KeypointRecognizer(Recognizer):
    """A :class:`Recognizer` over a keypoint bundle (see the module docstring)."""

    kind = InputKind.KEYPOINTS

    def __init__(self, bundle: Bundle, model, pre: Preprocessor, backend=None) -> None:
        super().__init__(bundle, model, pre, backend)
        self._extractor = None  # MediaPipe graph, created on the first video and kept
        self.graph_threads: int | None = None  # MediaPipe graph threads (None: its default)

    @property
    def uses_pose(self) -> bool:  # type: ignore[override]
        return not self.layout.is_generic

    @property
    def layout(self) -> Layout:
        return self.pre.layout

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle,
        *,
        threads: int | None = None,
        backend: str = "torch",
    ) -> KeypointRecognizer:
        cfg = bundle.config
        pre = cfg.preprocessor()
        net = cls.build_network(bundle, input_dim=pre.input_dim, window=pre.window)
        model = Classifier(net, pre.input_dim)
        bundle.load_weights_into(model)
        model.eval()
        if threads:
            torch.set_num_threads(threads)
        rec = cls(bundle, model, pre, make_backend(backend, bundle, model, threads=threads))
        rec.graph_threads = threads or None  # one server worker per core: one thread each
        return rec

    def close(self) -> None:
        """Release the MediaPipe graph (if a video was predicted)."""
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def _check_video(self) -> None:
        if self.layout.is_generic:
            raise DataError(
                f"this model takes {self.layout.name} sequences, not video; pass arrays"
            )

    @property
    def graph(self) -> str:
        """The MediaPipe graph videos go through: ``"holistic"`` when the model reads the face
        block (:attr:`Preprocessor.uses_face`), else ``"pose-hands"`` (the same pose and hands,
        no face branch), or ``"pose"`` for a layout without hands."""
        from motionscope.pose.graph import graph_for

        return graph_for(face=self.pre.uses_face, hands=self.pre.uses_hands)

    def new_extractor(self):
        """A new MediaPipe graph for this model's layout (:attr:`graph`, ``graph_threads``);
        the caller closes it."""
        from motionscope.pose.holistic import HolisticExtractor

        self._check_video()
        return HolisticExtractor(graph=self.graph, graph_threads=self.graph_threads)

    def extractor(self):
        """This recognizer's MediaPipe graph (created on first use, see :attr:`graph`)."""
        self._check_video()
        if self._extractor is None:
            self._extractor = self.new_extractor()
        return self._extractor

    def keypoints_from_video(self, path: Path | str) -> np.ndarray:
        """MediaPipe Holistic keypoints of a video file or frame folder, in the model's layout
        and at its frame rate."""
        return self.keypoints_and_fps(path)[0]

    def keypoints_and_fps(self, path: Path | str) -> tuple[np.ndarray, float | None]:
        """:meth:`keypoints_from_video` plus the keypoints' frame rate (``None`` for a folder of
        frame images, which has none)."""
        ex = self.extractor()
        ex.reset()
        start = time.perf_counter()
        arr, info = ex.extract_video(path, fps=self.fps)
        total_ms = (time.perf_counter() - start) * 1e3
        decode_ms = min(total_ms, float(info.get("decode_seconds") or 0.0) * 1e3)
        self._timings["decode"] = self._timings.get("decode", 0.0) + decode_ms
        pose_ms = total_ms - decode_ms  # MediaPipe (and the conversion)
        self._timings["pose"] = self._timings.get("pose", 0.0) + pose_ms
        if not arr.any():
            raise DataError(f"no person detected in {path}: nothing to recognise")
        return convert(arr, HOLISTIC, self.layout), info.get("keypoint_fps")

    def _as_sequence(self, item) -> tuple[np.ndarray, str]:
        if isinstance(item, (str, Path)):
            if is_video_file(item) or is_frame_folder(item):
                return self.keypoints_from_video(item), str(item)
            arr, _ = load_sequence(item)
            return to_layout(arr, self.layout, str(item)), str(item)
        arr = np.asarray(item)
        if arr.ndim == 1:
            arr = arr[None]
        arr = check_sequence(arr, "input array")
        return to_layout(arr, self.layout, "input array"), ""

    def _segment_source(self, item, fps):
        if isinstance(item, (str, Path)):
            path = Path(item)
            if is_video_file(path) or is_frame_folder(path):
                arr, found = self.keypoints_and_fps(path)
                return arr, fps or found, str(path)
            arr, _ = self._as_sequence(path)
            return arr, fps or sidecar_fps(path), str(path)
        arr, _ = self._as_sequence(item)
        return arr, fps, ""

    def sequence_from_frames(self, frames: Iterable[np.ndarray], fps: float | None):
        rate = RateConverter(fps, self.fps)
        counts: list[int] = []

        def kept():
            for frame, n in rate.select(frames):
                counts.append(n)
                yield frame

        raw, _ = self.extractor().extract_frames(kept())
        return convert(repeat_rows(raw, counts), HOLISTIC, self.layout), rate.fps

    def found_subject(self, sequence) -> bool:
        return bool(np.asarray(sequence).any())

    def stream_buffer(self, window: int, extractor=None):
        from motionscope.infer.stream import KeypointBuffer

        return KeypointBuffer(self, window, extractor)

    def pose_row(self, frame_rgb: np.ndarray, extractor) -> tuple[np.ndarray, np.ndarray, dict]:
        """One frame through MediaPipe: the model's row, the Holistic vector, what was found."""
        self._check_video()
        start = time.perf_counter()
        holistic, found = extractor.process_blocks(frame_rgb)
        self._timings["pose"] = (time.perf_counter() - start) * 1e3
        return convert(holistic[None], HOLISTIC, self.layout)[0], holistic, found

    def input_spec(self) -> dict:
        return {
            "kind": self.kind.value,
            "layout": self.layout.name,
            "width": self.layout.width,
            "window": self.pre.window,
            "fps": self.fps,
            "features": self.pre.to_dict().get("features", {}),
        }

    def onnx_input(self) -> tuple[tuple[int, ...], int | None]:
        return (int(self.pre.window), int(self.pre.input_dim)), 1
