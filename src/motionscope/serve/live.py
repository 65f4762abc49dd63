"""``WS /v1/live``: webcam frames in (binary JPEG messages), predictions out (JSON).

One streaming recognizer per connection. The socket is read continuously and only the newest
frame is kept: when the recognizer is still busy with a frame, a newer one replaces the waiting
one (counted in ``dropped``), so the answers never lag the camera and memory never grows.
Every answer says which frame it is for (``frame``: the 0-based index of the binary messages
the client sent), so the client can measure the round trip.

Protocol (client -> server): binary = one JPEG frame; text ``{"type": "reset"}`` forgets the
buffered window; text ``{"api_key": "..."}`` as the first message when the server has a key and
the client cannot send an ``X-API-Key`` header (browsers cannot).
Server -> client: ``{"type": "prediction", ...}`` per processed frame, ``{"type": "error",
"error": ...}`` for a frame it could not read; the socket is closed with 1008 for a wrong key
or a text message longer than ``MAX_TEXT_BYTES``, 1007 for text that is not a JSON object (or is
nested too deep to parse) and 1013 when too many live streams are open; every close for a bad
message is logged with the client's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from motionscope.keypoints.layout import HOLISTIC, Layout
from motionscope.serve.limits import key_matches

log = logging.getLogger("motionscope.serve")

AUTH_TIMEOUT_S = 10.0
MAX_TEXT_BYTES = 4096  # control messages are tiny JSON objects
POINTS = {"pose": 4, "left_hand": 3, "right_hand": 3}


LIVE_EVERY = 2  # a prediction every 2 processed frames (the model costs ~ms; MediaPipe rules)
LIVE_SMOOTH = 3
LIVE_TOP_K = 5


def open_stream(rec):
    """One :class:`~motionscope.infer.stream.StreamRecognizer` (its own MediaPipe graph)."""
    return rec.stream(every=LIVE_EVERY, smooth=LIVE_SMOOTH, top_k=LIVE_TOP_K)


# -- messages -----------------------------------------------------------------------------------


def drawable(keypoints, layout: Layout) -> dict:
    """The pose and hand points of one frame for drawing: ``{block: [[x, y(, visibility)],
    ...] or None}`` in image-normalised coordinates (``None`` = not detected)."""
    out: dict[str, list | None] = dict.fromkeys(POINTS)
    if keypoints is None:
        return out
    kp = np.asarray(keypoints, dtype=np.float32).reshape(-1)
    if kp.size == HOLISTIC.width:
        layout = HOLISTIC
    elif kp.size != layout.width:
        return out
    for name, channels in POINTS.items():
        if not layout.has(name):
            continue
        pts = kp[layout.slice(name)].reshape(-1, channels)
        if not pts.any():
            continue
        keep = 3 if channels == 4 else 2  # x, y (+ visibility for the pose)
        idx = [0, 1, 3] if channels == 4 else [0, 1]
        out[name] = np.round(pts[:, idx[:keep]], 4).tolist()
    return out


def update_message(update, frame: int, dropped: int, server_ms: float) -> dict:
    """The JSON answer to one frame, from a ``StreamUpdate``."""
    keypoints = update.keypoints
    # RGB models run no pose: whether a person is there is not known (None)
    person = None if update.layout is None else bool(np.asarray(keypoints).any())
    return {
        "type": "prediction",
        "frame": frame,
        "label": update.label,
        "confidence": round(float(update.confidence), 6),
        "unknown": bool(update.unknown),
        "top_k": [{"label": lab, "confidence": round(float(p), 6)} for lab, p in update.top_k],
        "predicted": bool(update.predicted),
        "buffered": int(update.buffered),
        "window": int(update.window),
        "person_detected": person,
        "keypoints": drawable(keypoints, update.layout),
        "timings_ms": {k: round(float(v), 3) for k, v in update.timings.items()},
        "server_ms": round(server_ms, 3),
        "dropped": dropped,
    }


def decode_jpeg(data: bytes, max_side: int) -> np.ndarray | None:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.ndim != 3 or max(img.shape[:2]) > max_side:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class ProtocolError(Exception):
    """A message that breaks the protocol: the socket is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_control(text: str | None) -> dict:
    """A text (control) message as a dict; :class:`ProtocolError` for one that is too long
    (1008), not JSON or nested too deep to parse (1007), or not a JSON object (1007)."""
    if not text:
        return {}
    if len(text) > MAX_TEXT_BYTES:  # characters >= bytes / 4: checked before encoding
        raise ProtocolError(1008, f"text message longer than {MAX_TEXT_BYTES} bytes")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ProtocolError(1008, f"text message longer than {MAX_TEXT_BYTES} bytes")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ProtocolError(1007, "text message nested too deep") from None
    except ValueError:
        raise ProtocolError(1007, "text message is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(1007, "text messages must be JSON objects")
    return value


async def close_for(ws, error: ProtocolError) -> None:
    """Log a protocol violation and close the socket with its code."""
    client = getattr(ws, "client", None)
    where = f"{client.host}:{client.port}" if client else "unknown client"
    log.warning("live: closing %s with %d: %s", where, error.code, error.reason)
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "error": error.reason})
    with contextlib.suppress(Exception):
        await ws.close(code=error.code, reason=error.reason[:120])


