"""``train`` for RGB models (``input_kind="frames"``): video dataset in, the same bundle out.

Two ways through, chosen by the model:

- **frozen part cached** (``cnn-lstm``, the default): the frozen part of the pretrained backbone
  (all of it, or all but the last ``finetune_blocks`` blocks) runs once per clip and view and its
  output is cached on disk (:mod:`motionscope.train.feature_cache`): one evaluation view and
  ``cache_views`` augmented training views per clip, a random one of which each training clip
  uses each epoch. Epochs then only run the trained part.
- **frames** (``c3d-lstm-gru``, ``r2plus1d``, and ``cnn-lstm`` with ``feature_cache=False``):
  every epoch decodes a freshly augmented sampling of every training clip
  (:func:`motionscope.video.sampling.sample_clip`, ``train=True``) and runs the whole network.

Everything else is :mod:`motionscope.train.fit`'s: splits, the Lightning loop (early stopping,
best weights, CSV/TensorBoard logs, ``--precision``, ``--devices``/DDP), calibration, metrics,
report and the bundle, whose ``config.json`` has ``input_kind: "frames"``, the
:class:`~motionscope.video.sampling.SamplingConfig`, the input normalisation and, for
``cnn-lstm``, the backbone (name, weights SHA-256, how many blocks were fine-tuned).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from motionscope import __version__
from motionscope.bundle import BundleConfig, ModelEntry, prepare_staging
from motionscope.errors import DataError
from motionscope.evaluate.metrics import classification_metrics
from motionscope.kinds import InputKind
from motionscope.models.efficientnet_lite import N_BLOCKS, NAME, load_backbone_weights
from motionscope.models.registry import ModelInfo, count_parameters, get_model_info
from motionscope.models.rgb import CnnLstm
from motionscope.train.calibrate import calibrate
from motionscope.train.config import TrainConfig, auto_threads
from motionscope.train.feature_cache import FeatureCache, view_seed
from motionscope.train.fit import (
    TrainResult,
    _class_weights,
    _is_rank_zero,
    _optim_for,
    _quiet_lightning,
    _resolve_split,
    _split_entry,
    calibration_entry,
    fit_loop,
    groups_entry,
    holdout_split,
    write_bundle,
)
from motionscope.video.decode import is_video_file, probe
from motionscope.video.sampling import SamplingConfig, count_frames, sample_clip

log = logging.getLogger(__name__)

CLIP_BATCH = 4  # clips per forward pass outside training (evaluation, caching)


@dataclass
class FramesConfig:
    """RGB-model settings of ``motionscope train``; saved in the bundle under ``"frames"``."""

    sampling: dict = field(default_factory=dict)  # SamplingConfig fields over the model's
    backbone_weights: str | None = None  # cnn-lstm: weights file (default: packaged ImageNet)
    finetune_blocks: int = 0  # cnn-lstm: train its last K (of 16) blocks + head conv; 0 = frozen
    feature_cache: bool = True  # cnn-lstm: cache the frozen part's outputs on disk
    cache_dir: str | None = None  # default: OUT/features (kept when the bundle is retrained)
    cache_views: int = 4  # augmented training views per clip in the cache (+ 1 evaluation view)

    def __post_init__(self) -> None:
        if not 0 <= int(self.finetune_blocks) <= N_BLOCKS:
            raise DataError(
                f"--finetune-blocks must be between 0 (frozen backbone) and {N_BLOCKS}, "
                f"got {self.finetune_blocks}"
            )
        if int(self.cache_views) < 1:
            raise DataError(f"--cache-views must be at least 1, got {self.cache_views}")


def sampling_for(info: ModelInfo, fcfg: FramesConfig) -> SamplingConfig:
    try:
        return SamplingConfig.from_dict({**info.sampling, **fcfg.sampling})
    except (TypeError, ValueError) as e:
        raise DataError(f"bad sampling settings {fcfg.sampling}: {e}") from e


# ----------------------------------------------------------------------------------------------
# Torch datasets.


class SampledClips(Dataset):
    """Clips decoded on demand: ``(frames, size, size, 3)`` uint8. ``train=True`` draws a new
    augmented sampling per epoch from the generator seeded ``(seed, epoch, i)``."""

    def __init__(
        self,
        paths: list[Path],
        labels: np.ndarray,
        sampling: SamplingConfig,
        *,
        train: bool,
        seed: int = 0,
    ) -> None:
        self.paths = list(paths)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.sampling = sampling
        self.train = train
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.seed, self.epoch, i)) if self.train else None
        clip = sample_clip(self.paths[i], self.sampling, train=self.train, rng=rng)
        return torch.from_numpy(clip), self.labels[i]


class CachedViews(Dataset):
    """Cached frozen-part outputs ``(views, frames, ...)`` per clip; training picks a random view
    per clip and epoch (seeded ``(seed, epoch, i)``), evaluation sets hold one view."""

    def __init__(self, views: list[np.ndarray], labels: np.ndarray, seed: int = 0) -> None:
        self.views = views
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.views[i]
        k = (
            int(np.random.default_rng((self.seed, self.epoch, i)).integers(len(v)))
            if len(v) > 1
            else 0
        )
        return torch.from_numpy(v[k]), self.labels[i]


class FromFrozen(nn.Module):
    """Trains ``CnnLstm`` on cached frozen-part outputs: ``forward = model.from_frozen``."""

    def __init__(self, model: CnnLstm) -> None:
        super().__init__()
        self.model = model

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.model.from_frozen(h)


@torch.no_grad()
def _logits(module: nn.Module, data: Dataset, batch: int = CLIP_BATCH) -> np.ndarray:
    was = module.training
    module.eval()
    out = []
    try:
        for start in range(0, len(data), batch):
            x = torch.stack([data[i][0] for i in range(start, min(len(data), start + batch))])
            out.append(module(x).float().numpy())
    finally:
        module.train(was)
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# The cache.


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not enabled,
    )


def fill_cache(
    model: CnnLstm,
    cache: FeatureCache,
    paths: list[Path],
    views_of: list[list[int]],
    sampling: SamplingConfig,
    *,
    progress: bool = True,
) -> list[np.ndarray]:
    """``(len(views), frames, ...)`` frozen-part outputs of every clip, from the cache or
    computed (view 0: evaluation sampling; view k >= 1: augmented, seeded by the clip)."""
    model.eval()

    @torch.no_grad()
    def compute(video: Path, vh: str, views: list[int]) -> np.ndarray:
        clips = [
            sample_clip(video, sampling)
            if v == 0
            else sample_clip(
                video, sampling, train=True, rng=np.random.default_rng(view_seed(vh, v))
            )
            for v in views
        ]
        x = torch.from_numpy(np.stack(clips))
        parts = [model.frozen_part(x[i : i + CLIP_BATCH]) for i in range(0, len(x), CLIP_BATCH)]
        return torch.cat(parts).numpy()

    out = []
    with _progress(progress) as bar:
        task = bar.add_task("backbone features", total=len(paths))
        for p, views in zip(paths, views_of, strict=True):
            out.append(cache.get(Path(p), views, compute))
            bar.advance(task)
    return out


def cache_settings(model: CnnLstm, sampling: SamplingConfig, weights_sha256: str) -> dict:
    """What the cached outputs depend on besides the clip and the view."""
    return {
        "sampling": sampling.to_dict(),
        "backbone": NAME,
        "weights_sha256": weights_sha256,
        "normalization": model.input.normalization(),
        "frozen_blocks": model.split,
    }


# ----------------------------------------------------------------------------------------------
# Training.


def _clip_lengths(paths: list[Path], seed: int, limit: int = 200) -> dict:
    """Frame counts of (up to ``limit`` of) the training videos: what a clip looks like to the
    model (the bundle's default window when it segments long videos)."""
    rng = np.random.default_rng(seed)
    chosen = (
        paths
        if len(paths) <= limit
        else [paths[i] for i in rng.choice(len(paths), limit, replace=False)]
    )
    counts = [count_frames(p) for p in chosen]
    rates = [r for r in (_fps(p) for p in chosen) if r]
    return {
        "min": int(min(counts)),
        "median": float(np.median(counts)),
        "max": int(max(counts)),
        "counted": len(counts),
        "fps": round(float(np.median(rates)), 3) if len(rates) * 2 >= len(chosen) else None,
    }


def _fps(path: Path) -> float | None:
    """A video's frame rate from its header (None for frame-image folders)."""
    if not is_video_file(path):
        return None
    try:
        return probe(path).fps or None
    except DataError:
        return None


def train_frames(
    ds, out: Path | str, cfg: TrainConfig | None = None, fcfg: FramesConfig | None = None
) -> TrainResult:
    """Split the video dataset ``ds``, train ``cfg.model`` (an RGB model), evaluate on the
    held-out split, write the bundle to ``out``."""
    cfg = cfg or TrainConfig(model="cnn-lstm")
    fcfg = fcfg or FramesConfig()
    out = Path(out)
    t_start = time.perf_counter()
    ds.check_trainable()
    info = get_model_info(cfg.model)
    if info.input_kind != "frames":
        raise DataError(
            f"model {cfg.model!r} takes {info.input_kind}; RGB models: "
            "cnn-lstm, c3d-lstm-gru, r2plus1d"
        )
    cfg, spec = _resolve_split(cfg, ds)
    if spec.kind == "kfold":
        raise DataError(
            "kfold cross-validation is not available for RGB models (one model per fold is too "
            "slow on a CPU); use --split stratified, contiguous, group or manifest"
        )
    sampling = sampling_for(info, fcfg)
    train_idx, val_idx, test_idx = holdout_split(ds, spec, cfg)

    _quiet_lightning()
    # the frozen backbone stays in eval mode on purpose (its ImageNet batch-norm statistics)
    warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode.*")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_num_threads(cfg.threads or auto_threads())
    optim = _optim_for(info, cfg)
    n_classes = len(ds.classes)
    labels = ds.labels
    paths = [s.path for s in ds.samples]
    net = info.build(input_dim=3, num_classes=n_classes, window=sampling.frames)

    if not isinstance(net, CnnLstm) and (fcfg.backbone_weights or fcfg.finetune_blocks):
        raise DataError(
            f"--backbone-weights and --finetune-blocks apply to cnn-lstm (a pretrained backbone); "
            f"{info.name} trains from scratch"
        )
    backbone = None
    cached = isinstance(net, CnnLstm) and fcfg.feature_cache
    cache_info = None
    if isinstance(net, CnnLstm):
        weights = load_backbone_weights(net.backbone, fcfg.backbone_weights)
        net.set_finetune(fcfg.finetune_blocks)
        backbone = {**weights.to_dict(), "finetune_blocks": net.finetune_blocks}
        if not fcfg.backbone_weights:
            backbone["path"] = f"{weights.path.split('site-packages/')[-1]}"

    rank0 = _is_rank_zero()
    stage = prepare_staging(out) if rank0 else None
    logs = (stage / "logs") if stage else None
    y_train, y_val, y_test = labels[train_idx], labels[val_idx], labels[test_idx]

    if cached:
        cache_dir = Path(fcfg.cache_dir) if fcfg.cache_dir else out / "features"
        cache = FeatureCache(cache_dir, cache_settings(net, sampling, backbone["sha256"]))
        train_views = list(range(1, fcfg.cache_views + 1))
        t0 = time.perf_counter()
        in_train = set(train_idx.tolist())
        feats = fill_cache(
            net,
            cache,
            paths,
            [train_views if i in in_train else [0] for i in range(len(paths))],
            sampling,
            progress=cfg.progress,
        )
        cache_info = {
            "dir": str(cache_dir),
            "key": cache.key[:16],
            "views": fcfg.cache_views,
            "computed": cache.computed,
            "reused": cache.reused,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        log.info("feature cache: %s", cache_info)
        module_model: nn.Module = FromFrozen(net)
        train_set: Dataset = CachedViews([feats[i] for i in train_idx], y_train, cfg.seed)
        val_set: Dataset = CachedViews([feats[i] for i in val_idx], y_val)
        test_set: Dataset = CachedViews([feats[i] for i in test_idx], y_test)
        val_batch = 256
    else:
        module_model = net
        train_set = SampledClips(
            [paths[i] for i in train_idx], y_train, sampling, train=True, seed=cfg.seed
        )
        val_set = SampledClips([paths[i] for i in val_idx], y_val, sampling, train=False)
        test_set = SampledClips([paths[i] for i in test_idx], y_test, sampling, train=False)
        val_batch = CLIP_BATCH

    fit = fit_loop(
        module_model,
        train_set,
        val_set,
        optim,
        cfg,
        logs,
        seed=cfg.seed,
        class_weights=_class_weights(y_train, n_classes),
        val_batch_size=val_batch,
    )
    test_logits = _logits(fit.model, test_set, val_batch)
    split_text = f"{spec}"
    metrics = classification_metrics(y_test, test_logits.argmax(-1), ds.classes, split_text)
    if not rank0 or stage is None:
        return TrainResult(None, metrics, time.perf_counter() - t_start)
    epochs_run = max(1, fit.epochs)
    metrics["train_seconds"] = round(fit.seconds, 2)
    metrics["epochs"] = fit.epochs
    metrics["best_epoch"] = fit.best_epoch
    metrics["train_clips_per_second"] = round(
        len(train_idx) * epochs_run / max(fit.seconds, 1e-9), 2
    )
    if cache_info is not None:
        metrics["feature_cache_seconds"] = cache_info["seconds"]
    net.eval()
    calibration = calibrate(_logits(fit.model, val_set, val_batch), y_val)
    clips = _clip_lengths([paths[i] for i in train_idx], cfg.seed)
    config = BundleConfig(
        input_kind=InputKind.FRAMES,
        model=ModelEntry(info.name, dict(info.hparams), count_parameters(net)),
        window=max(1, int(round(clips["median"]))),
        fps=clips.pop("fps"),
        sampling=sampling.to_dict(),
        calibration=calibration_entry(calibration),
        groups=groups_entry(ds, train_idx, val_idx, test_idx),
        split=_split_entry(split_text, train_idx, val_idx, test_idx),
        data=ds.summary(),
        train=asdict(cfg),
        optim=asdict(optim),
        extras={
            "input": {
                "clip": "(frames, size, size, 3) uint8 RGB, sampled from the video by `sampling`",
                "normalization": net.input.normalization(),
            },
            "backbone": backbone,
            "clip_frames": clips,
            "feature_cache": cache_info,
            "frames": asdict(fcfg),
        },
        motionscope_version=__version__,
    )
    write_bundle(stage, out, net, config, ds.classes, metrics)
    return TrainResult(out, metrics, time.perf_counter() - t_start)
