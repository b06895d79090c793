"""What a graph-model training run logs so that it explains itself: the datasets it read (MLflow
dataset inputs with digests), its training window and label cutoff, label counts by source,
validation PR/ROC and reliability figures per entity type, and a model card attached to the
registered version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudlens.marketplace.labels import label_counts_by_source, label_times
from fraudlens.metrics import bootstrap_intervals
from fraudlens.output_contract import ENTITY_TABLES
from fraudlens.tracking import TRAINING_CUTOFF_TAG, describe_version
from fraudlens.training.figures import evaluation_figures

RELIABILITY_BINS = 10
CARD_FILE = "model_card.md"


@dataclass
class Validation:
    """One entity type's validation labels and calibrated scores (rows training never fitted on)."""

    y: np.ndarray
    scores: np.ndarray


def training_window(tables: dict[str, pd.DataFrame]) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last ``created_at`` of the scored entities the model saw."""
    times = [tables[t]["created_at"] for t in ENTITY_TABLES.values() if t in tables and len(tables[t])]
    if not times:
        return None, None
    every = pd.concat(times)
    return every.min(), every.max()


def training_cutoff(tables: dict[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The latest time a training label became known: later labels are fair evaluation rows."""
    labels = tables.get("labels")
    if labels is None or not len(labels):
        return None
    latest = label_times(labels, tables).max()
    return None if pd.isna(latest) else latest


def reliability_figure(validation: dict[str, Validation]):
    """Mean score against observed fraud rate per score decile bin: the diagonal is calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    for entity, v in validation.items():
        bins = np.clip(np.digitize(v.scores, edges[1:-1]), 0, RELIABILITY_BINS - 1)
        used = [b for b in range(RELIABILITY_BINS) if (bins == b).any()]
        ax.plot([v.scores[bins == b].mean() for b in used], [v.y[bins == b].mean() for b in used], marker="o",
                label=f"{entity}s ({len(v.y):,} validation rows)")
    ax.set(xlabel="mean calibrated score", ylabel="observed fraud rate", xlim=(0, 1), ylim=(0, 1),
           title="reliability on the validation labels")
    ax.legend(loc="upper left")
    return figure


def log_datasets(tables: dict[str, pd.DataFrame], context: str = "training") -> None:
    """Each ingested table (PII already hashed) as an MLflow dataset input with its digest."""
    import mlflow

    for name, table in sorted(tables.items()):
        dataset = mlflow.data.from_pandas(table.astype({c: object for c in table.columns
                                                        if pd.api.types.is_string_dtype(table[c])}), name=name)
        mlflow.log_input(dataset, context=context)


def model_card(model_name: str, version: str | None, tables: dict[str, pd.DataFrame],
               validation: dict[str, Validation], blend: dict[str, float], settings: dict) -> str:
    start, end = training_window(tables)
    cutoff = training_cutoff(tables)
    counts = label_counts_by_source(tables.get("labels"))
    lines = [f"# Model card: {model_name}" + (f" v{version}" if version else ""), "",
             "## Intended use",
             "Ranks tonight's reviews and orders of one marketplace for review by a trust team, with reason codes; "
             "a score is a calibrated probability **among cases like those that get labelled** (labels are a "
             "sample of flagged and reported cases, whose fraud share is higher than the population's), so use "
             "it to rank and to set a review budget, not as a population fraud rate.", "",
             "## Data",
             f"- entities created from {start} to {end}" if start is not None else "- no dated entities",
             f"- training label cutoff (latest label known): {cutoff}" if cutoff is not None else "- no dated labels",
             *[f"- {table}: {len(frame):,} rows" for table, frame in sorted(tables.items())],
             "- labels by entity type and source: " + (", ".join(f"{k} {n:,}" for k, n in counts.items()) or "none"),
             "", "## Validation (held-out labelled rows; 95 % bootstrap intervals)",
             "| entity | rows | frauds | AUROC | AUPRC | tree-head weight |", "|---|---|---|---|---|---|"]
    for entity, v in validation.items():
        if v.y.min() == v.y.max():
            lines.append(f"| {entity} | {len(v.y):,} | {int(v.y.sum()):,} | n/a (one class) | n/a | "
                         f"{blend.get(entity, 0):g} |")
            continue
        ci = bootstrap_intervals(v.y, v.scores)
        cell = {m: f"{ci[m][0]:.3f} [{ci[m][1]:.3f}, {ci[m][2]:.3f}]" for m in ci}
        lines.append(f"| {entity} | {len(v.y):,} | {int(v.y.sum()):,} | {cell['auroc']} | {cell['auprc']} | "
                     f"{blend.get(entity, 0):g} |")
    lines += ["", "Calibration: Platt scaling fitted on the validation labels; the run's `reliability.png` shows "
              "mean score against observed fraud rate.", "",
              "## Known limits",
              "- Validation labels come from the same period as training: performance on a later period is what "
              "`fraudlens promote` measures, on labels that arrive after the cutoff.",
              "- New fraud patterns that no label covers are found only through their graph links and behaviour.",
              "- Raw identifiers were hashed at ingest with the configured key: a model scores only data hashed "
              "with the same key.",
              "", "## Settings", "```json", *settings_lines(settings), "```", ""]
    return "\n".join(lines)


def settings_lines(settings: dict) -> list[str]:
    import json

    return json.dumps(settings, indent=1, sort_keys=True, default=str).splitlines()


def log_run_evidence(tables: dict[str, pd.DataFrame], validation: dict[str, Validation]) -> None:
    """Logs datasets, training window, label cutoff and validation figures in the active run."""
    import matplotlib.pyplot as plt
    import mlflow

    log_datasets(tables)
    start, end = training_window(tables)
    cutoff = training_cutoff(tables)
    mlflow.set_tags({"training_window_start": str(start), "training_window_end": str(end),
                     **({TRAINING_CUTOFF_TAG: cutoff.isoformat()} if cutoff is not None else {})})
    for entity, v in validation.items():
        if v.y.min() == v.y.max():
            continue
        for name, figure in evaluation_figures(v.y, {"validation": v.scores}, "validation",
                                               class_names=("legitimate", "fraud"),
                                               subject=f"{entity} validation labels").items():
            mlflow.log_figure(figure, f"{entity}_{name}")
            plt.close(figure)
    if validation:
        figure = reliability_figure(validation)
        mlflow.log_figure(figure, "reliability.png")
        plt.close(figure)


def attach_model_card(card: str, model_name: str, version: str) -> None:
    """The card as a run artifact and as the registered version's description (the MLflow UI shows it)."""
    import mlflow

    mlflow.log_text(card, CARD_FILE)
    describe_version(model_name, version, card)
