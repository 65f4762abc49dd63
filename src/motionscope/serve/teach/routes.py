"""The Teach tab's API under ``/v1/teach``; every route needs the API key when the server has
one (the WebSocket: as a header or the first message).

- ``GET /v1/teach``: the actions, their examples (frames, detection rates, a skeleton
  preview), the training job and the bundle being served;
- ``POST /v1/teach/actions`` ``{"name": ...}``, ``DELETE /v1/teach/actions/{name}``,
  ``DELETE /v1/teach/actions/{name}/examples/{n}``;
- ``POST /v1/teach/train`` (202; 409 while a job runs; 422 when the data is not enough),
  ``GET /v1/teach/train`` (its progress), ``DELETE /v1/teach/train`` (cancel);
- ``GET /v1/teach/dataset.zip``, ``GET /v1/teach/bundle.zip``;
- ``WS /v1/teach/live`` (see :mod:`motionscope.serve.teach.capture`).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request, Security, WebSocket
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from motionscope.serve.api import require_key
from motionscope.serve.limits import ApiError
from motionscope.serve.teach.capture import teach_socket
from motionscope.serve.teach.dataset import MAX_NAME, zip_folder
from motionscope.serve.teach.swap import NoModel

MAX_BODY = 4096  # bytes of a JSON body (an action name)


def teach_of(request: Request):
    teach = getattr(request.app.state, "teach", None)
    if teach is None:
        raise ApiError(404, "this server was started without --teach DIR")
    return teach


async def _zip_response(build, filename: str) -> FileResponse:
    """``build(path)`` writes the zip (in a worker thread), sent, then removed."""
    fd, name = tempfile.mkstemp(prefix="motionscope-zip-", suffix=".zip")
    os.close(fd)
    target = Path(name)
    try:
        await asyncio.to_thread(build, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=filename,
        background=BackgroundTask(target.unlink, missing_ok=True),
    )


async def small_json(request: Request) -> dict:
    """The JSON object body, read up to :data:`MAX_BODY` bytes (413 beyond, 422 if not JSON)."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY:
        raise ApiError(413, f"request body of {size} bytes; at most {MAX_BODY}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"request body longer than {MAX_BODY} bytes")
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(422, 'the body must be JSON: {"name": "wave"}') from None
    if not isinstance(value, dict):
        raise ApiError(422, 'the body must be a JSON object: {"name": "wave"}')
    return value


def build_teach_router() -> APIRouter:
    router = APIRouter(prefix="/v1/teach", tags=["teach"], dependencies=[Security(require_key)])

    @router.get("", summary="Actions, examples, the training job and the served bundle")
    def overview(request: Request) -> dict:
        teach = teach_of(request)
        service = request.app.state.service
        return {
            "folder": teach.data.root.name,
            "actions": teach.data.summary(),
            "min_examples": teach.trainer.settings.min_examples,
            "max_name": MAX_NAME,
            "train": teach.trainer.status(),
            "model": None if isinstance(service, NoModel) else service.run.name,
        }

    @router.post("/actions", status_code=201, summary="Add an action (a folder of examples)")
    async def add_action(request: Request) -> dict:
        """Body ``{"name": "wave"}``: at most MAX_NAME characters of letters, digits, ``_ - .
        +`` and spaces, not starting with a dot."""
        body = await small_json(request)
        name = await asyncio.to_thread(teach_of(request).data.add_action, body.get("name"))
        return {"success": True, "name": name}

    @router.delete("/actions/{name}", summary="Delete an action and all its examples")
    def delete_action(request: Request, name: str = PathParam(max_length=1024)) -> dict:
        teach_of(request).data.delete_action(name)
        return {"success": True}

    @router.delete("/actions/{name}/examples/{number}", summary="Delete one example")
    def delete_example(
        request: Request, number: int, name: str = PathParam(max_length=1024)
    ) -> dict:
        teach_of(request).data.delete_example(name, number)
        return {"success": True}

    @router.post("/train", status_code=202, summary="Train on the examples (one job at a time)")
    def start_training(request: Request) -> dict:
        return teach_of(request).trainer.start()

    @router.get("/train", summary="The training job's progress")
    def training(request: Request) -> dict:
        return teach_of(request).trainer.status()

    @router.delete("/train", status_code=202, summary="Cancel the training job")
    def cancel_training(request: Request) -> dict:
        return teach_of(request).trainer.cancel()

    @router.get("/dataset.zip", summary="The taught dataset (DIR/<action>/<n>.npy + .json)")
    async def dataset_zip(request: Request) -> FileResponse:
        data = teach_of(request).data
        return await _zip_response(data.write_zip, f"{data.root.name}.zip")

    @router.get("/bundle.zip", summary="The bundle being served")
    async def bundle_zip(request: Request) -> FileResponse:
        teach_of(request)
        service = request.app.state.service
        if isinstance(service, NoModel):
            raise ApiError(404, "no model yet: train one first")
        run = Path(service.run)
        return await _zip_response(lambda t: zip_folder(run, t, run.name), f"{run.name}.zip")

    return router


def build_teach_socket() -> APIRouter:
    """The WebSocket route (kept apart: the key is checked in the socket, not by a header)."""
    router = APIRouter()

    @router.websocket("/v1/teach/live")
    async def teach_live(ws: WebSocket) -> None:
        teach = getattr(ws.app.state, "teach", None)
        if teach is None:
            await ws.close(code=1008, reason="this server was started without --teach DIR")
            return
        await teach_socket(ws, teach, ws.app.state.service.settings)

    return router
