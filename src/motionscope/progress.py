"""Rich progress bars for long work: one factory, :func:`progress_bar`, shared by every stage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
