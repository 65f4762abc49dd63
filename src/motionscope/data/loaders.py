"""Load keypoint datasets from disk, auto-detecting the format.

Accepted ``DATA``:
- ``sequences``: ``DATA/<class>/<name>.npy``, each ``(T, D)`` (the seed project layout), also
  at any depth under the class folder (``DATA/<class>/<subject>/<take>/<name>.npy``, as
  ``motionscope extract`` mirrors a nested video tree); the class is the top-level folder and
  the sub-folder path (``<subject>/<take>``) becomes the sequence's group;
- ``frames``: ``DATA/<class>/<seq>/<frame>.npy``, each ``(D,)``, frames in numeric order
  (the ``MP_Data`` tutorial layout); a sequence folder is one whose ``.npy`` files are
  vectors, so ``DATA/<class>/<subject>/<seq>/<frame>.npy`` works too;
- ``manifest``: a ``.csv`` or ``.jsonl`` file with ``path,label[,split][,group]`` rows;
- ``ts``: a ``.ts`` time-series file (UEA/UCR).

Groups (people) in class folders, ``groups=``:

- ``"second"``: ``DATA/<class>/<person>/...``: the top folder is the class, the sub-folder path
  below it (``<person>`` or ``<subject>/<take>``) is the group (None for a sequence directly in
  the class folder);
- ``"first"``: ``DATA/<person>/<class>/...``: the top folder is the group, the folder below it
  the class; single-folder wrappers in between are skipped (``DATA/<person>/MP_Data/<class>``);
- ``"auto"`` (default): ``"first"`` when every top folder holds (through such wrappers) the same
  set of at least 2 folders of sequences, none of them a sequence itself, and either there are
  more top folders than classes or the tops are wrappers; otherwise ``"second"``.
  ``DATA/a/{p1,p2,p3}`` + ``DATA/b/{p1,p2,p3}`` stays class-first (2 tops, 3 children); 28 people
  each with ``hello/thanks/iloveyou`` is person-first. Which rule was applied is in
  ``dataset.summary()["groups_from"]``. A ``group_pattern`` wins over both.

Links: every directory is walked once and every file read once (by real path); a link back
into a folder already walked (``ln -s .. DATA/clap/loop``) or to another class folder is skipped
with a :class:`DataWarning`. Folder names must be valid UTF-8 (they become labels and groups in
JSON, reports and plots).
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from motionscope.data.dataset import KeypointDataset, Sample
from motionscope.data.folders import (  # noqa: F401 (natural_key, DataWarning: public here)
    DataWarning,
    _has_npy_below,
    _is_frame_folder,
    _npy_files,
    _person_classes,
    _Seen,
    _subdirs,
    check_name,
    natural_key,
    person_first,
)
from motionscope.data.manifest import ManifestRow, read_manifest
from motionscope.data.ts import read_ts
from motionscope.errors import DataError
from motionscope.keypoints.layout import Layout, resolve_layout
from motionscope.progress import progress_iter

FORMATS = ("auto", "sequences", "frames", "manifest", "ts")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
GROUP_LAYOUTS = ("auto", "first", "second")

log = logging.getLogger(__name__)


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
        if not isinstance(arr, np.ndarray):  # an .npz archive
            arr.close()
            raise ValueError("it holds several arrays (.npz), not one")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        from motionscope.video.decode import ACCEPTED_INPUTS, describe_file

        what = describe_file(path)
        if what == "a NumPy .npy file":  # damaged, or holding objects
            raise DataError(f"cannot read {path}: {e}; write it again with numpy.save") from e
        hint = " (one image is not a clip: put a clip's frames in a folder)" * what.endswith(
            " image"
        )
        raise DataError(
            f"cannot read {path}: it is {what}{hint}, not a NumPy .npy sequence; motionscope "
            f"reads {ACCEPTED_INPUTS}"
        ) from e
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"{path} holds {arr.dtype} values, expected numbers (real ones)")
    return arr


def check_sequence(arr: np.ndarray, source: str) -> np.ndarray:
    """Validate a ``(T, D)`` sequence: non-empty, 2-D, finite. Returns float32."""
    if arr.ndim != 2:
        raise DataError(f"{source}: expected a (frames, features) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(
            f"{source}: empty sequence (shape {arr.shape}); remove it or record it again"
        )
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        kind = "NaN" if np.isnan(arr).any() else "inf"
        raise DataError(
            f"{source}: {int(bad.sum())} {kind} value(s), first in frame {frame}; "
            "keypoints must be finite (use zeros for parts that were not detected)"
        )
    return arr


def read_frame_folder(folder: Path) -> np.ndarray:
    """Stack the per-frame ``(D,)`` files of one sequence folder into ``(T, D)``."""
    files = _npy_files(folder)
    if not files:
        raise DataError(
            f"{folder}: empty sequence, no .npy frame files in this sequence folder; "
            "remove the folder or record the sequence again"
        )
    frames = []
    width = None
    for f in files:
        arr = _load_npy(f)
        if arr.ndim != 1:
            raise DataError(
                f"{f}: a per-frame file must hold one vector (D,), got shape {arr.shape}"
            )
        if width is None:
            width = arr.shape[0]
        elif arr.shape[0] != width:
            raise DataError(
                f"ragged frames in {folder}: {files[0].name} has width {width} but {f.name} has "
                f"{arr.shape[0]}; every frame of a sequence must have the same width"
            )
        frames.append(arr)
    return check_sequence(np.stack(frames), str(folder))


def load_sequence(
    path: Path | str, layout: str | Layout | None = None
) -> tuple[np.ndarray, Layout]:
    """One sequence from a ``(T, D)`` ``.npy`` file or a folder of per-frame ``.npy`` files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        arr = read_frame_folder(path)
    else:
        arr = _load_npy(path)
        if arr.ndim == 1:
            arr = arr[None, :]
        arr = check_sequence(arr, str(path))
    return arr, resolve_layout(arr.shape[1], layout, str(path))


