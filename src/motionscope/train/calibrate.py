"""Confidence calibration on the validation split: temperature scaling and an "unknown" threshold.

Both are fitted after training on the validation split (the slice early stopping watched, never
the test set) and stored in the bundle's ``config.json`` under ``"calibration"``; the
:class:`~motionscope.infer.Recognizer` applies them to every prediction.

**Temperature** (Guo et al. 2017, "On calibration of modern neural networks"): one scalar
``T > 0`` divides the logits before the softmax; the class ranking never changes, only how
confident the probabilities are. ``T`` minimises the mean negative log-likelihood of the
validation labels plus a weak log-normal prior on ``T`` (``(log T)^2 / (2 n)``, i.e. a standard
normal on ``log T`` for ``n`` samples) that keeps ``T`` finite when the validation set is
perfectly separated (the bare NLL would then push ``T`` to 0 and every probability to 1). The
NLL is convex in ``1/T``, hence unimodal in ``log T``: a golden-section search on ``log T`` in
``[1/20, 20]`` finds the minimum.

**Unknown threshold** (the rule), on calibrated top probabilities of the validation samples:

- ``known``: the ``1 - keep`` quantile (``keep`` = 0.95) over the *correctly classified*
  samples, i.e. the highest threshold that still keeps 95% of the correct predictions;
- ``stand-in unknown``: the ``keep`` quantile of the top probability each sample gets once its
  true class is removed from the softmax: how sure the model is of *another* class, a stand-in
  for an action it never saw (no unknown data exists at training time);
- threshold = the midpoint of the two in log-odds, ``sigmoid((logit(known) +
  logit(stand-in)) / 2)``, and never above ``known`` (with two classes, or when the two overlap,
  it is ``known``).

Anything less confident is reported as ``"unknown"``. No correct validation prediction means no
threshold (``None``). Why the midpoint: validation clips come from the training distribution, so
with a near-perfect model their 5% quantile sits at 0.98-0.99, and in ``bench/segment.py`` such a
threshold called 30% of the frames of *known* actions in long videos unknown (windows there are
slightly off the training distribution); the midpoint (about 0.9 there) called 1% of them
unknown while still catching most of an unseen action (docs/BENCHMARKS.md, "Unknown actions").
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

METHOD = "temperature scaling (validation NLL, log-normal prior), golden-section search on log T"
T_MIN, T_MAX = 0.05, 20.0
KEEP = 0.95  # share of correct validation predictions the unknown threshold keeps


def _log_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    logits, labels = _check(logits, labels)
    if len(labels) == 0:
        return float("nan")
    lp = _log_softmax(logits, temperature)
    return float(-lp[np.arange(len(labels)), labels].mean())


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: mean |accuracy - confidence| over equal-width confidence bins,
    weighted by the share of samples in each bin."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(
            f"calibration needs logits (N, classes) and N labels, got {logits.shape} and "
            f"{labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must be class indices 0..{logits.shape[1] - 1}")
    return logits, labels


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, prior: bool = True) -> float:
    """The temperature minimising the validation NLL (see the module docstring); 1.0 for no data."""
    logits, labels = _check(logits, labels)
    n = len(labels)
    if n == 0:
        return 1.0

    def objective(log_t: float) -> float:
        value = nll(logits, labels, math.exp(log_t))
        return value + (log_t * log_t / (2.0 * n) if prior else 0.0)

    lo, hi = math.log(T_MIN), math.log(T_MAX)
    # coarse grid first (guards against flat stretches), then golden section around the best
    grid = np.linspace(lo, hi, 41)
    values = [objective(float(g)) for g in grid]
    i = int(np.argmin(values))
    a, b = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = objective(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = objective(d)
        if b - a < 1e-6:
            break
    return float(math.exp((a + b) / 2.0))


def unknown_threshold(probs: np.ndarray, labels: np.ndarray, keep: float = KEEP) -> float | None:
    """The highest top-probability threshold that keeps ``keep`` of the correctly classified
    samples (the ``1 - keep`` quantile of their top probability); ``None`` if none is correct."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    correct = probs.argmax(axis=1) == labels
    if not correct.any():
        return None
    top = np.sort(probs.max(axis=1)[correct])
    # at most floor((1 - keep) * n) correct samples may fall below the threshold
    k = int(math.floor((1.0 - keep) * len(top) + 1e-9))
    return float(top[k])


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    return np.exp(_log_softmax(logits, temperature))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return math.log(p / (1.0 - p))


