"""A generated marketplace on disk, in the layout ingest reads, and read back with its dtypes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

INPUT_TABLES = ("reviews", "orders", "products", "accounts", "labels")


def write_marketplace(tables: dict[str, pd.DataFrame], out_dir: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Writes the input tables as OUT/<name>.<fmt> and the ground truth as OUT/truth/truth.<fmt>.

    Truth goes in a subdirectory because it is not an input table: it exists only to evaluate.
    Returns the paths written, keyed by table name. Creates ``out_dir``.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    targets = {name: out_dir / f"{name}.{fmt}" for name in INPUT_TABLES}
    if "truth" in tables:
        targets["truth"] = out_dir / "truth" / f"truth.{fmt}"
    for name, path in targets.items():
        if fmt == "parquet":
            tables[name].to_parquet(path, index=False)
        else:
            tables[name].to_csv(path, index=False)
    return targets


def read_marketplace(in_dir: Path, fmt: str = "parquet") -> dict[str, pd.DataFrame]:
    """Reads back what ``write_marketplace`` wrote, with the generator's dtypes (tests, notebooks)."""
    in_dir = Path(in_dir)
    paths = {name: in_dir / f"{name}.{fmt}" for name in INPUT_TABLES}
    paths["truth"] = in_dir / "truth" / f"truth.{fmt}"
    tables = {}
    for name, path in paths.items():
        if not path.exists():
            continue
        if fmt == "parquet":
            tables[name] = pd.read_parquet(path)
        else:
            tables[name] = _read_csv_table(path)
    return tables


_CSV_INTEGERS = ("rating", "helpful_votes", "is_fraud")
_CSV_FLOATS = ("amount", "price")
_CSV_TIMESTAMPS = ("created_at", "labeled_at")


def _read_csv_table(path: Path) -> pd.DataFrame:
    # Everything is read as text first so that no id or text is guessed into a number, and only
    # empty cells are missing ("NA" is a valid review text).
    frame = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    for column in frame.columns:
        if column in _CSV_INTEGERS:
            frame[column] = frame[column].astype(np.int64)
        elif column in _CSV_FLOATS:
            frame[column] = frame[column].astype(np.float64)
        elif column in _CSV_TIMESTAMPS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame
