"""The output folder of the synthetic data generators: ``OUT/<action>/<i>.<ext>``.

Shared by ``data/synth.py`` (keypoints, ``.npy``) and ``video/synth.py`` (``.mp4``): an earlier
synthetic output may be overwritten, anything else in ``OUT`` is refused, and files the new
output does not rewrite are removed so the folder matches what was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from motionscope.errors import DataError


def sample_pattern(ext: str) -> re.Pattern:
    return re.compile(rf"^\d+\.{ext}$")


def tmp_pattern(ext: str) -> re.Pattern:
    """Temporary files ``.<i>.<ext>.<pid>.tmp`` left by an interrupted write."""
    return re.compile(rf"^\.\d+\.{ext}\.\d+\.tmp$")


def previous_output(out: Path, actions: Collection[str], ext: str, what: str) -> list[Path]:
    """Class folders of an earlier synthetic output in ``out``; DataError if it holds anything
    else."""
    if not out.exists():
        return []
    if not out.is_dir():
        raise DataError(f"output path {out} exists and is not a directory")
    sample, tmp = sample_pattern(ext), tmp_pattern(ext)
    folders = []
    for entry in sorted(out.iterdir()):
        ok = entry.is_dir() and entry.name in actions
        ok = ok and all(
            f.is_file() and (sample.match(f.name) or tmp.match(f.name)) for f in entry.iterdir()
        )
        if not ok:
            raise DataError(
                f"output folder {out} is not empty and is not a previous {what} output "
                f"(found {entry.name!r}; only <action>/<i>.{ext} is allowed there); "
                "choose an empty or new folder"
            )
        folders.append(entry)
    return folders


def remove_stale(folders: list[Path], labels: list[str], per_class: int, ext: str) -> None:
    """Delete files of an earlier synthetic output that the new one did not rewrite."""
    tmp = tmp_pattern(ext)
    for folder in folders:
        keep = folder.name in labels
        for f in folder.iterdir():
            stale = tmp.match(f.name) or int(f.name.split(".")[0]) >= per_class
            if not keep or stale:
                f.unlink()
        if not keep:
            folder.rmdir()
