"""Video datasets for RGB models: class folders of videos, UCF101 split lists, manifests.

Accepted ``SRC``:

- a folder of class folders holding videos at any depth (``SRC/<class>/**/<clip>.avi``): the
  UCF101 and HMDB51 layout (``<class>/<clip>``) and the UCF11 one (``<class>/<sub>/<clip>.mpg``);
  a folder of frame images (``.png``/``.jpg``) counts as one video;
- the same plus UCF101-style split lists (``split_files=(trainlist01.txt, testlist01.txt)``,
  lines ``Class/v_Class_g08_c01.avi [label]`` relative to ``SRC``): only the listed videos are
  used, with ``split`` set to ``train`` / ``test``; ``classInd.txt`` (``1 ApplyEyeMakeup``),
  given or found next to the lists, fixes the class order;
- a manifest (``.csv``/``.jsonl``, see :mod:`motionscope.data.manifest`) whose rows name video
  files, frame folders or class folders of videos: rows pick classes, rename them (the row's
  ``label``) and merge datasets.

A :class:`VideoDataset` only lists files; frames are decoded when a model samples them
(:mod:`motionscope.video.sampling`). It has the same surface as
:class:`~motionscope.data.dataset.KeypointDataset` (``labels``, ``counts``, ``subset`` ...), so
the split functions of :mod:`motionscope.data.splits` work on it unchanged.

Groups: the first group of ``group_pattern`` (default ``_g(\\d+)_``, UCF101's ``v_Class_g08_c01``)
searched in the path relative to the dataset root is the sample's group, so ``--split group`` keeps
one group's (person's) clips on one side.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from motionscope.data.dataset import LabelledSamples
from motionscope.data.loaders import compile_group_pattern, group_of
from motionscope.data.manifest import ManifestRow, read_manifest
from motionscope.data.source import MANIFEST_SUFFIXES, Source, SourceKind, detect_source
from motionscope.data.split_lists import (
    apply_split_lists,
    read_class_index,
    read_split_list,
    resolve_split_files,
)
from motionscope.errors import DataError
from motionscope.video.decode import frame_files, is_video_file, natural_key

if TYPE_CHECKING:
    from motionscope.data.dataset import KeypointDataset

UCF_GROUP_PATTERN = r"_g(\d+)_"
__all__ = [
    "MANIFEST_SUFFIXES",
    "VideoDataset",
    "VideoSample",
    "apply_split_lists",
    "load_training_data",
    "load_video_dataset",
    "resolve_split_files",
]


@dataclass
class VideoSample:
    """One video file (or frame folder) and where it came from."""

    path: Path
    label: str
    source: str  # for messages and reports (the path as text, or manifest row)
    order: int = 0  # natural position within its class, for contiguous splits
    group: str | None = None  # person / session, for group splits
    split: str | None = None  # "train" / "val" / "test" when fixed by split lists or a manifest


@dataclass
class VideoDataset(LabelledSamples):
    samples: list[VideoSample]
    classes: list[str] = field(default_factory=list)
    source: str = ""
    info: dict = field(default_factory=dict)  # how it was built (split lists ...), for summary()

    _unit = "videos"

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.samples]

    def _rebuild(self, samples: list[VideoSample], classes: list[str]) -> VideoDataset:
        return VideoDataset(samples, classes, self.source, dict(self.info))

    def summary(self) -> dict:
        splits = Counter(s.split for s in self.samples if s.split)
        groups = {s.group for s in self.samples if s.group is not None}
        out = {
            "source": self.source,
            "input": "videos",
            "n_sequences": len(self.samples),
            "n_videos": len(self.samples),
            "per_class": self.counts(),
            "groups": len(groups),
        }
        if splits:
            out["splits"] = dict(sorted(splits.items()))
        out.update(self.info)
        return out


# ----------------------------------------------------------------------------------------------
# Finding videos.


def _hidden(name: str) -> bool:
    return name.startswith(".")


def find_videos(folder: Path) -> list[Path]:
    """Video files and frame folders anywhere under ``folder``, in natural path order. A frame
    folder is one video: its sub-folders are not searched."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if here != folder and frame_files(here):
            found.append(here)
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not _hidden(d)]
        found.extend(here / f for f in files if is_video_file(here / f))
    return sorted(found, key=lambda p: tuple(natural_key(Path(part)) for part in p.parts))


def _class_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not _hidden(p.name)), key=natural_key
    )


def _is_video_item(p: Path) -> bool:
    return (p.is_file() and is_video_file(p)) or (p.is_dir() and bool(frame_files(p)))


def is_video_dataset(src: Path | str | Source) -> bool:
    """True for a folder of class folders holding videos (at any depth) and for a manifest whose
    rows name videos, frame folders or class folders of videos (see
    :func:`~motionscope.data.source.detect_source`)."""
    try:
        source = detect_source(src)
    except DataError:
        return False
    return source.is_dataset and source.holds_videos


# ----------------------------------------------------------------------------------------------
# Layouts.


