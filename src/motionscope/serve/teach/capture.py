"""``WS /v1/teach/live``: webcam frames in, skeletons out, and examples recorded on request.

The same transport as ``/v1/live`` (binary JPEG messages, the newest frame wins, the API key
as a header or as the first text message ``{"api_key": "..."}``), but no model: each frame goes
through the connection's own MediaPipe Holistic graph on the server and its points come back
for drawing (``{"type": "frame", "frame": i, "keypoints": {...}, "person_detected": bool,
"recording": {...} | null}``).

Text ``{"type": "record", "action": NAME, "frames": N}`` starts an example: the next ``N``
processed frames are kept (MediaPipe's tracking is reset first, as ``motionscope record``
does); when the last one is in, the example is written atomically to ``DIR/NAME/<n>.npy`` and
``{"type": "saved", "example": {...}}`` is sent. ``{"type": "cancel"}`` drops the example being
recorded. An example is only ever written complete: when the camera stops (no frame for
:data:`STALL_S`), the client sends ``cancel`` or the socket closes mid-example, the frames
gathered so far are discarded (``{"type": "discarded", "error": ...}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from motionscope.keypoints.layout import HOLISTIC
from motionscope.serve.limits import ApiError
from motionscope.serve.live import (
    ProtocolError,
    authenticate_socket,
    close_for,
    decode_jpeg,
    drawable,
    parse_control,
)

MIN_FRAMES, MAX_FRAMES = 4, 150
STALL_S = 3.0  # no frame for this long while recording: the camera stopped


@dataclass
class Take:
    """One example being recorded."""

    action: str
    frames: int
    rows: list[np.ndarray] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("pose", "face", "left_hand", "right_hand"), 0))  # fmt: skip
    times: list[float] = field(default_factory=list)

    def progress(self) -> dict:
        return {"action": self.action, "done": len(self.rows), "frames": self.frames}

    def meta(self) -> dict:
        n = len(self.rows)
        span = self.times[-1] - self.times[0] if n > 1 else 0.0
        return {
            "frames": n,
            # the rate MediaPipe kept up with; not "fps": live answers arrive at the same rate
            "measured_fps": round((n - 1) / span, 3) if span > 0 else None,
            "detection_rate": {k: round(v / n, 4) for k, v in self.hits.items()},
            "extractor": "mediapipe-holistic",
        }


def parse_record(msg: dict, data) -> Take:
    """A ``record`` message as a :class:`Take`; :class:`ApiError` for a bad one."""
    from motionscope.serve.teach.dataset import check_name

    name = check_name(msg.get("action"))
    data.folder(name)
    frames = msg.get("frames")
    if not isinstance(frames, int) or isinstance(frames, bool):
        raise ApiError(422, "frames must be a whole number")
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise ApiError(422, f"frames must be {MIN_FRAMES}..{MAX_FRAMES}, got {frames}")
    return Take(name, frames)


async def teach_socket(ws, teach, settings) -> None:
    """Serve one teach connection until the client leaves (see the module docstring)."""
    await ws.accept()
    try:
        allowed = await authenticate_socket(ws, settings.api_key)
    except ProtocolError as e:
        await close_for(ws, e)
        return
    if not allowed:
        await ws.send_json({"type": "error", "error": "missing or wrong API key"})
        await ws.close(code=1008)
        return
    if not teach.sockets.try_enter():
        limit = teach.sockets.capacity
        await ws.send_json({"type": "error", "error": f"too many teach streams (limit {limit})"})
        await ws.close(code=1013)
        return
    runner = ThreadPoolExecutor(1, thread_name_prefix="motionscope-teach")
    holder: dict = {}

    def open_it():
        from motionscope.pose.holistic import HolisticExtractor

        holder["ex"] = HolisticExtractor().open()
        return holder["ex"]

    def close_it():
        ex = holder.pop("ex", None)
        if ex is not None:
            ex.close()

    try:
        extractor = await asyncio.wrap_future(runner.submit(open_it))
        await _pump(ws, extractor, teach, settings, runner)
    finally:
        closed = runner.submit(close_it)
        closed.add_done_callback(lambda _: teach.sockets.leave())
        runner.shutdown(wait=False)


async def _pump(ws, extractor, teach, settings, runner: ThreadPoolExecutor) -> None:
    state: dict = {"pending": None, "received": 0, "take": None, "last": time.monotonic()}
    wake = asyncio.Event()

    async def send(msg: dict) -> None:
        await ws.send_json(msg)

    async def reader() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is not None:
                state["pending"] = (state["received"], data)
                state["received"] += 1
                wake.set()
                continue
            control = parse_control(msg.get("text"))
            kind = control.get("type")
            if kind == "record":
                try:
                    take = parse_record(control, teach.data)
                except ApiError as e:
                    await send({"type": "error", "error": e.message})
                    continue
                await asyncio.wrap_future(runner.submit(extractor.reset))
                state["take"], state["last"] = take, time.monotonic()
                await send({"type": "recording", **take.progress()})
            elif kind == "cancel" and state["take"] is not None:
                state["take"] = None
                await send({"type": "discarded", "error": "recording cancelled: not saved"})

    async def processor() -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.5)
            wake.clear()
            take: Take | None = state["take"]
            if take is not None and time.monotonic() - state["last"] > STALL_S:
                state["take"] = None
                await send({"type": "discarded", "error": f"the camera stopped after "
                            f"{len(take.rows)} of {take.frames} frames: that example was not "
                            "saved; record it again"})  # fmt: skip
                continue
            item, state["pending"] = state["pending"], None
            if item is None:
                continue
            index, data = item
            max_bytes = settings.max_frame_kb * 1024
            frame = decode_jpeg(data, settings.max_side) if len(data) <= max_bytes else None
            if frame is None:
                await send({"type": "error", "frame": index, "error": f"frame {index} is not "
                            f"a JPEG image of at most {settings.max_frame_kb} kB and "
                            f"{settings.max_side} px"})  # fmt: skip
                continue
            vec, found = await asyncio.wrap_future(runner.submit(extractor.process_blocks, frame))
            state["last"] = time.monotonic()
            take = state["take"]  # a cancel may have come while MediaPipe ran
            if take is not None:
                take.rows.append(vec)
                take.times.append(state["last"])
                for name, hit in found.items():
                    take.hits[name] += bool(hit)
            await send({"type": "frame", "frame": index, "person_detected": bool(found["pose"]),
                        "keypoints": drawable(vec, HOLISTIC),
                        "recording": take.progress() if take else None})  # fmt: skip
            if take is not None and len(take.rows) >= take.frames:
                state["take"] = None
                example = await asyncio.to_thread(
                    teach.data.save_example, take.action, take.rows, take.meta()
                )
                await send({"type": "saved", "example": example.to_dict()})

    read = asyncio.create_task(reader())
    work = asyncio.create_task(processor())
    try:
        done, _ = await asyncio.wait({read, work}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (read, work):
            task.cancel()
    for task in (read, work):
        if task in done and not task.cancelled() and isinstance(task.exception(), ProtocolError):
            await close_for(ws, task.exception())
            return
