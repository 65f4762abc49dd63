"""Rich progress bars for long work: one factory, :func:`progress_bar`, shared by every stage."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")

MIN_ITEMS = 200  # below this, loading is instant and a bar is noise


def progress_bar(
    description: str = "{task.description}",
    *,
    columns: Sequence[str] = (),
    timing: bool = True,
    console: Console | None = None,
    transient: bool = True,
    enabled: bool = True,
) -> Progress:
    """A bar ``description | ━━━━ | done/total | *columns | elapsed | remaining``.

    ``description`` and ``columns`` are Rich format strings (``"{task.fields[fps]:.1f} fps"``);
    ``timing=False`` leaves out the clocks; ``enabled=False`` gives a bar that draws nothing.
    Use it as a context manager (``with progress_bar(...) as bar: bar.add_task(...)``)."""
    parts = [TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn()]
    parts.extend(TextColumn(c) for c in columns)
    if timing:
        parts.extend((TimeElapsedColumn(), TimeRemainingColumn()))
    return Progress(*parts, console=console, transient=transient, disable=not enabled)


def progress_iter(items: Sequence[T], description: str, *, enabled: bool = True) -> Iterator[T]:
    """Iterate ``items``, showing a progress bar when there are many of them."""
    if not enabled or len(items) < MIN_ITEMS:
        yield from items
        return
    with progress_bar() as bar:
        yield from bar.track(items, description=description)


class RateBar:
    """A bar over ``total`` items (``unit``) showing the rate of a second count (``rate_unit``
    per second, e.g. frames/s over videos); a no-op when disabled or empty.

    It draws on a private copy of stderr: keypoint extraction points fd 2 at /dev/null to
    silence MediaPipe, and the bar must keep drawing meanwhile."""

    def __init__(
        self, description: str, total: int, unit: str, rate_unit: str, *, enabled: bool = True
    ) -> None:
        self.progress: Progress | None = None
        self._file = None
        self.count = 0
        self.start = time.perf_counter()
        if enabled and total:
            from rich.console import Console

            self._file = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace")
            self.progress = progress_bar(
                description,
                columns=(unit, "{task.fields[rate]:>6.1f} " + rate_unit + "/s"),
                console=Console(file=self._file),
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(description, total=total, rate=0.0)

    def advance(self, count: int) -> None:
        """One item done, which brought ``count`` of the rated unit."""
        self.count += count
        if self.progress is not None:
            rate = self.count / max(time.perf_counter() - self.start, 1e-9)
            self.progress.update(self.task, advance=1, rate=rate)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self._file is not None:
            self._file.close()


# -- frames of one long job (a video through MediaPipe), for the command line's bars ----------

_frame_listeners: list = []


@contextmanager
def on_frames(callback) -> Iterator[None]:
    """Call ``callback(n)`` each time :func:`frames_done` reports ``n`` more decoded frames
    while the block runs (the command line's per-video bars; the server counts its own)."""
    _frame_listeners.append(callback)
    try:
        yield
    finally:
        _frame_listeners.remove(callback)


def frames_done(n: int = 1) -> None:
    """Report ``n`` more frames decoded (MediaPipe extraction calls this per frame)."""
    for callback in list(_frame_listeners):
        callback(n)


def video_bar(description: str, *, console: Console | None = None, enabled: bool = True):
    """A bar counting a video's frames (``frames done/total``, elapsed, ETA)."""
    return progress_bar(description, columns=("frames",), console=console, enabled=enabled)
