"""The web app: ``/`` serves ``static/index.html``; ``/static/...`` its CSS and JavaScript.

Plain files inside the package (no build step); Starlette's ``StaticFiles`` refuses any path
that leaves the ``static`` folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles


def static_dir() -> Path:
    return Path(str(resources.files("motionscope.serve") / "static"))


def mount_web(app: FastAPI) -> None:
    folder = static_dir()
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(folder / "index.html", media_type="text/html")

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(folder)), name="static")
