"""``train``: dataset in, self-describing bundle out (see ``bundle.py``)."""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader

from motionscope import __version__
from motionscope.bundle import (
    REPORT,
    BundleConfig,
    Calibration,
    ModelEntry,
    prepare_staging,
    publish,
    save_weights,
    write_files,
)
from motionscope.data.dataset import KeypointDataset
from motionscope.data.fps import dataset_fps
from motionscope.data.sizecheck import check_data_size
from motionscope.data.splits import SplitSpec, cv_folds, split_dataset, validation_split
from motionscope.errors import DataError
from motionscope.evaluate.metrics import classification_metrics, summarize_folds
from motionscope.evaluate.plots import plot_confusion_matrix, plot_curves, read_epoch_log
from motionscope.evaluate.report import write_report
from motionscope.keypoints.augment import AugmentConfig
from motionscope.keypoints.features import FeatureConfig
from motionscope.keypoints.preprocess import Preprocessor
from motionscope.kinds import InputKind
from motionscope.models.classifier import Classifier, predict_proba
from motionscope.models.registry import ModelInfo, count_parameters, get_model_info
from motionscope.train.calibrate import calibrate, model_logits
from motionscope.train.config import OptimConfig, TrainConfig, auto_threads
from motionscope.train.data import AugmentedSequences, FixedInputs
from motionscope.train.module import ActionModule, BestWeights
from motionscope.train.stopping import PERFECT_PATIENCE, PerfectValidation

log = logging.getLogger(__name__)


