"""Train from a path: the stage behind ``motionscope train``, the demo and the tests.

:func:`train_from_source` takes what the command line takes (a data folder or a manifest,
keypoints or videos) and any registered model:

1. :func:`~motionscope.data.source.detect_source` says once what ``data`` is;
2. a keypoint model given a folder of videos gets their MediaPipe Holistic keypoints first
   (:func:`~motionscope.pose.batch.extract_batch`, cached and resumable in ``OUT/keypoints`` or
   :attr:`DataOptions.cache`);
3. the dataset is loaded for the model's input kind
   (:func:`~motionscope.data.videos.load_training_data`);
4. training dispatches on the input kind: :func:`~motionscope.train.fit.train` for keypoints,
   :func:`~motionscope.train.fit_frames.train_frames` for RGB models (``frames``).

:func:`load_configs` merges a YAML ``--config`` file (any :class:`TrainConfig` field, plus
``features:``, ``augmentation:``, ``optim:`` and a ``frames:`` section of
:class:`~motionscope.train.fit_frames.FramesConfig` fields for RGB models) with settings given
on the command line, which win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from motionscope.data.source import Source, SourceKind, detect_source
from motionscope.errors import MotionscopeError
from motionscope.kinds import InputKind
from motionscope.train.config import TrainConfig, read_yaml_mapping

if TYPE_CHECKING:
    from motionscope.pose.batch import ExtractReport
    from motionscope.train.fit import TrainResult
    from motionscope.train.fit_frames import FramesConfig

FRAMES_SECTION = "frames"


@dataclass
class DataOptions:
    """How to read the training data, beyond what :func:`detect_source` finds out."""

    split_files: tuple[Path, Path] | None = None  # UCF101-style (train list, test list)
    class_index: Path | None = None  # classInd.txt fixing the class order
    classes: list[str] | None = None  # classes to keep, in this order
    group_pattern: str | None = None  # regex whose first group in a path names its group
    layout: str | None = None  # keypoint layout (default: detected from the width)
    fmt: str = "auto"  # keypoint format: auto | sequences | frames | manifest | ts
    # keypoint models on videos: where extracted keypoints go (default OUT/keypoints);
    # cnn-lstm: the feature cache (default OUT/features)
    cache: Path | None = None
    workers: int | None = None  # extraction processes (default: one per core)


def resize_for(size: int) -> int:
    """The short side frames are resized to before a ``size`` square is cropped: 8/7 of it
    (112 -> 128, 224 -> 256), as ImageNet models are evaluated."""
    return max(int(size), round(int(size) * 8 / 7))


# ----------------------------------------------------------------------------------------------
# Configuration.


def frames_config(settings: Mapping[str, Any] | None = None, where: str = "frames") -> FramesConfig:
    """A :class:`FramesConfig` from a mapping of its fields (the YAML ``frames:`` section).

    ``sampling`` holds :class:`~motionscope.video.sampling.SamplingConfig` fields over the
    model's; a ``size`` given without ``resize`` gets :func:`resize_for` (size)."""
    from motionscope.train.fit_frames import FramesConfig
    from motionscope.video.sampling import SamplingConfig

    settings = dict(settings or {})
    known = {f.name for f in fields(FramesConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise MotionscopeError(
            f"{where}: unknown settings {unknown}; known: {', '.join(sorted(known))}"
        )
    sampling = settings.get("sampling") or {}
    if not isinstance(sampling, Mapping):
        raise MotionscopeError(f"{where}.sampling must be a mapping of sampling settings")
    sampling = dict(sampling)
    bad = sorted(set(sampling) - {f.name for f in fields(SamplingConfig)})
    if bad:
        raise MotionscopeError(
            f"{where}.sampling: unknown settings {bad}; known: "
            f"{', '.join(f.name for f in fields(SamplingConfig))}"
        )
    if "size" in sampling and "resize" not in sampling:
        sampling["resize"] = resize_for(sampling["size"])
    settings["sampling"] = sampling
    if settings.get("backbone_weights") is not None:
        settings["backbone_weights"] = str(settings["backbone_weights"])
    if settings.get("cache_dir") is not None:
        settings["cache_dir"] = str(settings["cache_dir"])
    try:
        return FramesConfig(**settings)
    except TypeError as e:
        raise MotionscopeError(f"{where}: {e}") from None


def load_configs(
    path: Path | str | None,
    train: Mapping[str, Any] | None = None,
    frames: Mapping[str, Any] | None = None,
) -> tuple[TrainConfig, FramesConfig]:
    """The training and RGB settings: the YAML file at ``path`` (if any), overridden by
    ``train`` (:class:`TrainConfig` fields) and ``frames`` (:class:`FramesConfig` fields,
    ``sampling`` merged key by key).

    With a file, given values equal to the defaults do not override it (a command-line option
    left at its default says nothing)."""
    from motionscope.train.fit_frames import FramesConfig

    train, frames = dict(train or {}), dict(frames or {})
    if path is None:
        return TrainConfig(**train), frames_config(frames, "frames settings")
    path = Path(path)
    raw = read_yaml_mapping(path)
    section = raw.pop(FRAMES_SECTION, None) or {}
    if not isinstance(section, Mapping):
        raise MotionscopeError(f"{path}: {FRAMES_SECTION}: must be a mapping of RGB settings")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MotionscopeError(
            f"{path}: unknown settings {unknown}; known: "
            f"{', '.join(sorted([*known, FRAMES_SECTION]))}"
        )
    defaults = {**asdict(TrainConfig()), "test_groups": None}
    train = {k: v for k, v in train.items() if v != defaults.get(k)}
    try:
        cfg = TrainConfig(**{**raw, **train})
    except TypeError as e:
        raise MotionscopeError(f"{path}: {e}") from None
    frame_defaults = asdict(FramesConfig())
    given = {
        k: v
        for k, v in frames.items()
        if k != "sampling" and v is not None and v != frame_defaults.get(k)
    }
    merged = {**section, **given}
    merged["sampling"] = {**(section.get("sampling") or {}), **(frames.get("sampling") or {})}
    return cfg, frames_config(merged, f"{path}: {FRAMES_SECTION}")


# ----------------------------------------------------------------------------------------------
# Training.


def _extract(
    source: Source,
    out: Path,
    options: DataOptions,
    progress: bool,
    say: Callable[[str], None],
    on_extract: Callable[[ExtractReport], None] | None,
) -> Path:
    """The keypoints of a folder of videos, extracted into the cache (reused when done)."""
    from motionscope.pose.batch import extract_batch

    cache = Path(options.cache) if options.cache else out / "keypoints"
    say(f"{source.path} holds videos: extracting keypoints into {cache}")
    report = extract_batch(source, cache, workers=options.workers, progress=progress)
    if on_extract is not None:
        on_extract(report)
    return cache


def train_from_source(
    data: Path | str | Source,
    out: Path | str,
    cfg: TrainConfig | None = None,
    *,
    frames: FramesConfig | None = None,
    options: DataOptions | None = None,
    on_message: Callable[[str], None] | None = None,
    on_extract: Callable[[ExtractReport], None] | None = None,
) -> TrainResult:
    """Train ``cfg.model`` on ``data`` and write its bundle to ``out``.

    ``data``: class folders of keypoints or of videos, a manifest (of keypoints or of videos) or
    a ``.ts`` file. ``frames`` holds the RGB settings (used by models that read frames);
    ``options`` how to read the data. ``on_message`` receives one-line progress messages,
    ``on_extract`` the extraction report when videos were turned into keypoints first."""
    from motionscope.data.videos import load_training_data
    from motionscope.models.registry import get_model_info

    cfg = cfg or TrainConfig()
    options = options or DataOptions()
    out = Path(out)
    say = on_message or (lambda _msg: None)
    kind = get_model_info(cfg.model).input_kind
    if options.fmt == "auto" or kind == InputKind.FRAMES.value:
        source: Source | Path = detect_source(data)
    else:  # an explicit keypoint format: the user said what it is
        source = data.path if isinstance(data, Source) else Path(data)
    if (
        kind == InputKind.KEYPOINTS.value
        and isinstance(source, Source)
        and source.kind is SourceKind.VIDEOS
    ):
        source = _extract(source, out, options, cfg.progress, say, on_extract)
    ds = load_training_data(
        source,
        input_kind=kind,
        split_files=options.split_files,
        class_index=options.class_index,
        classes=options.classes,
        group_pattern=options.group_pattern,
        layout=options.layout,
        fmt=options.fmt,
        progress=cfg.progress,
    )
    what = f"layout {ds.layout.name}" if hasattr(ds, "layout") else "videos"
    say(f"{len(ds)} sequences, {len(ds.classes)} classes, {what}; model {cfg.model}")
    if kind == InputKind.FRAMES.value:
        from motionscope.train.fit_frames import FramesConfig, train_frames

        fcfg = frames or FramesConfig()
        if options.cache is not None and fcfg.cache_dir is None:
            fcfg = replace(fcfg, cache_dir=str(options.cache))
        return train_frames(ds, out, cfg, fcfg)
    from motionscope.train.fit import train

    return train(ds, out, cfg)
