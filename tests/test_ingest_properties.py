"""Property tests: ingest of randomly malformed tables never loses a row and never lets a bad one in.

Tables are drawn from the contract (marketplace/contract.py): every cell is either a valid value
for its column or garbage (random unicode including lone surrogates, which are written as raw
invalid UTF-8 bytes; empty and whitespace-only strings; huge, negative, NaN and infinite
numbers; random date strings; values of other columns; duplicate ids), then written as CSV or
Parquet. Whatever comes in, ingest must either raise one TableError or account for every row:
accepted rows obey every contract rule, quarantined rows carry a documented reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudlens.errors import TableError
from fraudlens.marketplace.contract import MAX_TEXT_CHARS, QUARANTINE_REASONS, TABLES, Column, TableSpec
from fraudlens.marketplace.ingest import EARLIEST_PLAUSIBLE, FUTURE_TOLERANCE, ingest

KEY = b"property-key"
NOW = pd.Timestamp("2026-06-01T00:00:00")
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.function_scoped_fixture])
_DIGEST = re.compile(r"^h[0-9a-f]{23}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _raw_bytes(error: UnicodeEncodeError) -> tuple[bytes, int]:
    """Codec error handler: lone surrogates become invalid UTF-8 (\\udcXX -> byte XX, else CESU-8)."""
    chunk = error.object[error.start:error.end]
    out = b"".join(bytes([ord(c) - 0xDC00]) if 0xDC80 <= ord(c) <= 0xDCFF else c.encode("utf-8", "surrogatepass")
                   for c in chunk)
    return out, error.end


codecs.register_error("fraudlens-test-raw-bytes", _raw_bytes)


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "fraudlens-test-raw-bytes")


def as_read(text: str) -> str:
    """What a reader sees of a cell written with to_bytes (adjacent raw bytes may form valid UTF-8)."""
    return to_bytes(text).decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------- strategies

IDS = ["x1", "x2", "x3", "007", "7", " x1 ", "X1", "é", "e\u0301"]
VALID_TS = st.datetimes(min_value=pd.Timestamp("1995-01-02").to_pydatetime(),
                        max_value=(NOW - pd.Timedelta(days=1)).to_pydatetime())
ANY_TS = st.datetimes(min_value=pd.Timestamp("0001-01-01").to_pydatetime(),
                      max_value=pd.Timestamp("9999-12-31").to_pydatetime())


def iso(ts, style: int) -> str:
    ts = pd.Timestamp(ts)
    return [ts.isoformat(), ts.isoformat() + "Z", ts.strftime("%Y-%m-%d"), ts.strftime("%Y-%m-%d %H:%M:%S+00:00"),
            ts.strftime("%Y%m%d")][style]


def valid_values(col: Column) -> st.SearchStrategy[str]:
    if col.kind == "id":
        return st.sampled_from(IDS)
    if col.kind == "text":
        return st.one_of(st.text(max_size=30), st.sampled_from(["", "é" * (MAX_TEXT_CHARS + 5), "<b>=1+1</b>"]))
    if col.kind == "int":
        low = int(col.minimum) if col.minimum is not None else -10
        high = int(col.maximum) if col.maximum is not None else 10**6
        return st.integers(low, high).map(str)
    if col.kind == "float":
        return st.floats(0, 1e9, allow_nan=False).map(repr)
    if col.kind == "timestamp":
        return st.builds(iso, VALID_TS, st.integers(0, 4))
    if col.kind == "category":
        if col.allowed:
            return st.sampled_from(col.allowed).flatmap(lambda v: st.sampled_from([v, v.upper(), f" {v.title()} "]))
        return st.text("abcDE", min_size=1, max_size=3)
    if col.kind == "flag":
        return st.sampled_from(["0", "1", "true", "False", "yes", "n", "T"])
    assert col.kind == "pii", col.kind
    return st.one_of(st.just(""), st.text(min_size=1, max_size=20))


GARBAGE = st.one_of(
    st.just(""),
    st.text(" \t\u3000\u00a0", min_size=1, max_size=3),
    st.text(st.characters(), max_size=12),  # any code point, lone surrogates included
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["9" * 30, "1e400", "-1e400", "1e308", "-0", "nan", "NaN", "inf", "-inf", "12,50", "0x1F",
                     "five", "3.5", "yesterday", "now", "today", "31/12/2020", "2020-13-01", "2020-02-30",
                     "1767225600", "2026-01-01T00:00:00.123456789Z", "NULL", "None", "#N/A", "=1+1"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds(iso, ANY_TS, st.integers(0, 4)),
    st.sampled_from(IDS),
)


@st.composite
def tables(draw, spec: TableSpec, max_rows: int = 12):
    """(columns, rows, valid) where valid[i] says every cell of row i came from the valid strategy."""
    optional = [c.name for c in spec.columns if not c.required]
    chosen = draw(st.sets(st.sampled_from(optional))) if optional else set()
    columns = [c for c in spec.columns if c.required or c.name in chosen]
    n = draw(st.integers(0, max_rows))
    rows, valid = [], []
    for _ in range(n):
        good = draw(st.booleans())
        cells = [draw(valid_values(c)) if good or draw(st.integers(0, 3)) else draw(GARBAGE) for c in columns]
        rows.append(cells)
        valid.append(good)
    if rows and draw(st.booleans()):  # an exact duplicate of an earlier row
        i = draw(st.integers(0, len(rows) - 1))
        rows.append(list(rows[i]))
        valid.append(valid[i])
    return [c.name for c in columns], rows, valid


def marketplace(max_rows: int = 12):
    return st.fixed_dictionaries({name: tables(TABLES[name], max_rows) for name in TABLES})


def write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_bytes(to_bytes(out.getvalue()))


def write_parquet(path: Path, columns: list[str], rows: list[list[str]], style: int) -> None:
    """Strings as Parquet: string columns, binary where a cell is not UTF-8 (style 0) or a string
    column holding invalid UTF-8 that its writer did not validate (style 1)."""
    arrays = []
    for j in range(len(columns)):
        cells = [row[j] for row in rows]
        if any(_SURROGATE.search(c) for c in cells):
            array = pa.array([to_bytes(c) for c in cells], pa.binary())
            arrays.append(array if style == 0 else array.view(pa.string()))
        else:
            arrays.append(pa.array(cells, pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path)


# ---------------------------------------------------------------------------- invariants

def check_accepted(spec: TableSpec, frame: pd.DataFrame) -> None:
    """Every accepted row satisfies every rule of the contract."""
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        values = frame[col.name]
        present = values.dropna()
        if col.required and col.kind != "text":
            assert len(present) == len(values), (spec.name, col.name, "missing")
        if col.kind in ("id", "category", "pii", "text"):
            assert all(isinstance(v, str) and not _SURROGATE.search(v) for v in present), (spec.name, col.name)
        if col.kind == "id":
            assert all(v.strip() == v != "" for v in present), (spec.name, col.name, list(present))
        elif col.kind == "text":
            assert values.notna().all()
            assert all(len(v) <= MAX_TEXT_CHARS and not _CONTROL.search(v) and unicodedata.is_normalized("NFC", v)
                       for v in values), spec.name
        elif col.kind == "int":
            assert str(values.dtype) == "Int64"
        elif col.kind == "float":
            assert np.isfinite(present.to_numpy(dtype=float)).all(), (spec.name, col.name)
        elif col.kind == "timestamp":
            assert ((present >= EARLIEST_PLAUSIBLE) & (present <= NOW + FUTURE_TOLERANCE)).all(), (spec.name, col.name)
        elif col.kind == "flag":
            assert set(present) <= {0, 1}
        elif col.kind == "pii":
            assert all(_DIGEST.match(v) for v in present), (spec.name, col.name, list(present))
        if col.kind == "category" and col.allowed:
            assert set(present) <= set(col.allowed), (spec.name, col.name)
        if col.minimum is not None:
            assert (present >= col.minimum).all(), (spec.name, col.name)
        if col.maximum is not None:
            assert (present <= col.maximum).all(), (spec.name, col.name)
    key = [spec.key] if spec.key else ["entity_type", "entity_id"]
    assert not frame.duplicated(subset=key).any(), (spec.name, "duplicate key accepted")


def check_result(result, drawn: dict) -> None:
    q = result.quarantine
    assert set(q["reason"]) <= set(QUARANTINE_REASONS)
    pq.write_table(pa.Table.from_pandas(q.astype({"row": "int64"})), io.BytesIO())  # outputs stay writable
    for name, report in result.reports.items():
        spec, (columns, rows, valid) = TABLES[name], drawn[name]
        frame = result.tables[name]
        mine = q[q["table"] == name]
        # Nothing lost: every row read is accepted or quarantined, once.
        assert report.rows_read == len(rows) == report.rows_accepted + report.rows_quarantined, name
        assert len(frame) == report.rows_accepted and len(mine) == report.rows_quarantined
        assert mine["row"].is_unique and mine["row"].between(1, report.rows_read).all(), name
        assert set(mine["column"]) <= set(spec.column_names), name
        assert dict(mine["reason"].value_counts()) == report.quarantined_by_reason
        check_accepted(spec, frame)
        pq.write_table(pa.Table.from_pandas(frame), io.BytesIO())
        # No raw PII value survives.
        for col in spec.columns:
            if col.kind == "pii" and col.name in columns:
                raw = {as_read(r[columns.index(col.name)]).strip() for r in rows} - {""}
                assert not raw & set(frame[col.name].dropna()), (name, col.name)
        # Accepted rows are the rows not quarantined, in file order, with their own ids; a row of
        # valid cells is only quarantined as a duplicate of an earlier accepted row.
        accepted_rows = [i for i in range(1, len(rows) + 1) if i not in set(mine["row"])]
        key_columns = [spec.key] if spec.key else ["entity_type", "entity_id"]
        positions = [columns.index(k) for k in key_columns]

        def key_of(i: int) -> tuple[str, ...]:
            parts = [as_read(rows[i - 1][p]).strip() for p in positions]
            return (parts[0].lower(), parts[1]) if spec.key is None else tuple(parts)

        got = [tuple(k) for k in frame[key_columns].astype(str).itertuples(index=False)]
        assert got == [key_of(i) for i in accepted_rows], name
        reasons = dict(zip(mine["row"], mine["reason"]))
        for i, good in enumerate(valid, start=1):
            if good and i in reasons:
                earlier = {key_of(j) for j in accepted_rows if j < i}
                assert reasons[i] == "duplicate_id" and key_of(i) in earlier, (name, i, rows[i - 1], reasons[i])


def _ingest(directory: Path):
    try:
        return ingest(directory, KEY, now=NOW)
    except TableError as exc:
        assert "\n" not in str(exc) and " - fix: " in str(exc)
        raise


# ---------------------------------------------------------------------------- properties

@PROPERTY_SETTINGS
@given(drawn=marketplace())
def test_csv_tables_account_for_every_row(tmp_path_factory, drawn):
    d = tmp_path_factory.mktemp("csv")
    for name, (columns, rows, _) in drawn.items():
        write_csv(d / f"{name}.csv", columns, rows)
    check_result(_ingest(d), drawn)


@PROPERTY_SETTINGS
@given(drawn=marketplace(), style=st.integers(0, 1))
def test_parquet_tables_account_for_every_row(tmp_path_factory, drawn, style):
    d = tmp_path_factory.mktemp("parquet")
    for name, (columns, rows, _) in drawn.items():
        write_parquet(d / f"{name}.parquet", columns, rows, style)
    check_result(_ingest(d), drawn)


INTS = st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 7) | st.integers(0, 2 * 10**9) | st.none()
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 2e9) | st.none()


@PROPERTY_SETTINGS
@given(n=st.integers(1, 12), data=st.data())
def test_typed_parquet_columns(tmp_path_factory, n, data):
    """Parquet numbers where the contract has ints, floats, timestamps (epoch seconds) and ids."""
    def column(*choices):
        return data.draw(st.one_of(*(st.lists(c, min_size=n, max_size=n) for c in choices)))

    ratings, epochs, amounts = column(INTS, FLOATS), column(INTS, FLOATS), column(FLOATS, INTS)
    ids = column(INTS, FLOATS, st.sampled_from(IDS))
    reviews = pa.table({"review_id": pa.array(ids), "account_id": ["a"] * n, "product_id": ["p"] * n,
                        "text": ["t"] * n, "rating": pa.array(ratings), "created_at": pa.array(epochs)})
    orders = pa.table({"order_id": [f"o{i}" for i in range(n)], "account_id": ["a"] * n, "product_id": ["p"] * n,
                       "seller_id": ["s"] * n, "amount": pa.array(amounts), "currency": ["EUR"] * n,
                       "created_at": pa.array(epochs), "status": ["placed"] * n})
    d = tmp_path_factory.mktemp("typed")
    pq.write_table(reviews, d / "reviews.parquet")
    pq.write_table(orders, d / "orders.parquet")
    result = _ingest(d)
    for name, report in result.reports.items():
        assert report.rows_read == n == report.rows_accepted + report.rows_quarantined
        check_accepted(TABLES[name], result.tables[name])
    # Integral ids keep no ".0"; epoch seconds within bounds are accepted as those instants.
    numbers = [float(v) for v in ids if v is not None and not isinstance(v, str)]
    if numbers and all(np.isfinite(v) and v.is_integer() and abs(v) <= 2**53 for v in numbers):
        assert set(result.tables["reviews"]["review_id"]) <= {str(int(v)) for v in numbers}
    orders_out = result.tables["orders"]
    for t, order_id in zip(orders_out["created_at"], orders_out["order_id"]):
        expected = pd.Timestamp(0) + pd.Timedelta(microseconds=round(epochs[int(order_id[1:])] * 1e6))
        assert abs((t - expected).total_seconds()) <= 1e-6


def _mutations():
    return st.sampled_from(["drop_column", "duplicate_column", "delimiter", "prefix_bytes", "truncate",
                            "bom", "crlf_to_lf", "blank_header"])


@PROPERTY_SETTINGS
@given(drawn=tables(TABLES["reviews"], max_rows=8), mutation=_mutations(), data=st.data(),
       fmt=st.sampled_from(["csv", "parquet"]))
def test_mangled_files_give_one_table_error_or_account_for_every_row(tmp_path_factory, drawn, mutation, data, fmt):
    columns, rows, _ = drawn
    d = tmp_path_factory.mktemp("mangled")
    path = d / f"reviews.{fmt}"
    if fmt == "csv":
        write_csv(path, columns, rows)
    else:
        write_parquet(path, columns, rows, 0)
    raw = path.read_bytes()
    if mutation == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif mutation == "prefix_bytes":
        raw = data.draw(st.binary(min_size=1, max_size=16)) + raw
    elif mutation == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif fmt == "csv":
        header, _, body = raw.partition(b"\r\n")
        names = header.split(b",")
        if mutation == "drop_column":
            names.pop(data.draw(st.integers(0, len(names) - 1)))
        elif mutation == "duplicate_column":
            names.append(data.draw(st.sampled_from(names)))
        elif mutation == "delimiter":
            names = [b";".join(names)]
        elif mutation == "blank_header":
            names = [b""] * len(names)
        raw = b",".join(names) + b"\r\n" + (body.replace(b"\r\n", b"\n") if mutation == "crlf_to_lf" else body)
    path.write_bytes(raw)
    try:
        result = _ingest(d)
    except TableError as exc:
        assert str(path) in str(exc)
        return
    report = result.reports["reviews"]
    assert report.rows_read == report.rows_accepted + report.rows_quarantined
    assert result.quarantine["row"].between(1, max(report.rows_read, 1)).all()
    assert set(result.quarantine["reason"]) <= set(QUARANTINE_REASONS)
    check_accepted(TABLES["reviews"], result.tables["reviews"])
    if mutation in ("bom", "crlf_to_lf") or (fmt == "parquet" and mutation not in ("truncate", "prefix_bytes")):
        assert report.rows_read == len(rows)
