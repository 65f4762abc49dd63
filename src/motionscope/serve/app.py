"""``create_app(run, settings)``: the FastAPI application serving one bundle.

The bundle is loaded when the app is created (once per worker, see
:class:`~motionscope.serve.service.InferenceService`); the workers are shut down with the app.
``teach=DIR`` adds the Teach API over the dataset folder ``DIR`` (see
:mod:`motionscope.serve.teach`); with it ``run`` may be ``None``: the app starts without a
model (the model routes answer 503) until one is trained and swapped in.
Every error is answered as ``{"success": false, "error": "..."}`` with its status code.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import motionscope
from motionscope.errors import MotionscopeError
from motionscope.serve.api import build_router, model_info
from motionscope.serve.limits import ApiError
from motionscope.serve.service import InferenceService
from motionscope.serve.settings import ServeSettings
from motionscope.serve.teach import NeedsModel, NoModel, TeachTraining, attach_teach
from motionscope.serve.web import mount_docs, mount_web

log = logging.getLogger("motionscope.serve")


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "invalid request: " + "; ".join(parts)


def create_app(
    run: Path | str | None,
    settings: ServeSettings | None = None,
    *,
    service: InferenceService | None = None,
    teach: Path | str | None = None,
    teach_training: TeachTraining | None = None,
) -> FastAPI:
    """The app serving the bundle at ``run`` (the model is loaded here, once); ``teach``: the
    dataset folder of the Teach tab (then ``run`` may be ``None``)."""
    settings = settings or ServeSettings()
    if service is None and run is None:
        if teach is None:
            raise MotionscopeError("serve: give a bundle to serve, or a folder to teach in")
        service = NoModel(settings)
    service = service or InferenceService(run, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.service.close()  # the one served now: a swapped-out one closes itself

    app = FastAPI(
        title="motionscope",
        version=motionscope.__version__,
        summary="Human action recognition from video: REST API, live WebSocket and web app.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by mount_docs: they work offline
        redoc_url=None,
    )
    app.state.service = service
    app.state.model_info = None if isinstance(service, NoModel) else model_info(service)
    app.state.progress = {}  # /v1/predict?progress_id=...: frames done, while it runs

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return _error(500, "internal server error (see the server's log)")

    app.include_router(build_router())
    if teach is not None:
        attach_teach(app, teach, settings, teach_training)
    app.add_middleware(NeedsModel)
    mount_web(app)
    mount_docs(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    return app
