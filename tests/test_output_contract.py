"""The scored outputs carry the output contract of docs/outputs.md: ranks, decisions, reason
codes, ring ids and the rings table, identical bytes on a re-run."""

import json

import pandas as pd
import pytest

from fraudlens.config import ScoringConfig, load_config
from fraudlens.inference.batch import score_input
from fraudlens.inference.reasons import REASON_CODES
from fraudlens.inference.rings import RING_COLUMNS
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"k"
CONTRACT_FILES = ("review_scores.parquet", "review_scores.csv", "order_scores.parquet", "order_scores.csv",
                  "rings.parquet", "rings.csv")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    work = tmp_path_factory.mktemp("contract")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        write_marketplace(generate_marketplace(3, 400), work / "train")
        write_marketplace(generate_marketplace(4, 400), work / "tonight")
        uri = f"sqlite:///{work / 'mlflow.db'}"
        config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
            "train.input_dir": str(work / "train"), "train.epochs": 3, "mlflow.tracking_uri": uri,
            "encoder.cache_dir": str(work / "cache"), "text_model.uri": None})
        train(config, ingest(work / "train", KEY))
        # A low threshold so that this barely trained model flags enough rows to explain.
        scoring = ScoringConfig(threshold=0.3, top_n=60)
        runs = [score_input("models:/fraudlens@champion", work / "tonight", work / out, KEY, str(work / "cache"),
                            tracking_uri=uri, scoring=scoring) for out in ("first", "second")]
        yield work, runs, scoring


def test_scores_carry_rank_decision_reasons_and_ring(scored):
    work, runs, scoring = scored
    reasons = [c for k in (1, 2, 3) for c in (f"reason_{k}", f"reason_{k}_text")]
    for node_type in ("review", "order"):
        frame = pd.read_parquet(work / "first" / f"{node_type}_scores.parquet")
        key = f"{node_type}_id"
        assert list(frame.columns) == [key, "score", "rank", "decision", *reasons, "ring_id", "scope", "model_name",
                                       "model_version", "model_run_id", "run_id"]
        assert set(frame["scope"]) == {"tonight"}, "without a state every row is tonight's own"
        assert sorted(frame["rank"]) == list(range(1, len(frame) + 1))
        assert frame[key].is_unique
        # Rank 1 is the highest score; equal scores are ordered by id.
        ordered = frame.sort_values("rank")
        assert ordered["score"].is_monotonic_decreasing
        flagged = frame["decision"] == "flag"
        assert set(frame["decision"]) <= {"flag", "pass"}
        assert (flagged == ((frame["score"] >= scoring.threshold) & (frame["rank"] <= scoring.top_n))).all()
        assert flagged.any(), "the test model should flag something to explain"
        # Reasons exist for every flagged row, and only for flagged rows.
        assert frame.loc[flagged, "reason_1"].notna().all()
        assert frame.loc[~flagged, reasons].isna().all().all()
        codes = pd.concat([frame[f"reason_{k}"] for k in (1, 2, 3)]).dropna()
        assert set(codes) <= set(REASON_CODES)
        texts = frame.loc[flagged, "reason_1_text"]
        assert texts.str.len().gt(5).all()


def test_rings_are_written_listed_and_referenced(scored):
    work, runs, _ = scored
    rings = pd.read_parquet(work / "first" / "rings.parquet")
    assert list(rings.columns) == list(RING_COLUMNS)
    assert len(rings) >= 1, "the synthetic marketplace plants review rings"
    assert list(rings["ring_id"]) == [f"R-{i}" for i in range(1, len(rings) + 1)]
    assert rings["ring_score"].is_monotonic_decreasing
    assert (rings["n_accounts"] == rings["accounts"].map(len)).all() and (rings["n_accounts"] >= 3).all()
    csv = pd.read_csv(work / "first" / "rings.csv")
    assert list(csv["ring_id"]) == list(rings["ring_id"])
    assert csv["accounts"].str.split(";").map(len).tolist() == rings["n_accounts"].tolist()
    reviews = pd.read_parquet(work / "first" / "review_scores.parquet")
    assert set(reviews["ring_id"].dropna()) <= set(rings["ring_id"])
    manifest = json.loads((work / "first" / "manifest.json").read_text())
    assert manifest["outputs"]["rings"] == "rings.parquet" and manifest["outputs"]["rings_csv"] == "rings.csv"
    assert manifest["scoring"]["threshold"] == 0.3 and manifest["scoring"]["rings"] == len(rings)
    stages = manifest["stages_s"]
    assert {"load model", "ingest", "graph", "features", "embed texts", "GNN scores", "rings", "attributions",
            "reasons", "write outputs"} <= set(stages) and all(seconds >= 0 for seconds in stages.values())


def test_rescoring_gives_identical_bytes(scored):
    work, runs, _ = scored
    for name in CONTRACT_FILES:
        assert (work / "first" / name).read_bytes() == (work / "second" / name).read_bytes(), name


def test_scoring_config_needs_a_decision_rule():
    with pytest.raises(ValueError):
        ScoringConfig(threshold=None, top_n=None)
    assert ScoringConfig(threshold=None, top_n=10).top_n == 10
