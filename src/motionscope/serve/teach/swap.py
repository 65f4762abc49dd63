"""Serving without a bundle, and switching bundles without restarting the server.

:class:`NoModel` stands in for the :class:`~motionscope.serve.service.InferenceService` of a
server started with nothing to serve yet (``motionscope studio DIR``): ``/health`` and the
Teach tab work, while the routes that need a model are answered 503 by :class:`NeedsModel`.

:func:`swap_service` loads a new bundle into a fresh service and puts it in
``app.state.service``: requests and live sockets opened from then on use it, the ones already
running finish on the old service, which is closed once nothing uses it any more.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from motionscope.serve.limits import Admission
from motionscope.serve.settings import ServeSettings

log = logging.getLogger("motionscope.serve")

NO_MODEL = (
    "no model is served yet: teach one in the Teach tab (or start `motionscope serve RUN` "
    "with a bundle)"
)
MODEL_PATHS = ("/predict", "/v1/predict", "/v1/model", "/v1/live")
RETIRE_POLL_S = 0.5
RETIRE_MAX_S = 600.0


class NoModel:
    """What the app serves before any bundle: settings, admission counters and a status."""

    backend = "none"
    recognizer = None

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.run = Path("no model yet")
        self.live = Admission(settings.max_live)
        self.admission = Admission(settings.capacity)

    def status(self) -> dict:
        s = self.settings
        return {
            "workers": s.workers,
            "worker_kind": s.worker_kind,
            "worker_restarts": 0,
            "running": 0,
            "queued": 0,
            "capacity": s.capacity,
            "live_streams": 0,
            "live_frames": 0,
            "live_dropped": 0,
            "served": 0,
        }

    def close(self) -> None:
        """Nothing to release."""


def needs_model(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in MODEL_PATHS)


class NeedsModel:
    """ASGI middleware: while ``app.state.service`` is a :class:`NoModel`, the model routes get
    503 ``{"success": false, "error": ...}`` (a WebSocket: that error, then close 1013)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket") or not needs_model(scope.get("path", "")):
            return await self.app(scope, receive, send)
        service = getattr(scope["app"].state, "service", None)
        if not isinstance(service, NoModel):
            return await self.app(scope, receive, send)
        if kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            body = json.dumps({"type": "error", "error": NO_MODEL})
            await send({"type": "websocket.send", "text": body})
            await send({"type": "websocket.close", "code": 1013, "reason": "no model yet"})
            return None
        body = json.dumps({"success": False, "error": NO_MODEL}).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"5")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return None


def _retire(old) -> None:
    """Close ``old`` once no request or live stream uses it (or after RETIRE_MAX_S)."""
    deadline = time.monotonic() + RETIRE_MAX_S
    while time.monotonic() < deadline:
        busy = getattr(old, "admission", None), getattr(old, "live", None)
        if all(a is None or a.active == 0 for a in busy):
            break
        time.sleep(RETIRE_POLL_S)
    try:
        old.close()
    except Exception:  # pragma: no cover - closing must never take the server down
        log.exception("closing the previous model failed")


def load_service(run: Path, settings: ServeSettings):
    """A new :class:`InferenceService` over the bundle ``run`` (loads its models)."""
    from motionscope.serve.service import InferenceService

    return InferenceService(run, settings)


def swap_service(app, service) -> None:
    """Serve ``service`` from now on; the old one is closed in the background when idle."""
    from motionscope.serve.api import model_info

    info = model_info(service)
    old = getattr(app.state, "service", None)
    app.state.model_info = info
    app.state.service = service
    log.info("now serving %s", service.run)
    if old is not None and old is not service:
        threading.Thread(
            target=_retire, args=(old,), name="motionscope-retire", daemon=True
        ).start()
