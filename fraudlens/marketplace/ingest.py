"""Reading and validating input tables: the only place raw input (and raw PII) is touched.

Two levels of failure:
- a table that cannot be used at all raises ``TableError`` (file, problem, fix);
- a bad row is moved to the quarantine table with its file, row number, column and reason,
  and the run goes on. Dangling references are kept and flagged, not dropped.

Every row read ends up in exactly one of ``tables[name]`` or ``quarantine`` (per table:
rows_read == rows_accepted + rows_quarantined), which the run manifest records.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudlens.errors import TableError
from fraudlens.marketplace.contract import (
    MAX_TEXT_CHARS,
    SCORED_TABLES,
    SIGNAL_NAME,
    TABLES,
    Column,
    TableSpec,
)
from fraudlens.marketplace.pii import hash_identifiers

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "reason", "message", "entity_id"]
EARLIEST_PLAUSIBLE = pd.Timestamp("1995-01-01")
FUTURE_TOLERANCE = pd.Timedelta(days=1)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}
# Timestamps in text must start with an ISO 8601 calendar date (extended or basic form); this
# keeps out what pandas would otherwise accept ("now", "today", a bare year).
_ISO_DATE = r"^\d{4}-?\d{2}-?\d{2}(?:[T ]|$)"
# Digits beyond microseconds are dropped so every timestamp parses at microsecond resolution
# (nanoseconds would cap the range at 2262 and make far-future dates unparseable).
_SUB_MICROSECOND = r"(\.\d{6})\d+"
# Numbers in a timestamp column (Parquet ints/floats) are Unix epoch seconds; beyond this
# (about +-3,000 years) they are clipped, which still classes them as future / before 1995.
_MAX_EPOCH_SECONDS = 1e11
# Integers are exact in float64 (and fit int64) up to 2**53.
_MAX_EXACT_INT = float(2**53)
_CSV_FIX = "export as RFC 4180 CSV: comma-separated, quotes around fields with commas or newlines"
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
# Leading bytes of files that are not CSV text at all: (what it is, fix).
_NOT_CSV = {
    b"PAR1": ("a Parquet file with a .csv name", "rename it to {name}.parquet"),
    b"\x1f\x8b": ("a gzip-compressed file, not CSV text", "decompress it to {name}.csv"),
    b"PK\x03\x04": ("a ZIP archive (an Excel workbook?), not CSV text", "export the sheet as CSV (UTF-8)"),
    b"\xff\xfe": ("UTF-16 text, not UTF-8", "re-export {name}.csv as UTF-8"),
    b"\xfe\xff": ("UTF-16 text, not UTF-8", "re-export {name}.csv as UTF-8"),
}


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


def _one_line(value: object, limit: int = 200) -> str:
    """Text fit for a one-line error message: no line breaks, control characters or surrogates."""
    text = _LONE_SURROGATE.sub("\ufffd", " ".join(str(value).split()))
    text = _CONTROL_CHARS.sub("?", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_table_files(input_dir: Path) -> dict[str, Path]:
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        problem = "is not a directory" if input_dir.exists() else "input directory does not exist"
        raise TableError(input_dir, problem,
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
        present = sorted(p.name for p in input_dir.iterdir())
        listing = _one_line(", ".join(present[:8]) + (", ..." if len(present) > 8 else "")) or "nothing"
        raise TableError(input_dir, f"no reviews or orders table found (found: {listing})",
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
    if not path.is_file():
        raise TableError(path, "is not a regular file", f"replace it with the {spec.name} table file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise TableError(path, f"cannot be read ({_one_line(exc.strerror or exc)})",
                         "check that the file is readable by this user") from exc
    if size == 0:
        raise TableError(path, "file is empty", f"export the {spec.name} table with a header row")
    frame = _read_parquet(path, spec, magic) if path.suffix == ".parquet" else _read_csv(path, spec, magic)
    return frame.reset_index(drop=True)


def _read_parquet(path: Path, spec: TableSpec, magic: bytes) -> pd.DataFrame:
    if magic != b"PAR1":
        raise TableError(path, "not a Parquet file (no PAR1 header)",
                         f"write real Parquet, or rename it to {spec.name}.csv if it is CSV")
    try:
        table = pq.read_table(path)
        try:
            table.validate(full=True)  # checks, among others, that string columns are UTF-8
            frame = table.to_pandas()
        except (pa.ArrowException, UnicodeDecodeError):
            # A string column holds invalid UTF-8 (its writer did not validate), or pandas
            # metadata calls a binary column text: read such columns as bytes; validate_table
            # quarantines the cells that do not decode.
            frame = _strings_as_binary(table).to_pandas()
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise TableError(path, f"unreadable Parquet ({type(exc).__name__}: {_one_line(exc)})",
                         "re-export the file") from exc
    if any(n is not None for n in frame.index.names):
        frame = frame.reset_index()  # a named index (e.g. written with set_index) is a column
    frame.columns = _check_columns(path, spec, list(frame.columns))
    return frame


def _strings_as_binary(table: pa.Table) -> pa.Table:
    def binary(t: pa.DataType) -> pa.DataType:
        return pa.large_binary() if pa.types.is_large_string(t) else pa.binary() if pa.types.is_string(t) else t
    schema = pa.schema([f.with_type(binary(f.type)) for f in table.schema])  # no pandas metadata
    return table.cast(schema)


def _read_csv(path: Path, spec: TableSpec, magic: bytes) -> pd.DataFrame:
    for prefix, (what, fix) in _NOT_CSV.items():
        if magic.startswith(prefix):
            raise TableError(path, f"this is {what}", fix.format(name=spec.name))
    columns = _check_columns(path, spec, _read_csv_header(path, spec), csv_header=True)
    # The header is parsed once, above; pandas gets the checked names so they cannot diverge.
    options = dict(names=columns, header=0, index_col=False, keep_default_na=False, na_values=[""],
                   encoding="utf-8", encoding_errors="surrogateescape")
    try:
        with warnings.catch_warnings():
            # pandas only warns when every row has more fields than the header, then drops them.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                return pd.read_csv(path, dtype=str, **options)
            except UnicodeEncodeError:
                # Invalid UTF-8 bytes became lone surrogates, which Arrow-backed strings cannot
                # hold: read Python strings instead; validate_table quarantines those cells.
                return pd.read_csv(path, dtype=object, **options)
    except pd.errors.EmptyDataError as exc:
        raise TableError(path, "file has no header row", f"export the {spec.name} table with a header row") from exc
    except pd.errors.ParserWarning as exc:
        raise TableError(path, f"rows have more fields than the header's {len(columns)}",
                         _CSV_FIX) from exc
    except pd.errors.ParserError as exc:
        raise TableError(path, f"malformed CSV ({_one_line(exc)})", _CSV_FIX) from exc


def _read_csv_header(path: Path, spec: TableSpec) -> list[str]:
    """The header record (first non-blank one) of a CSV file, rejecting binary data."""
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            head = fh.read(1 << 20)
        header = next((row for row in csv.reader(io.StringIO(head)) if row), None)
    except csv.Error as exc:
        raise TableError(path, f"malformed CSV header ({_one_line(exc)})", _CSV_FIX) from exc
    if header is None:
        raise TableError(path, "file has no header row", f"export the {spec.name} table with a header row")
    if any(_CONTROL_CHARS.search(name) for name in header):
        raise TableError(path, "this is binary data, not CSV text (control bytes in the header row)",
                         f"export the {spec.name} table as UTF-8 CSV")
    if any(_LONE_SURROGATE.search(name) for name in header) and not set(spec.required_columns) <= set(header):
        raise TableError(path, "the header row is not UTF-8 text (binary data, or another encoding?)",
                         f"export the {spec.name} table as UTF-8 CSV")
    return header


def _check_columns(path: Path, spec: TableSpec, names: list, csv_header: bool = False) -> list[str]:
    """Cleaned column names; raises TableError for duplicate or missing required columns."""
    names = [_LONE_SURROGATE.sub("\ufffd", str(n)).strip() for n in names]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    duplicates = [n for n, count in Counter(names).items() if count > 1]
    if duplicates:
        raise TableError(path, f"duplicate column(s) {_one_line(', '.join(duplicates))}",
                         "keep exactly one column of each name")
    missing = [c for c in spec.required_columns if c not in names]
    if not missing:
        return names
    found = _one_line(", ".join(n[:40] for n in names[:12]) or "none")
    if csv_header:
        joined = ",".join(names)
        for delimiter, label in _DELIMITERS.items():
            split = {part.strip() for part in re.split(f"[,{re.escape(delimiter)}]", joined)}
            if set(spec.required_columns) <= split or (len(names) == 1 and delimiter in names[0]):
                raise TableError(path, f"columns are not comma-separated (the header is {label}-separated: "
                                 f"{_one_line(repr(joined[:60]))})", "export the CSV with ',' as the delimiter")
    others = [t.name for t in TABLES.values() if t.name != spec.name and set(t.required_columns) <= set(names)]
    if others:
        other = max(others, key=lambda n: len(TABLES[n].required_columns))
        raise TableError(path, f"this holds the {other} table, not {spec.name} (found: {found})",
                         f"name it {other}{path.suffix} and put the {spec.name} table in {spec.name}{path.suffix}")
    raise TableError(path, f"required column(s) {', '.join(missing)} missing (found: {found})",
                     f"add them or rename yours to match the {spec.name} contract in docs/data-contract.md")


class _RowProblems:
    """Collects the first problem of each bad row."""

    def __init__(self, n_rows: int):
        self.reason = np.full(n_rows, None, dtype=object)
        self.column = np.full(n_rows, None, dtype=object)
        self.message = np.full(n_rows, None, dtype=object)

    def add(self, mask: np.ndarray, column: str, reason: str, message: str) -> None:
        new = np.asarray(mask, dtype=bool) & pd.isna(self.reason)
        if not new.any():
            return
        self.reason[new] = reason
        self.column[new] = column
        self.message[new] = message

    @property
    def bad(self) -> np.ndarray:
        return ~pd.isna(self.reason)


def _decode_utf8(series: pd.Series) -> tuple[pd.Series, np.ndarray | None]:
    """Python-object columns (a CSV with invalid UTF-8, Parquet binary) as valid text.

    Returns the column with bytes decoded and lone surrogates (undecodable bytes) replaced by
    U+FFFD, and the mask of cells that held invalid UTF-8 (None when it cannot hold any).
    """
    if series.dtype != object and getattr(series.dtype, "storage", None) != "python":
        return series, None  # Arrow-backed strings and numbers are valid by construction
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "bytes" or kind.startswith("mixed"):
        decoded = [v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in series]
        series = pd.Series(np.array(decoded, dtype=object), index=series.index, dtype=object)
        kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind != "string":
        return series, None
    invalid = series.str.contains(_LONE_SURROGATE, na=False).to_numpy(dtype=bool)
    if invalid.any():
        series = series.str.replace(_LONE_SURROGATE, "\ufffd", regex=True)
    return series, invalid


def _as_text(series: pd.Series) -> pd.Series:
    """Stripped strings, empty -> missing; integral floats (ids in a Parquet float column) lose '.0'."""
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        present = values[~np.isnan(values)]
        if (np.isfinite(present) & (np.abs(present) <= _MAX_EXACT_INT) & (present == np.round(present))).all():
            series = series.astype("Int64")
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _clean_text(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """NFC-normalised text with control characters blanked; returns (text, truncated)."""
    text = series.astype("string").fillna("").str.replace(_CONTROL_CHARS.pattern, " ", regex=True)
    non_ascii = ~text.str.isascii().to_numpy(dtype=bool)  # ASCII is NFC already; normalising is per value
    if non_ascii.any():
        text[non_ascii] = text[non_ascii].str.normalize("NFC")
    truncated = (text.str.len() > MAX_TEXT_CHARS).to_numpy(dtype=bool)
    return text.str.slice(0, MAX_TEXT_CHARS).astype("string"), truncated


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _parse_timestamps(raw: pd.Series, text: pd.Series | None) -> pd.Series:
    """Naive UTC datetime64[us]; NaT where not a timestamp. Numbers are Unix epoch seconds."""
    if text is None and _is_number(raw):
        seconds = raw.to_numpy(dtype="float64", na_value=np.nan)
        micros = np.round(np.clip(seconds, -_MAX_EPOCH_SECONDS, _MAX_EPOCH_SECONDS) * 1e6)
        micros = np.where(np.isnan(seconds), np.iinfo(np.int64).min, micros).astype(np.int64)  # min = NaT
        return pd.Series(micros.view("datetime64[us]"), index=raw.index)
    if text is None:  # datetime column
        parsed = pd.to_datetime(raw, utc=True)
    else:
        text = text.where(text.str.match(_ISO_DATE).fillna(False))
        text = text.str.replace(_SUB_MICROSECOND, r"\1", regex=True)
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return parsed.dt.tz_convert(None).astype("datetime64[us]")


def _validate_column(raw: pd.Series, col: Column, problems: _RowProblems, now: pd.Timestamp) -> pd.Series:
    label = f"{col.name} ({col.kind})"
    # Numbers (and datetimes, for timestamps) from Parquet are used as they are; anything else
    # is parsed from its text.
    typed = _is_number(raw) or (col.kind == "timestamp" and pd.api.types.is_datetime64_any_dtype(raw))
    text = None if typed else _as_text(raw)
    present = raw.notna() if text is None else text.notna()
    if col.kind in ("int", "float"):
        value = pd.to_numeric(raw if text is None else text, errors="coerce").astype("float64")
        bad_type = present & ~np.isfinite(value)  # unparseable, NaN or +-inf
        if col.kind == "int":
            bad_type |= np.isfinite(value) & (value != np.round(value))
        problems.add(bad_type.to_numpy(dtype=bool), col.name, "bad_type",
                     "value is not " + ("an integer" if col.kind == "int" else "a finite number"))
        value = value.where(np.isfinite(value))
    elif col.kind == "timestamp":
        value = _parse_timestamps(raw, text)
        epoch = " (numbers are read as Unix epoch seconds)" if _is_number(raw) else ""
        problems.add((value.isna() & present).to_numpy(dtype=bool), col.name, "bad_type",
                     "not a timestamp: use ISO 8601, e.g. 2026-03-01T14:05:00Z")
        problems.add((value > now + FUTURE_TOLERANCE).to_numpy(dtype=bool), col.name, "future_timestamp",
                     "timestamp is in the future" + epoch)
        problems.add((value < EARLIEST_PLAUSIBLE).to_numpy(dtype=bool), col.name, "implausible_timestamp",
                     "timestamp is before 1995" + epoch)
    else:
        value = text if text is not None else _as_text(raw)
        if col.kind == "flag":
            lower = value.str.lower()
            flag = pd.Series(np.where(lower.isin(_TRUE), 1, np.where(lower.isin(_FALSE), 0, -1)), index=raw.index)
            problems.add(((flag < 0) & value.notna()).to_numpy(dtype=bool), col.name, "bad_type",
                         "expected 0/1 or true/false")
            value = flag.where(flag >= 0).astype("Int8")
        elif col.kind == "category" and col.allowed:
            value = value.str.lower()
            problems.add((value.notna() & ~value.isin(col.allowed)).to_numpy(dtype=bool), col.name,
                         "not_allowed", f"must be one of {', '.join(col.allowed)}")
    if col.required:
        problems.add(value.isna().to_numpy(), col.name, "missing_value", f"required {label} is empty")
    if col.minimum is not None:
        problems.add((value < col.minimum).fillna(False).to_numpy(dtype=bool), col.name, "out_of_range",
                     f"{col.name} must be >= {col.minimum:g}")
    if col.maximum is not None:
        problems.add((value > col.maximum).fillna(False).to_numpy(dtype=bool), col.name, "out_of_range",
                     f"{col.name} must be <= {col.maximum:g}")
    if col.kind == "int":
        too_big = (value.abs() > _MAX_EXACT_INT).to_numpy(dtype=bool)
        problems.add(too_big, col.name, "out_of_range", f"{col.name} is too large (limit 2**53)")
        value = value.where(~too_big).round().astype("Int64")
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
        series, invalid_utf8 = _decode_utf8(raw[col.name])
        if invalid_utf8 is not None:
            problems.add(invalid_utf8, col.name, "invalid_utf8",
                         f"{col.name} is not valid UTF-8: re-export the file as UTF-8")
        if col.kind == "pii":
            clean[col.name] = hash_identifiers(_as_text(series), pii_key)
        elif col.kind == "text":
            clean[col.name], flagged["text_truncated"] = _clean_text(series)
        else:
            clean[col.name] = _validate_column(series, col, problems, now)
    signals = signal_columns(raw, spec)
    if signals:
        clean.update(_validate_signals(raw, signals, flagged))
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
        accepted["flags"] = pd.Series("", index=accepted.index, dtype="string")
        for name, mask in flagged.items():
            _flag(accepted, pd.Series(mask[~bad], index=accepted.index), name)
    report = TableReport(
        name=spec.name, file=str(path), sha256=file_sha256(path), rows_read=len(raw),
        rows_accepted=len(accepted),
        quarantined_by_reason={k: int(v) for k, v in quarantine["reason"].value_counts().sort_index().items()},
        flagged_by_reason={n: int(m[~bad].sum()) for n, m in flagged.items() if m[~bad].any()},
        ignored_columns=[c for c in raw.columns if c not in spec.column_names and c not in signals],
    )
    return accepted, quarantine, report


def signal_columns(raw: pd.DataFrame, spec: TableSpec) -> list[str]:
    """The platform-signal columns of a table that takes them (contract.SIGNAL_NAME)."""
    if not spec.signals:
        return []
    return [c for c in raw.columns if isinstance(c, str) and re.match(SIGNAL_NAME, c)]


def _validate_signals(raw: pd.DataFrame, columns: list[str], flagged: dict[str, np.ndarray]) -> dict[str, pd.Series]:
    """Signals as float64. A value that is not a finite number is blanked and its row flagged
    ``bad_signal``, not quarantined: a signal enriches a row, and one broken upstream score must
    not take the review or order out of tonight's scoring."""
    out, bad = {}, np.zeros(len(raw), dtype=bool)
    for column in columns:
        series = raw[column]
        text = None if _is_number(series) else _as_text(_decode_utf8(series)[0])
        value = pd.to_numeric(series if text is None else text, errors="coerce").astype("float64")
        present = series.notna() if text is None else text.notna()
        broken = (present & ~np.isfinite(value)).to_numpy(dtype=bool)
        bad |= broken
        out[column] = value.where(np.isfinite(value))
    flagged["bad_signal"] = bad
    return out


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
