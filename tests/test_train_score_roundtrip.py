"""Train -> register -> score on the hand-written marketplace, with a real MLflow sqlite store."""

import json
import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from fraudlens.config import load_config
from fraudlens.inference.batch import score_input
from fraudlens.marketplace.ingest import ingest
from fraudlens.models.fraud_model import FraudLensModel
from fraudlens.persistence import MANIFEST, BundleFormatError
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"k"


pytestmark = pytest.mark.slow


@pytest.fixture
def trained(small_input, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(small_input), "train.epochs": 3, "mlflow.tracking_uri": uri,
        "encoder.cache_dir": str(tmp_path / "cache"), "text_model.uri": None,
    })
    return config, train(config, ingest(small_input, KEY))


def test_training_logs_and_registers_the_champion(trained):
    config, result = trained
    client = MlflowClient(config.mlflow.tracking_uri, registry_uri=config.mlflow.tracking_uri)
    version = client.get_model_version_by_alias("fraudlens", "champion")
    assert str(version.version) == result.model_version and version.run_id == result.run_id
    run = client.get_run(result.run_id)
    assert run.data.params["gnn.hidden"] == str(config.gnn.hidden)
    assert len(client.get_metric_history(result.run_id, "train_loss")) == result.epochs_run
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert "config.json" in artifacts


def test_registered_model_scores_every_accepted_row(trained, small_input, tmp_path):
    config, result = trained
    out = tmp_path / "scores"
    run = score_input("models:/fraudlens@champion", small_input, out, KEY, str(tmp_path / "cache"),
                      tracking_uri=config.mlflow.tracking_uri)
    reviews = pd.read_parquet(out / "review_scores.parquet")
    orders = pd.read_parquet(out / "order_scores.parquet")
    assert sorted(reviews["review_id"]) == ["r1", "r2", "r3", "r4"]
    assert sorted(orders["order_id"]) == ["o1", "o2", "o3"]
    for frame in (reviews, orders):
        assert frame["score"].between(0, 1).all()
        assert (frame["model_name"] == "fraudlens").all() and (frame["model_version"] == result.model_version).all()
        assert (frame["run_id"] == run.run_id).all()
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["inputs"].values():
        kept = entry.get("rows_scored", entry.get("rows_accepted"))
        assert entry["rows_read"] == kept + entry["rows_quarantined"]
    assert manifest["model"]["version"] == result.model_version
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_pyfunc_scores_a_bare_seller_csv(trained):
    config, result = trained
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/fraudlens@champion")
    seller = pd.DataFrame({"text": ["Love it", "", "Amazing product!!! Highly recommend"], "rating": [5, 3, 5]})
    scores = model.predict(seller)
    assert len(scores) == 3 and scores["fraud_score"].between(0, 1).all()


def test_registered_model_loads_in_a_fresh_process_outside_the_repository(trained, tmp_path):
    """What a scoring host does: a new interpreter, another working directory, only the installed package."""
    config, result = trained
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({config.mlflow.tracking_uri!r})\n"
        "model = mlflow.pyfunc.load_model('models:/fraudlens@champion')\n"
        "out = model.predict(pd.DataFrame({'text': ['Works as described', 'Best!!! Buy now'], 'rating': [4, 5]}))\n"
        "import fraudlens.models.fraud_model as fm\n"
        "print('OK', len(out), bool(out['fraud_score'].between(0, 1).all()), fm.__file__)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK 2 True" in done.stdout


def test_a_bundle_of_another_format_version_is_refused_clearly(trained, tmp_path):
    _, result = trained
    bundle = result.model.save(tmp_path / "bundle")
    manifest = json.loads((bundle / MANIFEST).read_text())
    loaded = FraudLensModel.load(bundle)
    assert loaded.calibration == result.model.calibration
    # Scoring's label features use training's prior and folds (graph_features.label_features).
    assert loaded.label_prior == result.model.label_prior and set(loaded.label_prior) == {"review", "order"}
    assert loaded.label_fold_seed == trained[0].train.seed
    (bundle / MANIFEST).write_text(json.dumps({**manifest, "format_version": manifest["format_version"] + 1}))
    with pytest.raises(BundleFormatError, match="format version"):
        FraudLensModel.load(bundle)


def test_same_data_config_and_seed_give_the_same_model(trained, small_input):
    config, result = trained
    again = train(config, ingest(small_input, KEY))
    assert again.model_version != result.model_version
    assert again.metrics == result.metrics and again.epochs_run == result.epochs_run
    tables = ingest(small_input, KEY).tables
    first, second = result.model.score(tables), again.model.score(tables)
    for entity in first:
        pd.testing.assert_frame_equal(first[entity], second[entity])
