"""``motionscope models``: the registered architectures."""

from __future__ import annotations

from rich.table import Table

from motionscope.cli.common import console


def models_cmd() -> None:
    """List the registered model architectures with their parameter counts."""
    from motionscope.models import count_parameters, list_models

    t = Table(title="motionscope models")
    for col in ("name", "input", "parameters*", "description"):
        t.add_column(col)
    for info in list_models():
        net = info.build(input_dim=1662, num_classes=10, window=30)
        t.add_row(info.name, info.input_kind, f"{count_parameters(net):,}", info.description)
    console.print(t)
    console.print("* for 1662-wide holistic keypoints (or 224x224 frames), 10 classes, 30 frames")