def _read_any(path: Path) -> np.ndarray:
    if path.is_dir():
        return read_frame_folder(path)
    return check_sequence(_load_npy(path), str(path))


def _class_sequences(class_dir: Path, seen: _Seen | None = None) -> list[tuple[Path, str | None]]:
    """The sequences under one class folder, at any depth, in natural order: ``(T, D)``
    ``.npy`` files and frame folders (folders of ``(D,)`` files), each with its group (the
    sub-folder path between the class folder and the sequence, None directly in the class).
    ``seen`` tracks real paths across class folders (each directory walked once, each file
    read once, link loops skipped with a warning)."""
    if _is_frame_folder(class_dir):
        raise DataError(
            f"{class_dir} holds per-frame .npy files directly; expected one sub-folder per "
            "sequence (DATA/<class>/<seq>/<frame>.npy) or one (T, D) .npy per sequence"
        )
    seen = seen if seen is not None else _Seen(warn=False)
    found: list[tuple[Path, str | None]] = []

    def walk(folder: Path, group: str | None) -> None:
        dirs = _subdirs(folder)
        frame_dirs = {d for d in dirs if _is_frame_folder(d)}
        for item in sorted(_npy_files(folder) + dirs, key=natural_key):
            if item.is_file():
                if seen.read(item):
                    found.append((item, group))
            elif item in frame_dirs or (frame_dirs and not _has_npy_below(item)):
                # beside other sequence folders an empty folder is an empty sequence (reading
                # it says so), not something to drop silently
                if seen.enter(item):
                    found.append((item, group))
            elif seen.enter(item):  # a folder of sequences (subject, session ...): the group
                name = check_name(item, "group")
                walk(item, name if group is None else f"{group}/{name}")

    if seen.enter(class_dir, own=class_dir):
        walk(class_dir, None)
    return found


def _class_items(class_dir: Path) -> list[Path]:
    """The sequences of one class folder: ``.npy`` files, or frame sub-folders, at any depth."""
    return [item for item, _ in _class_sequences(class_dir)]


