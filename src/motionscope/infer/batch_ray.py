"""``predict --engine ray``: the videos of a batch on a pool of Ray actors.

Each actor (1 CPU, its own process) loads the bundle once and keeps its recognizer (and its
MediaPipe graph) for every video it is given, one at a time; the driver writes each line to
the results file as it arrives (see :mod:`motionscope.infer.batch`), so resuming works the same
as locally. An actor that dies fails only its video (with the reason) and is replaced. On a
cluster the bundle and the videos must be readable under the same paths on every node (a shared
filesystem), as with ``extract --engine ray``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from motionscope.infer.batch import load_for_batch, outcome, predict_video
from motionscope.pose.ray_engine import _import_ray, _start


class _PredictActor:
    """One recognizer, reused for every video this actor is given."""

    def __init__(self, run: str, options: dict) -> None:
        self.rec = load_for_batch(run, options)
        self.top_k = options["top_k"]

    def predict(self, path: str) -> dict:
        return predict_video(self.rec, path, self.top_k)


def run_on_ray(
    run: Path | str,
    todo: list[str],
    on_done: Callable[[dict], None],
    options: dict,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    workers: int | None = None,
) -> int:
    """Predict ``todo`` (video paths) on Ray actors, calling ``on_done(line)`` for each as it
    finishes; returns the number of actors. Ray is started (and shut down after) only when it
    is not running in this process already."""
    ray = _import_ray()
    started = _start(ray, address, num_cpus)
    try:
        # the CPUs free now: an actor that cannot be placed (CPUs held by Serve replicas or
        # other jobs) would hold its video forever
        cpus = int(ray.available_resources().get("CPU", 0)) or 1
        n_actors = max(1, min(cpus, workers or cpus, len(todo)))
        _dispatch(ray, str(Path(run).resolve()), todo, on_done, options, n_actors)
    finally:
        if started:
            ray.shutdown()
    return n_actors


def _dispatch(ray, run: str, todo: list[str], on_done, options: dict, n_actors: int) -> None:
    from ray.exceptions import RayActorError

    actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_PredictActor)
    actors = [actor_cls.remote(run, options) for _ in range(n_actors)]
    queue = list(reversed(todo))  # pop() from the end: first video first
    running: dict = {}  # ObjectRef -> (path, actor)

    def submit(actor) -> None:
        if queue:
            path = queue.pop()
            # the actor gets an absolute path (its working directory is Ray's business)
            running[actor.predict.remote(os.path.abspath(path))] = (path, actor)

    try:
        for actor in actors:
            submit(actor)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                path, actor = running.pop(ref)
                try:
                    line = ray.get(ref)
                except RayActorError as e:  # the actor's process died: replace it
                    line = outcome(path, error=f"the Ray worker died ({type(e).__name__})")
                    ray.kill(actor)
                    actor = actor_cls.remote(run, options)
                    actors.append(actor)
                except Exception as e:  # e.g. the bundle failed to load in the actor
                    cause = getattr(e, "cause", None) or e
                    line = outcome(path, error=f"{type(cause).__name__}: {cause}")
                on_done({**line, "path": path})  # as the local engine writes it
                submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)
