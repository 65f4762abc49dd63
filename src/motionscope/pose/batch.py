"""Batch extraction: a video, a folder of videos or a frame folder -> a keypoint dataset.

``extract_batch(SRC, OUT)`` writes one ``(T, 1662)`` float32 ``.npy`` per video into ``OUT``,
mirroring ``SRC``'s tree (``SRC/<class>/<name>.mp4`` -> ``OUT/<class>/<name>.npy``, a frame
folder ``SRC/<class>/<name>/*.png`` -> ``OUT/<class>/<name>.npy``; two videos with the same name
and different suffixes keep the suffix: ``<name>.avi.npy``, ``<name>.mp4.npy``), so a
``SRC/<class>/<name>.mp4`` tree gives a dataset that
:func:`motionscope.data.load_keypoint_dataset` loads directly. Next to each ``.npy`` a
``<name>.json`` sidecar records the source, detection rates, settings and the *key* (sha256 of
the source content and the extractor settings).

Resuming: a video is done when its sidecar holds the current key and its ``.npy`` loads with the
recorded shape; done videos are skipped, so re-running after an interruption (even ``kill -9``)
continues where it stopped, and changed settings re-extract. Every file is written to
``<name>.tmp`` and renamed into place (``os.replace``), the old sidecar is removed first, then
the ``.npy`` and last the sidecar: at any moment a video is either complete or counted as not done.

Videos with no person in any frame get a sidecar with status ``no-person`` and **no** ``.npy``
(an all-zero sequence would poison a training set). Unreadable, empty or damaged videos are
reported as ``failed`` (no output, retried by the next run). Neither stops the batch; all of it is
summarised in ``OUT/extract-report.json``. Two batches must not write to the same ``OUT`` at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.atomic import tmp_path, write_json, write_npy
from motionscope.data.source import Source, SourceKind, detect_source
from motionscope.errors import DataError, MotionscopeError
from motionscope.pose.graph import HOLISTIC_GRAPH, auto_threads, check_threads
from motionscope.pose.holistic import EXTRACTOR, WIDTH, HolisticExtractor, mediapipe_version
from motionscope.pose.report import REPORT, STATUSES, ExtractReport, VideoResult
from motionscope.progress import RateBar
from motionscope.video.decode import (
    VIDEO_SUFFIXES,
    frame_files,
    is_video_file,
    natural_key,
)

log = logging.getLogger(__name__)

__all__ = ["REPORT", "STATUSES", "ExtractReport", "VideoResult", "extract_batch"]
SIDECAR_FORMAT = 1

# ---------------------------------------------------------------------------------------------
# Finding the videos
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    source: Path
    rel: Path  # output path relative to OUT, without suffix

    def npy(self, out: Path) -> Path:
        return out / self.rel.parent / f"{self.rel.name}.npy"

    def sidecar(self, out: Path) -> Path:
        return out / self.rel.parent / f"{self.rel.name}.json"


def _detect_videos(src: Path) -> Source:
    """What ``src`` is, with errors about videos (a file that is not a video is refused before
    detection, which would call a .npy a keypoint file)."""
    if src.is_file() and not is_video_file(src):
        raise DataError(
            f"{src} is not a video file; expected one of {', '.join(VIDEO_SUFFIXES)}, "
            "a folder of videos or a folder of frame images"
        )
    try:
        return detect_source(src)
    except DataError as e:
        if not src.is_dir():
            raise
        raise DataError(f"no videos or frame folders found under {src}: {e}") from None


def discover(src: Path | str | Source, out: Path | str | None = None) -> list[_Job]:
    """The videos under ``src`` (files with a video suffix and frame folders), in natural order.
    ``src`` may be a :class:`~motionscope.data.source.Source` already detected."""
    source = src if isinstance(src, Source) else _detect_videos(Path(src))
    src = source.path
    if source.kind is SourceKind.VIDEO:
        return [_Job(src, Path(src.stem))]
    if source.kind is SourceKind.FRAME_IMAGES:
        return [_Job(src, Path(src.name))]
    if source.kind is not SourceKind.VIDEOS:
        raise DataError(
            f"no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders found under {src}: "
            f"it is {source.kind.description}"
        )
    skip = Path(out).resolve() if out is not None else None  # OUT inside SRC: not a source
    jobs: list[_Job] = []
    for root, dirs, files in os.walk(src):
        here = Path(root)
        dirs[:] = sorted(
            (d for d in dirs if not d.startswith(".") and (here / d).resolve() != skip),
            key=lambda d: natural_key(Path(d)),
        )
        rel_dir = here.relative_to(src)
        if here != src and frame_files(here):
            jobs.append(_Job(here, rel_dir))
        for name in files:
            p = here / name
            if is_video_file(p):
                jobs.append(_Job(p, rel_dir / p.stem))
    if not jobs:
        raise DataError(
            f"no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders found under {src}"
        )
    # Two videos with one stem (clip.avi, clip.mp4) keep their suffix: clip.avi.npy, clip.mp4.npy.
    by_rel: dict[Path, list[_Job]] = {}
    for j in jobs:
        by_rel.setdefault(j.rel, []).append(j)
    jobs = []
    for rel, group in by_rel.items():
        if len(group) == 1:
            jobs.append(group[0])
        else:
            jobs.extend(_Job(j.source, rel.parent / j.source.name) for j in group)
    jobs.sort(key=lambda j: tuple(natural_key(Path(part)) for part in j.rel.parts))
    return jobs


# ---------------------------------------------------------------------------------------------
# Keys and atomic files
# ---------------------------------------------------------------------------------------------


def content_hash(source: Path) -> str:
    """sha256 of a video file's bytes, or of a frame folder's file names, sizes and mtimes."""
    h = hashlib.sha256()
    if source.is_dir():
        for f in frame_files(source):
            st = f.stat()
            h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return "frames:" + h.hexdigest()
    with open(source, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extraction_key(content: str, settings: dict) -> str:
    """The key a finished video's sidecar must hold to be skipped."""
    if settings.get("graph") == HOLISTIC_GRAPH:  # the key of sidecars written before --graph
        settings = {k: v for k, v in settings.items() if k != "graph"}
    blob = json.dumps(
        {
            "format": SIDECAR_FORMAT,
            "content": content,
            "extractor": EXTRACTOR,
            "mediapipe": mediapipe_version(),
            "settings": settings,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_done(npy: Path, sidecar: Path, key: str) -> dict | None:
    """The sidecar of a video finished with ``key``, or None when it must be (re)extracted."""
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key:
        return None
    if meta.get("status") == "no-person":
        return meta
    if meta.get("status") != "ok":
        return None
    try:
        arr = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.shape != (meta.get("frames"), WIDTH) or arr.dtype != np.float32:
        return None
    return meta


# ---------------------------------------------------------------------------------------------
# One video (runs in a worker process, or inline with workers=1)
# ---------------------------------------------------------------------------------------------


def _extract_one(extractor: HolisticExtractor, task: dict) -> dict:
    """Extract one video and write its files; never raises for a bad video."""
    source, npy, sidecar = Path(task["source"]), Path(task["npy"]), Path(task["sidecar"])
    start = time.perf_counter()
    try:
        keypoints, meta = extractor.extract_video(source, task["every"], fps=task.get("fps"))
    except Exception as e:  # a bad video must not stop the batch
        msg = str(e) if isinstance(e, MotionscopeError) else f"{type(e).__name__}: {e}"
        return {
            "status": "failed",
            "error": msg,
            "seconds": time.perf_counter() - start,
        }
    status = "ok" if keypoints.any() else "no-person"
    meta.update(
        status=status,
        key=task["key"],
        content_sha256=task["content"],
        output=npy.name if status == "ok" else None,
        format=SIDECAR_FORMAT,
    )
    npy.parent.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)  # from now on the video counts as not done
    if status == "ok":
        write_npy(npy, keypoints.astype(np.float32, copy=False))
    else:
        npy.unlink(missing_ok=True)  # a stale sequence from other settings
    write_json(sidecar, meta)
    return {
        "status": status,
        "frames": int(keypoints.shape[0]),
        "detection_rate": meta["detection_rate"],
        "warnings": meta["warnings"],
        "seconds": time.perf_counter() - start,
    }


_WORKER_EXTRACTOR: HolisticExtractor | None = None
PARENT_POLL_S = 0.5  # how often a worker checks that the batch process is still alive
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _set_parent_death_signal() -> None:
    """Linux: have the kernel send SIGKILL to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watchdog remains
        pass


def exit_with_parent(parent_pid: int, poll_s: float = PARENT_POLL_S) -> threading.Thread:
    """Make this (worker) process exit when the process ``parent_pid`` that started it dies,
    even by ``kill -9``: the kernel's parent-death signal on Linux, and everywhere a daemon
    thread that polls ``os.getppid()`` (a dead parent's children are re-parented) and leaves
    with ``os._exit`` so no worker, and no resource tracker it keeps open, outlives the batch."""
    _set_parent_death_signal()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="motionscope-parent-watch", daemon=True)
    thread.start()
    return thread


def _init_worker(settings: dict, parent_pid: int | None = None) -> None:
    global _WORKER_EXTRACTOR
    if parent_pid is not None:
        exit_with_parent(parent_pid)  # first: before the (slow) MediaPipe start-up
    _WORKER_EXTRACTOR = HolisticExtractor(**settings).open()


def _worker_run(task: dict) -> dict:
    assert _WORKER_EXTRACTOR is not None, "worker initializer did not run"
    return _extract_one(_WORKER_EXTRACTOR, task)


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _result(job: _Job, out: Path, res: dict) -> VideoResult:
    ok = res["status"] == "ok"
    return VideoResult(
        source=str(job.source),
        output=str(job.npy(out).relative_to(out)) if ok else None,
        status=res["status"],
        frames=int(res.get("frames", 0)),
        detection_rate=res.get("detection_rate", {}),
        error=res.get("error"),
        warnings=list(res.get("warnings", [])),
        seconds=round(float(res.get("seconds", 0.0)), 3),
    )


def _run_inline(tasks, settings, on_done) -> None:
    with HolisticExtractor(**settings) as extractor:
        for i, task in enumerate(tasks):
            on_done(i, _extract_one(extractor, task))


def _run_pool(tasks, settings, workers: int, on_done) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(settings, os.getpid()),
    )
    try:
        pending: dict[Future, int] = {pool.submit(_worker_run, t): i for i, t in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    res = fut.result()
                except BrokenProcessPool as e:
                    res = {"status": "failed", "error": f"the worker process died ({e})"}
                except Exception as e:  # an unexpected bug in one video: keep the batch going
                    res = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
                on_done(i, res)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


MAX_FPS = 1000.0


def check_fps(fps: float | None) -> float | None:
    """``fps`` as a float, or a clear error (``None``: keep the source's frame rate)."""
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise DataError(f"fps must be a number of frames per second, got {fps!r}") from None
    if not (0 < value <= MAX_FPS):  # also refuses NaN
        raise DataError(
            f"fps must be > 0 and <= {MAX_FPS:g} (e.g. 15, the rate the model is trained at), "
            f"got {fps!r}"
        )
    return value


def engine_settings(workers: int | None, **holistic: object) -> dict:
    """Check ``workers`` and return the Holistic keyword settings every engine's workers use."""
    if workers is not None and workers < 1:
        raise DataError(f"workers must be >= 1, got {workers}")
    return dict(holistic)


def extract_batch(
    src: Path | str | Source,
    out: Path | str,
    *,
    workers: int | None = None,
    every: int = 1,
    fps: float | None = None,
    progress: bool = True,
    model_complexity: int = 1,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    static_image_mode: bool = False,
    graph: str = HOLISTIC_GRAPH,
    graph_threads: int | None = None,
) -> ExtractReport:
    """Extract MediaPipe Holistic keypoints of every video under ``src`` into ``out``.

    ``workers`` processes (default: the number of cores) each keep one graph alive;
    ``workers=1`` runs in this process. ``every=K`` keeps every K-th frame; ``fps`` gives the
    keypoints that frame rate (a model's training rate): MediaPipe runs only on the frames that
    rate needs (a slower source repeats rows), and the sidecar records ``keypoint_fps``.
    ``graph``: ``"holistic"`` or ``"pose-hands"`` (no face branch; the rows stay 1662 wide with
    the face zero), part of the skip-if-done key. ``graph_threads``: each graph's threads
    (default: the cores each worker has, cores // workers, at least 1; see
    :mod:`motionscope.pose.graph`).
    Returns the report that is also written to ``out/extract-report.json``.
    """
    settings = engine_settings(
        workers,
        model_complexity=model_complexity,
        static_image_mode=static_image_mode,
        min_detection_confidence=min_detection_confidence,
        min_tracking_confidence=min_tracking_confidence,
        graph=graph,
    )
    check_threads(graph_threads)

    def run(tasks: list[dict], on_done) -> int:
        n_workers = min(workers or default_workers(), len(tasks))
        threads = graph_threads or auto_threads(n_workers)
        with_threads = {**settings, "graph_threads": threads}
        if n_workers == 1:
            _run_inline(tasks, with_threads, on_done)
        else:
            _run_pool(tasks, with_threads, n_workers, on_done)
        return n_workers

    return run_batch(
        src, out, every=every, fps=fps, progress=progress, settings=settings, engine="local",
        run=run,
    )  # fmt: skip


def run_batch(
    src: Path | str | Source,
    out: Path | str,
    *,
    every: int,
    progress: bool,
    settings: dict,
    engine: str,
    run,
    fps: float | None = None,
) -> ExtractReport:
    """The engine-independent part of a batch: discovery, skip-if-done, progress and report.

    ``run(tasks, on_done) -> workers`` extracts the videos still to do (called only when there
    are some): each task dict goes to :func:`_extract_one` with a :class:`HolisticExtractor`
    built from ``settings``, and ``on_done(k, result)`` is called once per task (``k`` is its
    index in ``tasks``), in this process.
    """
    out = Path(out)
    if not isinstance(every, int) or every < 1:
        raise DataError(f"every must be a whole number >= 1 (1 = every frame), got {every!r}")
    fps = check_fps(fps)
    extractor_settings = HolisticExtractor(**settings).settings.to_dict()  # validates
    key_settings = {**extractor_settings, "every": every}
    if fps is not None:  # (absent otherwise: earlier extractions at the source rate still count)
        key_settings["fps"] = fps
    start = time.perf_counter()
    jobs = discover(src, out)
    src = src.path if isinstance(src, Source) else Path(src)
    out.mkdir(parents=True, exist_ok=True)

    results: list[VideoResult | None] = [None] * len(jobs)
    todo: list[tuple[int, dict]] = []
    for i, job in enumerate(jobs):
        npy, sidecar = job.npy(out), job.sidecar(out)
        for stale in (tmp_path(npy), tmp_path(sidecar)):  # left by an interrupted run
            stale.unlink(missing_ok=True)
        try:
            content = content_hash(job.source)
        except OSError as e:
            results[i] = VideoResult(str(job.source), None, "failed", error=f"cannot read: {e}")
            continue
        key = extraction_key(content, key_settings)
        meta = _read_done(npy, sidecar, key)
        if meta is not None:
            results[i] = VideoResult(
                source=str(job.source),
                output=str(npy.relative_to(out)) if meta["status"] == "ok" else None,
                status="skipped",
                frames=int(meta.get("frames", 0)),
                detection_rate=meta.get("detection_rate", {}),
                warnings=list(meta.get("warnings", [])),
                note=f"done earlier with the same settings (status {meta['status']})",
            )
            continue
        task = {
            "source": str(job.source),
            "npy": str(npy),
            "sidecar": str(sidecar),
            "key": key,
            "content": content,
            "every": every,
            "fps": fps,
        }
        todo.append((i, task))

    n_workers = 1
    bar = RateBar("extracting keypoints", len(todo), "videos", "frames", enabled=progress)

    def on_done(k: int, res: dict) -> None:
        i = todo[k][0]
        results[i] = _result(jobs[i], out, res)
        if res["status"] == "failed":
            log.info("failed: %s: %s", jobs[i].source, res.get("error"))
        bar.advance(int(res.get("frames", 0)))

    try:
        tasks = [t for _, t in todo]
        if tasks:
            n_workers = run(tasks, on_done)
    finally:
        bar.close()

    report = ExtractReport(
        src=str(src),
        out=str(out),
        engine=engine,
        workers=n_workers,
        settings=key_settings,
        videos=[r for r in results if r is not None],
        seconds=time.perf_counter() - start,
    )
    write_json(out / REPORT, report.to_dict())
    return report
