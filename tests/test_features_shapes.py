"""Node features of partial marketplaces: the input contract lets reviews or orders stand alone,
and review text may be empty, so every such table set must still give finite features of the
right shape (an orders-only input used to crash ``fraudlens train`` in the text statistics)."""

import numpy as np
import pandas as pd
import pytest

from fraudlens.marketplace.features import node_features
from fraudlens.marketplace.graph import node_ids
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_marketplace(seed=5, scale=200)


def _input_tables(market: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: table for name, table in market.items() if name not in ("labels", "truth")}


def _partial(market: dict[str, pd.DataFrame], case: str) -> dict[str, pd.DataFrame]:
    tables = _input_tables(market)
    if case == "orders_only":
        del tables["reviews"]
    elif case == "reviews_only":
        del tables["orders"]
    else:
        tables["reviews"] = tables["reviews"].assign(text="")
    return tables


def _ingested(tables: dict[str, pd.DataFrame], market: dict[str, pd.DataFrame], directory) -> dict[str, pd.DataFrame]:
    """The same tables as ``fraudlens train`` sees them: written to disk and read back by ingest."""
    write_marketplace({**market, **tables}, directory)
    for name in ("reviews", "orders"):
        if name not in tables:
            (directory / f"{name}.parquet").unlink()
    return ingest(directory, b"k").tables


@pytest.mark.parametrize("source", ["generated", "ingested"])
@pytest.mark.parametrize("case", ["orders_only", "reviews_only", "empty_review_text"])
def test_partial_marketplaces_give_finite_features_of_the_right_shape(market, case, source, tmp_path):
    tables = _partial(market, case)
    if source == "ingested":
        tables = _ingested(tables, market, tmp_path)
    ids = node_ids(tables)
    features = node_features(tables, ids)

    full = _input_tables(market)
    expected_columns = {nt: list(f.columns) for nt, f in node_features(full, node_ids(full)).items()}
    assert {nt: list(f.columns) for nt, f in features.items()} == expected_columns
    for node_type, frame in features.items():
        assert len(frame) == len(ids[node_type]), node_type
        assert list(frame.index) == list(ids[node_type]), node_type
        assert np.isfinite(frame.to_numpy()).all(), node_type
    for entity, table in (("review", "reviews"), ("order", "orders")):
        assert len(features[entity]) == (len(tables[table]) if table in tables else 0), entity


def test_all_empty_review_text_reads_as_empty_and_never_as_copies(market):
    tables = _partial(market, "empty_review_text")
    reviews = node_features(tables, node_ids(tables))["review"]
    assert (reviews["empty_text"] == 1).all()
    assert (reviews[["log_chars", "log_words", "log_identical_texts", "exclamations_per_word", "upper_share"]] == 0
            ).all().all()
