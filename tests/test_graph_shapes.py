"""Every marketplace shape trains and scores through the product (train -> register -> score_input):
orders only (S-FFSD's shape), reviews only (YelpChi's), reviews with empty text, no accounts or
products tables, a scored type without labels, and platform signals on reviews, orders and accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlens.config import load_config
from fraudlens.inference.batch import score_input
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.synthetic import generate_marketplace
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"k"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def marketplace() -> dict[str, pd.DataFrame]:
    tables = generate_marketplace(seed=3, scale=200)
    tables.pop("truth", None)
    return tables


def _write(tables: dict[str, pd.DataFrame], directory) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)


def _train_and_score(tables: dict[str, pd.DataFrame], tmp_path, monkeypatch) -> dict[str, pd.DataFrame]:
    monkeypatch.chdir(tmp_path)
    _write(tables, tmp_path / "input")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(tmp_path / "input"), "train.epochs": 2, "mlflow.tracking_uri": uri,
        "encoder.cache_dir": str(tmp_path / "cache"), "text_model.uri": None})
    result = train(config, ingest(tmp_path / "input", KEY))
    run = score_input(f"models:/fraudlens/{result.model_version}", tmp_path / "input", tmp_path / "scores", KEY,
                      str(tmp_path / "cache"), tracking_uri=uri)
    scores = {}
    for node_type in ("review", "order"):
        path = tmp_path / "scores" / f"{node_type}_scores.parquet"
        if path.exists():
            scores[node_type] = pd.read_parquet(path)
            assert scores[node_type]["score"].between(0, 1).all()
    assert run.manifest["inputs"]
    return scores


def _labels(tables: dict[str, pd.DataFrame], *entity_types: str) -> pd.DataFrame:
    labels = tables["labels"]
    return labels[labels["entity_type"].isin(entity_types)].reset_index(drop=True)


def test_orders_only(marketplace, tmp_path, monkeypatch):
    tables = {"orders": marketplace["orders"], "labels": _labels(marketplace, "order")}
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert set(scores) == {"order"} and len(scores["order"]) == len(marketplace["orders"])


def test_reviews_only(marketplace, tmp_path, monkeypatch):
    tables = {"reviews": marketplace["reviews"].drop(columns=["order_id"]), "labels": _labels(marketplace, "review")}
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert set(scores) == {"review"} and len(scores["review"]) == len(marketplace["reviews"])


def test_reviews_with_empty_text(marketplace, tmp_path, monkeypatch):
    reviews = marketplace["reviews"].assign(text="")
    tables = {**marketplace, "reviews": reviews}
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert len(scores["review"]) == len(reviews) and len(scores["order"]) == len(marketplace["orders"])


def test_no_accounts_or_products_tables(marketplace, tmp_path, monkeypatch):
    tables = {k: v for k, v in marketplace.items() if k not in ("accounts", "products")}
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert set(scores) == {"review", "order"}


def test_a_scored_type_without_labels(marketplace, tmp_path, monkeypatch):
    tables = {**marketplace, "labels": _labels(marketplace, "order", "account")}
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert len(scores["review"]) == len(marketplace["reviews"])


def test_platform_signals_become_features_and_bad_values_are_flagged(marketplace, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    reviews = marketplace["reviews"].assign(signal_prior=rng.random(len(marketplace["reviews"])))
    reviews.loc[0, "signal_prior"] = np.inf
    orders = marketplace["orders"].assign(signal_risk=rng.random(len(marketplace["orders"])))
    accounts = marketplace["accounts"].assign(signal_trust=rng.random(len(marketplace["accounts"])))
    tables = {**marketplace, "reviews": reviews, "orders": orders, "accounts": accounts}
    _write(tables, tmp_path / "check")
    ingested = ingest(tmp_path / "check", KEY)
    assert ingested.reports["reviews"].flagged_by_reason.get("bad_signal") == 1
    assert not ingested.reports["reviews"].ignored_columns and ingested.quarantine.empty
    assert np.isnan(ingested.tables["reviews"].loc[0, "signal_prior"])
    from fraudlens.models.fraud_model import build_model_inputs
    from fraudlens.models.text_encoder import TextEncoder

    inputs = build_model_inputs(ingested.tables, TextEncoder(cache_dir=tmp_path / "cache"))
    assert "g_signal_prior" in inputs.features["review"] and "g_signal_risk" in inputs.features["order"]
    assert "g_account_signal_trust" in inputs.features["order"] and "signal_trust" in inputs.features["account"]
    scores = _train_and_score(tables, tmp_path, monkeypatch)
    assert set(scores) == {"review", "order"}
