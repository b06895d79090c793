"""Numeric helpers every model shares: the logistic function, binary log-loss and row slices,
written once."""

from __future__ import annotations

import numpy as np


def sigmoid(logits) -> np.ndarray:
    """1 / (1 + e^-x) in float64; exp overflows to inf for x < -709, which gives exactly 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def logit(probability, eps: float = 1e-7) -> np.ndarray:
    p = np.clip(np.asarray(probability, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def row_slices(n: int, size: int) -> list[slice]:
    """``[0, size), [size, 2 size), ...`` covering ``n`` rows: how the scoring path walks a
    million-row matrix without copying it whole."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def binary_log_loss(y, probability, eps: float = 1e-7) -> float:
    """Mean negative log-likelihood of 0/1 labels under ``probability``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(probability, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def logit_log_loss(y, logits) -> float:
    """``binary_log_loss`` computed from logits: exact at any margin (no probability clip), which
    matters where log-loss ranks candidates whose confident texts sit beyond the clip."""
    y = np.asarray(y, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.logaddexp(0, logits) - y * logits))
