"""The Teach tab's server side: name actions, record examples from the browser's camera, train
the default model in the background and serve it without a restart.

:func:`attach_teach` adds it to an app (``create_app(..., teach=DIR)``); see
:mod:`~motionscope.serve.teach.routes` for the API.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from pathlib import Path

from motionscope.serve.limits import Admission
from motionscope.serve.settings import ServeSettings
from motionscope.serve.teach.dataset import TeachData
from motionscope.serve.teach.jobs import TeachTraining, Trainer, runs_dir
from motionscope.serve.teach.swap import NeedsModel, NoModel, load_service, swap_service


@dataclass
class TeachState:
    data: TeachData
    trainer: Trainer
    sockets: Admission  # teach WebSocket streams at once (one MediaPipe graph each)


def attach_teach(
    app, folder: Path | str, settings: ServeSettings, training: TeachTraining | None = None
) -> TeachState:
    """Serve the Teach API over the dataset ``folder``; each trained bundle is swapped in."""
    from motionscope.serve.teach.routes import build_teach_router, build_teach_socket

    data = TeachData(folder)
    runs = runs_dir(data.root)
    if runs == data.root or data.root in runs.parents:  # pragma: no cover - by construction
        raise ValueError(f"{runs} would be inside the dataset {data.root}")

    def on_bundle(run: Path) -> None:
        swap_service(app, load_service(run, settings))

    state = TeachState(
        data, Trainer(data, training or TeachTraining(), on_bundle), Admission(settings.max_live)
    )
    app.state.teach = state
    app.include_router(build_teach_router())
    app.include_router(build_teach_socket())
    threading.Thread(target=_warm_imports, name="motionscope-teach-warm", daemon=True).start()
    return state


WARM = ("motionscope.train.fit", "motionscope.data.videos", "motionscope.infer.loader")


def _warm_imports() -> None:
    """Import the training stack in the background at start-up: the first press of Train then
    does not wait for Lightning's imports (several seconds on a small machine)."""
    for name in WARM:
        try:
            importlib.import_module(name)
        except Exception:  # pragma: no cover - the job reports import errors itself
            return


__all__ = ["NeedsModel", "NoModel", "TeachState", "TeachTraining", "attach_teach", "swap_service"]
