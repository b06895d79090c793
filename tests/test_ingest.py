import pandas as pd
import pytest

from fraudlens.errors import TableError
from fraudlens.marketplace.contract import TABLES
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import hash_identifiers
from tests.conftest import write_csv

KEY = b"test-key"


def test_valid_tables_are_accepted_whole(small_input):
    result = ingest(small_input, KEY)
    assert set(result.tables) == set(TABLES)
    for name, report in result.reports.items():
        assert report.rows_read == report.rows_accepted + report.rows_quarantined
        assert report.rows_quarantined == 0, name
    assert result.tables["reviews"]["rating"].tolist() == [5, 5, 5, 1]
    assert result.tables["labels"]["is_fraud"].tolist() == [1, 0, 1]


def test_pii_is_hashed_and_normalised_before_anything_else_sees_it(small_input):
    result = ingest(small_input, KEY)
    orders, accounts = result.tables["orders"], result.tables["accounts"]
    raw_values = {"DEV-1", "dev-1", "10.0.0.1", "tok_1", "1 Main St", "Ann@Example.com", "ann@example.com"}
    for frame in (orders, accounts):
        assert not raw_values & set(frame.astype(str).to_numpy().ravel())
    # Same identifier spelled differently links: order o1 and account a1 share email and device.
    assert orders.loc[0, "email"] == accounts.loc[0, "email"]
    assert orders.loc[0, "device_id"] == accounts.loc[0, "device_id"]
    # A different key gives different digests (keyed hash, not a plain one).
    other = ingest(small_input, b"other-key").tables["orders"]
    assert other.loc[0, "email"] != orders.loc[0, "email"]


def test_hash_keeps_missing_values_missing():
    hashed = hash_identifiers(pd.Series(["a@b.c", None, "  A@B.C "], dtype="string"), KEY)
    assert hashed.isna().tolist() == [False, True, False]
    assert hashed[0] == hashed[2]


def test_bad_rows_are_quarantined_with_file_row_column_and_reason(tmp_path):
    d = tmp_path / "in"
    path = write_csv(d, "reviews", """
review_id,account_id,product_id,text,rating,created_at
r1,a1,p1,fine,5,2026-01-02
r2,a1,p1,too high,7,2026-01-02
r1,a2,p1,duplicate id,4,2026-01-02
r3,,p1,no account,3,2026-01-02
r4,a1,p1,bad date,3,yesterday-ish
r5,a1,p1,half star,3.5,2026-01-02
r6,a1,p1,from the future,4,2999-01-01
""")
    result = ingest(d, KEY, now=pd.Timestamp("2026-06-01"))
    q = result.quarantine.set_index("row")
    assert result.tables["reviews"]["review_id"].tolist() == ["r1"]
    assert q.loc[2, "reason"] == "out_of_range" and q.loc[2, "column"] == "rating"
    assert q.loc[3, "reason"] == "duplicate_id"
    assert q.loc[4, "reason"] == "missing_value" and q.loc[4, "column"] == "account_id"
    assert q.loc[5, "reason"] == "bad_type" and q.loc[5, "column"] == "created_at"
    assert q.loc[6, "reason"] == "bad_type" and q.loc[6, "column"] == "rating"
    assert q.loc[7, "reason"] == "future_timestamp"
    assert set(q["file"]) == {str(path)}
    report = result.reports["reviews"]
    assert report.rows_read == 7 == report.rows_accepted + report.rows_quarantined


def test_dangling_references_are_scored_and_flagged_not_dropped(small_input):
    write_csv(small_input, "reviews", """
review_id,account_id,product_id,text,rating,created_at
r1,a1,p1,fine,5,2026-01-02
r2,a1,p404,unknown product,4,2026-01-02
""")
    result = ingest(small_input, KEY)
    reviews = result.tables["reviews"].set_index("review_id")
    assert reviews.loc["r2", "flags"] == "unknown_product"
    assert reviews.loc["r1", "flags"] == ""
    assert result.reports["reviews"].flagged_by_reason == {"unknown_product": 1}


@pytest.mark.parametrize("content, problem", [
    ("", "file is empty"),
    ("review_id;account_id;product_id;text;rating;created_at\nr1;a1;p1;x;5;2026-01-01\n", "not comma-separated"),
    ("review_id,account_id,text\nr1,a1,x\n", "required column(s) product_id, rating, created_at missing"),
])
def test_unusable_tables_raise_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "reviews.csv"
    path.write_text(content)
    with pytest.raises(TableError) as info:
        ingest(tmp_path, KEY)
    assert str(path) in str(info.value) and problem in str(info.value) and "fix:" in str(info.value)


def test_parquet_named_csv_and_csv_named_parquet_are_caught(tmp_path, small_input):
    reviews = pd.read_csv(small_input / "reviews.csv")
    reviews.to_parquet(tmp_path / "reviews.csv")
    with pytest.raises(TableError, match="Parquet file with a .csv name"):
        ingest(tmp_path, KEY)
    (tmp_path / "reviews.csv").unlink()
    (tmp_path / "reviews.parquet").write_text("review_id,text\n")
    with pytest.raises(TableError, match="not a Parquet file"):
        ingest(tmp_path, KEY)


def test_no_scored_table_is_a_table_level_error(tmp_path):
    write_csv(tmp_path, "products", "product_id,seller_id,category,price\np1,s1,home,2\n")
    with pytest.raises(TableError, match="no reviews or orders table"):
        ingest(tmp_path, KEY)


def test_text_is_normalised_and_long_text_truncated_and_flagged(tmp_path):
    long_text = "é" * 25_000
    frame = pd.DataFrame({"review_id": ["r1", "r2"], "account_id": ["a", "a"], "product_id": ["p", "p"],
                          "text": ["cafe\u0301\x00", long_text], "rating": [4, 5],
                          "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    frame.to_parquet(tmp_path / "reviews.parquet")
    result = ingest(tmp_path, KEY)
    reviews = result.tables["reviews"]
    assert reviews.loc[0, "text"] == "café "
    assert len(reviews.loc[1, "text"]) == 20_000 and reviews.loc[1, "flags"] == "text_truncated"