class _ProgressBar(RichProgressBar):
    """Rich epoch bar without Lightning's logger version number; ``label`` (e.g. "fold 2/5")
    goes before the epoch."""

    def __init__(self, *args, label: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label = label

    def _get_train_description(self, current_epoch: int) -> str:
        text = super()._get_train_description(current_epoch)
        return f"{self.label}: {text}" if self.label else text

    def get_metrics(self, trainer, pl_module):  # noqa: D102
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


@dataclass
class FitResult:
    model: Classifier
    epochs: int
    best_epoch: int
    seconds: float
    log_dir: Path | None


@dataclass
class TrainResult:
    bundle: Path | None  # None on non-zero DDP ranks
    metrics: dict
    seconds: float


def _quiet_lightning() -> None:
    """Lightning logs device banners and tips at INFO on every fit; keep the terminal clean."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*number of training batches.*")


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def _typed(cls, settings: dict, what: str):
    """Build a config dataclass, turning unknown field names into a clear error."""
    try:
        return cls(**settings)
    except (TypeError, ValueError) as e:
        raise DataError(f"bad {what} settings {settings}: {e}") from e


def _features_for(info: ModelInfo, cfg: TrainConfig) -> FeatureConfig:
    merged = {**info.features, **cfg.features}
    if isinstance(info.features.get("normalize"), dict) and "normalize" in cfg.features:
        merged["normalize"] = {**info.features["normalize"], **cfg.features["normalize"]}
    return _typed(FeatureConfig, merged, "features")


def _optim_for(info: ModelInfo, cfg: TrainConfig) -> OptimConfig:
    optim = _typed(OptimConfig, {**info.optim, **cfg.optim}, "optim")
    if cfg.epochs is not None:
        optim = replace(optim, max_epochs=cfg.epochs)
    if cfg.lr is not None:
        optim = replace(optim, lr=cfg.lr)
    if cfg.batch_size is not None:
        optim = replace(optim, batch_size=cfg.batch_size)
    return optim


def _augment_for(info: ModelInfo, cfg: TrainConfig) -> AugmentConfig:
    aug = _typed(AugmentConfig, {**info.augment, **cfg.augmentation}, "augmentation")
    if cfg.augment is not None:
        aug = replace(aug, enabled=cfg.augment)
    return aug


def _class_weights(labels: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0)
    return torch.tensor(w, dtype=torch.float32)


def fit_model(
    info: ModelInfo,
    pre: Preprocessor,
    train: KeypointDataset,
    val: KeypointDataset,
    cfg: TrainConfig,
    log_dir: Path | None,
    *,
    seed: int,
    stage: str = "",
    callbacks: Sequence[L.Callback] = (),
) -> FitResult:
    """Train one model on ``train``, early-stopping on ``val``; returns the best weights
    (``stage``, e.g. "fold 2/5", labels the progress bar; ``callbacks`` are extra Lightning
    callbacks, e.g. progress reporting)."""
    _quiet_lightning()
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(cfg.threads or auto_threads())
    info = info.for_layout(pre.layout)
    optim = _optim_for(info, cfg)
    aug = _augment_for(info, cfg)
    n_classes = len(train.classes)
    y_train, y_val = train.labels, val.labels
    seqs = [s.data for s in train.samples]
    net = info.build(input_dim=pre.input_dim, num_classes=n_classes, window=pre.window)
    model = Classifier(net, pre.input_dim)
    fixed_train = pre.batch(seqs)
    if info.standardize:
        flat = fixed_train.reshape(-1, fixed_train.shape[-1])
        model.set_input_stats(flat.mean(0), flat.std(0))
    train_set = (
        AugmentedSequences(seqs, y_train, pre, aug, seed)
        if aug.enabled
        else FixedInputs(fixed_train, y_train)
    )
    val_set = FixedInputs(pre.batch([s.data for s in val.samples]), y_val)
    return fit_loop(
        model,
        train_set,
        val_set,
        optim,
        cfg,
        log_dir,
        seed=seed,
        class_weights=_class_weights(y_train, n_classes),
        stage=stage,
        callbacks=callbacks,
    )


def fit_loop(
    model: torch.nn.Module,
    train_set: torch.utils.data.Dataset,
    val_set: torch.utils.data.Dataset,
    optim: OptimConfig,
    cfg: TrainConfig,
    log_dir: Path | None,
    *,
    seed: int,
    class_weights: torch.Tensor,
    val_batch_size: int = 256,
    stage: str = "",
    callbacks: Sequence[L.Callback] = (),
) -> FitResult:
    """The Lightning loop every input kind shares: shuffled batches, early stopping on the
    validation loss with patience counted in updates, best weights restored, CSV and TensorBoard
    logs in ``log_dir``, ``cfg``'s devices/strategy/precision. Returns ``model`` trained."""
    gen = torch.Generator().manual_seed(seed)
    bs = min(optim.batch_size, len(train_set))
    train_loader = DataLoader(train_set, batch_size=bs, shuffle=True, generator=gen)
    val_loader = DataLoader(val_set, batch_size=val_batch_size)
    updates_per_epoch = max(1, math.ceil(len(train_set) / bs / max(1, cfg.devices)))
    patience = max(3, math.ceil(optim.patience_updates / updates_per_epoch))
    best = BestWeights()
    rules: list[L.Callback] = [
        best,
        EarlyStopping(monitor="val_loss", patience=patience, mode="min"),
        # the same patience as the loss rule: stopping 10 epochs after validation first turned
        # perfect cost kpnet trained on one mp-signers person 0.21 of its accuracy on other
        # people (p01 -> 19 people: 0.907 -> 0.697, bench/people.py); validation from the same
        # person is perfect long before the model has learnt what carries over
        PerfectValidation(patience=max(PERFECT_PATIENCE, patience)),
    ]
    rules += list(callbacks)  # the caller's (progress reports, cancellation)
    if cfg.progress:
        rules.append(_ProgressBar(leave=False, label=stage))
    loggers = []
    if log_dir is not None:
        loggers = [
            CSVLogger(str(log_dir.parent), name=log_dir.name, version=""),
            TensorBoardLogger(str(log_dir.parent), name=log_dir.name, version="tensorboard"),
        ]
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=cfg.precision,
        max_epochs=optim.max_epochs,
        gradient_clip_val=optim.grad_clip or None,
        callbacks=rules,
        logger=loggers or False,
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        deterministic=True,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    module = ActionModule(model, optim, class_weights)
    t0 = time.perf_counter()
    trainer.fit(module, train_loader, val_loader)
    seconds = time.perf_counter() - t0
    model = module.model
    model.eval()
    return FitResult(model, trainer.current_epoch, best.best_epoch, seconds, log_dir)


def _window_for(ds: KeypointDataset, cfg: TrainConfig) -> int:
    if cfg.window is not None:
        if cfg.window < 1:
            raise DataError(f"--window must be at least 1 frame, got {cfg.window}")
        return cfg.window
    return max(2, int(np.median([s.data.shape[0] for s in ds.samples])))


def _evaluate(model: Classifier, pre: Preprocessor, test: KeypointDataset, split: str) -> dict:
    probs = predict_proba(model, pre.batch([s.data for s in test.samples]))
    groups = [s.group for s in test.samples]
    m = classification_metrics(test.labels, probs.argmax(-1), test.classes, split, groups)
    if "per_group" in m:
        m["test_groups"] = sorted(m["per_group"])
    return m


def holdout_split(
    ds, spec: SplitSpec, cfg: TrainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train / validation / test indices of ``ds`` (a keypoint or video dataset) for a non-kfold
    split strategy; a clear error when a part would be empty."""
    train_idx, test_idx = split_dataset(
        ds, spec, test_fraction=cfg.test_fraction, seed=cfg.seed, test_groups=cfg.test_groups
    )
    train_idx, val_idx = validation_split(ds, train_idx, spec, cfg.val_fraction, cfg.seed)
    parts = {"train": train_idx, "validation": val_idx, "test": test_idx}
    check_data_size(ds.labels, ds.classes, parts, force=cfg.force)
    if len(train_idx) == 0 or len(val_idx) == 0 or len(test_idx) == 0:
        raise DataError(
            f"not enough sequences to split {len(ds)} into train/val/test "
            f"({len(train_idx)}/{len(val_idx)}/{len(test_idx)}); record more data"
        )
    return train_idx, val_idx, test_idx


def _resolve_split(cfg: TrainConfig, ds) -> tuple[TrainConfig, SplitSpec]:
    """``cfg`` with its split strategy filled in when unset (``manifest`` when the samples carry
    fixed splits, else ``stratified``), and that strategy parsed."""
    if not cfg.split:
        cfg = replace(cfg, split="manifest" if any(s.split for s in ds.samples) else "stratified")
    return cfg, SplitSpec.parse(cfg.split)


def _split_entry(strategy: str, train_idx, val_idx, test_idx) -> dict:
    """The bundle config's ``split`` entry: the strategy and the size of each part."""
    return {
        "strategy": strategy,
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "n_test": len(test_idx),
    }


def train(
    ds: KeypointDataset,
    out: Path | str,
    cfg: TrainConfig | None = None,
    *,
    callbacks: Sequence[L.Callback] = (),
) -> TrainResult:
    """Split ``ds``, train ``cfg.model``, evaluate on the held-out split, write the bundle
    (``callbacks``: extra Lightning callbacks for every fit, e.g. progress reporting)."""
    cfg = cfg or TrainConfig()
    out = Path(out)
    t_start = time.perf_counter()
    ds.check_trainable()
    info = get_model_info(cfg.model)
    if info.input_kind != "keypoints":
        raise DataError(f"model {cfg.model!r} takes {info.input_kind}, not keypoint sequences")
    info = info.for_layout(ds.layout)
    cfg, spec = _resolve_split(cfg, ds)
    if spec.is_cv and cfg.devices > 1:
        raise DataError(f"{spec} cross-validation runs on one device; drop --devices or the {spec}")
    pre = Preprocessor(ds.layout, _window_for(ds, cfg), _features_for(info, cfg))
    rank0 = _is_rank_zero()
    stage = prepare_staging(out) if rank0 else None
    logs = (stage / "logs") if stage else None
    split_text = f"{spec}"
    cv = None
    if spec.is_cv:
        folds = cv_folds(ds, spec, cfg.seed)
        fold_metrics, oof_true, oof_pred, oof_groups = [], [], [], []
        for i, (tr, te) in enumerate(folds):
            tr, va = validation_split(ds, tr, spec, cfg.val_fraction, cfg.seed + i)
            fit = fit_model(
                info,
                pre,
                ds.subset(tr),
                ds.subset(va),
                cfg,
                logs / f"fold{i}" if logs else None,
                seed=cfg.seed + i,
                stage=f"fold {i + 1}/{len(folds)}",
                callbacks=callbacks,
            )
            m = _evaluate(fit.model, pre, ds.subset(te), f"{spec} fold {i}")
            m["train_seconds"] = round(fit.seconds, 2)
            fold_metrics.append(m)
            probs = predict_proba(fit.model, pre.batch([ds.samples[j].data for j in te]))
            oof_true.append(ds.labels[te])
            oof_pred.append(probs.argmax(-1))
            oof_groups.extend(ds.samples[j].group for j in te)
            log.info("fold %d: accuracy %.3f", i, m["accuracy"])
        cv = summarize_folds(fold_metrics)
        tr, va = validation_split(ds, np.arange(len(ds)), spec, cfg.val_fraction, cfg.seed)
        fit = fit_model(
            info,
            pre,
            ds.subset(tr),
            ds.subset(va),
            cfg,
            logs,
            seed=cfg.seed,
            stage="final model",
            callbacks=callbacks,
        )
        metrics = classification_metrics(
            np.concatenate(oof_true),
            np.concatenate(oof_pred),
            ds.classes,
            f"{spec} (out-of-fold predictions of {len(folds)} models, seed {cfg.seed})",
            oof_groups,
        )
        metrics["cv"] = cv
        train_idx, test_idx, val_idx = tr, np.array([], dtype=np.int64), va
    else:
        train_idx, val_idx, test_idx = holdout_split(ds, spec, cfg)
        fit = fit_model(
            info,
            pre,
            ds.subset(train_idx),
            ds.subset(val_idx),
            cfg,
            logs,
            seed=cfg.seed,
            callbacks=callbacks,
        )
        metrics = _evaluate(fit.model, pre, ds.subset(test_idx), split_text)
    if not rank0 or stage is None:
        return TrainResult(None, metrics, time.perf_counter() - t_start)
    metrics["train_seconds"] = round(fit.seconds, 2)
    metrics["epochs"] = fit.epochs
    metrics["best_epoch"] = fit.best_epoch
    n_params = count_parameters(fit.model.net)
    val_inputs = pre.batch([ds.samples[i].data for i in val_idx])
    calibration = calibrate(model_logits(fit.model, val_inputs), ds.labels[val_idx])
    config = BundleConfig(
        input_kind=InputKind.KEYPOINTS,
        model=ModelEntry(info.name, dict(info.hparams), n_params),
        window=pre.window,
        fps=dataset_fps(s.source for s in ds.samples),
        preprocessing=pre.to_dict(),
        standardize=info.standardize,
        calibration=calibration_entry(calibration),
        groups=groups_entry(ds, train_idx, val_idx, test_idx),
        split=_split_entry(split_text, train_idx, val_idx, test_idx),
        data=ds.summary(),
        train=asdict(cfg),
        optim=asdict(_optim_for(info, cfg)),
        augment=asdict(_augment_for(info, cfg)),
        motionscope_version=__version__,
    )
    write_bundle(stage, out, fit.model, config, ds.classes, metrics)
    return TrainResult(out, metrics, time.perf_counter() - t_start)


def calibration_entry(fitted: dict) -> Calibration:
    """The bundle's :class:`Calibration` from what :func:`calibrate` fitted."""
    details = {k: v for k, v in fitted.items() if k not in ("temperature", "unknown_threshold")}
    return Calibration(
        temperature=float(fitted.get("temperature") or 1.0),
        unknown_threshold=float(fitted.get("unknown_threshold") or 0.0),
        details=details,
    )


def groups_entry(ds, train_idx, val_idx, test_idx) -> dict[str, list[str]]:
    """Which groups (people, sessions) each part of the split holds; empty without groups."""
    groups = [getattr(s, "group", None) for s in ds.samples]
    if not any(g is not None for g in groups):
        return {}

    def names(idx) -> list[str]:
        return sorted({str(groups[i]) for i in idx if groups[i] is not None})

    return {"train": names(train_idx), "val": names(val_idx), "test": names(test_idx)}


def write_bundle(
    stage: Path,
    out: Path,
    model: torch.nn.Module,
    config: BundleConfig,
    classes: list[str],
    metrics: dict,
) -> Path:
    """Weights, config, classes, metrics and ``report/`` (curves from ``stage/logs``, confusion
    matrix, report.md) into the staging directory, then publish it as ``out``."""
    name = config.model.name
    save_weights(stage, model)
    write_files(stage, config, classes, metrics)
    report = stage / REPORT
    plot_curves(
        read_epoch_log(stage / "logs" / "metrics.csv"),
        report / "curves.png",
        f"{name}: training curves",
    )
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        classes,
        report / "confusion_matrix.png",
        f"{name} — {metrics['split']}"[:80],
    )
    write_report(report / "report.md", config.to_dict(), classes, metrics)
    return publish(stage, out)
