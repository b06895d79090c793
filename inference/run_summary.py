"""A finished run's output directory read back into numbers: what was scored, how much of it is
flagged, which rings were found and what was quarantined.

The CLI prints this at the end of ``fraudlens score`` and the HTML report builds on it. Score
files may hold a million rows and carry model and run columns the summary never looks at, so
only the columns listed in ``SCORE_COLUMNS`` are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fraudlens.output_contract import (
    DECISION_COLUMN,
    ENTITY_ID,
    MANIFEST_FILE,
    QUARANTINE_FILE,
    RANK_COLUMN,
    RING_COLUMN,
    RINGS_FILE,
    SCORE_COLUMN,
    SCORE_FILES,
    reason_columns,
)

REPORTED_REASONS = 3  # a reader acts on the top few reasons; the batch job may write more
SCORE_COLUMNS = (SCORE_COLUMN, RANK_COLUMN, DECISION_COLUMN, RING_COLUMN, *reason_columns(REPORTED_REASONS))
# Decision values that mean "nothing to do"; any other decision counts as flagged. Wider than
# this project's own "pass" so that score files from other scorers read sensibly too.
CLEAR_DECISIONS = {"", "pass", "passed", "allow", "allowed", "ok", "clear", "cleared", "approve", "approved",
                   "accept", "accepted", "none", "no_action"}
FLAG_THRESHOLD = 0.5  # used only when the score files carry no decision column


def read_scores(path: Path, id_column: str) -> pd.DataFrame | None:
    path = Path(path)
    if not path.exists():
        return None
    present = set(pq.read_schema(path).names)
    columns = [c for c in (id_column, *SCORE_COLUMNS) if c in present]
    frame = pq.read_table(path, columns=columns).to_pandas()
    if SCORE_COLUMN not in frame.columns:
        return None
    return frame


def read_run_scores(out_dir: Path) -> dict[str, pd.DataFrame]:
    """Scored entity -> its score frame, for the entities this run has usable score files for."""
    return {entity: frame for entity, name in SCORE_FILES.items()
            if (frame := read_scores(Path(out_dir) / name, ENTITY_ID[entity])) is not None}


def read_manifest(out_dir: Path) -> dict:
    path = Path(out_dir) / MANIFEST_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def read_rings(out_dir: Path) -> pd.DataFrame | None:
    path = Path(out_dir) / RINGS_FILE
    if not path.exists():
        return None
    rings = pd.read_parquet(path)
    if rings.empty:
        return rings
    for key in ("ring_score", "n_accounts", "n_reviews"):
        if key in rings.columns:
            return rings.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
    return rings


def read_quarantine(out_dir: Path) -> pd.DataFrame | None:
    path = Path(out_dir) / QUARANTINE_FILE
    return pd.read_parquet(path) if path.exists() else None


def flagged_mask(frame: pd.DataFrame, threshold: float = FLAG_THRESHOLD) -> np.ndarray:
    if DECISION_COLUMN in frame.columns:
        decision = frame[DECISION_COLUMN].astype("string").str.strip().str.lower().fillna("")
        return ~decision.isin(CLEAR_DECISIONS).to_numpy()
    return (frame[SCORE_COLUMN].to_numpy(dtype=float) >= threshold)


def flag_rule(frame: pd.DataFrame, threshold: float = FLAG_THRESHOLD) -> str:
    return "decision not pass/allow/ok" if DECISION_COLUMN in frame.columns else f"score ≥ {threshold:g}"


def top_rows(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """The n most suspicious rows: by the scorer's rank when it wrote one, else by score."""
    if RANK_COLUMN in frame.columns and frame[RANK_COLUMN].notna().any():
        return frame.nsmallest(n, RANK_COLUMN)
    return frame.nlargest(n, SCORE_COLUMN)


@dataclass
class RunSummary:
    """What the CLI prints at the end of a run and the report shows at its top."""
    manifest: dict
    scored: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    flag_rules: dict[str, str] = field(default_factory=dict)
    rings: pd.DataFrame | None = None


def summarise_run(out_dir: Path, threshold: float = FLAG_THRESHOLD) -> RunSummary:
    out_dir = Path(out_dir)
    summary = RunSummary(manifest=read_manifest(out_dir), rings=read_rings(out_dir))
    for entity, frame in read_run_scores(out_dir).items():
        summary.scored[entity] = len(frame)
        summary.flagged[entity] = int(flagged_mask(frame, threshold).sum())
        summary.flag_rules[entity] = flag_rule(frame, threshold)
        if DECISION_COLUMN in frame.columns:
            summary.decisions[entity] = {str(k): int(v) for k, v in
                                         frame[DECISION_COLUMN].astype("string").fillna("").value_counts().items()}
    return summary
