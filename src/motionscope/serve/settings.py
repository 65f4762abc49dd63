"""Server settings: every limit in one typed place (the CLI options map onto these fields)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from motionscope.errors import MotionscopeError
from motionscope.infer.backend import BACKENDS as RUN_BACKENDS
from motionscope.serve.limits import UploadPace

BACKENDS = ("auto", *RUN_BACKENDS)
WORKER_KINDS = ("process", "thread")


def default_workers() -> int:
    """Worker processes ``motionscope serve`` starts by default: one per usable core, at most
    two (each holds a model and a MediaPipe graph in memory; raise it with ``--workers``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 2))


@dataclass
class ServeSettings:
    """How ``motionscope serve`` behaves. Defaults are safe for a laptop on localhost.

    ``workers`` inference workers (one Recognizer and MediaPipe graph each) run at once:
    processes with ``worker_kind="process"`` (what the CLI uses: throughput grows with the
    cores), threads of this process with ``"thread"`` (the Python API's light default);
    ``queue_size`` more requests may wait for one. A request arriving when all
    ``workers + queue_size`` places are taken is answered 503 with ``Retry-After``.
    A video longer than ``max_seconds`` is refused with 413 (send a shorter clip, or start the
    server with a larger ``--max-seconds``); within the limit, ``segments=true`` returns the
    timeline of a long video.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    worker_kind: str = "thread"  # "process": one process per worker (motionscope serve)
    queue_size: int = 4
    max_upload_mb: float = 50.0
    max_seconds: float = 60.0
    max_side: int = 4096  # pixels: larger frames are refused (413)
    request_timeout_s: float = 120.0
    # uploads: a place in the analysis queue is taken only once the body has arrived; until then
    # at most ``max_receiving`` bodies are read at once, and a sender that pauses longer than
    # ``upload_idle_s`` or averages less than ``min_upload_kbps`` after ``upload_grace_s`` is 408
    max_receiving: int = 16
    upload_idle_s: float = 15.0
    min_upload_kbps: float = 16.0
    upload_grace_s: float = 5.0
    retry_after_s: int = 2
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    backend: str = "auto"  # auto: ONNX Runtime when RUN/model.onnx exists, else PyTorch
    max_live: int = 2  # WebSocket live streams at once
    max_frame_kb: int = 2048  # largest JPEG frame accepted on the live socket
    tmp_dir: Path | None = None  # where uploads are spooled (default: the system temp dir)
    threads: int = 1  # torch threads (the server's parallelism comes from its workers)

    def __post_init__(self) -> None:
        checks = (
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (
                self.worker_kind in WORKER_KINDS,
                f"worker kind must be one of {WORKER_KINDS}, got {self.worker_kind!r}",
            ),
            (self.queue_size >= 0, f"queue_size must be >= 0, got {self.queue_size}"),
            (self.max_upload_mb > 0, f"max upload must be > 0 MB, got {self.max_upload_mb}"),
            (self.max_seconds > 0, f"max seconds must be > 0, got {self.max_seconds}"),
            (self.request_timeout_s > 0, f"timeout must be > 0 s, got {self.request_timeout_s}"),
            (self.max_receiving >= 1, f"max_receiving must be >= 1, got {self.max_receiving}"),
            (self.upload_idle_s > 0, f"upload idle time must be > 0 s, got {self.upload_idle_s}"),
            (self.min_upload_kbps >= 0, f"min upload kB/s must be >= 0: {self.min_upload_kbps}"),
            (self.upload_grace_s >= 0, f"upload grace must be >= 0 s, got {self.upload_grace_s}"),
            (self.max_live >= 1, f"max_live must be >= 1, got {self.max_live}"),
            (self.backend in BACKENDS, f"backend must be one of {BACKENDS}, got {self.backend!r}"),
            (0 < self.port < 65536, f"port must be 1..65535, got {self.port}"),
        )
        for ok, msg in checks:
            if not ok:
                raise MotionscopeError(f"serve: {msg}")
        if self.api_key is not None and not self.api_key:
            self.api_key = None  # an empty key means no key

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def upload_pace(self) -> UploadPace:
        return UploadPace(self.upload_idle_s, self.min_upload_kbps, self.upload_grace_s)

    @property
    def capacity(self) -> int:
        """Requests admitted at once (running + waiting)."""
        return self.workers + self.queue_size
