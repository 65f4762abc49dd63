"""The REST and WebSocket routes: ``/predict`` (seed-compatible), ``/v1/predict``,
``/v1/model`` (+ its report images), ``/health`` and ``WS /v1/live``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query, Request, Security, WebSocket
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader

import motionscope
from motionscope.bundle import REPORT
from motionscope.serve.limits import VIDEO_FIELD, ApiError, key_matches
from motionscope.serve.live import live_socket
from motionscope.serve.schemas import (
    ErrorResponse,
    HealthResponse,
    ModelResponse,
    PredictResponse,
    ProgressResponse,
    SeedResponse,
)

API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed only when the server was started with --api-key.",
)

REPORT_IMAGES = {  # fixed names: no request ever chooses a file
    "confusion_matrix": "confusion_matrix.png",
    "curves": "curves.png",
}

VIDEO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [VIDEO_FIELD],
                    "properties": {
                        VIDEO_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The video (.mp4, .mov, .webm, .mkv, .avi).",
                        }
                    },
                }
            }
        },
    }
}


PROGRESS_ID = r"^[A-Za-z0-9-]{8,64}$"


def _errors(*codes: int) -> dict:
    text = {
        400: "Malformed form (no 'video' field)",
        401: "Missing or wrong X-API-Key",
        404: "Not found",
        408: "The upload arrived too slowly",
        413: "Upload too large, or video longer than the server's --max-seconds",
        415: "Not multipart/form-data, or not a video",
        422: "Undecodable or truncated video, or invalid parameters",
        503: "Server busy: retry after the Retry-After header's seconds",
        504: "Processing took longer than the server's --timeout",
    }
    return {c: {"model": ErrorResponse, "description": text[c]} for c in codes}


UPLOAD_ERRORS = _errors(400, 401, 408, 413, 415, 422, 503, 504)


def service_of(request: Request):
    return request.app.state.service


def require_key(request: Request, key: str | None = Security(API_KEY)) -> None:
    if not key_matches(key, service_of(request).settings.api_key):
        raise ApiError(401, "missing or wrong X-API-Key header")


def _report_path(service, name: str) -> Path | None:
    path = service.run / REPORT / REPORT_IMAGES[name]
    return path if path.is_file() else None


def model_info(service) -> dict:
    rec = service.recognizer
    cfg = rec.config
    metrics = {k: v for k, v in (rec.bundle.metrics or {}).items() if k != "cv"}
    threshold = getattr(rec, "unknown_threshold", None)
    s = service.settings
    return {
        "architecture": {
            "name": cfg.model.name,
            "hparams": dict(cfg.model.hparams),
            "parameters": cfg.model.parameters,
        },
        "classes": list(rec.classes),
        "input": {
            **rec.input_spec(),
            "skeleton": bool(rec.uses_pose),
            "accepts": "video (.mp4, .mov, .webm, .mkv, .avi) via multipart field 'video'",
        },
        "metrics": metrics,
        "backend": service.backend,
        "report": {
            name: (f"/v1/model/{file}" if _report_path(service, name) else None)
            for name, file in REPORT_IMAGES.items()
        },
        "unknown_threshold": float(threshold) if isinstance(threshold, (int, float)) else None,
        "limits": {
            "max_upload_mb": s.max_upload_mb,
            "max_seconds": s.max_seconds,
            "request_timeout_s": s.request_timeout_s,
            "workers": s.workers,
            "queue_size": s.queue_size,
            "max_live": s.max_live,
        },
        "version": motionscope.__version__,
    }


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post(
        "/predict",
        response_model=SeedResponse,
        responses=UPLOAD_ERRORS,
        openapi_extra=VIDEO_BODY,
        tags=["predict"],
        summary="Seed-compatible prediction (confidence in percent)",
    )
    async def predict_seed(request: Request, _: None = Security(require_key)) -> dict:
        """The seed project's endpoint: multipart field ``video`` ->
        ``{"success": true, "prediction": {"action": label, "confidence": 92.45}}``."""
        r = await service_of(request).predict_upload(request, top_k=1, want_segments=False)
        if not r["person_detected"]:
            action, percent = "no person detected", 0.0
        else:
            action, percent = r["label"], round(100.0 * r["confidence"], 2)
        return {"success": True, "prediction": {"action": action, "confidence": percent}}

    @router.post(
        "/v1/predict",
        response_model=PredictResponse,
        responses=UPLOAD_ERRORS,
        openapi_extra=VIDEO_BODY,
        tags=["predict"],
        summary="Predict a video: label, top-k, optional timeline, timings",
    )
    async def predict_v1(
        request: Request,
        top_k: int = Query(3, ge=1, le=100, description="How many classes to rank."),
        segments: bool = Query(False, description="Also return the timeline of segments."),
        progress_id: str | None = Query(
            None,
            pattern=PROGRESS_ID,
            description="A random id (8-64 letters, digits, '-'): while the video is analysed, "
            "GET /v1/progress/{progress_id} tells how many frames are done.",
        ),
        _: None = Security(require_key),
    ) -> dict:
        """Label, confidence 0..1, top-k, segments (with ``segments=true``), video facts and
        timings (queue, decode, pose, model) in milliseconds."""
        jobs = request.app.state.progress
        report = None
        if progress_id is not None:
            jobs[progress_id] = {"frames": 0, "total": None}

            def report(done: int, total: int | None) -> None:
                jobs[progress_id] = {"frames": done, "total": total}

        try:
            return await service_of(request).predict_upload(
                request, top_k=top_k, want_segments=segments, progress=report
            )
        finally:
            if progress_id is not None:
                jobs.pop(progress_id, None)

    @router.get(
        "/v1/progress/{progress_id}",
        response_model=ProgressResponse,
        responses=_errors(401, 404),
        tags=["predict"],
        summary="Frames analysed so far of a /v1/predict?progress_id=... request",
    )
    async def progress(request: Request, progress_id: str, _: None = Security(require_key)):
        job = request.app.state.progress.get(progress_id)
        if job is None:
            raise ApiError(404, f"no video is being analysed under progress id {progress_id!r}")
        total = job["total"]
        fraction = min(1.0, job["frames"] / total) if total else None
        return {"frames": job["frames"], "total": total, "fraction": fraction}

    @router.get(
        "/v1/model",
        response_model=ModelResponse,
        responses=_errors(401),
        tags=["model"],
        summary="Architecture, classes, input spec, metrics",
    )
    async def model(request: Request, _: None = Security(require_key)) -> dict:
        return request.app.state.model_info

    for name, file in REPORT_IMAGES.items():
        router.add_api_route(
            f"/v1/model/{file}",
            _report_route(name),
            methods=["GET"],
            response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}, **_errors(401)},
            tags=["model"],
            summary=f"The bundle's {file} (404 when the bundle has none)",
            name=f"report_{name}",
        )

    @router.get("/health", response_model=HealthResponse, tags=["server"])
    async def health(request: Request) -> dict:
        service = service_of(request)
        return {
            "status": "ok",
            "model": service.run.name,
            "backend": service.backend,
            "auth_required": service.settings.api_key is not None,
            **service.status(),
        }

    @router.websocket("/v1/live")
    async def live(ws: WebSocket) -> None:
        await live_socket(ws, ws.app.state.service)

    return router


def _report_route(name: str):
    async def report_image(request: Request, _: None = Security(require_key)):
        path = _report_path(service_of(request), name)
        if path is None:
            raise ApiError(404, f"the bundle has no report/{REPORT_IMAGES[name]}")
        return FileResponse(path, media_type="image/png")

    return report_image
