"""Keypoint extraction on either engine: the local process pool or Ray actors."""

from __future__ import annotations

from pathlib import Path

from motionscope.errors import MotionscopeError
from motionscope.pose.batch import extract_batch
from motionscope.pose.report import ExtractReport

ENGINES = ("local", "ray")


def extract_keypoints(
    src: Path | str,
    out: Path | str,
    *,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    every: int = 1,
    fps: float | None = None,
    progress: bool = True,
    graph: str = "holistic",
    graph_threads: int | None = None,
) -> ExtractReport:
    """:func:`extract_batch` (``engine="local"``) or its Ray twin (``engine="ray"``, on the
    cluster at ``address`` when given, else a local Ray runtime; ``workers`` caps the actors).
    ``graph`` and ``graph_threads``: see :func:`extract_batch`."""
    if engine not in ENGINES:
        raise MotionscopeError(
            f"--engine {engine!r} is not available; use one of {', '.join(ENGINES)}"
        )
    if address and engine != "ray":
        raise MotionscopeError("--ray-address needs --engine ray")
    if engine == "ray":
        from motionscope.pose.ray_engine import extract_batch_ray

        return extract_batch_ray(
            src, out, every=every, fps=fps, address=address, workers=workers,
            progress=progress, graph=graph, graph_threads=graph_threads,
        )  # fmt: skip
    return extract_batch(
        src, out, workers=workers, every=every, fps=fps, progress=progress, graph=graph,
        graph_threads=graph_threads,
    )  # fmt: skip