def stand_in_unknown(logits: np.ndarray, labels: np.ndarray, temperature: float) -> np.ndarray:
    """Top probability of every sample under the softmax without its true class ``(N,)``: how
    sure the model is of another class (1.0 with two classes)."""
    logits, labels = _check(logits, labels)
    masked = logits.copy()
    masked[np.arange(len(labels)), labels] = -np.inf
    if logits.shape[1] < 2:
        return np.ones(len(labels))
    return np.exp(_log_softmax(masked, temperature)).max(axis=1)


def threshold_rule(
    logits: np.ndarray, labels: np.ndarray, temperature: float, keep: float = KEEP
) -> dict:
    """The unknown threshold of the module docstring, with both of its parts."""
    logits, labels = _check(logits, labels)
    known = unknown_threshold(_softmax(logits, temperature), labels, keep) if len(labels) else None
    if known is None:
        return {"threshold": None, "known": None, "stand_in_unknown": None}
    other = float(np.quantile(stand_in_unknown(logits, labels, temperature), keep))
    mid = 1.0 / (1.0 + math.exp(-(_logit(known) + _logit(other)) / 2.0))
    return {"threshold": min(known, mid), "known": known, "stand_in_unknown": other}


def calibrate(logits_val: np.ndarray, y_val: np.ndarray, *, keep: float = KEEP) -> dict:
    """Fit the temperature and the unknown threshold on validation logits ``(N, classes)`` and
    labels ``(N,)``. Returns the ``"calibration"`` entry of a bundle's ``config.json``."""
    logits, labels = _check(logits_val, y_val)
    t = fit_temperature(logits, labels)
    probs = _softmax(logits, t) if len(labels) else np.zeros((0, logits.shape[1]))
    rule = threshold_rule(logits, labels, t, keep)
    raw = _softmax(logits, 1.0) if len(labels) else probs
    rule1 = threshold_rule(logits, labels, 1.0, keep)

    def r6(v: float | None) -> float | None:
        return None if v is None else round(v, 6)

    return {
        "temperature": round(t, 6),
        "unknown_threshold": r6(rule["threshold"]),
        "method": METHOD,
        "threshold_rule": (
            f"log-odds midpoint of the {1 - keep:.2f} quantile of the calibrated top probability "
            f"over correctly classified validation samples (keeps {keep:.0%} of them) and the "
            f"{keep:.2f} quantile of the top probability without the true class (a stand-in "
            "for an unseen action), at most the former"
        ),
        "keep": keep,
        "unknown_threshold_known_quantile": r6(rule["known"]),
        "unknown_threshold_stand_in_quantile": r6(rule["stand_in_unknown"]),
        # the same rule on the uncalibrated probabilities (T = 1), for comparison
        "unknown_threshold_uncalibrated": r6(rule1["threshold"]),
        "n_val": int(len(labels)),
        "val_accuracy": (
            round(float((logits.argmax(1) == labels).mean()), 6) if len(labels) else None
        ),
        "val_nll_before": round(nll(logits, labels, 1.0), 6) if len(labels) else None,
        "val_nll_after": round(nll(logits, labels, t), 6) if len(labels) else None,
        "val_ece_before": round(ece(raw, labels), 6) if len(labels) else None,
        "val_ece_after": round(ece(probs, labels), 6) if len(labels) else None,
    }


@torch.no_grad()
def model_logits(model: nn.Module, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits ``(N, classes)`` of a module in eval mode for preprocessed inputs ``(N, ...)``."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(inputs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch_size]))
            out.append(model(x).float().numpy())
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)
