"""The bundle on disk: a directory holding everything needed to use a trained model.

``model.safetensors`` (weights, never pickle), ``config.json`` (:class:`BundleConfig`),
``classes.json``, ``metrics.json`` and ``report/``. :func:`read_bundle` is the one reader: it
validates every file once (schema, class list, the weights' header and values) and names the file
and field of anything wrong. Bundles are assembled in a staging sibling and published by renames
(:func:`publish`); a crash between the renames is repaired by the next :func:`recover` (called by
every read and every new training into the same folder), so a bundle never goes missing.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from motionscope.atomic import write_json
from motionscope.bundle.schema import (
    BundleConfig,
    inside_bundle,
    validate_classes,
    validate_metrics,
)
from motionscope.errors import BundleError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CLASSES = "classes.json"
METRICS = "metrics.json"
REPORT = "report"
ONNX_FILE = "model.onnx"  # written by `motionscope export RUN --format onnx`
INT8_FILE = "model.int8.onnx"  # ... --int8
COMPLETE = ".complete"  # written last into a staging directory: it is ready to publish
KEEP = ("keypoints", "features")  # caches under a bundle that a retrain keeps (`train VIDEOS`)
MAX_JSON_BYTES = 64 << 20
MAX_HEADER_BYTES = 100 << 20


def staging_dir(out: Path) -> Path:
    """The sibling directory a bundle is assembled in before it is renamed to ``out``."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def old_dir(out: Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.old"


def recover(out: Path) -> None:
    """Finish or undo a publish that was interrupted between its renames: when ``out`` is
    missing, a complete staging directory becomes the bundle, else the previous bundle is put
    back. Caches moved into an unfinished staging directory go back to ``out``."""
    out = Path(out)
    stage, old = staging_dir(out), old_dir(out)
    if not out.exists():
        if (stage / COMPLETE).is_file():
            os.replace(stage, out)
            (out / COMPLETE).unlink(missing_ok=True)
        elif old.is_dir():
            os.replace(old, out)
    if old.is_dir() and out.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    if stage.is_dir() and out.is_dir() and not (stage / COMPLETE).is_file():
        for name in KEEP:  # a crash after the caches moved into the stage, before publishing
            if (stage / name).is_dir() and not (out / name).exists():
                os.replace(stage / name, out / name)


def prepare_staging(out: Path) -> Path:
    out = Path(out)
    recover(out)
    stage = staging_dir(out)
    if stage.exists():
        shutil.rmtree(stage)  # left over from an interrupted run
    stage.mkdir(parents=True)
    return stage


def save_weights(stage: Path, model: torch.nn.Module) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(stage / WEIGHTS), metadata={"format": "motionscope"})


def write_files(
    stage: Path, config: BundleConfig, classes: list[str], metrics: dict | None = None
) -> None:
    """``config.json``, ``classes.json`` (and ``metrics.json``) into ``stage``, validated by the
    same schema that reads them."""
    data = config.to_dict()
    BundleConfig.from_dict(data, stage / CONFIG)  # never write what could not be read back
    write_json(stage / CONFIG, data)
    write_json(stage / CLASSES, validate_classes(list(classes), stage / CLASSES))
    if metrics is not None:
        write_json(stage / METRICS, metrics)


def update_config(run: Path | str, config: BundleConfig) -> None:
    """Replace a published bundle's ``config.json`` atomically (e.g. after an export)."""
    run = Path(run)
    data = config.to_dict()
    BundleConfig.from_dict(data, run / CONFIG)
    write_json(run / CONFIG, data)


def publish(stage: Path, out: Path) -> Path:
    """Move a complete staging directory to ``out``, replacing an older bundle there."""
    out = Path(out)
    for name in KEEP:
        if (out / name).is_dir() and not (stage / name).exists():
            os.replace(out / name, stage / name)
    (stage / COMPLETE).write_bytes(b"")
    old = old_dir(out)
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    (out / COMPLETE).unlink(missing_ok=True)
    if old.exists():
        shutil.rmtree(old)
    return out


