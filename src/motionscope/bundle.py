"""The bundle: a directory holding everything needed to use a trained model.

``model.safetensors`` (weights, never pickle), ``config.json`` (architecture and preprocessing),
``classes.json``, ``metrics.json`` and ``report/``. Bundles are written into a staging sibling
directory and renamed into place, so a crash never leaves a half-written bundle behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from motionscope.errors import BundleError

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CLASSES = "classes.json"
METRICS = "metrics.json"
REPORT = "report"


def staging_dir(out: Path) -> Path:
    """The sibling directory a bundle is assembled in before it is renamed to ``out``."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def prepare_staging(out: Path) -> Path:
    stage = staging_dir(out)
    if stage.exists():
        shutil.rmtree(stage)  # left over from an interrupted run
    stage.mkdir(parents=True)
    return stage


def save_weights(stage: Path, model: torch.nn.Module) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(stage / WEIGHTS), metadata={"format": "motionscope"})


KEEP = ("keypoints", "features")  # caches under a bundle that a retrain keeps (`train VIDEOS`)


def publish(stage: Path, out: Path) -> Path:
    """Move a complete staging directory to ``out``, replacing an older bundle there."""
    out = Path(out)
    for name in KEEP:
        if (out / name).is_dir() and not (stage / name).exists():
            os.replace(out / name, stage / name)
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    if old.exists():
        shutil.rmtree(old)
    return out


@dataclass
class Bundle:
    path: Path
    config: dict
    classes: list[str]
    metrics: dict

    def state_dict(self) -> dict[str, torch.Tensor]:
        return load_file(str(self.path / WEIGHTS))

    def load_weights_into(self, model: torch.nn.Module, where: Path | str | None = None) -> None:
        """Load the bundle's weights into ``model`` (built from its config.json); keys or shapes
        that do not match raise a :class:`BundleError` naming ``where`` (default: the bundle)."""
        try:
            model.load_state_dict(self.state_dict())
        except RuntimeError as e:
            raise BundleError(
                f"{self.path if where is None else where}: weights do not match the architecture "
                f"in config.json: {str(e).splitlines()[0]}"
            ) from e


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise BundleError(f"{path.parent} is not a complete bundle: {path.name} is missing") from e
    except json.JSONDecodeError as e:
        raise BundleError(f"{path} is not valid JSON ({e.msg}); the bundle is damaged") from e


def read_bundle(path: Path | str) -> Bundle:
    path = Path(path)
    if not path.is_dir():
        raise BundleError(
            f"{path} is not a bundle directory; "
            f"train one with `motionscope train DATA --out {path}`"
        )
    if not (path / WEIGHTS).exists():
        raise BundleError(f"{path} is not a complete bundle: {WEIGHTS} is missing")
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict) or config.get("format_version") != FORMAT_VERSION:
        found = config.get("format_version") if isinstance(config, dict) else None
        raise BundleError(
            f"{path / CONFIG}: bundle format version {found!r} is not supported by this "
            f"motionscope (expects {FORMAT_VERSION}); retrain or upgrade motionscope"
        )
    classes = _read_json(path / CLASSES)
    metrics = _read_json(path / METRICS) if (path / METRICS).exists() else {}
    return Bundle(path, config, list(classes), metrics)  # type: ignore[arg-type]
