"""Champion / challenger on a real MLflow store: a weaker challenger is refused, a better one is
promoted, an override needs a reason, and every decision is a run in MLflow."""

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.config import ScoringConfig, load_config
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.labels import labels_known_after
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.metrics import paired_bootstrap
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"demo"


def test_paired_bootstrap_sees_a_real_difference_and_not_a_fake_one():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.2).astype(int)
    good = y + rng.normal(0, 0.5, 600)
    noise = rng.normal(0, 1, 600)
    scoring = ScoringConfig(threshold=None, top_n=120)
    better = paired_bootstrap(y, noise, good, scoring, resamples=300)
    assert better["auprc"].low > 0 and better["recall_at_budget"].low > 0
    same = paired_bootstrap(y, good, good + rng.normal(0, 1e-6, 600), scoring, resamples=300)
    assert same["auprc"].low <= 0 <= same["auprc"].high


def test_labels_after_the_cutoff_are_the_time_respecting_evaluation_set():
    labels = pd.DataFrame({"entity_type": ["review", "review", "order"], "entity_id": ["r1", "r2", "o1"],
                           "is_fraud": [1, 0, 1], "labeled_at": pd.to_datetime(["2026-01-01", "2026-03-01", None])})
    tables = {"orders": pd.DataFrame({"order_id": ["o1"], "created_at": pd.to_datetime(["2026-02-15"])})}
    after = labels_known_after(labels, tables, pd.Timestamp("2026-02-01"))
    assert sorted(after["entity_id"]) == ["o1", "r2"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    work = tmp_path_factory.mktemp("promotion")
    for name, seed, scale in (("train", 0, 1000), ("eval", 1, 2000)):
        write_marketplace(generate_marketplace(seed=seed, scale=scale), work / name)
    return work


def fit(store, **overrides):
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(store / "train"), "mlflow.tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
        "encoder.cache_dir": str(store / "cache"), "text_model.uri": None, **overrides})
    return config, train(config, ingest(store / "train", KEY))


def alias(client, name):
    return str(client.get_model_version_by_alias("fraudlens", name).version)


def promote(store, *extra):
    return CliRunner().invoke(app, ["promote", "--eval", str(store / "eval"), "--resamples", "200",
                                    "--config", str(store / "config.yaml"), *extra])


@pytest.mark.slow
def test_weaker_challengers_are_refused_and_better_ones_promoted(store):
    # Deliberately weak: one epoch at a learning rate that barely moves the weights, no trees.
    weak = {"train.epochs": 1, "train.learning_rate": 1e-6, "gnn.tree_head": False}
    config, first = fit(store, **weak)
    (store / "config.yaml").write_text(json.dumps({"mlflow": {"tracking_uri": config.mlflow.tracking_uri},
                                                   "train": {"input_dir": str(store / "train")},
                                                   "encoder": {"cache_dir": str(store / "cache")}}))
    client = MlflowClient(config.mlflow.tracking_uri, registry_uri=config.mlflow.tracking_uri)
    assert alias(client, "champion") == first.model_version
    assert alias(client, "challenger") == first.model_version

    # The run explains itself: datasets, figures, cutoff, model card on the version.
    run = client.get_run(first.run_id)
    assert {d.dataset.name for d in run.inputs.dataset_inputs} >= {"reviews", "orders", "labels"}
    assert "training_cutoff" in run.data.tags and any(k.startswith("labels.source.") for k in run.data.params)
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"model_card.md", "reliability.png", "review_pr_curve.png", "order_roc_curve.png"} <= artifacts
    assert "Model card" in client.get_model_version("fraudlens", first.model_version).description

    _, strong = fit(store, **{"train.epochs": 30})
    assert alias(client, "champion") == first.model_version
    result = promote(store)
    assert result.exit_code == 0, result.output
    assert "promoted" in result.output
    assert alias(client, "champion") == strong.model_version

    _, weaker = fit(store, **weak)
    result = promote(store)
    assert result.exit_code == 3, result.output
    assert "refused" in result.output and "auprc" in result.output
    assert alias(client, "champion") == strong.model_version

    assert promote(store, "--force").exit_code == 2  # an override needs a reason
    result = promote(store, "--force", "--reason", "incident rollback drill")
    assert result.exit_code == 0, result.output
    version = client.get_model_version_by_alias("fraudlens", "champion")
    assert str(version.version) == weaker.model_version and version.tags["forced_reason"] == "incident rollback drill"

    experiment = client.get_experiment_by_name("fraudlens-promotion")
    decisions = [r.data.tags["decision"] for r in client.search_runs([experiment.experiment_id],
                                                                     order_by=["attributes.start_time ASC"])]
    assert decisions == ["promoted", "refused", "promoted"]