def _from_folders(root: Path, pattern: re.Pattern | None) -> list[VideoSample]:
    classes = _class_dirs(root)
    if not classes:
        raise DataError(
            f"{root} has no class folders; expected {root}/<class>/<video> (videos at any depth "
            "under each class folder)"
        )
    samples: list[VideoSample] = []
    for class_dir in classes:
        if frame_files(class_dir):
            raise DataError(
                f"{class_dir} holds frame images directly; a class folder holds videos, or one "
                f"folder of frames per video ({root}/<class>/<video>/<frame>.png)"
            )
        videos = find_videos(class_dir)
        if not videos:
            if not any(class_dir.iterdir()):
                raise DataError(
                    f"class folder {class_dir} is empty: put its videos there or remove the folder"
                )
            continue  # not a class folder (e.g. ucfTrainTestlist/ next to the classes)
        for order, v in enumerate(videos):
            rel = v.relative_to(root).as_posix()
            samples.append(VideoSample(v, class_dir.name, str(v), order, group_of(rel, pattern)))
    if not samples:
        raise DataError(f"no videos found under the class folders of {root}")
    return samples


def _from_split_lists(
    root: Path,
    split_files: tuple[Path, Path],
    class_index: Path | None,
    pattern: re.Pattern | None,
) -> tuple[list[VideoSample], list[str] | None, dict]:
    train_list, test_list = (Path(p) for p in split_files)
    if class_index is None:
        near = train_list.parent / "classInd.txt"
        class_index = near if near.is_file() else None
    index = read_class_index(class_index) if class_index is not None else None
    samples: list[VideoSample] = []
    missing: list[Path] = []
    seen: dict[str, str] = {}
    per_class: Counter = Counter()
    for split, lst in (("train", train_list), ("test", test_list)):
        for rel, number, n in read_split_list(lst):
            where = f"{lst}:{n}"
            if rel in seen:
                raise DataError(f"{where}: {rel} is already listed in {seen[rel]}")
            seen[rel] = where
            folder = rel.split("/")[0] if "/" in rel else None
            if index is not None and number is not None:
                if number not in index:
                    raise DataError(f"{where}: class number {number} is not in {class_index}")
                label = index[number]
                if folder is not None and folder != label:
                    raise DataError(
                        f"{where}: class number {number} is {label!r} in {class_index} but the "
                        f"path is in folder {folder!r}"
                    )
            elif folder is not None:
                label = folder
            else:
                raise DataError(
                    f"{where}: {rel!r} has no class folder; list paths as Class/clip.avi"
                )
            path = root / rel
            if not path.exists():
                missing.append(path)
                continue
            samples.append(
                VideoSample(path, label, str(path), per_class[label], group_of(rel, pattern), split)
            )
            per_class[label] += 1
    if missing:
        shown = "\n  ".join(str(p) for p in missing[:5])
        raise DataError(
            f"{len(missing)} videos listed in {train_list.name}/{test_list.name} are missing "
            f"under {root}, e.g.:\n  {shown}\nthe list paths are relative to the dataset root "
            "(the folder holding the class folders)"
        )
    classes = [index[k] for k in sorted(index)] if index is not None else None
    info = {
        "split_files": [str(train_list), str(test_list)],
        **({"class_index": str(class_index)} if class_index is not None else {}),
    }
    return samples, classes, info


def _from_manifest(path: Path, pattern: re.Pattern | None) -> list[VideoSample]:
    samples: list[VideoSample] = []
    for row in read_manifest(path):
        samples.extend(_expand_row(row, pattern))
    return samples


def _expand_row(row: ManifestRow, pattern: re.Pattern | None) -> list[VideoSample]:
    p = row.path
    if row.start is not None or row.end is not None:
        raise DataError(
            f"{row.where}: start/end trimming of video rows is not supported; cut the clip "
            "first (e.g. ffmpeg -i IN -ss START -to END OUT.mp4) and list the cut file"
        )
    if not p.exists():
        raise DataError(f"{row.where}: path {p} does not exist")
    if _is_video_item(p):
        if not row.label:
            raise DataError(f"{row.where}: a video row needs a label")
        group = row.group if row.group is not None else group_of(p.as_posix(), pattern)
        return [VideoSample(p, row.label, str(p), row.order, group, row.split)]
    if p.is_dir():
        videos = find_videos(p)
        if not videos:
            raise DataError(
                f"{row.where}: {p} holds no videos; a row names a video, a folder of frame "
                "images or a class folder of videos"
            )
        label = row.label or p.name
        out = []
        for order, v in enumerate(videos):
            rel = f"{p.name}/{v.relative_to(p).as_posix()}"
            group = row.group if row.group is not None else group_of(rel, pattern)
            out.append(VideoSample(v, label, str(v), order, group, row.split))
        return out
    raise DataError(
        f"{row.where}: {p} is not a video file (suffixes: see motionscope.video.VIDEO_SUFFIXES), "
        "a frame folder or a class folder of videos"
    )


def _not_a_video_dataset(source: Source) -> str:
    wanted = "a video dataset is a folder of class folders of videos or a manifest (.csv/.jsonl)"
    if source.path.is_file():
        return f"{source.path} is a file ({source.kind.description}); {wanted}"
    return f"{source.path} holds no videos: it is {source.kind.description}; {wanted}"


