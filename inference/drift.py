"""Drift of a run's score distributions against an earlier run's: PSI and the two-sample KS
statistic per scored entity.

A model that is unchanged but scores a shifted population (a new fraud wave, a broken upstream
feed) shows up here before anyone has labels for the new run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.inference.run_summary import read_scores
from fraudlens.output_contract import ENTITY_ID, SCORE_COLUMN, SCORE_FILES

PSI_BINS = 10


def population_stability_index(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of ``actual`` against ``expected`` on the expected distribution's quantile bins.

    Quantile bins (not fixed-width) because fraud scores pile up near zero: fixed bins would put
    most of the mass in one bin and hide shifts. Empty bins get a small floor so the log is finite.
    """
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    expected, actual = expected[np.isfinite(expected)], actual[np.isfinite(actual)]
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a = np.sort(np.asarray(a, dtype=float)[np.isfinite(a)])
    b = np.sort(np.asarray(b, dtype=float)[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(gap)))


def psi_verdict(psi: float) -> str:
    # The usual credit-risk reading of PSI; a rule of thumb, not a test.
    if not np.isfinite(psi):
        return "n/a"
    return "stable" if psi < 0.1 else ("moderate shift" if psi < 0.25 else "major shift")


@dataclass(frozen=True)
class ScoreDrift:
    """One entity's scores in this run against the earlier run's; ``previous`` is None when the
    earlier run has no scores for the entity, and psi/ks are then NaN."""
    entity: str
    current: np.ndarray
    previous: np.ndarray | None
    psi: float = float("nan")
    ks: float = float("nan")

    @property
    def verdict(self) -> str:
        return psi_verdict(self.psi)


def score_drift(scores: dict[str, pd.DataFrame], previous_dir: Path) -> list[ScoreDrift]:
    """Drift per entity of ``scores`` (entity -> score frame) against the run in ``previous_dir``."""
    drifts = []
    for entity, frame in scores.items():
        now = frame[SCORE_COLUMN].to_numpy(dtype=float)
        before = read_scores(Path(previous_dir) / SCORE_FILES[entity], ENTITY_ID[entity])
        if before is None:
            drifts.append(ScoreDrift(entity, now, None))
            continue
        then = before[SCORE_COLUMN].to_numpy(dtype=float)
        drifts.append(ScoreDrift(entity, now, then, population_stability_index(then, now), ks_statistic(then, now)))
    return drifts
