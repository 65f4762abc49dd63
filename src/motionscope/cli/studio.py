"""``motionscope studio DIR``: the web app with the Teach tab over the dataset folder ``DIR``,
no bundle needed (``motionscope serve --teach DIR`` without a RUN)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motionscope.cli.serve import ApiKey, Host, LogLevel, Port, TeachEpochs, TeachModel, serve_cmd

Folder = Annotated[
    Path,
    typer.Argument(
        help="Dataset folder of the taught actions (DIR/<action>/<n>.npy; created if missing). "
        "Trained models go to DIR-runs/model-<n>, beside it."
    ),
]


def studio_cmd(
    folder: Folder,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    api_key: ApiKey = None,
    log_level: LogLevel = "info",
    model: TeachModel = "kpnet",
    epochs: TeachEpochs = 60,
) -> None:
    """Teach actions in the browser: open http://HOST:PORT/, name actions, record a few
    examples of each from the webcam, press Train, then Try it in the Live tab.

    The examples are a normal dataset (`motionscope train DIR` trains on it too); each trained
    model is a normal bundle in DIR-runs/, served at once without a restart.
    """
    serve_cmd(
        None, host=host, port=port, api_key=api_key, log_level=log_level, teach=folder,
        teach_model=model, teach_epochs=epochs,
    )  # fmt: skip