def load_video_dataset(
    src: Path | str | Source,
    *,
    split_files: tuple[Path, Path] | None = None,
    class_index: Path | None = None,
    group_pattern: str | None = UCF_GROUP_PATTERN,
    classes: list[str] | None = None,
) -> VideoDataset:
    """List the videos of ``src`` (class folders or a manifest) into a :class:`VideoDataset`.

    ``split_files`` = (train list, test list) in the UCF101 format fixes the split;
    ``class_index`` (``classInd.txt``, default: the one next to the lists) fixes the class order;
    ``group_pattern``'s first group in each path names its group; ``classes`` picks and orders
    classes. Nothing is decoded here.
    """
    source = detect_source(src)
    src = source.path
    pattern = compile_group_pattern(group_pattern)
    ordered: list[str] | None = None
    info: dict = {}
    if source.kind is SourceKind.MANIFEST:
        if split_files:
            raise DataError(
                "split lists go with a folder of class folders; in a manifest use its split column"
            )
        samples = _from_manifest(src, pattern)
    elif source.kind is not SourceKind.VIDEOS:
        raise DataError(_not_a_video_dataset(source))
    elif split_files:
        if len(split_files) != 2:
            raise DataError(
                f"give two split lists (train, test), got {len(split_files)}: "
                f"{[str(p) for p in split_files]}"
            )
        samples, ordered, info = _from_split_lists(src, split_files, class_index, pattern)
    else:
        samples = _from_folders(src, pattern)
        if class_index is not None:
            index = read_class_index(Path(class_index))
            ordered = [index[k] for k in sorted(index)]
    if not samples:
        raise DataError(f"no videos found in {src}")
    present = sorted({s.label for s in samples})
    if ordered is not None:
        unknown = [c for c in present if c not in ordered]
        if unknown:
            raise DataError(f"classes {unknown} of {src} are not in the class index {class_index}")
    ds = VideoDataset(samples, ordered or present, str(src), info)
    if classes:
        ds = ds.select_classes(classes)
    return ds


def load_training_data(
    src: Path | str | Source,
    *,
    input_kind: str,
    split_files: tuple[Path, Path] | None = None,
    class_index: Path | None = None,
    classes: list[str] | None = None,
    group_pattern: str | None = None,
    layout: str | None = None,
    fmt: str = "auto",
    progress: bool = True,
) -> VideoDataset | KeypointDataset:
    """The dataset ``motionscope train`` trains on: a :class:`VideoDataset` for models that take
    frames (``input_kind="frames"``), a keypoint dataset otherwise (``src`` must then hold
    keypoints: the CLI extracts them from videos first). ``group_pattern=None`` means UCF101's
    ``_g(\\d+)_`` for videos and no groups for keypoints."""
    if input_kind not in ("keypoints", "frames"):
        raise DataError(f"unknown model input kind {input_kind!r}; expected keypoints or frames")
    # an explicit --format is the user's word for keypoints: no detection then
    source = None
    if isinstance(src, Source) or fmt == "auto" or input_kind == "frames":
        source = detect_source(src)
    src = source.path if source is not None else Path(src)
    if input_kind == "frames":
        if not (source.is_dataset and source.holds_videos):
            what = (
                f"is {source.kind.description}, not a dataset"
                if source.is_clip
                else f"holds no videos ({source.kind.description})"
            )
            raise DataError(
                f"{source.path} {what}; this model reads frames: give a folder of class "
                "folders of videos or a manifest listing videos"
            )
        return load_video_dataset(
            source,
            split_files=split_files,
            class_index=class_index,
            group_pattern=group_pattern or UCF_GROUP_PATTERN,
            classes=classes,
        )
    from motionscope.data.loaders import load_keypoint_dataset

    if source is not None and source.holds_videos:
        if source.kind is SourceKind.MANIFEST:
            raise DataError(
                f"{src} lists videos but this model reads keypoints: extract them first "
                "(motionscope extract VIDEOS OUT) and list the .npy files, or train a model "
                "that reads frames"
            )
        raise DataError(
            f"{src} holds videos ({source.kind.description}) but this model reads keypoints: "
            "extract them first (motionscope extract VIDEOS OUT, or "
            "motionscope.train.run.train_from_source, which does it)"
        )
    if source is not None:
        if not source.is_dataset:
            raise DataError(
                f"{src} is {source.kind.description}, not a dataset; expected a folder of class "
                "folders, a manifest (.csv/.jsonl) or a .ts file"
            )
        if fmt == "auto":
            fmt = source.keypoint_format
    ds = load_keypoint_dataset(
        src, layout=layout, fmt=fmt, group_pattern=group_pattern, progress=progress
    )
    if split_files:
        ds = apply_split_lists(ds, src, split_files, class_index)
    elif class_index is not None:
        index = read_class_index(Path(class_index))
        ds = ds.select_classes([index[k] for k in sorted(index) if index[k] in ds.classes])
    if classes:
        ds = ds.select_classes(classes)
    return ds
