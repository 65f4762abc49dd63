"""The inference service behind the API: models loaded once, a bounded pool of workers.

Each worker owns one :class:`~motionscope.infer.Recognizer` and one MediaPipe graph (a graph is
not shared). Workers are processes (``worker_kind="process"``, what ``motionscope serve`` runs:
throughput grows with the cores, see :mod:`motionscope.serve.procpool`) or threads of this
process (``"thread"``, the light default of the Python API; one interpreter, so about one
graph's worth of cores). Either way one server thread drives each worker, and the admission,
the queue and every limit below are the same. ``workers + queue_size`` requests are admitted
at once; the rest are refused with 503 and ``Retry-After``. A request takes its place only
once its body has fully arrived (so slow senders cannot lock the queue); bodies are read by at
most ``max_receiving`` requests at once, each streamed to disk and cut off with 408 when it arrives
too slowly, so memory and disk stay bounded however many clients knock. Live WebSocket streams
have their own smaller budget (``max_live``), each with its own streaming recognizer.
"""

from __future__ import annotations

import asyncio
import logging
import os
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
from motionscope.serve.procpool import ProcessWorker, start_workers
from motionscope.serve.settings import ServeSettings

log = logging.getLogger("motionscope.serve")

DISCONNECT_POLL_S = 1.0
UPLOAD_PREFIX = "motionscope-upload-"  # <prefix><server pid>-<random>: one upload's folder


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep its folders
    return True


def _newest_mtime(folder: Path) -> float:
    times = [folder.lstat().st_mtime]
    with os.scandir(folder) as entries:
        times += [e.stat(follow_symlinks=False).st_mtime for e in entries]
    return max(times)


def sweep_stale_uploads(
    base: Path | str | None, *, stale_s: float, now: float | None = None
) -> int:
    """Remove upload folders a killed server left in ``base`` (default: the system temp dir).

    Only this user's directories named ``motionscope-upload-<pid>-*`` are considered (never a
    file, a symlink or anything else), and only when the server ``<pid>`` is gone or the folder
    has not changed for ``stale_s`` seconds (a folder without a pid, from older versions: by age
    alone). Returns how many were removed.
    """
    root = Path(base) if base is not None else Path(tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(UPLOAD_PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if hasattr(os, "getuid") and entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            pid_part = entry.name[len(UPLOAD_PREFIX) :].split("-", 1)[0]
            pid = int(pid_part) if pid_part.isdigit() else None
            dead_owner = pid is not None and pid != os.getpid() and not _pid_alive(pid)
            old = now - _newest_mtime(Path(entry.path)) > stale_s
        except OSError:
            continue
        if dead_owner or old:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += not os.path.lexists(entry.path)
    return removed


def backend_name(rec) -> str:
    return str(getattr(getattr(rec, "backend", None), "name", "torch"))


def run_analysis(worker, path: Path, **kw):
    """:func:`analyse_video` on a thread worker, or in a worker's process."""
    if isinstance(worker, ProcessWorker):
        return worker.analyse(path, **kw)
    return analyse_video(worker, path, **kw)


class InferenceService:
    """Loads the bundle ``workers + 1`` times at start-up (one per worker, thread or process,
    and one in this process for the metadata and the live streams, which stay in-process) and
    runs requests on the workers through a bounded queue."""

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
        self.recognizer = first  # metadata, and the live streams' recognizer
        self.backend = backend_name(first)
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        try:
            if settings.worker_kind == "process":
                self._workers: list = start_workers(self.run, settings)
            else:
                self._workers = [
                    Worker(load_recognizer(self.run, settings)) for _ in range(settings.workers)
                ]
        except BaseException:
            _close(first)
            raise
        for w in self._workers:
            self._idle.put(w)
        self.executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="motionscope-infer")
        self.admission = Admission(settings.capacity)
        self.receiving = Admission(settings.max_receiving)  # bodies being read (no place yet)
        self.live = Admission(settings.max_live)
        self.running = 0
        self.served = 0
        self.live_frames = 0  # frames received on live sockets (all connections)
        self.live_dropped = 0  # of which dropped because the recognizer was busy
        self._lock = threading.Lock()
        self._mean_s: float | None = None
        self._closed = False
        swept = sweep_stale_uploads(settings.tmp_dir, stale_s=2 * settings.request_timeout_s)
        if swept:
            log.warning("removed %d upload folder(s) left by a server that was killed", swept)

    # -- bookkeeping ---------------------------------------------------------------------------

    def deadline(self) -> Deadline:
        return Deadline(self.settings.request_timeout_s, self.clock)

    def busy_error(self, receiving: bool = False) -> ApiError:
        s = self.settings
        wait = retry_after(self._mean_s, self.admission.active, s.workers, s.retry_after_s)
        what = (
            f"{self.receiving.active} uploads arriving (limit {s.max_receiving})"
            if receiving
            else f"{self.admission.active} requests running or queued (limit {s.capacity})"
        )
        return ApiError(
            503, f"server busy: {what}; retry in {wait} s", headers={"Retry-After": str(wait)}
        )

    def status(self) -> dict:
        return {
            "workers": self.settings.workers,
            "worker_kind": self.settings.worker_kind,
            "worker_restarts": sum(getattr(w, "restarts", 0) for w in self._workers),
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
        return Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=base))

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
                if getattr(worker, "dead", False) and not self._closed:
                    threading.Thread(target=self._revive, args=(worker,), daemon=True).start()
                else:
                    self._idle.put(worker)

        return self.executor.submit(job)

    def _revive(self, worker: ProcessWorker) -> None:
        """Restart a worker process that died, then give it work again (a worker that cannot
        be restarted now tries again when its next request comes, and answers 503)."""
        try:
            worker.restart()
        except Exception as e:
            log.error("inference worker process %d could not be restarted: %s", worker.index, e)
        if self._closed:
            worker.close()
        else:
            self._idle.put(worker)

    async def predict_upload(
        self, request, *, top_k: int, want_segments: bool, progress=None
    ) -> dict:
        """Receive, admit, analyse and clean up one uploaded video; raises :class:`ApiError`.

        A full queue is refused at once (before the body is read); otherwise the body is read
        first, within the ``max_receiving`` budget, and the queue place taken only after it has
        arrived (503 when the queue filled up meanwhile). ``progress`` is told the frames done."""
        deadline = self.deadline()
        if self.admission.active >= self.settings.capacity:
            raise self.busy_error()
        if not self.receiving.try_enter():
            raise self.busy_error(receiving=True)
        folder: Path | None = None
        future: Future | None = None
        admitted = False
        try:
            try:
                folder = self.new_upload_dir()
                upload = await receive_upload(
                    request,
                    folder,
                    max_bytes=self.settings.max_upload_bytes,
                    deadline=deadline,
                    pace=self.settings.upload_pace,
                    clock=self.clock,
                )
            finally:
                self.receiving.leave()
            if not self.admission.try_enter():
                raise self.busy_error()
            admitted = True
            future = self.submit(
                lambda w: run_analysis(
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
            self._finish(deadline, folder, future, admitted)

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

    def _finish(
        self,
        deadline: Deadline,
        folder: Path | None,
        future: Future | None,
        admitted: bool = True,
    ) -> None:
        """Free the request's place (when it had one) and remove its files, once the worker is
        done with them (at once when it never started; later when the client left while it was
        working)."""

        def cleanup(_=None) -> None:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            if admitted:
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
        _close(self.recognizer)


def _close(rec) -> None:
    close = getattr(rec, "close", None)
    if close is not None:
        close()
