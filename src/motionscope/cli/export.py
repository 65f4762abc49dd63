"""``motionscope export``: a bundle's network as ONNX, checked against PyTorch."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from motionscope.cli.common import Run, console, or_exit
from motionscope.errors import MotionscopeError

ExportFormat = Annotated[str, typer.Option("--format", help="Export format (only onnx).")]
Int8 = Annotated[
    bool, typer.Option("--int8", help="Also write an int8 dynamically quantized graph.")
]
Opset = Annotated[
    int | None, typer.Option(help="ONNX opset, 18 or newer (default: the exporter's).")
]


def export_cmd(run: Run, fmt: ExportFormat = "onnx", int8: Int8 = False, opset: Opset = None):
    """Export a bundle's network for the edge: RUN/model.onnx (and RUN/model.int8.onnx).

    Dynamic batch axis, and a dynamic window for keypoint models whose architecture allows it.
    The graphs are checked against PyTorch on random inputs (parity printed and stored in
    RUN/config.json); then use them with `predict --backend onnx` or
    `motionscope.load(RUN, backend="onnx")`.
    """

    def go():
        if fmt != "onnx":
            raise MotionscopeError(f"unknown export format {fmt!r}; only onnx is supported")
        from motionscope.export import export_info, export_onnx

        with console.status(f"exporting {run} to ONNX (and checking it against PyTorch) ..."):
            files = export_onnx(run, int8=int8, opset=opset)
        return files, export_info(run)

    files, info = or_exit(go)
    print_export(run, files, info)


def print_export(run, files, info: dict) -> None:
    t = Table(title=f"ONNX export of {run} (opset {info['opset']})")
    for col in ("file", "size", "max |Δp| vs PyTorch", "top-1 agreement"):
        t.add_column(col)
    names = {v: k for k, v in info["files"].items()}
    for f in files:
        par = info["parity"][names[f.name]]
        t.add_row(
            f.name,
            f"{f.stat().st_size / 1024:.0f} KiB",
            f"{par['max_abs_prob_diff']:.2e}",
            f"{par['top1_agreement']:.3f}",
        )
    console.print(t)
    shape = " x ".join(str(d) for d in info["input"]["shape"])
    console.print(f"input {info['input']['name']}: {shape} float32 -> logits")
    if info.get("fixed_window"):
        console.print(f"window fixed: {info['fixed_window']}")
    console.print(
        f"parity on {info['parity']['onnx']['samples']} random inputs; "
        f"use it: motionscope predict {run} CLIP --backend onnx"
    )
