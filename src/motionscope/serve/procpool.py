"""Inference worker *processes*: each loads the bundle once and owns its own MediaPipe graph,
so the server's throughput grows with the cores instead of sharing one interpreter.

The parent keeps one :class:`ProcessWorker` per process (a pipe and a cancel flag) and hands it
one video at a time, by path: the upload is already on disk, so only the path, a few options
and the small result cross the pipe. While the child works, the parent relays its per-frame
progress, passes on a client's departure (the cancel flag, read by the child before every
frame) and watches the process: a worker that dies mid-request answers that request with 500
(and is restarted in the background); one that cannot be restarted answers 503. Children are
started with the ``spawn`` context (no forked threads or graphs), ignore Ctrl-C (the parent
shuts them down), and exit on their own when the parent disappears, so none is left behind.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from motionscope.errors import MotionscopeError
from motionscope.serve.limits import ApiError, Cancelled, Deadline

log = logging.getLogger("motionscope.serve")

CTX = mp.get_context("spawn")
START_TIMEOUT_S = 300.0  # loading torch, the bundle and MediaPipe on a busy machine
POLL_S = 0.05
KILL_GRACE_S = 30.0  # after its deadline (or a cancel) a silent worker is killed
STOP_TIMEOUT_S = 5.0
PARENT_CHECK_S = 1.0


class WorkerStartError(MotionscopeError):
    """A worker process could not load the bundle."""


@dataclass
class Task:
    path: str
    top_k: int
    want_segments: bool
    seconds: float  # time left on the request's deadline
    want_progress: bool


# -- the child ----------------------------------------------------------------------------------


def _exit_with_parent(parent_pid: int) -> None:
    """Exit this worker as soon as the server that started it is gone (even when killed)."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="motionscope-parent-watch", daemon=True).start()


