"""Adapters from the shared real data sets to fraudlens tables; skipped when ../shared/data is absent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlens.marketplace import adapters
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import DEMO_PII_KEY

DATA_DIR = adapters.DEFAULT_DATA_DIR
needs_sffsd = pytest.mark.skipif(not (DATA_DIR / adapters.SFFSD_FILE).exists(),
                                 reason=f"S-FFSD not found at {DATA_DIR / adapters.SFFSD_FILE} (shared data absent)")
needs_yelpchi = pytest.mark.skipif(not (DATA_DIR / adapters.YELPCHI_FILE).exists(),
                                   reason=f"YelpChi not found at {DATA_DIR / adapters.YELPCHI_FILE} (shared data absent)")


@needs_sffsd
def test_sffsd_tables_pass_ingest_without_losing_rows(tmp_path):
    raw = pd.read_csv(DATA_DIR / adapters.SFFSD_FILE)
    adapters.write_sffsd(DATA_DIR, tmp_path)
    result = ingest(tmp_path, DEMO_PII_KEY.encode())
    assert result.quarantine.empty
    orders, labels = result.tables["orders"], result.tables["labels"]
    assert len(orders) == len(raw) == 77_881
    assert orders["order_id"].is_unique
    # Labels 2 are unlabelled: no row; 0/1 keep their counts.
    assert len(labels) == int((raw["Labels"] != 2).sum())
    assert labels["is_fraud"].astype(int).sum() == int((raw["Labels"] == 1).sum())
    assert set(labels["entity_id"]) <= set(orders["order_id"])
    assert orders["created_at"].is_monotonic_increasing
    # Shared attributes became hashed identifiers with the data set's distinct counts.
    assert orders["shipping_address"].nunique() == raw["Location"].nunique()
    assert orders["device_id"].nunique() == raw["Type"].nunique()
    assert not orders["shipping_address"].isin(raw["Location"].astype(str)).any()
    assert orders["seller_id"].nunique() == raw["Target"].nunique()
    assert np.allclose(orders["amount"].to_numpy(), raw.sort_values("Time")["Amount"].to_numpy())
    assert not result.reports["orders"].flagged_by_reason  # every product is in the products table


@needs_yelpchi
def test_yelpchi_tables_pass_ingest_with_priors_as_signals(tmp_path):
    raw = pd.read_csv(DATA_DIR / adapters.YELPCHI_FILE)
    adapters.write_yelpchi(DATA_DIR, tmp_path)
    result = ingest(tmp_path, DEMO_PII_KEY.encode())
    assert result.quarantine.empty
    reviews = result.tables["reviews"]
    assert len(reviews) == len(raw) == 67_395
    assert reviews["account_id"].nunique() == raw["user_id"].nunique()
    assert reviews["product_id"].nunique() == raw["product_id"].nunique()
    assert result.tables["labels"]["is_fraud"].astype(int).sum() == int(raw["is_fraud"].sum())
    # The priors go through ingest as platform signals, aligned by review_id.
    assert not result.reports["reviews"].ignored_columns
    by_id = reviews.set_index("review_id")
    for column in adapters.PRIOR_COLUMNS:
        np.testing.assert_allclose(by_id.loc[raw["review_id"].astype(str), f"signal_{column}"].to_numpy(),
                                   raw[column].to_numpy())


def test_sffsd_adapter_on_a_hand_made_frame():
    raw = pd.DataFrame({"Time": [1, 0, 2], "Source": ["S1", "S2", "S1"], "Target": ["T1", "T1", "T2"],
                        "Amount": [5.0, 7.0, 9.0], "Location": ["L1", "L1", "L2"], "Type": ["TP1", "TP2", "TP1"],
                        "Labels": [1, 2, 0]})
    tables = adapters.sffsd_tables(raw)
    orders = tables["orders"]
    assert orders["order_id"].tolist() == ["o0", "o1", "o2"]
    assert orders["account_id"].tolist() == ["S2", "S1", "S1"]
    assert orders["product_id"].tolist() == ["T1-item", "T1-item", "T2-item"]
    assert orders["created_at"].is_monotonic_increasing
    assert tables["labels"][["entity_id", "is_fraud"]].values.tolist() == [["o1", 1], ["o2", 0]]
    assert sorted(tables["products"]["product_id"]) == ["T1-item", "T2-item"]


def test_cli_reports_missing_data_in_one_line(tmp_path, capsys):
    assert adapters.main(["sffsd", str(tmp_path / "out"), "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "data file not found" in err and err.count("\n") == 1


@needs_sffsd
def test_cli_writes_ingestable_tables(tmp_path):
    assert adapters.main(["sffsd", str(tmp_path / "out"), "--data-dir", str(DATA_DIR)]) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"orders.parquet", "products.parquet", "labels.parquet"}