def detect_format(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return "manifest"
        if path.suffix.lower() == ".ts":
            return "ts"
        raise DataError(
            f"{path} is a file; DATA must be a folder of class folders, a manifest "
            "(.csv/.jsonl) or a .ts file"
        )
    classes = _subdirs(path)
    if not classes:
        raise DataError(
            f"{path} has no class folders; expected DATA/<class>/<seq>.npy or "
            "DATA/<class>/<seq>/<frame>.npy"
        )
    for c in classes:
        if _is_frame_folder(c):
            return "frames"  # loading it explains that frames need a folder per sequence
        for item, _ in _class_sequences(c):
            if item.is_file():
                return "sequences"
            if _npy_files(item):
                return "frames"
    raise DataError(
        f"no .npy files found under {path}; expected DATA/<class>/<seq>.npy or "
        "DATA/<class>/<seq>/<frame>.npy"
    )


def group_of(rel: str, pattern: re.Pattern | None) -> str | None:
    """The group (person, session) a relative path names: the pattern's first capture group,
    or its whole match; ``None`` without a pattern or a match."""
    if pattern is None:
        return None
    m = pattern.search(rel)
    if not m:
        return None
    return m.group(1) if m.groups() else m.group(0)


def compile_group_pattern(group_pattern: str | None) -> re.Pattern | None:
    """``--group-pattern`` as a compiled regex, with a clear error when it is not one."""
    if not group_pattern:
        return None
    try:
        return re.compile(group_pattern)
    except re.error as e:
        raise DataError(f"group pattern {group_pattern!r} is not a valid regex: {e}") from None


def _class_jobs(root: Path, seen: _Seen) -> list[tuple[Path, str, int, str | None]]:
    class_dirs = _subdirs(root)
    seen.reserved = {os.path.realpath(c): c for c in class_dirs}
    jobs: list[tuple[Path, str, int, str | None]] = []
    for class_dir in class_dirs:
        label = check_name(class_dir, "class")
        items = _class_sequences(class_dir, seen)
        if not items:
            raise DataError(
                f"class folder {class_dir} is empty: put its sequences there or remove the folder"
            )
        jobs.extend((item, label, order, group) for order, (item, group) in enumerate(items))
    return jobs


def _person_jobs(root: Path, seen: _Seen) -> list[tuple[Path, str, int, str | None]]:
    bases = []
    for top in _subdirs(root):
        read = _person_classes(top)
        if read is None:
            raise DataError(
                f"groups='first' reads DATA as <person>/<class>/<sequences>, but {top} does not "
                "hold class folders of sequences; use groups='second' for DATA/<class>/<person>"
            )
        bases.append((check_name(top, "person"), read[1]))
    seen.reserved = {os.path.realpath(c): c for _, classes in bases for c in classes}
    orders: dict[str, int] = {}
    jobs: list[tuple[Path, str, int, str | None]] = []
    for person, classes in bases:
        for class_dir in classes:
            label = check_name(class_dir, "class")
            for item, _ in _class_sequences(class_dir, seen):
                order = orders.get(label, 0)
                orders[label] = order + 1
                jobs.append((item, label, order, person))
    return jobs


def _load_class_folders(
    root: Path, group_pattern: re.Pattern | None, progress: bool, groups: str = "auto"
) -> tuple[list[Sample], str]:
    """The samples of a folder of class folders (or person folders), and which group rule
    was applied: ``pattern``, ``first`` (person folders) or ``second`` (sub-folders)."""
    if groups not in GROUP_LAYOUTS:
        raise DataError(f"unknown groups={groups!r}; use one of {', '.join(GROUP_LAYOUTS)}")
    first = groups == "first" or (groups == "auto" and person_first(root))
    seen = _Seen()
    seen.enter(root, own=root)  # a link back to DATA is a loop
    jobs = _person_jobs(root, seen) if first else _class_jobs(root, seen)
    if first and groups == "auto":
        log.info("%s read as <person>/<class>/...: top folders are groups", root)
    samples = []
    for item, label, order, folder_group in progress_iter(
        jobs, "loading sequences", enabled=progress
    ):
        rel = item.relative_to(root).as_posix()
        group = group_of(rel, group_pattern) if group_pattern is not None else folder_group
        samples.append(Sample(_read_any(item), label, str(item), order, group))
    rule = "pattern" if group_pattern is not None else ("first" if first else "second")
    return samples, rule


def _expand_row(
    row: ManifestRow,
) -> Iterable[tuple[Path, str, str | None, str | None, int, str | None]]:
    """A manifest row names a sequence, a class folder of sequences, or a .ts file."""
    p = row.path
    if not p.exists():
        raise DataError(f"{row.where}: path {p} does not exist")
    if p.is_dir() and not _is_frame_folder(p):
        items = _class_sequences(p, _Seen())
        if not items:
            raise DataError(f"{row.where}: class folder {p} has no sequences")
        label = row.label or p.name
        for order, (item, folder_group) in enumerate(items):
            yield item, label, row.split, row.group, order, folder_group
    else:
        if not row.label:
            raise DataError(f"{row.where}: a sequence row needs a label")
        yield p, row.label, row.split, row.group, row.order, None


def _load_manifest(path: Path, group_pattern: re.Pattern | None, progress: bool) -> list[Sample]:
    rows = read_manifest(path)
    samples: list[Sample] = []
    jobs = []
    for row in rows:
        if row.path.suffix.lower() == ".ts":
            for order, (arr, label) in enumerate(read_ts(row.path)):
                samples.append(
                    Sample(
                        check_sequence(arr, f"{row.path} case {order}"),
                        label,
                        f"{row.path}#{order}",
                        order,
                        row.group,
                        row.split,
                    )
                )
            continue
        jobs.extend(_expand_row(row))
    for item, label, split, group, order, folder_group in progress_iter(
        jobs, "loading sequences", enabled=progress
    ):
        # the manifest's group, else the --group-pattern match, else the sub-folder path
        g = group if group is not None else group_of(str(item), group_pattern)
        if g is None and group_pattern is None:
            g = folder_group
        samples.append(Sample(_read_any(item), label, str(item), order, g, split))
    return samples


def load_keypoint_dataset(
    path: Path | str,
    *,
    layout: str | Layout | None = None,
    fmt: str = "auto",
    classes: list[str] | None = None,
    group_pattern: str | None = None,
    groups: str = "auto",
    progress: bool = True,
) -> KeypointDataset:
    """Load every sequence under ``path`` into a :class:`KeypointDataset`.

    ``layout`` forces a layout (required for widths other than 1662/258/132/126, e.g.
    ``generic``); ``classes`` picks and orders classes; ``group_pattern`` is a regular expression
    whose first group, searched in each sequence's path, names its group (person, session);
    ``groups`` says which folder level of class folders is the group: ``"first"``
    (``DATA/<person>/<class>/...``), ``"second"`` (``DATA/<class>/<person>/...``) or ``"auto"``
    (see the module docstring for the rule).
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown dataset format {fmt!r}; use one of {', '.join(FORMATS)}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if groups not in GROUP_LAYOUTS:
        raise DataError(f"unknown groups={groups!r}; use one of {', '.join(GROUP_LAYOUTS)}")
    pattern = compile_group_pattern(group_pattern)
    rule = "pattern" if pattern is not None else None
    if fmt in ("sequences", "frames"):
        if not path.is_dir():
            raise DataError(f"{path} is not a folder; format {fmt!r} needs a folder")
        samples, rule = _load_class_folders(path, pattern, progress, groups)
    elif fmt == "manifest":
        samples = _load_manifest(path, pattern, progress)
        rule = rule or "manifest"
    else:
        samples = [
            Sample(check_sequence(a, f"{path} case {i}"), lab, f"{path}#{i}", i)
            for i, (a, lab) in enumerate(read_ts(path))
        ]
    if not samples:
        raise DataError(f"no sequences found in {path}")
    first = samples[0]
    resolved = resolve_layout(first.data.shape[1], layout, first.source)
    for s in samples:
        if s.data.shape[1] != resolved.width:
            raise DataError(
                f"mixed widths: {first.source} has {resolved.width} features per frame but "
                f"{s.source} has {s.data.shape[1]}; one dataset must use one layout"
            )
    ds = KeypointDataset(samples, resolved, source=str(path), groups_from=rule)
    if classes:
        ds = ds.select_classes(classes)
    return ds
