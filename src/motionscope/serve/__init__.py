"""``motionscope serve``: a FastAPI server (REST + WebSocket) and the web app for one bundle.

Needs the ``serve`` extra: ``pip install "motionscope[serve]"``.
"""

from __future__ import annotations

from motionscope.serve.settings import ServeSettings


def create_app(run, settings: ServeSettings | None = None, **kwargs):
    """See :func:`motionscope.serve.app.create_app` (imported lazily: FastAPI is optional)."""
    from motionscope.serve.app import create_app as _create_app

    return _create_app(run, settings, **kwargs)


__all__ = ["ServeSettings", "create_app"]
