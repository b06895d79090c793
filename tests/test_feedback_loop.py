"""One round of the feedback loop on the synthetic marketplace (issue 15), as the README walks it:
score, an analyst decides the flagged cases of one ring, the decisions come back as labels
(training with ``--labels``; the next night's labels table, which the label features read),
retrain a challenger, ``promote`` decides on a held-out labelled night. Whatever the guard
decides, the next night's champion flags more of that ring's fraud nobody decided, and its
AUPRC on everything outside the ring is not lower.

Why the guard is part of the round: retraining on ~1,100 labels moves AUPRC by several points
either way by itself (docs/research.md, "Feedback labels"); the label features carry the
decisions to the ring at once, and the guard keeps a retrain that came out worse from shipping.
"""

import shutil

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import average_precision_score

from fraudlens.config import load_config
from fraudlens.inference.batch import score_input
from fraudlens.inference.promotion import evaluation_set, promote
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.labels import with_extra_labels
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.output_contract import ENTITY_ID, FLAG, SCORE_FILES
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT

KEY = b"demo"
pytestmark = pytest.mark.slow


def scored(config, marketplace, out, truth):
    """The champion's scores of ``marketplace`` with decisions and rings, joined to the truth."""
    score_input("models:/fraudlens@champion", marketplace, out, KEY, config.encoder.cache_dir,
                config.mlflow.tracking_uri, scoring=config.scoring)
    frames = []
    for entity, name in SCORE_FILES.items():
        frame = pd.read_parquet(out / name)
        frames.append(frame.rename(columns={ENTITY_ID[entity]: "entity_id"}).assign(entity_type=entity)[
            ["entity_type", "entity_id", "score", "decision", "ring_id"]])
    return pd.concat(frames, ignore_index=True).merge(truth, on=["entity_type", "entity_id"])


def next_night_input(marketplace, decisions, out):
    """The marketplace with the analysts' decisions appended to its labels table, as the next
    night's input carries them (docs/research.md, "Feedback labels")."""
    shutil.copytree(marketplace, out, ignore=shutil.ignore_patterns("truth"))
    labels = pd.read_parquet(out / "labels.parquet")
    pd.concat([labels, decisions], ignore_index=True).to_parquet(out / "labels.parquet", index=False)
    return out


def test_deciding_one_rings_flagged_cases_raises_its_recall_and_nothing_else_falls(tmp_path):
    marketplace, held_out = tmp_path / "market", tmp_path / "held_out_night"
    write_marketplace(generate_marketplace(seed=0, scale=1500), marketplace)
    write_marketplace(generate_marketplace(seed=5, scale=800), held_out)
    truth = pd.read_parquet(marketplace / "truth" / "truth.parquet")[["entity_type", "entity_id", "is_fraud"]]
    # fp32 embeddings: the same numbers on any CPU (bf16 rounding differs between CPU kinds).
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(marketplace), "text_model.uri": None, "encoder.precision": "fp32",
        "mlflow.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "encoder.cache_dir": str(tmp_path / "cache")})
    train(config, ingest(marketplace, KEY))
    before = scored(config, marketplace, tmp_path / "before", truth)

    # The ring whose fraud the model half caught: flagged cases to decide, missed ones to find.
    fraud_in_rings = before[before["ring_id"].notna() & (before["is_fraud"] == 1)]
    by_ring = fraud_in_rings.groupby("ring_id")["decision"].agg(
        flagged=lambda d: int((d == FLAG).sum()), missed=lambda d: int((d != FLAG).sum()))
    candidates = by_ring[(by_ring["flagged"] >= 2) & (by_ring["missed"] >= 2)]
    assert len(candidates), f"no partly flagged ring to decide:\n{by_ring}"
    ring = candidates.sort_values(["missed", "flagged"], ascending=False).index[0]
    # Its reviews and orders (every row of a ring member's account carries the ring id).
    members = set(before.loc[before["ring_id"] == ring, "entity_id"])
    decided = before[before["entity_id"].isin(members) & (before["decision"] == FLAG)]
    decisions = pd.DataFrame({"entity_type": decided["entity_type"], "entity_id": decided["entity_id"],
                              "is_fraud": decided["is_fraud"].astype("int64"), "source": "analyst:test",
                              "labeled_at": pd.Timestamp("2026-05-02")})
    labels_file = tmp_path / "analyst_labels.csv"
    decisions.to_csv(labels_file, index=False)

    with_decisions = with_extra_labels(ingest(marketplace, KEY), [labels_file], KEY)
    # One label per entity, the latest winning: a decision older than an entity's label loses.
    kept = int((with_decisions.tables["labels"]["source"] == "analyst:test").sum())
    assert 0 < kept <= len(decisions)
    challenger = train(config, with_decisions)
    client = MlflowClient(config.mlflow.tracking_uri)
    params = client.get_run(challenger.run_id).data.params
    assert sum(int(n) for k, n in params.items() if k.endswith(".analyst:test")) == kept
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    tables, labels, where = evaluation_set("fraudlens", KEY, eval_dir=held_out)
    verdict = promote("fraudlens", tables, labels, where, config.scoring, resamples=200,
                      cache_dir=config.encoder.cache_dir)
    champion = client.get_model_version_by_alias("fraudlens", "champion").version
    assert str(champion) == (challenger.model_version if verdict.promoted else "1")

    after = scored(config, next_night_input(marketplace, decisions, tmp_path / "next"), tmp_path / "after", truth)
    # The ring's recall among the cases nobody decided: the decided ones are known either way.
    undecided = members - set(decided["entity_id"])

    def ring_recall(frame):
        fraud = frame[frame["entity_id"].isin(undecided) & (frame["is_fraud"] == 1)]
        assert len(fraud), "every fraud case of the ring was decided: nothing left to find"
        return (fraud["decision"] == FLAG).mean()

    def auprc_outside(frame):
        outside = frame[~frame["entity_id"].isin(members)]
        return {e: average_precision_score(g["is_fraud"], g["score"]) for e, g in outside.groupby("entity_type")}

    context = f"ring {ring}, challenger {'promoted' if verdict.promoted else 'refused'}: {verdict.lines}"
    assert ring_recall(after) > ring_recall(before), (ring_recall(before), ring_recall(after), context)
    for entity, value in auprc_outside(before).items():
        assert auprc_outside(after)[entity] >= value - 0.01, (entity, value, auprc_outside(after)[entity], context)
