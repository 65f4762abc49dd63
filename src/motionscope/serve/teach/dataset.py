"""The taught dataset on disk: ``DIR/<action>/<n>.npy`` (``(frames, 1662)`` float32) plus a
``<n>.json`` sidecar, the layout ``motionscope record`` writes and ``motionscope train DIR`` reads.

Every name a request gives is checked before it touches a path (:func:`check_name`): the
record command's rule (letters, digits, ``_ - . +`` and spaces, not starting with a dot), at
most :data:`MAX_NAME` characters, and the folder must resolve inside ``DIR``. Examples are
written atomically (``.npy`` first, then its sidecar), so a crash leaves an old example or a new
one, never half of one; an example whose ``.npy`` is missing is not listed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.atomic import write_json, write_npy
from motionscope.errors import DataError
from motionscope.keypoints.layout import HOLISTIC
from motionscope.pose.record import check_action, next_sequence_number
from motionscope.serve.limits import ApiError
from motionscope.serve.live import drawable

MAX_NAME = 64  # characters in an action name
MIN_EXAMPLES = 3  # per action, before training (one each for train, validation and test)
MAX_ACTIONS = 50
RATES = ("pose", "left_hand", "right_hand")


def check_name(name: object) -> str:
    """A valid action name, or :class:`ApiError` 422 saying what is wrong with it."""
    if not isinstance(name, str):
        raise ApiError(422, "the action name must be a string")
    text = name.strip()
    if not text:
        raise ApiError(422, "the action name is empty: type a name such as 'wave'")
    if len(text) > MAX_NAME:
        raise ApiError(422, f"the action name is {len(text)} characters long; at most {MAX_NAME}")
    try:
        return check_action(text)
    except DataError as e:
        raise ApiError(422, str(e)) from None


@dataclass
class Example:
    action: str
    number: int
    frames: int
    rates: dict[str, float]
    preview: dict  # the middle frame's points, for drawing (see serve.live.drawable)

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "number": self.number,
            "frames": self.frames,
            "detection_rate": self.rates,
            "preview": self.preview,
        }


class TeachData:
    """The dataset folder ``root`` (created when missing); writes are serialised by a lock."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root} is a file; the teach folder must be a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    # -- paths ---------------------------------------------------------------------------------

    def folder(self, action: str) -> Path:
        name = check_name(action)
        path = (self.root / name).resolve()
        if path.parent != self.root:  # never reached with check_name's rule; kept as a guard
            raise ApiError(422, f"action name {name!r} leaves the dataset folder")
        return path

    def _existing(self, action: str) -> Path:
        path = self.folder(action)
        if not path.is_dir():
            raise ApiError(404, f"no action {action!r}; add it first")
        return path

    # -- reading -------------------------------------------------------------------------------

    def actions(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def examples(self, action: str) -> list[Example]:
        folder = self._existing(action)
        out = []
        for npy in sorted(folder.glob("*.npy"), key=lambda p: (len(p.stem), p.stem)):
            if not npy.stem.isdigit():
                continue
            out.append(self._example(action, npy))
        return out

    def _example(self, action: str, npy: Path) -> Example:
        info: dict = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(npy.with_suffix(".json").read_text(encoding="utf-8"))
        arr = np.load(npy, mmap_mode="r", allow_pickle=False)
        rates = info.get("detection_rate") if isinstance(info, dict) else None
        if not isinstance(rates, dict):
            found = np.asarray(arr).reshape(len(arr), -1) if arr.ndim == 2 else None
            rates = {}
            if found is not None and found.shape[1] == HOLISTIC.width:
                for name in RATES:
                    rates[name] = round(float(found[:, HOLISTIC.slice(name)].any(1).mean()), 4)
        middle = np.asarray(arr[len(arr) // 2]) if len(arr) else None
        return Example(action, int(npy.stem), int(len(arr)), rates, drawable(middle, HOLISTIC))

    def summary(self) -> list[dict]:
        return [
            {"name": a, "examples": [e.to_dict() for e in self.examples(a)]} for a in self.actions()
        ]

    def counts(self) -> dict[str, int]:
        return {a: len(self.examples(a)) for a in self.actions()}

    def check_trainable(self, min_examples: int = MIN_EXAMPLES) -> dict[str, int]:
        """The example counts, or :class:`ApiError` 422 saying what to record first."""
        counts = self.counts()
        if len(counts) < 2:
            raise ApiError(422, f"teach at least 2 actions before training (have {len(counts)})")
        short = {a: n for a, n in counts.items() if n < min_examples}
        if short:
            listed = ", ".join(f"{a!r} has {n}" for a, n in short.items())
            raise ApiError(
                422,
                f"record at least {min_examples} examples of every action before training: "
                f"{listed}",
            )
        return counts

    # -- writing -------------------------------------------------------------------------------

    def add_action(self, action: str) -> str:
        path = self.folder(action)
        with self.lock:
            if not path.is_dir() and len(self.actions()) >= MAX_ACTIONS:
                raise ApiError(422, f"at most {MAX_ACTIONS} actions can be taught")
            path.mkdir(exist_ok=True)
        return path.name

    def delete_action(self, action: str) -> None:
        path = self._existing(action)
        with self.lock:
            shutil.rmtree(path)

    def delete_example(self, action: str, number: int) -> None:
        folder = self._existing(action)
        npy = folder / f"{int(number)}.npy"
        with self.lock:
            if not npy.is_file():
                raise ApiError(404, f"action {action!r} has no example {number}")
            npy.unlink()
            npy.with_suffix(".json").unlink(missing_ok=True)

    def save_example(self, action: str, rows: list[np.ndarray], meta: dict) -> Example:
        """Write one complete example (``rows``: one 1662 vector per frame) atomically."""
        folder = self.folder(action)
        arr = np.stack(rows).astype(np.float32)
        with self.lock:
            folder.mkdir(exist_ok=True)
            number = next_sequence_number(folder)
            npy = folder / f"{number}.npy"
            write_npy(npy, arr)
            write_json(
                npy.with_suffix(".json"),
                {"action": folder.name, "sequence": number, "shape": list(arr.shape),
                 "layout": HOLISTIC.name, "source": "browser", **meta},
            )  # fmt: skip
        return self._example(folder.name, npy)

    def write_zip(self, target: Path) -> Path:
        """Every action's examples (``<action>/<n>.npy`` and ``.json``) into ``target``."""
        with self.lock, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for action in self.actions():
                for path in sorted((self.root / action).iterdir()):
                    wanted = path.suffix in (".npy", ".json") and path.stem.isdigit()
                    if wanted and path.is_file() and not path.is_symlink():
                        zf.write(path, f"{action}/{path.name}")
        return target


def zip_folder(folder: Path, target: Path, prefix: str) -> Path:
    """Every regular file under ``folder`` into ``target`` as ``prefix/<relative path>``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                zf.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return target
