"""Scores against ground truth (synthetic marketplaces carry it in truth/truth.parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from fraudlens.output_contract import SCORE_FILES


def evaluate_scores(score_dir: Path, truth: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for node_type, filename in SCORE_FILES.items():
        path = Path(score_dir) / filename
        if not path.exists():
            continue
        scores = pd.read_parquet(path)
        known = truth[truth["entity_type"] == node_type].set_index("entity_id")["is_fraud"]
        y = scores[f"{node_type}_id"].map(known)
        scored = scores[y.notna()]
        y = y[y.notna()].astype(int)
        metrics[f"{node_type}_count"] = int(len(scored))
        metrics[f"{node_type}_fraud_rate"] = float(y.mean()) if len(y) else 0.0
        if y.nunique() == 2:
            metrics[f"{node_type}_auroc"] = float(roc_auc_score(y, scored["score"]))
            metrics[f"{node_type}_auprc"] = float(average_precision_score(y, scored["score"]))
    return metrics
