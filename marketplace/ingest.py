"""Reading and validating input tables: the only place raw input (and raw PII) is touched.

Two levels of failure:
- a table that cannot be used at all raises ``TableError`` (file, problem, fix);
- a bad row is moved to the quarantine table with its file, row number, column and reason,
  and the run goes on. Dangling references are kept and flagged, not dropped.

Every row read ends up in exactly one of ``tables[name]`` or ``quarantine`` (per table:
rows_read == rows_accepted + rows_quarantined), which the run manifest records.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fraudlens.errors import TableError
from marketplace.contract import MAX_TEXT_CHARS, SCORED_TABLES, TABLES, Column, TableSpec
from marketplace.pii import hash_identifiers

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "reason", "message", "entity_id"]
EARLIEST_PLAUSIBLE = pd.Timestamp("1995-01-01")
FUTURE_TOLERANCE = pd.Timedelta(days=1)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}


@dataclass
class TableReport:
    name: str
    file: str
    sha256: str
    rows_read: int
    rows_accepted: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    flagged_by_reason: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())


@dataclass
class IngestResult:
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: dict[str, TableReport]


def find_table_files(input_dir: Path) -> dict[str, Path]:
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise TableError(input_dir, "input directory does not exist",
                         "pass --input a directory holding reviews.csv/.parquet and/or orders.csv/.parquet")
    found: dict[str, Path] = {}
    for name in TABLES:
        candidates = [p for p in (input_dir / f"{name}.parquet", input_dir / f"{name}.csv") if p.exists()]
        if len(candidates) > 1:
            raise TableError(candidates[0], f"both {name}.parquet and {name}.csv exist",
                             "keep exactly one file per table")
        if candidates:
            found[name] = candidates[0]
    if not any(name in found for name in SCORED_TABLES):
        raise TableError(input_dir, "no reviews or orders table found",
                         "add reviews.csv/.parquet and/or orders.csv/.parquet (see docs/data-contract.md)")
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_raw_table(path: Path, spec: TableSpec) -> pd.DataFrame:
    """Reads a CSV (all columns as strings) or Parquet file; table-level problems raise TableError."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise TableError(path, "file is empty", f"export the {spec.name} table with a header row")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if path.suffix == ".parquet":
        if magic != b"PAR1":
            raise TableError(path, "not a Parquet file (no PAR1 header)",
                             f"write real Parquet, or rename it to {spec.name}.csv if it is CSV")
        try:
            frame = pq.read_table(path).to_pandas()
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise TableError(path, f"unreadable Parquet ({type(exc).__name__}: {exc})",
                             "re-export the file") from exc
    else:
        if magic == b"PAR1":
            raise TableError(path, "this is a Parquet file with a .csv name", f"rename it to {spec.name}.parquet")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                encoding="utf-8", encoding_errors="surrogateescape")
        except pd.errors.EmptyDataError as exc:
            raise TableError(path, "file has no header row", f"export the {spec.name} table with a header row") from exc
        except pd.errors.ParserError as exc:
            raise TableError(path, f"malformed CSV ({str(exc).strip()})",
                             "export as RFC 4180 CSV: comma-separated, quotes around fields with commas or newlines") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in spec.required_columns if c not in frame.columns]
    if missing:
        if len(frame.columns) == 1 and any(d in frame.columns[0] for d in (";", "\t", "|")):
            raise TableError(path, "columns are not comma-separated (found one column named "
                             f"{frame.columns[0][:60]!r})", "export the CSV with ',' as the delimiter")
        raise TableError(path, f"required column(s) {', '.join(missing)} missing (found: "
                         f"{', '.join(frame.columns[:12]) or 'none'})",
                         f"add them or rename yours to match the {spec.name} contract in docs/data-contract.md")
    return frame.reset_index(drop=True)


class _RowProblems:
    """Collects the first problem of each bad row."""

    def __init__(self, n_rows: int):
        self.reason = np.full(n_rows, None, dtype=object)
        self.column = np.full(n_rows, None, dtype=object)
        self.message = np.full(n_rows, None, dtype=object)

    def add(self, mask: np.ndarray, column: str, reason: str, message: str | pd.Series) -> None:
        new = np.asarray(mask, dtype=bool) & pd.isna(self.reason)
        if not new.any():
            return
        self.reason[new] = reason
        self.column[new] = column
        self.message[new] = message[new].to_numpy() if isinstance(message, pd.Series) else message

    @property
    def bad(self) -> np.ndarray:
        return ~pd.isna(self.reason)


