"""The text model's outputs as review-node features of the graph model, and the leakage guard."""

import numpy as np
import pandas as pd
import pytest

from fraudlens.config import load_config
from fraudlens.errors import ConfigError
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import DEMO_PII_KEY
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.models.fraud_model import TEXT_MODEL_DIR, FraudLensModel
from fraudlens.models.text_finetune import FineTuneSettings
from fraudlens.models.text_model import CombinedSettings, CombinedTextModel
from fraudlens.output_contract import TEXT_PROBABILITY
from fraudlens.training.text_data import labelled_marketplace_reviews
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # trains models: minutes

TINY_FINETUNE = FineTuneSettings(max_length=48, epochs=1, batch_size=16, threads=1, seed=0, train_layers=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("textgraph")
    text_dir, graph_dir = root / "text_market", root / "graph_market"
    write_marketplace(generate_marketplace(seed=31, scale=900), text_dir)
    write_marketplace(generate_marketplace(seed=32, scale=500), graph_dir)
    labelled = labelled_marketplace_reviews(text_dir)
    text_model = CombinedTextModel(CombinedSettings(finetune=TINY_FINETUNE, inner_folds=3, seed=0))
    text_model.fit(labelled["text"].tolist(), labelled["rating"].to_numpy(), labelled["label"].to_numpy())
    text_model.save(root / "text_model")
    return root, text_dir, graph_dir


def _config(root, graph_dir, text_model_uri):
    return load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(graph_dir), "train.epochs": 8, "encoder.cache_dir": None,
        "mlflow.tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "text_model.uri": text_model_uri})


def test_marketplace_directory_gives_labelled_review_texts(world):
    _, text_dir, _ = world
    labelled = labelled_marketplace_reviews(text_dir)
    labels = pd.read_parquet(text_dir / "labels.parquet") if (text_dir / "labels.parquet").exists() \
        else pd.read_csv(text_dir / "labels.csv")
    assert len(labelled) == (labels["entity_type"] == "review").sum()
    assert set(labelled["label"]) == {0, 1} and labelled["text"].str.len().gt(0).mean() > 0.9


@pytest.fixture(scope="module")
def trained(world):
    root, _, graph_dir = world
    return train(_config(root, graph_dir, str(root / "text_model")), ingest(graph_dir, DEMO_PII_KEY.encode())).model


def test_text_model_outputs_become_review_features_and_travel_with_the_model(world, trained, tmp_path):
    root, _, graph_dir = world
    model = trained
    text_columns = model.text_model.feature_names
    assert set(text_columns) <= set(model.scaler.columns["review"])
    assert model.architecture["feature_dims"]["review"] == len(model.scaler.columns["review"])
    # The graph model reads the fine-tuned encoder, not the frozen MiniLM.
    assert model.encoder_dir == model.text_model.encoder.directory

    tables = ingest(graph_dir, DEMO_PII_KEY.encode()).tables
    scores = model.score(tables)["review"]
    direct = model.text_model.predict_proba(
        tables["reviews"].set_index("review_id").reindex(scores["review_id"])["text"].tolist(),
        tables["reviews"].set_index("review_id").reindex(scores["review_id"])["rating"].astype(float).to_numpy())
    np.testing.assert_allclose(scores[TEXT_PROBABILITY].to_numpy(), direct, atol=1e-5)

    bundle = model.save(tmp_path / "bundle")
    assert (bundle / TEXT_MODEL_DIR / "encoder").is_dir() and not (bundle / "encoder").exists(), \
        "the fine-tuned encoder is stored once, inside the text model"
    reloaded = FraudLensModel.load(bundle).score(tables)["review"]
    pd.testing.assert_frame_equal(reloaded, scores)


def test_text_model_trained_on_the_graph_labels_is_refused(world, tmp_path):
    root, _, graph_dir = world
    labelled = labelled_marketplace_reviews(graph_dir)
    leaky = CombinedTextModel(CombinedSettings(use_encoder=False, inner_folds=3, seed=0))
    leaky.fit(labelled["text"].tolist(), labelled["rating"].to_numpy(), labelled["label"].to_numpy())
    leaky.save(tmp_path / "leaky")
    with pytest.raises(ConfigError, match="leak"):
        train(_config(root, graph_dir, str(tmp_path / "leaky")), ingest(graph_dir, DEMO_PII_KEY.encode()))


def test_a_missing_text_model_is_a_clear_config_error(world, tmp_path):
    root, _, graph_dir = world
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="component.json"):
        train(_config(root, graph_dir, str(tmp_path / "empty")), ingest(graph_dir, DEMO_PII_KEY.encode()))


def test_empty_cjk_emoji_and_rtl_reviews_are_scored(trained, tmp_path):
    texts = ["", "   ", "很好的产品，物流很快", "🔥🔥🔥 best!!! 🔥", "منتج رائع جدا", "שלום, מוצר מצוין", "x" * 3000]
    reviews = pd.DataFrame({
        "review_id": [f"r{i}" for i in range(len(texts))], "account_id": [f"a{i % 3}" for i in range(len(texts))],
        "product_id": "p1", "text": texts, "rating": 5,
        "created_at": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(range(len(texts)), unit="h")})
    (tmp_path / "in").mkdir()
    reviews.to_csv(tmp_path / "in" / "reviews.csv", index=False)
    ingested = ingest(tmp_path / "in", DEMO_PII_KEY.encode())
    assert len(ingested.tables["reviews"]) == len(texts), ingested.quarantine
    scores = trained.score(ingested.tables)["review"]
    assert len(scores) == len(texts)
    assert scores["score"].between(0, 1).all() and scores[TEXT_PROBABILITY].between(0, 1).all()


def test_batch_scoring_with_a_text_model_gives_machine_text_reasons(world, trained, tmp_path):
    from fraudlens.config import ScoringConfig
    from fraudlens.inference.batch import score_input
    from fraudlens.inference.reasons import MACHINE_TEXT

    root, _, graph_dir = world
    # The small test text model is rarely sure: the reason's bar is set at its own top decile.
    text_p = trained.score(ingest(graph_dir, DEMO_PII_KEY.encode()).tables)["review"][TEXT_PROBABILITY]
    bar = float(np.quantile(text_p, 0.9))
    run = score_input("models:/fraudlens@champion", graph_dir, tmp_path / "out", DEMO_PII_KEY.encode(), None,
                      tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                      scoring=ScoringConfig(threshold=0.0, top_n=200, machine_text_min=bar))
    reviews = pd.read_parquet(run.outputs["review"])
    assert reviews[TEXT_PROBABILITY].between(0, 1).all()
    flagged = reviews[reviews["decision"] == "flag"]
    codes = flagged[["reason_1", "reason_2", "reason_3"]]
    machine = codes.eq(MACHINE_TEXT).any(axis=1)
    assert machine.any(), "flagged reviews the text model finds machine-written say so"
    assert (flagged.loc[machine, TEXT_PROBABILITY] >= bar).all()
