"""The typed schema of a bundle's ``config.json``: one reader, one writer, every model kind.

:class:`BundleConfig` is what training writes and what every consumer (Python API, CLI, server,
ONNX export, tests) reads. :meth:`BundleConfig.from_dict` validates types and ranges once, on load,
and raises :class:`~motionscope.errors.BundleError` naming the file and the field, so a damaged or
hand-edited bundle stops with one clear line instead of a traceback deep in a model. Format 1
bundles (before this schema) are migrated on read.

What a model needs to see its input as in training lives here: the input kind, the keypoint
preprocessing (layout, window, features) or the frame sampling, the window in frames, the frame
rate of the training data (video at another rate is resampled to it), and the calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from motionscope.errors import BundleError, DataError, MotionscopeError
from motionscope.kinds import InputKind

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1 is migrated on read
MAX_WINDOW = 100_000  # frames in a model window
MAX_WIDTH = 20_000  # keypoint values per frame
MAX_CLASSES = 10_000
MAX_FPS = 1_000.0


class _Fields:
    """Typed access to one JSON object of ``config.json``, with errors naming the field."""

    def __init__(self, obj: object, where: str, prefix: str = "") -> None:
        self.where = where
        self.prefix = prefix
        if not isinstance(obj, dict):
            self.fail(prefix.rstrip(".") or "config", f"must be an object, got {_kind(obj)}")
        self.obj: dict = obj

    def fail(self, name: str, why: str):
        raise BundleError(f"{self.where}: field {name!r} {why}; retrain the model or restore it")

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        return self.obj.get(key, default)

    def str(self, key: str, default: str | None = None) -> str:
        v = self.obj.get(key, default)
        if not isinstance(v, str) or not v:
            self.fail(self.name(key), f"must be a non-empty string, got {_kind(v)}")
        return v

    def int(self, key: str, lo: int, hi: int, default: int | None = None) -> int:
        v = self.obj.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(self.name(key), f"must be a whole number in [{lo}, {hi}], got {_kind(v)}")
        return v

    def float(self, key: str, lo: float, hi: float, default: float | None = None, *, open_lo=False):
        v = self.obj.get(key, default)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if ok:
            ok = (lo < v if open_lo else lo <= v) and v <= hi
        if not ok:
            bound = "(" if open_lo else "["
            self.fail(self.name(key), f"must be a number in {bound}{lo:g}, {hi:g}], got {_kind(v)}")
        return float(v)

    def optional_float(self, key: str, lo: float, hi: float, *, open_lo=False) -> float | None:
        return None if self.obj.get(key) is None else self.float(key, lo, hi, open_lo=open_lo)

    def bool(self, key: str, default: bool | None = None) -> bool:
        v = self.obj.get(key, default)
        if not isinstance(v, bool):
            self.fail(self.name(key), f"must be true or false, got {_kind(v)}")
        return v

    def dict(self, key: str, *, required: bool = False) -> dict:
        v = self.obj.get(key)
        if v is None and not required:
            return {}
        if not isinstance(v, dict):
            self.fail(self.name(key), f"must be an object, got {_kind(v)}")
        return v

    def sub(self, key: str, *, required: bool = True) -> _Fields:
        v = self.obj.get(key)
        if v is None and not required:
            v = {}
        return _Fields(v, self.where, f"{self.prefix}{key}.")


def _kind(v: object) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, str):
        return repr(v[:40])
    if isinstance(v, (bool, int, float)):
        return repr(v)
    return type(v).__name__


@dataclass(frozen=True)
class ModelEntry:
    """The architecture: a registered name and the keyword arguments it was built with."""

    name: str
    hparams: dict[str, Any] = field(default_factory=dict)
    parameters: int | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "hparams": dict(self.hparams), "parameters": self.parameters}


@dataclass(frozen=True)
class Calibration:
    """Logits are divided by ``temperature`` before the softmax; a top probability below
    ``unknown_threshold`` is reported as "unknown" (0 = never). ``details`` keeps how they were
    fitted (train/calibrate.py)."""

    temperature: float = 1.0
    unknown_threshold: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            **self.details,
            "temperature": self.temperature,
            "unknown_threshold": self.unknown_threshold,
        }


@dataclass(frozen=True)
class BundleConfig:
    """``config.json`` of a bundle (format :data:`FORMAT_VERSION`)."""

    input_kind: InputKind
    model: ModelEntry
    window: int  # frames of input a model window covers (keypoints: the resampled length)
    fps: float | None = None  # frame rate of the training data; None = unknown (not resampled)
    preprocessing: dict[str, Any] | None = None  # keypoints: Preprocessor.to_dict()
    sampling: dict[str, Any] | None = None  # frames: SamplingConfig.to_dict()
    standardize: bool = False  # keypoints: the model standardises its input (buffers in weights)
    calibration: Calibration = field(default_factory=Calibration)
    groups: dict[str, list[str]] = field(default_factory=dict)  # {"train": [...], "test": [...]}
    split: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    augment: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # kind-specific facts (backbone, cache)
    export: dict[str, Any] = field(default_factory=dict)  # written by `motionscope export`
    motionscope_version: str = ""
    format_version: int = FORMAT_VERSION

    # -- typed views ----------------------------------------------------------------------------

    def preprocessor(self):
        """The keypoint transform of a keypoint bundle."""
        from motionscope.keypoints.preprocess import Preprocessor

        return Preprocessor.from_dict(self.preprocessing or {})

    def sampling_config(self):
        """The frame sampling of an RGB bundle."""
        from motionscope.video.sampling import SamplingConfig

        return SamplingConfig.from_dict(self.sampling or {})

    def with_export(self, entry: dict) -> BundleConfig:
        return replace(self, export=dict(entry))

    # -- JSON -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "motionscope_version": self.motionscope_version,
            "input_kind": self.input_kind.value,
            "model": self.model.to_dict(),
            "window": self.window,
            "fps": self.fps,
            "preprocessing": self.preprocessing,
            "sampling": self.sampling,
            "standardize": self.standardize,
            "calibration": self.calibration.to_dict(),
            "groups": self.groups,
            "split": self.split,
            "data": self.data,
            "train": self.train,
            "optim": self.optim,
            "augment": self.augment,
            "extras": self.extras,
            "export": self.export or None,
        }

    @classmethod
    def from_dict(cls, raw: object, where: Path | str = "config.json") -> BundleConfig:
        """Validate ``raw`` (parsed ``config.json``); ``where`` names the file in errors."""
        where = str(where)
        f = _Fields(raw, where)
        version = f.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise BundleError(
                f"{where}: bundle format version {version!r} is not supported by this motionscope "
                f"(reads {', '.join(map(str, READABLE_VERSIONS))}); retrain the model with "
                "`motionscope train`, or upgrade motionscope if the bundle is newer"
            )
        if version == 1:
            f = _Fields(_migrate_v1(f), where)
        kind_name = f.get("input_kind")
        try:
            kind = InputKind(kind_name)
        except ValueError:
            known = ", ".join(k.value for k in InputKind)
            f.fail("input_kind", f"must be one of {known}, got {_kind(kind_name)}")
        m = f.sub("model")
        hparams = m.dict("hparams")
        for key, value in hparams.items():
            if not isinstance(value, (str, int, float, bool, list, type(None))):
                m.fail(
                    f"model.hparams.{key}", f"must be a number, string or list, got {_kind(value)}"
                )
        params = m.get("parameters")
        if params is not None:
            params = m.int("parameters", 0, 10**12)
        model = ModelEntry(m.str("name"), hparams, params)
        window = f.int("window", 1, MAX_WINDOW)
        fps = f.optional_float("fps", 0.0, MAX_FPS, open_lo=True)
        preprocessing = sampling = None
        if kind is InputKind.KEYPOINTS:
            preprocessing = f.dict("preprocessing", required=True)
            _check_preprocessing(f, preprocessing, window)
        else:
            sampling = f.dict("sampling", required=True)
            _check_sampling(f, sampling)
        c = f.sub("calibration", required=False)
        calibration = Calibration(
            temperature=c.float("temperature", 0.0, 1e4, 1.0, open_lo=True),
            unknown_threshold=c.float("unknown_threshold", 0.0, 1.0, 0.0),
            details={
                k: v for k, v in c.obj.items() if k not in ("temperature", "unknown_threshold")
            },
        )
        groups = f.dict("groups")
        for part, names in groups.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                f.fail(f"groups.{part}", "must be a list of group names")
        export = f.dict("export")
        if export:
            _check_export_files(f, export)
        version_text = f.get("motionscope_version", "")
        return cls(
            input_kind=kind,
            model=model,
            window=window,
            fps=fps,
            preprocessing=preprocessing,
            sampling=sampling,
            standardize=f.bool("standardize", False),
            calibration=calibration,
            groups=groups,
            split=f.dict("split"),
            data=f.dict("data"),
            train=f.dict("train"),
            optim=f.dict("optim"),
            augment=f.dict("augment"),
            extras=f.dict("extras"),
            export=export,
            motionscope_version=version_text if isinstance(version_text, str) else "",
        )


def _check_preprocessing(f: _Fields, pre: dict, window: int) -> None:
    from motionscope.keypoints.preprocess import Preprocessor

    p = _Fields(pre, f.where, "preprocessing.")
    p.int("window", 1, MAX_WINDOW)
    if p.get("window") != window:
        f.fail("window", f"({window}) differs from preprocessing.window ({p.get('window')})")
    layout = p.sub("layout")
    layout.str("name")
    features = p.sub("features", required=False) if p.has("features") else None
    if features is not None:
        for flag in _FEATURE_FLAGS:
            if flag in features.obj:
                features.bool(flag)
        if "vel_scale" in features.obj:
            features.float("vel_scale", -1e6, 1e6)
    try:
        built = Preprocessor.from_dict(pre)
    except (MotionscopeError, KeyError, TypeError, ValueError) as e:
        p.fail("preprocessing", f"is not a valid keypoint preprocessing ({e})")
    if built.layout.width > MAX_WIDTH:
        layout.fail(
            "preprocessing.layout", f"is {built.layout.width} values wide (max {MAX_WIDTH})"
        )
    try:  # a dry run on two empty frames: every feature setting is usable
        import numpy as np

        built.input_dim  # noqa: B018 - computing it is the check
        built(np.zeros((2, built.layout.width), np.float32))
    except (MotionscopeError, KeyError, TypeError, ValueError, AttributeError) as e:
        p.fail("preprocessing", f"is not a valid keypoint preprocessing ({e})")


_FEATURE_FLAGS = (
    "face", "use_z", "hand_shape", "hand_invariants", "presence", "velocity", "canonical"
)  # fmt: skip


def _check_sampling(f: _Fields, sampling: dict) -> None:
    from motionscope.video.sampling import SamplingConfig

    try:
        s = SamplingConfig.from_dict(sampling)
    except (MotionscopeError, TypeError, ValueError) as e:
        f.fail("sampling", f"is not a valid frame sampling ({e})")
    if s.frames > 1024 or s.size > 2048 or s.resize > 4096:
        f.fail(
            "sampling", f"asks for {s.frames} frames of {s.size} px: too large for a model input"
        )


def _check_export_files(f: _Fields, export: dict) -> None:
    """Every file the export entry names is a plain name inside the bundle (no absolute paths,
    no ``..``): a bundle must never make motionscope open a file outside it."""
    files = export.get("files") or {}
    if not isinstance(files, dict):
        f.fail("export.files", f"must be an object, got {_kind(files)}")
    for name, rel in files.items():
        if not isinstance(rel, str) or not inside_bundle(rel):
            f.fail(f"export.files.{name}", f"must name a file inside the bundle, got {_kind(rel)}")


def inside_bundle(rel: str) -> bool:
    """``rel`` is a relative path that stays inside the bundle directory."""
    if not rel or "\\" in rel or "\x00" in rel:
        return False
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and not rel.startswith("~")


def _migrate_v1(f: _Fields) -> dict:
    """A format 1 ``config.json`` in the format 2 shape (same facts, no frame rate known)."""
    old = dict(f.obj)
    kind = old.get("input_kind", "keypoints")
    new: dict[str, Any] = {
        k: old.get(k)
        for k in ("motionscope_version", "input_kind", "model", "calibration", "split", "data")
    }
    new.update({k: old.get(k) for k in ("train", "optim", "export") if k in old})
    new["format_version"] = FORMAT_VERSION
    new["fps"] = None
    if kind == "frames":
        new["sampling"] = old.get("sampling")
        clip = old.get("clip_frames") or {}
        median = clip.get("median") if isinstance(clip, dict) else None
        frames = (
            (old.get("sampling") or {}).get("frames")
            if isinstance(old.get("sampling"), dict)
            else None
        )
        window = median if isinstance(median, (int, float)) and median >= 1 else frames
        new["window"] = int(round(window)) if isinstance(window, (int, float)) else None
        new["extras"] = {
            k: old[k]
            for k in ("input", "backbone", "clip_frames", "feature_cache", "frames")
            if k in old
        }
        new["augment"] = {}
    else:
        pre = old.get("preprocessing")
        new["preprocessing"] = pre
        new["window"] = pre.get("window") if isinstance(pre, dict) else None
        new["standardize"] = bool(old.get("standardize", False))
        new["augment"] = old.get("augment") or {}
    return new


def validate_classes(raw: object, where: Path | str) -> list[str]:
    """``classes.json``: a list of distinct, non-empty class names."""
    if not isinstance(raw, list) or not raw:
        raise BundleError(
            f"{where}: must be a non-empty JSON list of class names, got {_kind(raw)}; "
            "retrain the model or restore the file"
        )
    bad = [c for c in raw if not isinstance(c, str) or not c.strip()]
    if bad:
        raise BundleError(f"{where}: class names must be non-empty strings, got {_kind(bad[0])}")
    if len(raw) > MAX_CLASSES:
        raise BundleError(f"{where}: {len(raw)} classes is more than {MAX_CLASSES}")
    dupes = sorted({c for c in raw if raw.count(c) > 1})
    if dupes:
        raise BundleError(f"{where}: class names must be distinct; repeated: {dupes[:5]}")
    return list(raw)


def validate_metrics(raw: object, where: Path | str) -> dict:
    if not isinstance(raw, dict):
        raise BundleError(f"{where}: must be a JSON object of metrics, got {_kind(raw)}")
    return raw


def check_fps(value: float | None, what: str) -> float | None:
    """A frame rate given by a user (``--fps``), or None."""
    if value is None:
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= MAX_FPS):
        raise DataError(f"{what} must be a frame rate in (0, {MAX_FPS:g}], got {value!r}")
    return float(value)
