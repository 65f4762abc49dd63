"""Manifests: CSV or JSON-lines files listing sequences with ``path,label[,split][,group]``.

(Rows naming videos are read by :mod:`motionscope.data.videos`; optional ``start,end`` columns,
in seconds, are parsed here.)

A row's ``path`` (relative to the manifest's folder, or absolute) names one sequence (a ``(T, D)``
``.npy`` file or a folder of per-frame ``.npy`` files), a whole class folder (every sequence in it
gets the row's ``label``, or the folder's name when the label is empty), or a ``.ts`` file (its
cases keep their own labels). Listing only some class folders picks classes; giving them new
labels renames them; rows from several datasets merge them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from motionscope.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass
class ManifestRow:
    path: Path
    label: str | None
    split: str | None
    group: str | None
    where: str  # "manifest.csv:3" for messages
    order: int  # row number, the natural order for contiguous splits
    start: float | None = None  # optional trim in seconds (the start,end columns)
    end: float | None = None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _row(raw: dict, base: Path, where: str, order: int) -> ManifestRow:
    path_text = _clean(raw.get("path"))
    if not path_text:
        raise DataError(f"{where}: missing 'path'")
    p = Path(path_text).expanduser()
    split = _clean(raw.get("split"))
    if split is not None:
        split = split.lower()
        if split not in SPLITS:
            raise DataError(f"{where}: split must be one of {', '.join(SPLITS)}, got {split!r}")
    start, end = _seconds(raw, "start", where), _seconds(raw, "end", where)
    if start is not None and end is not None and end <= start:
        raise DataError(f"{where}: end ({end}) must be after start ({start})")
    return ManifestRow(
        path=p if p.is_absolute() else base / p,
        label=_clean(raw.get("label")),
        split=split,
        group=_clean(raw.get("group")),
        where=where,
        order=order,
        start=start,
        end=end,
    )


def _seconds(raw: dict, key: str, where: str) -> float | None:
    text = _clean(raw.get(key))
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {key} must be a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise DataError(f"{where}: {key} must be >= 0 seconds, got {text!r}")
    return value


def read_manifest(path: Path) -> list[ManifestRow]:
    path = Path(path)
    base = path.parent
    rows: list[ManifestRow] = []
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a BOM
    except OSError as e:
        raise DataError(f"cannot read manifest {path}: {e.strerror}") from e
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: not valid JSON ({e.msg})") from e
            if not isinstance(raw, dict):
                raise DataError(f"{path}:{n}: each line must be a JSON object")
            rows.append(_row(raw, base, f"{path}:{n}", len(rows)))
    else:
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames:  # "path, label" or "Path,Label" name the same columns
            reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise DataError(
                f"{path}: the first line must be a header with a 'path' column "
                "(path,label[,split][,group])"
            )
        for n, raw in enumerate(reader, 2):
            rows.append(_row(raw, base, f"{path}:{n}", len(rows)))
    if not rows:
        raise DataError(f"manifest {path} lists no sequences")
    return rows