@dataclass
class Bundle:
    path: Path
    config: BundleConfig
    classes: list[str]
    metrics: dict = field(default_factory=dict)

    def file(self, rel: str) -> Path:
        """A file the bundle names, checked to resolve inside the bundle directory."""
        root = self.path.resolve()
        target = (self.path / rel).resolve()
        if not inside_bundle(rel) or root not in (target, *target.parents):
            raise BundleError(f"{self.path / CONFIG}: {rel!r} is not a file inside the bundle")
        return target

    def state_dict(self) -> dict[str, torch.Tensor]:
        path = self.path / WEIGHTS
        check_weights_header(path)
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise BundleError(
                f"{path}: the weights cannot be read ({e}); the bundle is damaged"
            ) from None
        for name, t in state.items():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise BundleError(
                    f"{path}: tensor {name!r} holds NaN or inf values; the bundle is damaged, "
                    "retrain the model"
                )
        return state

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


def check_weights_header(path: Path) -> None:
    """A safetensors file starts with an 8-byte header length and a JSON header whose tensors
    lie inside the file: check that before the library maps it (a damaged length would make it
    try to read gigabytes)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            (n,) = struct.unpack("<Q", head) if len(head) == 8 else (None,)
            if n is None or n > min(size - 8, MAX_HEADER_BYTES):
                raise BundleError(
                    f"{path}: not a safetensors file (header length {n} for a {size}-byte file); "
                    "the bundle is damaged, retrain or restore it"
                )
            header = json.loads(fh.read(n))
    except OSError as e:
        raise BundleError(f"{path}: cannot read the weights ({e.strerror})") from e
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(
            f"{path}: the weights' header is not valid JSON; the bundle is damaged"
        ) from None
    data = size - 8 - n
    for name, t in header.items() if isinstance(header, dict) else ():
        if name == "__metadata__":
            continue
        offsets = t.get("data_offsets") if isinstance(t, dict) else None
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise BundleError(
                f"{path}: tensor {name!r} has no valid offsets; the bundle is damaged"
            )
        if offsets[1] > data:
            raise BundleError(
                f"{path}: tensor {name!r} ends past the end of the file (truncated weights); "
                "the bundle is damaged, retrain or restore it"
            )


def _read_json(path: Path) -> object:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise BundleError(f"{path} is larger than {MAX_JSON_BYTES >> 20} MB: not a bundle file")
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant(path))
    except FileNotFoundError as e:
        raise BundleError(f"{path.parent} is not a complete bundle: {path.name} is missing") from e
    except UnicodeDecodeError as e:
        raise BundleError(f"{path} is not UTF-8 text; the bundle is damaged") from e
    except json.JSONDecodeError as e:
        raise BundleError(f"{path} is not valid JSON ({e.msg}); the bundle is damaged") from e
    except RecursionError as e:
        raise BundleError(f"{path} is nested too deeply; the bundle is damaged") from e


def _no_constant(path: Path):
    def reject(name: str):
        raise BundleError(f"{path}: {name} is not a valid JSON value; the bundle is damaged")

    return reject


def read_bundle(path: Path | str) -> Bundle:
    """Read and validate the bundle at ``path`` (every file but the weights' values, which
    :meth:`Bundle.state_dict` checks when they are loaded)."""
    path = Path(path)
    recover(path)
    if not path.is_dir():
        raise BundleError(
            f"{path} is not a bundle directory; "
            f"train one with `motionscope train DATA --out {path}`"
        )
    if not (path / WEIGHTS).exists():
        raise BundleError(f"{path} is not a complete bundle: {WEIGHTS} is missing")
    config = BundleConfig.from_dict(_read_json(path / CONFIG), path / CONFIG)
    classes = validate_classes(_read_json(path / CLASSES), path / CLASSES)
    metrics = {}
    if (path / METRICS).exists():
        metrics = validate_metrics(_read_json(path / METRICS), path / METRICS)
    check_weights_header(path / WEIGHTS)
    return Bundle(path, config, classes, metrics)