def worker_main(run: str, settings, conn, cancel, parent_pid: int) -> None:
    """A worker process: load the bundle once, then analyse one video per message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    _exit_with_parent(parent_pid)
    from motionscope.serve.analyse import Worker, analyse_video
    from motionscope.serve.service import load_recognizer

    try:
        worker = Worker(load_recognizer(Path(run), settings))
    except Exception as e:
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    try:
        conn.send(("ready", os.getpid()))
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                break
            if task is None:
                break
            conn.send(_run(worker, task, settings, conn, cancel, analyse_video))
    except (BrokenPipeError, OSError):
        pass  # the parent went away
    finally:
        worker.close()


def _run(worker, task: Task, settings, conn, cancel, analyse_video) -> tuple:
    deadline = Deadline(max(task.seconds, 1e-3))

    def progress(done: int, total: int | None) -> None:
        if cancel.is_set():
            deadline.cancelled = True  # checked before the next frame
        if task.want_progress:
            conn.send(("progress", done, total))

    try:
        result = analyse_video(
            worker,
            Path(task.path),
            top_k=task.top_k,
            want_segments=task.want_segments,
            settings=settings,
            deadline=deadline,
            progress=progress,
        )
    except ApiError as e:
        return ("error", e.status, e.message, e.headers)
    except Exception as e:
        log.exception("inference worker failed on a video")
        return ("bug", f"{type(e).__name__}: {e}")
    return ("result", result)


# -- the parent's handle ------------------------------------------------------------------------


class ProcessWorker:
    """One inference worker process, driven from one server thread at a time."""

    def __init__(self, run: Path, settings, index: int) -> None:
        self.run = Path(run)
        self.settings = settings
        self.index = index
        self.restarts = 0
        self.dead = True
        self.loading = False  # started, not yet known to be ready
        self.proc = None
        self.conn = None
        self.cancel = None
        self._lock = threading.Lock()

    # life cycle

    def start(self) -> ProcessWorker:
        parent, child = CTX.Pipe()
        self.cancel = CTX.Event()
        self.proc = CTX.Process(
            target=worker_main,
            args=(str(self.run), self.settings, child, self.cancel, os.getpid()),
            name=f"motionscope-infer-{self.index}",
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.conn = parent
        self.dead, self.loading = False, True
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the process has loaded the bundle (:class:`WorkerStartError` if not)."""
        if not self.loading:
            return
        self.loading = False
        what = f"inference worker process {self.index} ({self.run})"
        try:
            if not self.conn.poll(timeout):
                self.kill()
                raise WorkerStartError(f"{what} did not start within {timeout:g} s")
            msg = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(STOP_TIMEOUT_S)
            self.kill()
            raise WorkerStartError(
                f"{what} exited while loading the bundle (exit code {self.proc.exitcode})"
            ) from None
        if msg[0] != "ready":
            self.kill()
            raise WorkerStartError(f"{what} could not load the bundle: {msg[1]}")

    def restart(self) -> None:
        with self._lock:
            self._restart()

    def _restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start().wait_ready()
        log.warning("inference worker process %d restarted", self.index)

    @property
    def ready(self) -> bool:
        """Loaded and alive (a worker being restarted is not ready until it has loaded)."""
        return not self.dead and not self.loading and self.proc is not None and self.proc.is_alive()

    def kill(self) -> None:
        self.dead, self.loading = True, False
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.join(STOP_TIMEOUT_S)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        """Ask the process to stop, then make sure it has (terminate, kill)."""
        with self._lock:  # not while a restart is under way
            if self.proc is None:
                return
            if self.conn is not None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self.conn.send(None)
            self.proc.join(STOP_TIMEOUT_S)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(STOP_TIMEOUT_S)
            self.kill()

    # work

    def _died(self) -> ApiError:
        code = self.proc.exitcode if self.proc is not None else None
        self.kill()
        return ApiError(
            500,
            f"the inference worker process stopped while analysing this video (exit code "
            f"{code}); it is being restarted and other requests are not affected",
        )

    def analyse(
        self,
        path: Path,
        *,
        top_k: int,
        want_segments: bool,
        settings=None,
        deadline: Deadline,
        progress=None,
    ):
        """:func:`~motionscope.serve.analyse.analyse_video` in the worker process (same
        arguments and errors; ``settings`` are the ones the process was started with)."""
        try:
            with self._lock:  # one thread reads the pipe's "ready" (a restart may be under way)
                self.wait_ready()  # the first request waits for the bundle to be loaded
                if self.dead or not self.proc.is_alive():  # died while idle: restart, go on
                    self._restart()
        except MotionscopeError as e:
            raise ApiError(
                503, f"no inference worker is available ({e}); retry later",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from None  # fmt: skip
        deadline.check(504)
        self.cancel.clear()
        task = Task(str(path), top_k, want_segments, deadline.remaining(), progress is not None)
        try:
            self.conn.send(task)
        except (BrokenPipeError, OSError):
            raise self._died() from None
        kill_at = time.monotonic() + task.seconds + KILL_GRACE_S
        while True:
            if deadline.cancelled and not self.cancel.is_set():
                self.cancel.set()
                kill_at = min(kill_at, time.monotonic() + KILL_GRACE_S)
            try:
                ready = self.conn.poll(POLL_S)
                msg = self.conn.recv() if ready else None
            except (EOFError, OSError):
                raise self._died() from None
            if msg is None:
                if not self.proc.is_alive():
                    raise self._died()
                if time.monotonic() > kill_at:
                    self.kill()
                    raise ApiError(504, "processing the video took too long: worker stopped")
                continue
            kind = msg[0]
            if kind == "progress":
                if progress is not None:
                    progress(msg[1], msg[2])
            elif kind == "result":
                return msg[1]
            elif kind == "error":
                if msg[1] == 499:
                    raise Cancelled()
                raise ApiError(msg[1], msg[2], msg[3])
            else:
                raise RuntimeError(f"inference worker process {self.index}: {msg[1]}")


def start_workers(run: Path, settings, *, wait: bool = False) -> list[ProcessWorker]:
    """``settings.workers`` processes, started together (they load the bundle in parallel).

    Without ``wait`` this returns at once and each worker's first request waits for it to be
    ready (the bundle has already loaded in the server, so a failure there is rare; it is
    answered 503 and the worker is started again on the next request)."""
    workers = [ProcessWorker(run, settings, i).start() for i in range(settings.workers)]
    if wait:
        try:
            for w in workers:
                w.wait_ready()
        except BaseException:
            for w in workers:
                w.kill()
            raise
    return workers
