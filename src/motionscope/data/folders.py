"""Walking dataset folders: natural order, sequence / frame folders, link loops, folder names,
and the person-first layout rule (see :mod:`motionscope.data.loaders` for the formats)."""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from motionscope.errors import DataError


class DataWarning(UserWarning):
    """Something in the data was skipped (a link loop, a file reached twice)."""


class _Seen:
    """Real paths already walked / read, so that links never make a file count twice or a walk
    loop forever. ``reserved`` are the class folders of the dataset (read as their own class)."""

    def __init__(self, warn: bool = True) -> None:
        self.dirs: set[str] = set()
        self.files: set[str] = set()
        self.reserved: dict[str, Path] = {}
        self.warn = warn

    def _skip(self, path: Path, why: str) -> bool:
        if self.warn:
            warnings.warn(f"skipping {path}: {why}", DataWarning, stacklevel=4)
        return False

    def enter(self, folder: Path, *, own: Path | None = None) -> bool:
        """True the first time ``folder`` (by real path) is walked."""
        real = os.path.realpath(folder)
        if real in self.dirs:
            return self._skip(folder, f"a link to {real}, a folder already read (a loop?)")
        owner = self.reserved.get(real)
        if owner is not None and owner != own:
            return self._skip(folder, f"a link to the class folder {owner}, read as its own class")
        self.dirs.add(real)
        return True

    def read(self, file: Path) -> bool:
        real = os.path.realpath(file)
        if real in self.files:
            return self._skip(file, f"the same file as {real}, already read")
        self.files.add(real)
        return True


def check_name(path: Path, what: str) -> str:
    """``path.name``, or a clear error when it is not valid UTF-8 (a Latin-1 name from an old
    archive): labels and groups go into JSON, reports and plots."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path.name).decode("utf-8", "backslashreplace")
        raise DataError(
            f"{what} folder {path.parent / shown} has a name that is not valid UTF-8; rename it "
            "(e.g. `convmv -f latin1 -t utf8 --notest`) or list it under a new label in a "
            "manifest"
        ) from None
    return path.name


def natural_key(path: Path) -> tuple:
    """Sort key putting ``2.npy`` before ``10.npy``."""
    # ASCII digits only: "²" or "٣" are digits to str.isdigit but not to int(); the split puts
    # the numbers at odd places, so two keys always compare int with int and str with str
    parts = re.split(r"([0-9]+)", path.name)
    return tuple(int(t) if i % 2 else t.lower() for i, t in enumerate(parts))


def _npy_files(folder: Path) -> list[Path]:
    # Hidden files (macOS "._0.npy" resource forks) are not frames, like hidden folders.
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix == ".npy" and not p.name.startswith(".") and p.is_file()
        ),
        key=natural_key,
    )


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key
    )


def _is_frame_folder(folder: Path) -> bool:
    files = _npy_files(folder)
    if not files:
        return False
    try:
        return np.ndim(np.load(files[0], mmap_mode="r", allow_pickle=False)) == 1
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):  # empty or damaged: not frames
        return False


def _has_npy_below(folder: Path) -> bool:
    return any(
        not any(part.startswith(".") for part in p.relative_to(folder).parts)
        for p in folder.rglob("*.npy")
    )


def _unwrap(folder: Path) -> tuple[Path, bool]:
    """Skip single-folder wrappers (``<person>/MP_Data``): the folder holding the classes, and
    whether a wrapper was skipped."""
    start = folder
    while True:
        subs = _subdirs(folder)
        if len(subs) != 1 or _npy_files(folder) or _is_frame_folder(subs[0]):
            return folder, folder != start
        if os.path.realpath(subs[0]) == os.path.realpath(folder):
            return folder, folder != start
        folder = subs[0]


def _person_classes(top: Path) -> tuple[Path, list[Path], bool] | None:
    """``top`` read as ``<person>[/wrapper]/<class>/...``: the folder holding the classes, the
    class folders, and whether a wrapper was skipped; None when it does not look like that."""
    base, wrapped = _unwrap(top)
    if _npy_files(base):
        return None
    classes = _subdirs(base)
    if not classes:
        return None
    for c in classes:
        if _is_frame_folder(c) or not (_npy_files(c) or _has_npy_below(c)):
            return None
    return base, classes, wrapped


def person_first(root: Path) -> bool:
    """The ``groups="auto"`` rule (module docstring): is ``root`` ``<person>/<class>/...``?"""
    tops = _subdirs(root)
    if not tops:
        return False
    read = [_person_classes(t) for t in tops]
    if any(r is None for r in read):
        return False
    sets = {tuple(sorted(c.name for c in r[1])) for r in read}  # type: ignore[index]
    if len(sets) != 1:
        return False
    (names,) = sets
    if len(names) < 2 or {t.name for t in tops} & set(names):
        return False
    return len(tops) > len(names) or all(r[2] for r in read)  # type: ignore[index]
