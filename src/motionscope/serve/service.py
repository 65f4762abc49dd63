"""The inference service behind the API: models loaded once, a bounded pool of workers.

Each worker thread owns one :class:`~motionscope.infer.Recognizer` and one MediaPipe graph
(a graph is not shared between threads). ``workers + queue_size`` requests are admitted at once;
the rest are refused with 503 and ``Retry-After`` before their body is read, so memory and disk
stay bounded however many clients knock. Live WebSocket streams have their own smaller budget
(``max_live``), each with its own streaming recognizer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from motionscope.bundle import ONNX_FILE
from motionscope.errors import BundleError, MotionscopeError
from motionscope.serve.analyse import Worker, analyse_video
from motionscope.serve.limits import Admission, ApiError, Deadline, receive_upload, retry_after
from motionscope.serve.settings import ServeSettings

log = logging.getLogger("motionscope.serve")

DISCONNECT_POLL_S = 1.0


def resolve_backend(run: Path, backend: str) -> str:
    if backend == "auto":
        return "onnx" if (Path(run) / ONNX_FILE).is_file() else "torch"
    return backend


def load_recognizer(run: Path, settings: ServeSettings):
    """``load_recognizer`` with the configured backend; ``auto`` takes ONNX Runtime when the
    bundle was exported and falls back to PyTorch (with a warning) when that fails here."""
    from motionscope.infer.loader import load_recognizer

    backend = resolve_backend(run, settings.backend)
    try:
        return load_recognizer(run, backend=backend, threads=settings.threads)
    except MotionscopeError as e:
        if settings.backend != "auto" or backend == "torch":
            raise
        log.warning("ONNX backend unavailable (%s); serving with PyTorch", e)
        return load_recognizer(run, backend="torch", threads=settings.threads)


def backend_name(rec) -> str:
    return str(getattr(getattr(rec, "backend", None), "name", "torch"))


class InferenceService:
    """Loads the bundle ``workers + 1`` times at start-up (one per worker, one for live
    streams) and runs requests in a bounded thread pool."""

    def __init__(
        self,
        run: Path | str,
        settings: ServeSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run = Path(run)
        self.settings = settings
        self.clock = clock
        first = load_recognizer(self.run, settings)
        layout = getattr(first, "layout", None)
        if layout is not None and layout.is_generic:
            raise BundleError(
                f"{run}: this model takes {layout.name} sequences, not video; it cannot be served"
            )
        recs = [first] + [load_recognizer(self.run, settings) for _ in range(settings.workers)]
        self.recognizer = first  # metadata, and the live streams' recognizer
        self.backend = backend_name(first)
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._workers = [Worker(r) for r in recs[1:]]
        for w in self._workers:
            self._idle.put(w)
        self.executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="motionscope-infer")
        self.admission = Admission(settings.capacity)
        self.live = Admission(settings.max_live)
        self.running = 0
        self.served = 0
        self.live_frames = 0  # frames received on live sockets (all connections)
        self.live_dropped = 0  # of which dropped because the recognizer was busy
        self._lock = threading.Lock()
        self._mean_s: float | None = None
        self._closed = False

    # -- bookkeeping ---------------------------------------------------------------------------

    def deadline(self) -> Deadline:
        return Deadline(self.settings.request_timeout_s, self.clock)

    def busy_error(self) -> ApiError:
        s = self.settings
        wait = retry_after(self._mean_s, self.admission.active, s.workers, s.retry_after_s)
        return ApiError(
            503,
            f"server busy: {self.admission.active} requests running or queued (limit "
            f"{s.capacity}); retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def status(self) -> dict:
        return {
            "workers": self.settings.workers,
            "running": self.running,
            "queued": max(0, self.admission.active - self.running),
            "capacity": self.settings.capacity,
            "live_streams": self.live.active,
            "live_frames": self.live_frames,
            "live_dropped": self.live_dropped,
            "served": self.served,
        }

    def new_upload_dir(self) -> Path:
        base = self.settings.tmp_dir
        if base is not None:
            Path(base).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="motionscope-upload-", dir=base))

    # -- running work --------------------------------------------------------------------------

    def submit(self, fn: Callable[[Worker], object]) -> Future:
        queued_at = time.perf_counter()

        def job():
            worker = self._idle.get()
            with self._lock:
                self.running += 1
            started = time.perf_counter()
            try:
                return fn(worker), (started - queued_at) * 1e3
            finally:
                took = time.perf_counter() - started
                with self._lock:
                    self.running -= 1
                    m = self._mean_s
                    self._mean_s = took if m is None else 0.8 * m + 0.2 * took
                self._idle.put(worker)

        return self.executor.submit(job)

    async def predict_upload(
        self, request, *, top_k: int, want_segments: bool, progress=None
    ) -> dict:
        """Admit, receive, analyse and clean up one uploaded video; raises :class:`ApiError`."""
        deadline = self.deadline()
        if not self.admission.try_enter():
            raise self.busy_error()
        folder: Path | None = None
        future: Future | None = None
        try:
            folder = self.new_upload_dir()
            upload = await receive_upload(
                request, folder, max_bytes=self.settings.max_upload_bytes, deadline=deadline
            )
            future = self.submit(
                lambda w: analyse_video(
                    w,
                    upload.path,
                    top_k=top_k,
                    want_segments=want_segments,
                    settings=self.settings,
                    deadline=deadline,
                    progress=progress,
                )
            )
            result, queue_ms = await self._wait(request, future, deadline)
            self.served += 1
            out = result.to_dict()
            out["timings_ms"] = {"queue": round(queue_ms, 3), **out["timings_ms"]}
            out["backend"] = self.backend
            return out
        finally:
            self._finish(deadline, folder, future)

    async def _wait(self, request, future: Future, deadline: Deadline):
        """The worker's result; a client that hangs up meanwhile is noticed within a second and
        its worker stops at the next frame (the place is freed when it has)."""
        waiting = asyncio.wrap_future(future)
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_S)
            if done:
                return waiting.result()
            if await request.is_disconnected():
                deadline.cancelled = True

    def _finish(self, deadline: Deadline, folder: Path | None, future: Future | None) -> None:
        """Free the request's place and remove its files, once the worker is done with them
        (at once when it never started; later when the client left while it was working)."""

        def cleanup(_=None) -> None:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            self.admission.leave()

        if future is None or future.done() or future.cancel():
            cleanup()
        else:
            deadline.cancelled = True  # the worker stops at its next frame
            future.add_done_callback(cleanup)

    def open_stream(self):
        """A streaming recognizer for one live connection (its own MediaPipe graph)."""
        from motionscope.serve.live import open_stream

        return open_stream(self.recognizer)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.executor.shutdown(wait=True, cancel_futures=True)
        for w in self._workers:
            w.close()
        close = getattr(self.recognizer, "close", None)
        if close is not None:
            close()
