"""Bring a sequence of any length to the model's window length."""

from __future__ import annotations

import numpy as np


def fit_length(x: np.ndarray, window: int) -> np.ndarray:
    """Resample ``(T, D)`` to ``(window, D)`` by nearest frame in time.

    Nearest-frame (not linear) resampling keeps "missing" blocks all-zero: interpolating between a
    detected frame and an undetected one would invent half-way landmarks.
    """
    t = x.shape[0]
    if t == window:
        return x
    idx = np.rint(np.linspace(0, t - 1, window)).astype(np.int64)
    return x[idx]
