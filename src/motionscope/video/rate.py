"""Frame-rate conversion: which source frames make a sequence at the model's frame rate.

A model trained at 15 fps sees an action as so many frames; the same action filmed at 30 fps
is twice as many frames. :class:`RateConverter` maps source frame ``i`` to the number of times it
appears at the target rate: 0 (dropped before any work is done on it), 1, or more (repeated, when
the source is slower than the model). Output frame ``k`` is source frame ``floor(k * src / dst)``,
so a 30 fps copy of a 15 fps clip (every frame twice) gives back exactly the 15 fps frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

T = TypeVar("T")
SAME_RATE = 0.01  # rates within 1% of each other are taken as equal (no conversion)


class RateConverter:
    def __init__(self, src_fps: float | None, dst_fps: float | None) -> None:
        self.src = float(src_fps) if src_fps and src_fps > 0 else None
        self.dst = float(dst_fps) if dst_fps and dst_fps > 0 else None
        self.identity = (
            self.src is None or self.dst is None or abs(self.src / self.dst - 1) < SAME_RATE
        )

    @property
    def fps(self) -> float | None:
        """The frame rate of the converted sequence (the source's when nothing changes)."""
        return self.src if self.identity else self.dst

    def count(self, i: int) -> int:
        """How many output frames source frame ``i`` becomes."""
        if self.identity:
            return 1
        r = self.dst / self.src
        return math.ceil((i + 1) * r - 1e-9) - math.ceil(i * r - 1e-9)

    def select(self, items: Iterable[T]) -> Iterator[tuple[T, int]]:
        """``(item, count)`` for the source items that are kept (count >= 1)."""
        for i, item in enumerate(items):
            n = self.count(i)
            if n:
                yield item, n

    def indices(self, n_src: int) -> np.ndarray:
        """Source index of every output frame, for a sequence of ``n_src`` frames."""
        counts = np.array([self.count(i) for i in range(n_src)], dtype=np.int64)
        return np.repeat(np.arange(n_src), counts)


def repeat_rows(rows: np.ndarray, counts: list[int]) -> np.ndarray:
    """``rows[i]`` repeated ``counts[i]`` times (the output of a converted extraction)."""
    if len(counts) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(counts)} counts")
    if all(c == 1 for c in counts):
        return rows
    return np.repeat(rows, np.asarray(counts, dtype=np.int64), axis=0)
