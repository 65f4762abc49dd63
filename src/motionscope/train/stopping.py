"""Stopping once validation cannot get better: perfect accuracy that has stopped paying off.

Early stopping on the validation loss alone (``EarlyStopping(monitor="val_loss")``) keeps a run
going for its whole budget when validation is already perfect: the loss creeps down by tiny
amounts for hundreds of epochs without changing a single prediction. :class:`PerfectValidation`
stops when validation accuracy has been 1.0 for ``patience`` epochs in a row and the validation
loss has not improved by more than ``min_rel_delta`` (relative) over those epochs.
"""

from __future__ import annotations

import lightning as L

PERFECT_PATIENCE = 10  # epochs of perfect validation accuracy before stopping may happen
MIN_REL_DELTA = 0.2  # the loss must fall by more than this fraction over them to go on


class PerfectValidation(L.Callback):
    """Stop training when validation has been perfect (see the module docstring)."""

    def __init__(self, patience: int = PERFECT_PATIENCE, min_rel_delta: float = MIN_REL_DELTA):
        self.patience = max(1, int(patience))
        self.min_rel_delta = float(min_rel_delta)
        self.losses: list[float] = []  # val_loss of the current run of perfect epochs
        self.stopped_epoch: int | None = None

    def on_validation_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.sanity_checking:
            return
        acc = trainer.callback_metrics.get("val_acc")
        loss = trainer.callback_metrics.get("val_loss")
        if acc is None or loss is None or float(acc) < 1.0:
            self.losses = []
            return
        self.losses.append(float(loss))
        if len(self.losses) <= self.patience:
            return
        before, now = self.losses[-self.patience - 1], min(self.losses[-self.patience :])
        if now >= before * (1.0 - self.min_rel_delta):
            self.stopped_epoch = trainer.current_epoch
            trainer.should_stop = True
