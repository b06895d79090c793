"""Training labels from several sources, one label per entity, provenance kept.

Labels arrive from the input directory's labels table (chargebacks, moderation) and from
extra labels tables such as the web workspace's analyst export (``fraudlens labels export``).
Rule for an entity labelled more than once: the **latest** ``labeled_at`` wins (a decision
made after more evidence replaces an older one); a label without ``labeled_at`` counts as
older than any dated one; at the same time an analyst's label (``source`` ``analyst:<name>``)
wins over an automatic one, and among equals the later table given wins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fraudlens.marketplace.contract import LABELS
from fraudlens.marketplace.ingest import IngestResult, read_raw_table, validate_table
from fraudlens.output_contract import ENTITY_ID, ENTITY_TABLES

DEFAULT_SOURCE = "input"
ANALYST_PREFIX = "analyst:"


def resolve_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per (entity_type, entity_id) by the rule above; ``source`` filled where missing."""
    frame = labels.copy()
    if "source" not in frame:
        frame["source"] = DEFAULT_SOURCE
    frame["source"] = frame["source"].astype("string").fillna(DEFAULT_SOURCE)
    if "labeled_at" not in frame:
        frame["labeled_at"] = pd.NaT
    order = pd.DataFrame({
        "dated": frame["labeled_at"].notna(),
        "at": frame["labeled_at"].fillna(pd.Timestamp.min),
        "analyst": frame["source"].str.startswith(ANALYST_PREFIX).fillna(False),
        "position": range(len(frame)),
    }, index=frame.index)
    ranked = frame.loc[order.sort_values(["dated", "at", "analyst", "position"]).index]
    return ranked.drop_duplicates(["entity_type", "entity_id"], keep="last").sort_index().reset_index(drop=True)


def with_extra_labels(ingested: IngestResult, paths: list[Path], pii_key: bytes,
                      now: pd.Timestamp | None = None) -> IngestResult:
    """``ingested`` with each extra labels table validated like the input's (bad rows are
    quarantined with their reason) and every label resolved to one per entity."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else now
    tables, quarantines, reports = dict(ingested.tables), [ingested.quarantine], dict(ingested.reports)
    parts = [tables["labels"]] if "labels" in tables else []
    for i, path in enumerate(paths):
        table, quarantine, report = validate_table(read_raw_table(Path(path), LABELS), LABELS, Path(path), pii_key, now)
        parts.append(table)
        quarantines.append(quarantine)
        reports[f"labels[{i + 1}]"] = report
    if parts:
        tables["labels"] = resolve_labels(pd.concat(parts, ignore_index=True))
    quarantine = pd.concat([q for q in quarantines if len(q)], ignore_index=True) if any(map(len, quarantines)) \
        else ingested.quarantine
    return IngestResult(tables=tables, quarantine=quarantine, reports=reports)


def label_times(labels: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.Series:
    """When each label became known: ``labeled_at``, else its entity's ``created_at`` (a label
    cannot predate what it labels), NaT when neither is known."""
    known = labels["labeled_at"] if "labeled_at" in labels else pd.Series(pd.NaT, index=labels.index)
    created = pd.Series(pd.NaT, index=labels.index, dtype="datetime64[us]")
    for entity, table in ENTITY_TABLES.items():
        if table in tables and "created_at" in tables[table]:
            when = tables[table].drop_duplicates(ENTITY_ID[entity]).set_index(ENTITY_ID[entity])["created_at"]
            rows = labels["entity_type"] == entity
            created[rows] = labels.loc[rows, "entity_id"].map(when).to_numpy()
    return known.astype("datetime64[us]").fillna(created)


def labels_known_after(labels: pd.DataFrame, tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> pd.DataFrame:
    """The labels a model trained up to ``cutoff`` cannot have seen (time-respecting evaluation)."""
    return labels[label_times(labels, tables).gt(cutoff).fillna(False).to_numpy()]


def label_counts_by_source(labels: pd.DataFrame | None) -> dict[str, int]:
    """{"<entity_type>.<source>": count}: what the training run logs as its label provenance."""
    if labels is None or not len(labels):
        return {}
    sources = labels["source"].astype("string").fillna(DEFAULT_SOURCE) if "source" in labels else DEFAULT_SOURCE
    counts = labels.assign(source=sources).groupby(["entity_type", "source"], observed=True).size()
    return {f"{entity}.{source}": int(n) for (entity, source), n in counts.items()}
