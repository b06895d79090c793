"""Per-product trust grade and adjusted rating (docs/web.md states both rules).

A review counts as *suspicious* when the model flagged it and no analyst has marked it not
fraud, or when an analyst confirmed it as fraud.

- **Trust grade** from the share ``s`` of suspicious reviews among the product's reviews:
  A ``s < 2 %``, B ``s < 5 %``, C ``s < 10 %``, D ``s < 20 %``, F ``s >= 20 %``; no reviews: "-".
- **Adjusted rating**: the mean star rating of the reviews that are not suspicious, with a 95 %
  Student-t interval ``mean +- t(0.975, n-1) * sd / sqrt(n)`` clipped to [1, 5] (none for n < 2;
  a zero-width interval when every kept rating is the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

GRADE_THRESHOLDS = (("A", 0.02), ("B", 0.05), ("C", 0.10), ("D", 0.20))


def trust_grade(n_reviews: int, n_suspicious: int) -> str:
    if n_reviews <= 0:
        return "-"
    share = n_suspicious / n_reviews
    for grade, limit in GRADE_THRESHOLDS:
        if share < limit:
            return grade
    return "F"


@lru_cache(maxsize=4096)
def _t975(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


@dataclass(frozen=True)
class AdjustedRating:
    mean: float | None
    low: float | None
    high: float | None
    n: int


def adjusted_rating(n: int, total: float | None, total_sq: float | None) -> AdjustedRating:
    """From the count, sum and sum of squares of the kept ratings."""
    if n <= 0 or total is None:
        return AdjustedRating(None, None, None, 0)
    mean = total / n
    if n < 2:
        return AdjustedRating(mean, None, None, n)
    variance = max((total_sq - total * total / n) / (n - 1), 0.0)
    half = _t975(n - 1) * math.sqrt(variance / n)
    return AdjustedRating(mean, max(1.0, mean - half), min(5.0, mean + half), n)
