"""The web app: ``/`` serves ``static/index.html``; ``/static/...`` its CSS and JavaScript.

Plain files inside the package (no build step); Starlette's ``StaticFiles`` refuses any path
that leaves the ``static`` folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/static-docs"  # Swagger UI and ReDoc, from the fastapi-offline package
# The docs pages may load nothing from another host: ReDoc's bundle still links its logo on a
# CDN, which the browser would fetch (and leak the visit) without this policy.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'"
)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


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


def docs_assets_dir() -> Path:
    """Swagger UI's and ReDoc's JavaScript and CSS, shipped by ``fastapi-offline``."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` served from local files: they render with no
    network (FastAPI's defaults load them from a CDN). Create the app with ``docs_url=None,
    redoc_url=None``."""
    router = APIRouter()
    title = f"{app.title} API"

    @router.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            )
        )

    @router.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=title,
                redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )

    app.include_router(router)
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(docs_assets_dir())), name="docs-assets")
