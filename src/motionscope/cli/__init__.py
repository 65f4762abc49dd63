"""The ``motionscope`` command line: one Typer app, one module per stage.

Each command only parses its options, calls the stage's Python API and prints the result;
:mod:`motionscope.cli.common` holds the consoles, the one-line errors and shared options.
"""

from __future__ import annotations

import typer
from typer.core import TyperOption

import motionscope
from motionscope.cli import (
    audit,
    demo,
    evaluate,
    export,
    extract,
    live,
    models,
    predict,
    record,
    segment,
    serve,
    studio,
    synth,
    train,
)
from motionscope.cli.quiet import quiet_third_party

quiet_third_party()

_value_type = TyperOption.display_type_rich


def _flag_type(self: TyperOption, ctx) -> str | None:
    """A flag takes no value: no ``<bool>`` beside it in ``--help`` (options keep ``<int>``...)."""
    return None if self.is_flag else _value_type(self, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="motionscope",
    help="Human action recognition from keypoints and video: train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
synth_app = typer.Typer(help="Generate synthetic data (for demos and tests).", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"motionscope {motionscope.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Human action recognition from keypoints and video: train, evaluate, predict."""


app.add_typer(synth_app, name="synth")

app.command("models")(models.models_cmd)
synth_app.command("keypoints")(synth.synth_keypoints)
synth_app.command("videos")(synth.synth_videos)
app.command("train")(train.train_cmd)
app.command("evaluate")(evaluate.evaluate_cmd)
app.command("audit")(audit.audit_cmd)
app.command("predict")(predict.predict_cmd)
app.command("export")(export.export_cmd)
app.command("segment")(segment.segment_cmd)
app.command("extract")(extract.extract_cmd)
app.command("live")(live.live_cmd)
app.command("record")(record.record_cmd)
app.command("serve")(serve.serve_cmd)
app.command("studio")(studio.studio_cmd)
app.command("demo")(demo.demo_cmd)


def main() -> None:  # pragma: no cover
    app()


__all__ = ["app", "main"]