def _as_text(series: pd.Series) -> pd.Series:
    text = series.astype("string")
    return text.str.strip().mask(lambda s: s == "")


def _clean_text(series: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """NFC-normalised text without control characters; returns (text, invalid_utf8, truncated)."""
    text = series.astype("string").fillna("")
    invalid = text.str.contains(_LONE_SURROGATE, regex=True).to_numpy(dtype=bool)
    text = text.map(lambda t: unicodedata.normalize("NFC", _CONTROL_CHARS.sub(" ", t)) if t else t)
    truncated = (text.str.len() > MAX_TEXT_CHARS).to_numpy(dtype=bool)
    return text.str.slice(0, MAX_TEXT_CHARS).astype("string"), invalid, truncated


def _parse_timestamps(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = pd.to_datetime(series, utc=True)
    else:
        text = _as_text(series)
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        retry = parsed.isna() & text.notna()
        if retry.any():
            parsed[retry] = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
    return parsed.dt.tz_convert(None).astype("datetime64[us]")


def _validate_column(raw: pd.Series, col: Column, problems: _RowProblems, now: pd.Timestamp) -> pd.Series:
    label = f"{col.name} ({col.kind})"
    if col.kind in ("int", "float"):
        text = raw if pd.api.types.is_numeric_dtype(raw) else _as_text(raw)
        value = pd.to_numeric(text, errors="coerce").astype("float64")
        bad_type = value.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
        bad_type |= ~np.isfinite(value.fillna(0))
        if col.kind == "int":
            bad_type |= value.notna() & (value != np.round(value))
        problems.add(bad_type.to_numpy(), col.name, "bad_type",
                     "value is not " + ("an integer" if col.kind == "int" else "a number"))
    elif col.kind == "timestamp":
        value = _parse_timestamps(raw)
        problems.add((value.isna() & raw.notna()).to_numpy(), col.name, "bad_type",
                     "not a timestamp: use ISO 8601, e.g. 2026-03-01T14:05:00Z")
        problems.add((value > now + FUTURE_TOLERANCE).to_numpy(), col.name, "future_timestamp",
                     "timestamp is in the future")
        problems.add((value < EARLIEST_PLAUSIBLE).to_numpy(), col.name, "implausible_timestamp",
                     "timestamp is before 1995")
    elif col.kind == "flag":
        text = _as_text(raw).str.lower()
        value = pd.Series(np.where(text.isin(_TRUE), 1, np.where(text.isin(_FALSE), 0, -1)), index=raw.index)
        problems.add(((value < 0) & text.notna()).to_numpy(), col.name, "bad_type", "expected 0/1 or true/false")
        value = value.where(value >= 0).astype("Int8")
    else:  # id, category, pii
        value = _as_text(raw)
        if col.kind == "category":
            value = value.str.lower() if col.allowed else value
            if col.allowed:
                problems.add((value.notna() & ~value.isin(col.allowed)).to_numpy(), col.name, "not_allowed",
                             f"must be one of {', '.join(col.allowed)}")
        if col.kind == "id":
            problems.add(value.str.contains(_LONE_SURROGATE, regex=True).fillna(False).to_numpy(dtype=bool),
                         col.name, "invalid_utf8", "id is not valid UTF-8")
    if col.required:
        problems.add(value.isna().to_numpy(), col.name, "missing_value", f"required {label} is empty")
    if col.minimum is not None:
        problems.add((value < col.minimum).fillna(False).to_numpy(dtype=bool), col.name, "out_of_range",
                     f"{col.name} must be >= {col.minimum:g}")
    if col.maximum is not None:
        problems.add((value > col.maximum).fillna(False).to_numpy(dtype=bool), col.name, "out_of_range",
                     f"{col.name} must be <= {col.maximum:g}")
    if col.kind == "int":
        value = value.round().astype("Int64")
    return value


def validate_table(raw: pd.DataFrame, spec: TableSpec, path: Path, pii_key: bytes,
                   now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, TableReport]:
    """Coerces each contract column, hashes PII, quarantines bad and duplicate rows."""
    problems = _RowProblems(len(raw))
    clean: dict[str, pd.Series] = {}
    flagged: dict[str, np.ndarray] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            continue
        if col.kind == "pii":
            clean[col.name] = hash_identifiers(_as_text(raw[col.name]), pii_key)
        elif col.kind == "text":
            clean[col.name], invalid_utf8, flagged["text_truncated"] = _clean_text(raw[col.name])
            problems.add(invalid_utf8, col.name, "invalid_utf8", "text is not valid UTF-8: re-export as UTF-8")
        else:
            clean[col.name] = _validate_column(raw[col.name], col, problems, now)
    frame = pd.DataFrame(clean, index=raw.index)
    key_columns = [spec.key] if spec.key else ["entity_type", "entity_id"]
    duplicate = frame.loc[~problems.bad].duplicated(subset=key_columns, keep="first")
    problems.add(frame.index.isin(duplicate[duplicate].index), key_columns[-1], "duplicate_id",
                 f"duplicate {'/'.join(key_columns)}: the first occurrence is kept")

    bad = problems.bad
    entity = frame[key_columns[-1]].astype("string")
    quarantine = pd.DataFrame({
        "table": spec.name,
        "file": str(path),
        "row": np.flatnonzero(bad) + 1,
        "column": problems.column[bad],
        "reason": problems.reason[bad],
        "message": problems.message[bad],
        "entity_id": entity[bad].to_numpy(),
    }, columns=QUARANTINE_COLUMNS)
    accepted = frame.loc[~bad].reset_index(drop=True)
    if spec.name in SCORED_TABLES:
        accepted["flags"] = pd.Series(
            [";".join(n for n, m in flagged.items() if m[i]) for i in np.flatnonzero(~bad)], dtype="string")
    report = TableReport(
        name=spec.name, file=str(path), sha256=file_sha256(path), rows_read=len(raw),
        rows_accepted=len(accepted),
        quarantined_by_reason=quarantine["reason"].value_counts().sort_index().to_dict(),
        flagged_by_reason={n: int(m[~bad].sum()) for n, m in flagged.items() if m[~bad].any()},
        ignored_columns=[c for c in raw.columns if c not in spec.column_names],
    )
    return accepted, quarantine, report


def _flag(frame: pd.DataFrame, mask: pd.Series, flag: str) -> int:
    mask = mask.fillna(False).to_numpy(dtype=bool)
    if mask.any():
        current = frame.loc[mask, "flags"]
        frame.loc[mask, "flags"] = current.where(current == "", current + ";") + flag
    return int(mask.sum())


def check_references(tables: dict[str, pd.DataFrame], reports: dict[str, TableReport]) -> None:
    """Flags (never drops) rows of scored tables that point to entities the input lacks."""
    for name in SCORED_TABLES:
        if name not in tables:
            continue
        frame = tables[name]
        for col in TABLES[name].columns:
            if col.references is None or col.name not in frame.columns:
                continue
            target_table, target_column = col.references
            if target_table not in tables:
                continue
            known = tables[target_table][target_column]
            dangling = frame[col.name].notna() & ~frame[col.name].isin(known)
            count = _flag(frame, dangling, f"unknown_{target_column.removesuffix('_id')}")
            if count:
                reports[name].flagged_by_reason[f"unknown_{target_column.removesuffix('_id')}"] = count


def ingest(input_dir: Path, pii_key: bytes, now: pd.Timestamp | None = None) -> IngestResult:
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    tables: dict[str, pd.DataFrame] = {}
    quarantines: list[pd.DataFrame] = []
    reports: dict[str, TableReport] = {}
    for name, path in find_table_files(Path(input_dir)).items():
        spec = TABLES[name]
        raw = read_raw_table(path, spec)
        tables[name], quarantine, reports[name] = validate_table(raw, spec, path, pii_key, now)
        quarantines.append(quarantine)
    check_references(tables, reports)
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return IngestResult(tables=tables, quarantine=quarantine, reports=reports)
