"""The in-memory keypoint dataset: sequences with labels, groups and optional fixed splits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from motionscope.errors import DataError
from motionscope.keypoints.layout import Layout


@dataclass
class Sample:
    """One keypoint sequence ``(T, D)`` float32 and where it came from."""

    data: np.ndarray
    label: str
    source: str  # file or folder it was read from (for messages and reports)
    order: int = 0  # natural position within its class (sequence number), for contiguous splits
    group: str | None = None  # person / session / source, for group splits
    split: str | None = None  # "train" / "val" / "test" when fixed by a manifest


_D = TypeVar("_D", bound="LabelledSamples")


class LabelledSamples:
    """What the keypoint and the video datasets share: ``samples`` (each with a ``label``),
    ``classes`` (sorted labels unless given) and ``source``; counts, class indices, subsets and
    the trainability check. A subclass (a dataclass with those fields) names its samples in
    ``_unit`` for messages and rebuilds itself from samples and classes in :meth:`_rebuild`."""

    samples: Sequence[Any]
    classes: list[str]
    source: str
    _unit = "sequences"

    def __post_init__(self) -> None:
        if not self.classes:
            self.classes = sorted({s.label for s in self.samples})

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> np.ndarray:
        """Class index of every sample, in ``classes`` order."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[s.label] for s in self.samples], dtype=np.int64)

    @property
    def groups(self) -> list[str | None]:
        """Every sample's group (person, session), None where it has none."""
        return [getattr(s, "group", None) for s in self.samples]

    def has_groups(self) -> bool:
        """True when every sample has a group and there are at least two groups."""
        g = self.groups
        return bool(g) and all(x is not None for x in g) and len(set(g)) >= 2

    def counts(self) -> dict[str, int]:
        c = Counter(s.label for s in self.samples)
        return {name: c.get(name, 0) for name in self.classes}

    def _rebuild(self: _D, samples: list, classes: list[str]) -> _D:
        raise NotImplementedError

    def subset(self: _D, indices: np.ndarray | list[int]) -> _D:
        return self._rebuild([self.samples[i] for i in indices], list(self.classes))

    def select_classes(self: _D, names: list[str]) -> _D:
        missing = [n for n in names if n not in self.classes]
        if missing:
            raise DataError(f"classes {missing} not found in {self.source}; it has {self.classes}")
        kept = [s for s in self.samples if s.label in names]
        return self._rebuild(kept, list(names))

    def check_trainable(self) -> None:
        """At least two classes, each with at least one sample."""
        counts = self.counts()
        empty = [c for c, n in counts.items() if n == 0]
        if empty:
            raise DataError(f"classes {empty} have no {self._unit} in {self.source}")
        if len(counts) < 2:
            raise DataError(
                f"need at least 2 classes to train, found {len(counts)} ({list(counts)}) in "
                f"{self.source}; put each class's {self._unit} in its own folder"
            )


@dataclass
class KeypointDataset(LabelledSamples):
    samples: list[Sample]
    layout: Layout
    classes: list[str] = field(default_factory=list)
    source: str = ""
    # where the groups came from: "first" (DATA/<person>/<class>), "second" (the sub-folders of
    # DATA/<class>), "pattern" (a group regex), "manifest", or None (unknown / no groups)
    groups_from: str | None = None

    def _rebuild(self, samples: list[Sample], classes: list[str]) -> KeypointDataset:
        return KeypointDataset(samples, self.layout, classes, self.source, self.groups_from)

    def summary(self) -> dict:
        lengths = [s.data.shape[0] for s in self.samples]
        out = {
            "source": self.source,
            "layout": self.layout.name,
            "width": self.layout.width,
            "n_sequences": len(self.samples),
            "per_class": self.counts(),
            "frames": {
                "min": int(min(lengths)) if lengths else 0,
                "median": float(np.median(lengths)) if lengths else 0.0,
                "max": int(max(lengths)) if lengths else 0,
            },
        }
        groups = group_counts(self.samples)
        if groups:
            out["groups"] = groups
            out["groups_from"] = self.groups_from
        return out


def group_counts(samples: Sequence[Any]) -> dict[str, int]:
    """Sequences per group (samples without a group are left out), in sorted group order."""
    c = Counter(s.group for s in samples if getattr(s, "group", None) is not None)
    return {g: c[g] for g in sorted(c)}
