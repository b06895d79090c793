"""Reading a labelled training table for the text model: a CSV or Parquet file, or a
marketplace directory with a labels table, mapped to texts, ratings and 0/1 labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.errors import TableError
from fraudlens.text_config import TextModelConfig


def labelled_marketplace_reviews(input_dir: Path) -> pd.DataFrame:
    """text, rating, label of the labelled reviews of a marketplace directory (reviews + labels
    tables under the input contract), read through the same ingest as scoring."""
    import secrets

    from fraudlens.marketplace.ingest import ingest

    # Only text, ratings and labels are kept: identifiers are hashed with a throwaway key.
    tables = ingest(input_dir, secrets.token_bytes(32)).tables
    if "reviews" not in tables or "labels" not in tables:
        raise TableError(input_dir, "needs a reviews and a labels table to train a text model",
                         "add labels.csv/.parquet (entity_type review, entity_id, is_fraud), or pass a single file")
    labels = tables["labels"]
    labels = labels[labels["entity_type"] == "review"].set_index("entity_id")["is_fraud"]
    reviews = tables["reviews"][tables["reviews"]["review_id"].isin(labels.index)]
    return pd.DataFrame({"text": reviews["text"].fillna("").astype(str).to_numpy(),
                         "rating": reviews["rating"].astype("float64").to_numpy(),
                         "label": reviews["review_id"].map(labels).astype(int).to_numpy()})


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet file of labelled reviews, or a marketplace directory with a labels table."""
    path = Path(path)
    if path.is_dir():
        return labelled_marketplace_reviews(path)
    if not path.is_file():
        raise TableError(path, "no such file", "pass --input a CSV or Parquet file of reviews with text and label columns")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem with the file
        raise TableError(path, f"could not be read ({type(exc).__name__}: {exc})", "check the file is valid CSV/Parquet")
    raise TableError(path, f"unsupported file type {path.suffix!r}", "use a .csv or .parquet file")


@dataclass
class LabelledTexts:
    texts: list[str]
    ratings: np.ndarray | None
    labels: np.ndarray
    frame: pd.DataFrame  # text, rating (when present), label as 0/1: what was trained on


def prepare_table(config: TextModelConfig, table: pd.DataFrame) -> LabelledTexts:
    """Maps the configured columns, turns labels into 0/1 and drops rows without a label."""
    data = config.data
    for column in (data.text_column, data.label_column):
        if column not in table.columns:
            raise TableError("input table", f"missing column {column!r} (columns: {list(table.columns)})",
                             f"add it, or set data.{'text' if column == data.text_column else 'label'}_column in the config")
    raw = table[data.label_column]
    known = raw.notna()
    keys = raw[known].map(lambda v: str(int(v)) if isinstance(v, (bool, np.bool_)) else
                          str(int(v)) if isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer()
                          else str(v)).str.strip().str.lower()
    positive = {v.lower() for v in data.positive_labels}
    negative = {v.lower() for v in data.negative_labels}
    unknown = sorted(set(keys) - positive - negative)
    if unknown:
        raise TableError("input table", f"label values {unknown[:5]} are neither positive {sorted(positive)} nor "
                         f"negative {sorted(negative)}", "set data.positive_labels / data.negative_labels in the config")
    labels = keys.isin(positive).astype(int).to_numpy()
    if len(np.unique(labels)) < 2 or np.bincount(labels).min() < 5:
        raise TableError("input table", "needs at least 5 labelled reviews of each class",
                         "add labelled fake and genuine reviews")
    kept = table[known]
    texts = ["" if not isinstance(t, str) and pd.isna(t) else str(t) for t in kept[data.text_column]]
    ratings = None
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    if data.rating_column and data.rating_column in kept.columns:
        ratings = pd.to_numeric(kept[data.rating_column], errors="coerce").to_numpy(np.float64)
        frame["rating"] = ratings
    frame["label"] = labels
    return LabelledTexts(texts, ratings, labels, frame)
