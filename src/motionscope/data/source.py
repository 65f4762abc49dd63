"""What a path holds, decided once: :func:`detect_source` -> :class:`Source`.

Every stage that takes a path (``train``, ``evaluate``, ``extract``, the demo, the loaders)
asks this module what it is and dispatches on the answer, instead of probing the path again:

=====================  ========================================================================
``SEQUENCES``          class folders of ``(T, D)`` keypoint ``.npy`` files, at any depth
                       (``DATA/<class>/<name>.npy``, ``DATA/<class>/<subject>/<name>.npy``)
``FRAMES``             class folders of per-frame keypoint folders (``DATA/<class>/<seq>/<frame>
                       .npy``, the ``MP_Data`` layout; deeper sequence folders too)
``VIDEOS``             folders of videos at any depth (``DATA/<class>/**/<clip>.mp4``; a folder
                       of frame images counts as one video)
``FRAME_IMAGES``       one folder of frame images (``.png``/``.jpg``): one video
``VIDEO``              one video file
``NPY``                one keypoint ``.npy`` file
``NPY_FRAMES``         one folder of per-frame ``(D,)`` keypoint ``.npy`` files: one sequence
``MANIFEST``           a ``.csv``/``.jsonl`` manifest (``path,label[,split][,group]``); its
                       :attr:`Source.media` says whether its rows name keypoints or videos
``TS``                 a ``.ts`` time-series file (UEA/UCR)
=====================  ========================================================================

Folders are recognised by the first evidence found, class folder by class folder in natural
order: a video file or a folder of frame images means videos (they win over ``.npy`` files in
the same folder), a ``.npy`` file means keypoints (``FRAMES`` when the ``.npy`` files of its
folder are vectors, else ``SEQUENCES``). Hidden files and folders are ignored. Nothing is
decoded; at most the header of one ``.npy`` file is read.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from motionscope.errors import DataError
from motionscope.video.decode import VIDEO_SUFFIXES, frame_files, is_video_file, natural_key

MANIFEST_SUFFIXES = (".csv", ".jsonl")

EXPECTED = (
    "expected a folder of class folders (DATA/<class>/<seq>.npy, DATA/<class>/<seq>/<frame>.npy "
    "or DATA/<class>/<clip>.mp4), a manifest (.csv/.jsonl), a .ts file, a video file, a "
    ".npy sequence or a folder of frame images"
)


class SourceKind(str, Enum):
    """The kinds of path motionscope reads (values: the loader format names where one exists)."""

    SEQUENCES = "sequences"
    FRAMES = "frames"
    VIDEOS = "videos"
    FRAME_IMAGES = "frame-images"
    VIDEO = "video"
    NPY = "npy"
    NPY_FRAMES = "npy-frames"
    MANIFEST = "manifest"
    TS = "ts"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    SourceKind.SEQUENCES: "class folders of keypoint sequences (<class>/<name>.npy)",
    SourceKind.FRAMES: "class folders of per-frame keypoint folders (<class>/<seq>/<frame>.npy)",
    SourceKind.VIDEOS: "folders of videos (<class>/<clip>.mp4 or frame-image folders)",
    SourceKind.FRAME_IMAGES: "a folder of frame images (one video)",
    SourceKind.VIDEO: "a video file",
    SourceKind.NPY: "a keypoint .npy file",
    SourceKind.NPY_FRAMES: "a folder of per-frame keypoint .npy files (one sequence)",
    SourceKind.MANIFEST: "a manifest (.csv/.jsonl)",
    SourceKind.TS: "a .ts time-series file",
}

DATASETS = (
    SourceKind.SEQUENCES,
    SourceKind.FRAMES,
    SourceKind.VIDEOS,
    SourceKind.MANIFEST,
    SourceKind.TS,
)
CLIPS = (SourceKind.VIDEO, SourceKind.FRAME_IMAGES, SourceKind.NPY, SourceKind.NPY_FRAMES)
_VIDEO_KINDS = (SourceKind.VIDEOS, SourceKind.FRAME_IMAGES, SourceKind.VIDEO)


@dataclass(frozen=True)
class Source:
    """A path and what it holds. :attr:`media` is ``"videos"`` or ``"keypoints"``; for a
    manifest it is what its first existing row names, read only when first asked."""

    path: Path
    kind: SourceKind
    _media: str | None = field(default=None, repr=False, compare=False)

    @property
    def media(self) -> str:
        if self._media is None:  # a manifest: read once, on demand
            object.__setattr__(self, "_media", manifest_media(self.path))
        return self._media

    @property
    def is_dataset(self) -> bool:
        """A labelled collection (class folders, a manifest, a .ts file), not one clip."""
        return self.kind in DATASETS

    @property
    def is_clip(self) -> bool:
        return self.kind in CLIPS

    @property
    def holds_videos(self) -> bool:
        return self.media == "videos"

    @property
    def keypoint_format(self) -> str | None:
        """The :func:`~motionscope.data.loaders.load_keypoint_dataset` format of a keypoint
        dataset (``sequences``, ``frames``, ``manifest``, ``ts``); None otherwise."""
        if self.holds_videos or not self.is_dataset:
            return None
        return self.kind.value

    def describe(self) -> str:
        what = self.kind.description
        if self.kind is SourceKind.MANIFEST:
            what += f" of {self.media}"
        return f"{self.path} ({what})"


def detect_source(path: Path | str | Source) -> Source:
    """What ``path`` is (see the module docstring); a :class:`DataError` naming the path for
    missing paths, empty folders and things motionscope does not read."""
    if isinstance(path, Source):
        return path
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_file():
        kind = _file_kind(path)
        media = {SourceKind.VIDEO: "videos", SourceKind.MANIFEST: None}.get(kind, "keypoints")
        return Source(path, kind, media)
    if frame_files(path):
        return Source(path, SourceKind.FRAME_IMAGES, "videos")
    npys = _npy_files(path)
    if npys and _is_vector(npys[0]):
        return Source(path, SourceKind.NPY_FRAMES, "keypoints")
    classes = _subdirs(path)
    if not classes:
        if any(is_video_file(path / f) for f in _names(path)):
            return Source(path, SourceKind.VIDEOS, "videos")  # videos directly in the folder
        if npys:
            raise DataError(
                f"{path} holds .npy sequences directly but no class folders; a keypoint dataset "
                f"is DATA/<class>/<seq>.npy: move the files into one folder per class"
            )
        if not any(not n.startswith(".") for n in os.listdir(path)):
            raise DataError(f"{path} is empty: no class folders, videos or keypoints; {EXPECTED}")
        raise DataError(f"{path} has no class folders and nothing motionscope reads; {EXPECTED}")
    if any(is_video_file(path / f) for f in _names(path)):
        return Source(path, SourceKind.VIDEOS, "videos")
    for class_dir in classes:
        found = _first_evidence(class_dir)
        if found is not None:
            return Source(path, found, "videos" if found is SourceKind.VIDEOS else "keypoints")
    raise DataError(
        f"{path}: its class folders ({', '.join(c.name for c in classes[:5])}"
        f"{' ...' if len(classes) > 5 else ''}) hold no videos ({', '.join(VIDEO_SUFFIXES)}), "
        f"frame images or keypoint .npy files; {EXPECTED}"
    )


def _file_kind(path: Path) -> SourceKind:
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        return SourceKind.MANIFEST
    if suffix == ".ts":
        return SourceKind.TS
    if suffix == ".npy":
        return SourceKind.NPY
    if is_video_file(path):
        return SourceKind.VIDEO
    raise DataError(
        f"{path}: motionscope does not read {suffix or 'suffix-less'} files; {EXPECTED}"
    )


def manifest_media(path: Path) -> str:
    """``"videos"`` when the first row naming an existing path names a video, a frame-image
    folder or a folder of videos, else ``"keypoints"``. Errors of the manifest itself (no
    header, bad JSON ...) are raised here, naming the line."""
    from motionscope.data.manifest import read_manifest

    for row in read_manifest(path):
        p = row.path
        if not p.exists():
            continue
        if p.is_file():
            return "videos" if is_video_file(p) else "keypoints"
        if frame_files(p):
            return "videos"
        return "videos" if _first_evidence(p) is SourceKind.VIDEOS else "keypoints"
    return "keypoints"


# ----------------------------------------------------------------------------------------------
# Folder probing.


def _names(folder: Path) -> list[str]:
    return sorted(
        (n for n in os.listdir(folder) if not n.startswith(".") and (folder / n).is_file()),
        key=lambda n: natural_key(Path(n)),
    )


def _npy_files(folder: Path) -> list[Path]:
    return [folder / n for n in _names(folder) if n.endswith(".npy")]


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key
    )


def _is_vector(npy: Path) -> bool:
    """True when ``npy`` holds one ``(D,)`` frame (its header is all that is read)."""
    try:
        return np.load(npy, mmap_mode="r", allow_pickle=False).ndim == 1
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):  # empty or damaged
        return False


def _first_evidence(folder: Path) -> SourceKind | None:
    """``VIDEOS``, ``FRAMES`` or ``SEQUENCES`` for the first video, frame-image folder or
    ``.npy`` found under ``folder`` (top-down, natural order); None when there is none."""
    for root, dirs, _ in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(
            (d for d in dirs if not d.startswith(".")), key=lambda d: natural_key(Path(d))
        )
        names = _names(here)
        # (frame images directly in a class folder count too: the video loader explains)
        if any(is_video_file(here / n) for n in names) or frame_files(here):
            return SourceKind.VIDEOS
        npys = [here / n for n in names if n.endswith(".npy")]
        if npys:
            return SourceKind.FRAMES if _is_vector(npys[0]) else SourceKind.SEQUENCES
    return None
