"""The Lightning module: loss with class weights and label smoothing, per-epoch metrics."""

from __future__ import annotations

import copy

import lightning as L
import torch
from torch import nn

from motionscope.train.config import OptimConfig


class ActionModule(L.LightningModule):
    def __init__(self, model: nn.Module, optim: OptimConfig, class_weights: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.optim = optim
        self.register_buffer("class_weights", class_weights.float())
        self.loss = nn.CrossEntropyLoss(
            weight=self.class_weights if optim.class_weighting else None,
            label_smoothing=optim.label_smoothing,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        if stage == "train" and self.optim.mixup > 0 and len(y) > 1:
            lam = float(torch.distributions.Beta(self.optim.mixup, self.optim.mixup).sample())
            lam = max(lam, 1.0 - lam)  # the first sample dominates: its label stays the "true" one
            perm = torch.randperm(len(y), device=x.device)
            logits = self.model(lam * x + (1.0 - lam) * x[perm])
            loss = lam * self.loss(logits, y) + (1.0 - lam) * self.loss(logits, y[perm])
        else:
            logits = self.model(x)
            loss = self.loss(logits, y)
        acc = (logits.argmax(-1) == y).float().mean()
        on_step = stage == "train"
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=not on_step,
            batch_size=len(y),
            sync_dist=True,
        )
        self.log(
            f"{stage}_acc",
            acc,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(y),
            sync_dist=True,
        )
        return loss

    def training_step(self, batch, batch_idx):  # noqa: D102
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):  # noqa: D102
        self._step(batch, "val")

    def configure_optimizers(self):  # noqa: D102
        params = self.model.parameters()
        o = self.optim
        if o.optimizer == "adam":
            return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        if o.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        raise ValueError(f"unknown optimizer {o.optimizer!r}; use adam or adamw")


class BestWeights(L.Callback):
    """Keep the weights with the lowest validation loss in memory; restore them at the end.

    Also advances the augmentation epoch counter of the training set.
    """

    def __init__(self) -> None:
        self.best_loss = float("inf")
        self.best_state: dict | None = None
        self.best_epoch = -1

    def on_train_epoch_start(self, trainer, pl_module) -> None:  # noqa: D102
        ds = trainer.train_dataloader.dataset if trainer.train_dataloader else None
        if ds is not None and hasattr(ds, "epoch"):
            ds.epoch = trainer.current_epoch

    def on_validation_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.sanity_checking:
            return
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and float(loss) < self.best_loss:
            self.best_loss = float(loss)
            self.best_epoch = trainer.current_epoch
            self.best_state = copy.deepcopy(pl_module.model.state_dict())

    def on_fit_end(self, trainer, pl_module) -> None:  # noqa: D102
        if self.best_state is not None:
            pl_module.model.load_state_dict(self.best_state)