# -- the socket ---------------------------------------------------------------------------------


async def authenticate_socket(ws, api_key: str | None) -> bool:
    """Whether the client gave the key (header or first message); :class:`ProtocolError` for a
    first message that breaks the protocol."""
    if api_key is None:
        return True
    header = ws.headers.get("x-api-key")
    if header is not None:
        return key_matches(header, api_key)
    try:
        msg = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return False
    if msg.get("type") == "websocket.disconnect":
        return False
    given = parse_control(msg.get("text")).get("api_key")
    return isinstance(given, str) and key_matches(given.encode("utf-8", "surrogatepass"), api_key)


async def live_socket(ws, service) -> None:
    """Serve one live connection until the client leaves.

    The connection's recognizer lives on its own single thread: opening it, every frame, a
    reset and closing it run there one after the other, so the stream is closed only once the
    frame still being recognised (a MediaPipe call cannot be interrupted) is done, even when
    the connection is torn down mid-frame. The live place is freed after the close.
    """
    settings = service.settings
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
    if not service.live.try_enter():
        await ws.send_json(
            {"type": "error", "error": f"too many live streams (limit {settings.max_live})"}
        )
        await ws.close(code=1013)
        return
    runner = ThreadPoolExecutor(1, thread_name_prefix="motionscope-live")
    holder: dict = {}

    def open_it():
        holder["stream"] = service.open_stream()
        return holder["stream"]

    def close_it():
        stream = holder.pop("stream", None)
        if stream is not None and hasattr(stream, "close"):
            stream.close()

    try:
        stream = await asyncio.wrap_future(runner.submit(open_it))
        await _pump(ws, stream, service, runner)
    finally:
        closed = runner.submit(close_it)
        closed.add_done_callback(lambda _: service.live.leave())
        runner.shutdown(wait=False)


async def _pump(ws, stream, service, runner: ThreadPoolExecutor) -> None:
    settings = service.settings
    max_bytes = settings.max_frame_kb * 1024
    state = {"pending": None, "received": 0, "dropped": 0, "reset": False}
    wake = asyncio.Event()

    async def reader() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is None:
                if parse_control(msg.get("text")).get("type") == "reset":
                    state["reset"] = True
                    wake.set()
                continue
            index = state["received"]
            state["received"] += 1
            service.live_frames += 1
            if state["pending"] is not None:
                state["dropped"] += 1  # never queue: the newest frame wins
                service.live_dropped += 1
            state["pending"] = (index, data)
            wake.set()

    async def processor() -> None:
        while True:
            await wake.wait()
            wake.clear()
            if state["reset"] and hasattr(stream, "reset"):
                state["reset"] = False
                await asyncio.wrap_future(runner.submit(stream.reset))
            item, state["pending"] = state["pending"], None
            if item is None:
                continue
            index, data = item
            t0 = time.perf_counter()
            frame = decode_jpeg(data, settings.max_side) if len(data) <= max_bytes else None
            if frame is None:
                await ws.send_json(
                    {
                        "type": "error",
                        "frame": index,
                        "error": f"frame {index} is not a JPEG image of at most "
                        f"{settings.max_frame_kb} kB and {settings.max_side} px",
                    }
                )
                continue
            update = await asyncio.wrap_future(runner.submit(stream.push, frame))
            server_ms = (time.perf_counter() - t0) * 1e3
            await ws.send_json(update_message(update, index, state["dropped"], server_ms))

    read = asyncio.create_task(reader())
    work = asyncio.create_task(processor())
    try:
        done, _ = await asyncio.wait({read, work}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (read, work):
            task.cancel()
    if read in done and not read.cancelled() and isinstance(read.exception(), ProtocolError):
        await close_for(ws, read.exception())
        return
    if work in done and not work.cancelled() and work.exception() is not None:
        log.error("live stream failed", exc_info=work.exception())
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "error": "the live recognizer failed"})
            await ws.close(code=1011)
