"""``--engine ray``: keypoint extraction on a Ray cluster (or a local Ray runtime).

Does the same work as :func:`motionscope.pose.batch.extract_batch` (same discovery, same
skip-if-done key, same per-video ``.npy`` and sidecar written atomically, same
``extract-report.json``), but the videos run on a pool of Ray actors, each keeping one
MediaPipe Holistic graph alive. The actors write the output files themselves, so on a
multi-machine cluster ``SRC`` and ``OUT`` must be on a filesystem every node sees under the
same path. Ray is optional: ``pip install "ray[data]" "pyarrow<=25"``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from motionscope.errors import DataError, MotionscopeError
from motionscope.pose.batch import ExtractReport, _extract_one, engine_settings, run_batch
from motionscope.pose.graph import check_threads
from motionscope.pose.holistic import HolisticExtractor

log = logging.getLogger(__name__)

OBJECT_STORE_BYTES = 128 * 1024 * 1024  # the tasks and results are small dicts


class RayEngineError(MotionscopeError):
    """Ray is not installed or the cluster cannot be reached."""


def _import_ray():
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RayEngineError(
            f'--engine ray needs Ray ({e}); install it with `pip install "ray[data]" '
            '"pyarrow<=25"`, or use --engine local'
        ) from e
    return ray


class _ExtractActor:
    """One Holistic graph, reused for every video this actor is given."""

    def __init__(self, settings: dict) -> None:
        self.extractor = HolisticExtractor(**settings).open()

    def run(self, task: dict) -> dict:
        return _extract_one(self.extractor, task)


def _start(ray, address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` or start a local runtime; True when this call started Ray."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
                **quiet,
            )
    except Exception as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
        raise RayEngineError(f"cannot start {where}: {type(e).__name__}: {e}") from e
    return True


def _run_actors(ray, tasks: list[dict], settings: dict, n_actors: int, on_done) -> None:
    """Hand the tasks to ``n_actors`` actors, one at a time each, as they become free."""
    from ray.exceptions import RayActorError

    actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_ExtractActor)
    actors = [actor_cls.remote(settings) for _ in range(n_actors)]
    queue = list(range(len(tasks)))[::-1]  # pop() from the end: first task first
    running: dict = {}  # ObjectRef -> (task index, actor)

    def submit(actor) -> None:
        if queue:
            k = queue.pop()
            running[actor.run.remote(tasks[k])] = (k, actor)

    try:
        for actor in actors:
            submit(actor)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                k, actor = running.pop(ref)
                try:
                    res = ray.get(ref)
                except RayActorError as e:  # the worker process died: replace the actor
                    res = {"status": "failed", "error": f"the Ray worker died ({e})"}
                    ray.kill(actor)
                    actor = actor_cls.remote(settings)
                    actors.append(actor)
                except Exception as e:  # an unexpected bug in one video: keep the batch going
                    cause = getattr(e, "cause", None) or e
                    res = {"status": "failed", "error": f"{type(cause).__name__}: {cause}"}
                on_done(k, res)
                submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)


def extract_batch_ray(
    src: Path | str,
    out: Path | str,
    *,
    every: int = 1,
    fps: float | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    model_complexity: int = 1,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    static_image_mode: bool = False,
    graph: str = "holistic",
    graph_threads: int | None = None,
) -> ExtractReport:
    """Extract keypoints of every video under ``src`` into ``out`` with Ray actors.

    ``address`` connects to a running cluster (``ray.init(address=...)``, e.g. ``"auto"`` or
    ``"ray://head:10001"``); without it a local runtime with ``num_cpus`` CPUs (default: all)
    is started. Ray already running in this process is used as is. One actor (1 CPU) per
    available CPU, at most ``workers`` and at most one per video. Ray is shut down afterwards
    only when this call started it. Same outputs and report as the local engine, with
    ``engine="ray"``. ``graph`` as for the local engine; ``graph_threads`` defaults to 1 (each
    actor reserves one CPU).
    """
    if num_cpus is not None and num_cpus < 1:
        raise DataError(f"num_cpus must be >= 1, got {num_cpus}")
    settings = engine_settings(
        workers,
        model_complexity=model_complexity,
        static_image_mode=static_image_mode,
        min_detection_confidence=min_detection_confidence,
        min_tracking_confidence=min_tracking_confidence,
        graph=graph,
    )
    actor_settings = {**settings, "graph_threads": check_threads(graph_threads) or 1}
    ray = _import_ray()

    def run(tasks: list[dict], on_done) -> int:
        started = _start(ray, address, num_cpus)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n_actors = max(1, min(cpus, workers or cpus, len(tasks)))
            _run_actors(ray, tasks, actor_settings, n_actors, on_done)
        finally:
            if started:
                ray.shutdown()
        return n_actors

    return run_batch(
        src, out, every=every, fps=fps, progress=progress, settings=settings, engine="ray",
        run=run,
    )  # fmt: skip
