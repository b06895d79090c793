"""Writing outputs so that a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def atomic_write_bytes(path: Path, payload: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return atomic_write_bytes(path, sink.getvalue().to_pybytes())


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefixes text cells that a spreadsheet would run as a formula with a quote."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            text = out[column].astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False)
            out[column] = text.where(~risky, "'" + text)
    return out


def atomic_write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return atomic_write_bytes(path, neutralise_formulas(frame).to_csv(index=False).encode("utf-8"))


def atomic_write_json(payload: dict, path: Path) -> Path:
    return atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode())
