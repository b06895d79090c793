"""One round of the feedback loop on the synthetic marketplace: score, an analyst labels the
flagged cases of one ring, retrain with those labels — the ring's recall rises and AUPRC on
everything outside the ring does not fall."""

import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from fraudlens.config import load_config
from fraudlens.inference.batch import score_input
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.labels import with_extra_labels
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.output_contract import ENTITY_ID, FLAG, SCORE_FILES
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"demo"
pytestmark = pytest.mark.slow


def scored(config, marketplace, out):
    score_input(f"models:/fraudlens@{config.mlflow.alias}", marketplace, out, KEY, config.encoder.cache_dir,
                config.mlflow.tracking_uri, scoring=config.scoring)
    frames = []
    for entity, name in SCORE_FILES.items():
        frame = pd.read_parquet(out / name)
        frames.append(frame.rename(columns={ENTITY_ID[entity]: "entity_id"}).assign(entity_type=entity)[
            ["entity_type", "entity_id", "score", "decision", "ring_id"]])
    return pd.concat(frames, ignore_index=True)


def test_labelling_one_rings_flagged_cases_raises_that_rings_recall(tmp_path):
    marketplace = tmp_path / "market"
    write_marketplace(generate_marketplace(seed=0, scale=1500), marketplace)
    truth = pd.read_parquet(marketplace / "truth" / "truth.parquet")
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(marketplace), "train.epochs": 40, "text_model.uri": None,
        "mlflow.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "encoder.cache_dir": str(tmp_path / "cache")})
    train(config, ingest(marketplace, KEY))
    before = scored(config, marketplace, tmp_path / "before").merge(truth, on=["entity_type", "entity_id"])

    # The ring with the most fraud the model missed, among rings it partly flagged.
    in_rings = before[before["ring_id"].notna() & (before["is_fraud"] == 1)]
    by_ring = in_rings.groupby("ring_id").agg(flagged=("decision", lambda d: (d == FLAG).sum()),
                                              missed=("decision", lambda d: (d != FLAG).sum()))
    candidates = by_ring[(by_ring["flagged"] > 0) & (by_ring["missed"] > 0)]
    assert len(candidates), "no partly flagged ring to label"
    ring = candidates.sort_values(["missed", "flagged"], ascending=False).index[0]
    members = before["ring_id"] == ring
    decided = before[members & (before["decision"] == FLAG)]
    analyst = pd.DataFrame({"entity_type": decided["entity_type"], "entity_id": decided["entity_id"],
                            "is_fraud": decided["is_fraud"].astype(int), "source": "analyst:test",
                            "labeled_at": pd.Timestamp.now().floor("s")})
    labels_file = tmp_path / "analyst_labels.csv"
    analyst.to_csv(labels_file, index=False)

    train(config, with_extra_labels(ingest(marketplace, KEY), [labels_file], KEY))
    after = scored(config, marketplace, tmp_path / "after").merge(truth, on=["entity_type", "entity_id"])

    def ring_recall(frame):
        fraud = frame[frame["entity_id"].isin(before.loc[members, "entity_id"]) & (frame["is_fraud"] == 1)]
        return (fraud["decision"] == FLAG).mean()

    def auprc_outside(frame):
        outside = frame[~frame["entity_id"].isin(before.loc[members, "entity_id"])]
        return {e: average_precision_score(g["is_fraud"], g["score"]) for e, g in outside.groupby("entity_type")}

    assert ring_recall(after) > ring_recall(before)
    for entity, value in auprc_outside(before).items():
        assert auprc_outside(after)[entity] >= value - 0.02, entity
