"""``motionscope serve``: the REST API, the live WebSocket and the web app over one bundle."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.common import console, err_console, or_exit
from motionscope.errors import MotionscopeError

Host = Annotated[
    str, typer.Option(help="Address to listen on (0.0.0.0 exposes it to the network).")
]
Port = Annotated[int, typer.Option(help="TCP port.")]
Workers = Annotated[
    int | None,
    typer.Option(
        help="Inference worker processes (one model + MediaPipe graph each; default: one per "
        "core, at most 2).",
        min=1,
        show_default=False,
    ),
]
WorkerKind = Annotated[
    str,
    typer.Option(
        help="process (throughput grows with cores) or thread (one process, less memory)."
    ),
]
Engine = Annotated[
    str, typer.Option(help="local (this machine) or ray (Ray Serve replicas; the ray extra).")
]
Replicas = Annotated[int, typer.Option(help="--engine ray: replicas (one process each).", min=1)]
MaxOngoing = Annotated[
    int,
    typer.Option(
        help="--engine ray: predictions a replica admits at once (running + waiting); "
        "beyond it: 503.",
        min=1,
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="--engine ray: a running Ray cluster (auto, ray://HEAD:10001); default: start a "
        "local Ray runtime."
    ),
]
ENGINES = ("local", "ray")
Queue = Annotated[
    int, typer.Option(help="Requests that may wait for a worker; beyond that: 503.", min=0)
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="MOTIONSCOPE_API_KEY",
        help="Require this X-API-Key on /predict and /v1/* (or set MOTIONSCOPE_API_KEY, "
        "which keeps it out of the process list).",
    ),
]
MaxUploadMb = Annotated[float, typer.Option(help="Largest upload accepted (413).")]
MaxSeconds = Annotated[float, typer.Option(help="Longest video accepted, in seconds (413).")]
Timeout = Annotated[float, typer.Option(help="Seconds a request may take in all (408 / 504).")]
CorsOrigin = Annotated[
    list[str] | None,
    typer.Option(help="Allow browser calls from this origin (repeatable; default: none)."),
]
ServeBackend = Annotated[
    str,
    typer.Option(
        help="auto (ONNX Runtime when RUN was exported, else PyTorch), torch, onnx, onnx-int8."
    ),
]
MaxLive = Annotated[int, typer.Option(help="Live WebSocket streams at once.", min=1)]
LogLevel = Annotated[str, typer.Option(help="uvicorn log level.")]
OptionalRun = Annotated[
    Path | None,
    typer.Argument(help="Bundle directory written by `train` (may be left out with --teach)."),
]
Teach = Annotated[
    Path | None,
    typer.Option(
        help="Add the Teach tab over this dataset folder (created if missing): record "
        "examples in the browser, train, and serve the new model without a restart."
    ),
]
TeachModel = Annotated[
    str,
    typer.Option(
        help="The keypoint model the Teach tab trains (see `motionscope models`).",
    ),
]
TeachEpochs = Annotated[
    int,
    typer.Option(
        min=1,
        help="Most epochs a Teach training runs (it stops earlier once validation stops "
        "improving).",
    ),
]
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_cmd(
    run: OptionalRun = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = None,
    queue: Queue = 4,
    api_key: ApiKey = None,
    max_upload_mb: MaxUploadMb = 50.0,
    max_seconds: MaxSeconds = 60.0,
    timeout: Timeout = 120.0,
    cors_origin: CorsOrigin = None,
    backend: ServeBackend = "auto",
    max_live: MaxLive = 2,
    log_level: LogLevel = "info",
    teach: Teach = None,
    teach_model: TeachModel = "kpnet",
    teach_epochs: TeachEpochs = 60,
    worker_kind: WorkerKind = "process",
    engine: Engine = "local",
    replicas: Replicas = 1,
    max_ongoing_requests: MaxOngoing = 5,
    ray_address: RayAddress = None,
) -> None:
    """Serve a bundle: REST API (/predict, /v1/predict, /v1/model, /health, /docs), the live
    WebSocket (/v1/live) and the web app at /. Needs the `serve` extra.

    The model is loaded once at start-up. Requests beyond --workers + --queue get 503 with
    Retry-After; uploads over --max-upload-mb and videos over --max-seconds get 413.
    With --engine ray the same app runs on Ray Serve replicas (--replicas, each admitting
    --max-ongoing-requests predictions), locally or on a cluster (--ray-address).
    """
    from motionscope.serve.settings import default_workers

    workers = workers or default_workers()
    settings = dict(host=host, port=port, workers=workers, queue_size=queue, api_key=api_key,
                    max_upload_mb=max_upload_mb, max_seconds=max_seconds,
                    request_timeout_s=timeout, cors_origins=list(cors_origin or []),
                    backend=backend, max_live=max_live, worker_kind=worker_kind)  # fmt: skip
    or_exit(lambda: _check_engine(engine))
    or_exit(lambda: check_port(host, port))
    if engine == "ray":
        or_exit(lambda: _ray_needs_a_bundle(run, teach))
        serve_on_ray(run, settings, replicas, max_ongoing_requests, ray_address)
        return
    uvicorn, server, settings = or_exit(
        lambda: _build(run, settings, teach, teach_training(teach, teach_model, teach_epochs))
    )
    service = server.state.service
    if host not in LOCAL_HOSTS:
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: reachable from other machines"
            + ("" if settings.api_key else "; consider --api-key"),
            highlight=False,
        )
    what = (
        f"{run} ({len(service.recognizer.classes)} classes, {service.backend} backend, "
        f"{_count(workers, 'worker ' + worker_kind)})"
        if run
        else "no model yet (teach one in the browser)"
    )
    console.print(
        f"serving {what} on http://{host}:{port}/ "
        f"- API docs at /docs" + (f"; teaching in {teach}" if teach else ""),
        highlight=False,
    )
    uvicorn.run(
        server,
        host=host,
        port=port,
        log_level=log_level,
        timeout_keep_alive=5,
        ws_max_size=settings.max_frame_kb * 1024 + 4096,
    )


def _count(n: int, what: str) -> str:
    plural = "es" if what.endswith("s") else "s"
    return f"{n} {what}{plural if n != 1 else ''}"


def _ray_needs_a_bundle(run, teach) -> None:
    if teach is not None or run is None:
        raise MotionscopeError(
            "serve --engine ray serves a trained bundle RUN (the Teach tab needs --engine local)"
        )


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise MotionscopeError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def serve_on_ray(run, settings: dict, replicas: int, max_ongoing: int, address) -> None:
    """Deploy on Ray Serve, then wait for Ctrl-C (or SIGTERM) and remove the deployment."""
    import signal
    import time

    from motionscope.serve.settings import ServeSettings

    def start():
        from motionscope.serve.ray_serve import RayServeOptions, deploy

        options = RayServeOptions(replicas, max_ongoing, address)
        return deploy(run, ServeSettings(**settings), options)

    def stop(*_):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(sig, stop)
    where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
    console.print(f"deploying {run} on {where} ({_count(replicas, 'replica')})...", highlight=False)
    deployment = or_exit(start)
    console.print(
        f"serving {run} on Ray Serve ({_count(replicas, 'replica')}, "
        f"{max_ongoing} predictions each) on {deployment.url}/ - Ctrl-C stops it",
        highlight=False,
    )

    try:
        while True:
            time.sleep(0.5)  # short: a signal may reach another thread (Ray's)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping: removing the deployment...", highlight=False)
        deployment.close()


def check_port(host: str, port: int) -> None:
    """A clear error, before the model loads, when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise MotionscopeError(
                    f"port {port} on {host} is already in use (another server is running "
                    f"there); stop it or choose another port with --port"
                ) from None
            raise MotionscopeError(
                f"cannot listen on {host}:{port} ({e.strerror or e}); check --host and --port"
            ) from None


def teach_training(teach: Path | None, model: str, epochs: int):
    """The Teach tab's training settings (checked now: a bad --teach-model fails at start-up)."""
    if teach is None:
        return None
    from motionscope.serve.teach import TeachTraining

    return TeachTraining(model=model, epochs=epochs)


def _build(run, settings: dict, teach: Path | None = None, training=None):
    """uvicorn, the app over ``run`` and its :class:`ServeSettings` (a clear error without the
    serve extra, or with neither a bundle nor --teach)."""
    if run is None and teach is None:
        raise MotionscopeError("serve: give a bundle RUN to serve, or --teach DIR (or both)")
    try:
        import uvicorn

        from motionscope.serve.app import create_app
    except ImportError as e:
        raise MotionscopeError(
            f"`motionscope serve` needs the serve extra ({e}); install it with "
            "`pip install -e '.[serve]'`"
        ) from None
    from motionscope.serve.settings import ServeSettings

    typed = ServeSettings(**settings)
    return uvicorn, create_app(run, typed, teach=teach, teach_training=training), typed
