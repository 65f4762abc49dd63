"""``motionscope serve RUN --engine ray``: the same FastAPI app (:func:`create_app`) on Ray Serve.

Each replica is a Ray actor (its own process) that builds the app over the bundle when it
starts, so it holds one model and one MediaPipe graph and runs one video at a time
(``workers=1``); throughput comes from ``replicas``, on one machine or across a cluster. Every
route, limit and error is the local server's, because it *is* the local app.

Back-pressure stays in the app, so a busy answer has the local JSON shape
(``{"success": false, "error": "server busy: ..."}``, 503, ``Retry-After``):
``max_ongoing_requests`` is the number of predictions a replica admits at once (running +
waiting, the app's ``workers + queue_size``); Ray itself is allowed a little more per replica
(for uploads still arriving, ``/health``, ``/v1/model`` and live sockets), so its router hands
the request to the replica, which answers 503 itself instead of Ray's plain-text 503.

On a cluster (``address``) the bundle directory must be readable under the same path on every
node that runs a replica (a shared filesystem), as with ``extract --engine ray``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from motionscope.errors import DataError, MotionscopeError
from motionscope.serve.settings import ServeSettings

log = logging.getLogger("motionscope.serve")

APP_NAME = "motionscope"
RAY_EXTRA_REQUESTS = 8  # per replica, beyond predictions and uploads: /health, /v1/model, live
OBJECT_STORE_BYTES = 128 * 1024 * 1024


class RayServeError(MotionscopeError):
    """Ray Serve is missing, or the cluster or the deployment failed."""


@dataclass(frozen=True)
class RayServeOptions:
    """How the app is deployed on Ray Serve."""

    replicas: int = 1
    max_ongoing_requests: int = 5  # predictions a replica admits (running + waiting)
    address: str | None = None  # a running cluster ("auto", "ray://head:10001"); None: local
    cpus_per_replica: float = 1.0
    num_cpus: int | None = None  # CPUs of a local runtime (default: all)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise DataError(f"--replicas must be >= 1, got {self.replicas}")
        if self.max_ongoing_requests < 1:
            raise DataError(f"--max-ongoing-requests must be >= 1, got {self.max_ongoing_requests}")
        if self.cpus_per_replica < 0:
            raise DataError(f"cpus per replica must be >= 0, got {self.cpus_per_replica}")


def replica_settings(settings: ServeSettings, options: RayServeOptions) -> ServeSettings:
    """A replica's settings: one thread worker (the replica is the process) and room for
    ``max_ongoing_requests`` predictions."""
    return replace(
        settings, workers=1, worker_kind="thread", queue_size=options.max_ongoing_requests - 1
    )


def ray_ongoing_limit(settings: ServeSettings) -> int:
    """Ray's ``max_ongoing_requests`` per replica: everything the app itself bounds."""
    return settings.capacity + settings.max_receiving + settings.max_live + RAY_EXTRA_REQUESTS


def _import_serve():
    try:
        import ray
        from ray import serve
    except ImportError as e:
        raise RayServeError(
            f"--engine ray needs Ray Serve ({e}); install it with "
            "`pip install -e '.[ray]'` (ray[serve]), or serve with --engine local"
        ) from None
    return ray, serve


class _Replica:
    """A Ray Serve replica: the motionscope app over one bundle, built in the replica."""

    def __init__(self, run: str, settings: ServeSettings) -> None:
        self._run = run
        self._settings = settings

    def __serve_build_asgi_app__(self):
        from motionscope.serve.app import create_app

        return create_app(self._run, self._settings)


def build_application(run: Path | str, settings: ServeSettings, options: RayServeOptions):
    """The Ray Serve application (``serve.run`` it) serving ``run`` on ``options.replicas``."""
    _, serve = _import_serve()
    from motionscope.bundle import read_bundle

    run = Path(run).resolve()
    read_bundle(run)  # a clear error here rather than in a replica's log
    per_replica = replica_settings(settings, options)
    deployment = serve.deployment(
        serve.ingress()(_Replica),
        name="motionscope",
        num_replicas=options.replicas,
        max_ongoing_requests=ray_ongoing_limit(per_replica),
        ray_actor_options={"num_cpus": options.cpus_per_replica},
        health_check_period_s=5,
    )
    return deployment.bind(str(run), per_replica)


@dataclass
class RayDeployment:
    """A running deployment; :meth:`close` removes it (and the Ray runtime it started)."""

    url: str
    started_ray: bool
    _closed: bool = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        ray, serve = _import_serve()
        try:
            serve.delete(APP_NAME)
        except Exception as e:  # the cluster may be gone already
            log.warning("could not delete the Ray Serve app: %s", e)
        if self.started_ray:
            serve.shutdown()
            ray.shutdown()


def _start_ray(ray, options: RayServeOptions) -> bool:
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    try:
        if options.address:
            ray.init(address=options.address, **quiet)
        else:
            ray.init(
                num_cpus=options.num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
                **quiet,
            )
    except Exception as e:
        where = f"the Ray cluster at {options.address}" if options.address else "a local Ray"
        raise RayServeError(f"cannot start {where}: {type(e).__name__}: {e}") from e
    return True


def deploy(run: Path | str, settings: ServeSettings, options: RayServeOptions) -> RayDeployment:
    """Start (or connect to) Ray, start Serve's HTTP proxy on ``settings.host:port`` and deploy
    the app; returns once every replica has loaded the bundle."""
    ray, serve = _import_serve()
    app = build_application(run, settings, options)  # checks the bundle before Ray starts
    started = _start_ray(ray, options)
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    except Exception as e:
        if started:
            serve.shutdown()
            ray.shutdown()
        raise RayServeError(f"the Ray Serve deployment failed: {type(e).__name__}: {e}") from e
    return RayDeployment(url=f"http://{settings.host}:{settings.port}", started_ray=started)
