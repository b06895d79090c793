"""Ranking metrics with their uncertainty, shared by training (model card) and promotion.

Intervals are percentile bootstraps over the labelled rows; a resample with a single class
is drawn again (AUROC and AUPRC are undefined on it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from fraudlens.config import ScoringConfig

METRICS = ("auroc", "auprc", "recall_at_budget")


@dataclass
class MetricComparison:
    champion: float
    challenger: float
    difference: float
    low: float
    high: float


def flagged_mask(scores: np.ndarray, scoring: ScoringConfig) -> np.ndarray:
    """The nightly decision rule on these rows: threshold and/or top-n budget (docs/outputs.md)."""
    flag = np.ones(len(scores), bool) if scoring.threshold is None else scores >= scoring.threshold
    if scoring.top_n is not None and len(scores) > scoring.top_n:
        order = np.argsort(-scores, kind="stable")
        within = np.zeros(len(scores), bool)
        within[order[: scoring.top_n]] = True
        flag &= within
    return flag


def metric_values(y: np.ndarray, scores: np.ndarray, scoring: ScoringConfig) -> dict[str, float]:
    positives = y == 1
    return {"auroc": float(roc_auc_score(y, scores)), "auprc": float(average_precision_score(y, scores)),
            "recall_at_budget": float(flagged_mask(scores, scoring)[positives].mean())}


def paired_bootstrap(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, scoring: ScoringConfig,
                     resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, MetricComparison]:
    """Each metric for both models, and the percentile interval of challenger - champion over
    ``resamples`` paired resamples (resamples with a single class are drawn again)."""
    rng = np.random.default_rng(seed)
    base_a, base_b = metric_values(y, champion, scoring), metric_values(y, challenger, scoring)
    differences = {name: [] for name in METRICS}
    while len(differences["auprc"]) < resamples:
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        a, b = metric_values(y[rows], champion[rows], scoring), metric_values(y[rows], challenger[rows], scoring)
        for name in METRICS:
            differences[name].append(b[name] - a[name])
    tail = (1 - level) / 2 * 100
    return {name: MetricComparison(base_a[name], base_b[name], base_b[name] - base_a[name],
                                   float(np.percentile(differences[name], tail)),
                                   float(np.percentile(differences[name], 100 - tail)))
            for name in METRICS}




def bootstrap_intervals(y: np.ndarray, scores: np.ndarray, resamples: int = 500, seed: int = 0,
                        level: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """{"auroc"|"auprc": (value, low, high)} for one model's scores."""
    rng = np.random.default_rng(seed)
    values = {"auroc": [], "auprc": []}
    while len(values["auroc"]) < resamples:
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        values["auroc"].append(roc_auc_score(y[rows], scores[rows]))
        values["auprc"].append(average_precision_score(y[rows], scores[rows]))
    tail = (1 - level) / 2 * 100
    point = {"auroc": roc_auc_score(y, scores), "auprc": average_precision_score(y, scores)}
    return {name: (float(point[name]), float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)))
            for name, v in values.items()}
