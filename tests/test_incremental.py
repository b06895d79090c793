"""Incremental nightly runs: tonight attaches to the history in a state directory."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from fraudlens.config import load_config
from fraudlens.inference.batch import SCOPE_HISTORY, SCOPE_NEIGHBOURHOOD, SCOPE_TONIGHT, score_input
from fraudlens.inference.state import load_history
from fraudlens.marketplace.graph_features import scored_node_frames
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import DEMO_PII_KEY
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.training.train import train
from tests.conftest import REPO_ROOT
from tests.graph_fixtures import sharing_a_group

pytestmark = pytest.mark.slow  # trains models: minutes

KEY = DEMO_PII_KEY.encode()


def _split_by_time(tables: dict[str, pd.DataFrame], cut: pd.Timestamp) -> tuple[dict, dict]:
    """Night 1: everything before ``cut``; night 2: the reviews and orders after it (and the
    accounts and products they bring)."""
    first, second = {}, {}
    for name in ("reviews", "orders"):
        frame = tables[name]
        first[name], second[name] = frame[frame["created_at"] < cut], frame[frame["created_at"] >= cut]
    first["products"], first["accounts"] = tables["products"], tables["accounts"]
    return first, second


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    work = tmp_path_factory.mktemp("incremental")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    write_marketplace(generate_marketplace(41, 500), work / "train")
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(work / "train"), "train.epochs": 4, "mlflow.tracking_uri": uri,
        "encoder.cache_dir": str(work / "cache"), "text_model.uri": None})
    train(config, ingest(work / "train", KEY))
    market = generate_marketplace(42, 600)
    cut = market["reviews"]["created_at"].quantile(0.6)
    first, second = _split_by_time(market, cut)
    extras = {"labels": market["labels"], "truth": market["truth"]}
    write_marketplace({**first, **extras}, work / "night1")
    write_marketplace({**second, "products": first["products"], "accounts": first["accounts"], **extras},
                      work / "night2")
    write_marketplace({**{k: pd.concat([first[k], second[k]]) for k in ("reviews", "orders")},
                       "products": first["products"], "accounts": first["accounts"], **extras}, work / "all")

    def run(night, out, state="state", full=False):
        return score_input("models:/fraudlens@champion", work / night, work / out, KEY, str(work / "cache"),
                           tracking_uri=uri, state_dir=work / state if state else None, full=full)
    return work, run, first, second


def test_second_night_scores_its_own_rows_and_changed_neighbours_only(nights):
    work, run, first, second = nights
    run("night1", "out1")
    assert load_history(work / "state").tables["reviews"].shape[0] == len(first["reviews"])
    second_run = run("night2", "out2")
    reviews = pd.read_parquet(second_run.outputs["review"])
    tonight = reviews[reviews["scope"] == SCOPE_TONIGHT]
    assert set(tonight["review_id"]) == set(second["reviews"]["review_id"])
    rescored = reviews[reviews["scope"] == SCOPE_NEIGHBOURHOOD]
    assert 0 < len(rescored) < len(first["reviews"]), "only old reviews near tonight's are re-scored"
    assert set(rescored["review_id"]) <= set(first["reviews"]["review_id"])
    state = load_history(work / "state")
    assert len(state.tables["reviews"]) == len(first["reviews"]) + len(second["reviews"])
    assert [r["run_id"] for r in state.ledger["runs"]] == [json.loads((work / d / "manifest.json").read_text())
                                                           ["run_id"] for d in ("out1", "out2")]
    manifest = json.loads((work / "out2" / "manifest.json").read_text())
    assert manifest["inputs"]["reviews"]["rows_read"] == manifest["inputs"]["reviews"]["rows_scored"] == \
        len(second["reviews"])

    # Scores of the incremental run equal a from-scratch run over the same whole history.
    whole = pd.read_parquet(run("all", "whole", state=None).outputs["review"]).set_index("review_id")["score"]
    np.testing.assert_allclose(reviews.set_index("review_id")["score"], whole.loc[reviews["review_id"]], atol=1e-6)


def test_rerunning_a_night_already_applied_gives_the_same_run_and_bytes(nights):
    work, run, _, _ = nights
    before = load_history(work / "state").ledger
    again = run("night2", "out2_again")
    assert again.run_id == json.loads((work / "out2" / "manifest.json").read_text())["run_id"]
    for name in ("review_scores.parquet", "order_scores.parquet", "rings.parquet"):
        assert (work / "out2_again" / name).read_bytes() == (work / "out2" / name).read_bytes(), name
    after = load_history(work / "state").ledger
    assert after["rows"] == before["rows"] and after["fingerprint"] == before["fingerprint"]


def test_full_rescores_the_whole_history(nights):
    work, run, first, second = nights
    reviews = pd.read_parquet(run("night2", "full", full=True).outputs["review"])
    assert len(reviews) == len(first["reviews"]) + len(second["reviews"])
    assert set(reviews["scope"]) == {SCOPE_TONIGHT, SCOPE_NEIGHBOURHOOD, SCOPE_HISTORY}


def test_a_failed_run_leaves_the_state_untouched(nights, tmp_path):
    work, run, _, _ = nights
    before = (work / "state" / "state.json").read_bytes()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "reviews.csv").write_text("review_id;text\nr1;hello\n")
    with pytest.raises(Exception):
        score_input("models:/fraudlens@champion", tmp_path / "bad", tmp_path / "out", KEY, None,
                    tracking_uri=f"sqlite:///{work / 'mlflow.db'}", state_dir=work / "state")
    assert (work / "state" / "state.json").read_bytes() == before


def test_a_model_trained_on_the_first_part_scores_the_later_part_without_retraining(nights, tmp_path):
    """Inductive scoring: train on the early part of a time-ordered marketplace, score the
    later part (new reviews and orders, many by accounts and on products with no earlier
    activity) with the same model, through a state that holds the early part."""
    from sklearn.metrics import roc_auc_score

    work, _, first, second = nights
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {
        "train.input_dir": str(work / "night1"), "train.epochs": 60, "mlflow.tracking_uri": uri,
        "encoder.cache_dir": str(work / "cache"), "text_model.uri": None})
    train(config, ingest(work / "night1", KEY))
    run = score_input("models:/fraudlens@champion", work / "night1", tmp_path / "night1", KEY, str(work / "cache"),
                      tracking_uri=uri, state_dir=tmp_path / "state")
    run = score_input("models:/fraudlens@champion", work / "night2", tmp_path / "night2", KEY, str(work / "cache"),
                      tracking_uri=uri, state_dir=tmp_path / "state")
    truth = pd.read_parquet(work / "night2" / "truth" / "truth.parquet")
    fresh_accounts = set(second["reviews"]["account_id"]) - set(first["reviews"]["account_id"])
    assert fresh_accounts, "the later part brings accounts with no earlier reviews"
    for entity in ("review", "order"):
        scores = pd.read_parquet(run.outputs[entity])
        tonight = scores[scores["scope"] == SCOPE_TONIGHT]
        y = tonight[f"{entity}_id"].map(truth[truth["entity_type"] == entity].set_index("entity_id")["is_fraud"])
        assert y.notna().all() and 0 < y.mean() < 1
        assert roc_auc_score(y, tonight["score"]) >= 0.75, entity


def test_labels_arriving_move_only_the_scores_of_nodes_linked_to_them(nights, tmp_path):
    # The same model, the same rows, six more labels: only their neighbours' scores may move
    # (the label-share prior is the model's, not the night's; folds follow ids).
    work, run, _, _ = nights
    base = pd.read_parquet(run("all", "labels_before", state=None).outputs["review"]).set_index("review_id")["score"]
    base_orders = pd.read_parquet(work / "labels_before" / "order_scores.parquet").set_index("order_id")["score"]
    more = tmp_path / "more_labels"
    shutil.copytree(work / "all", more)
    labels, truth = pd.read_parquet(more / "labels.parquet"), pd.read_parquet(more / "truth" / "truth.parquet")
    unlabelled = truth[truth["is_fraud"].eq(1) & ~truth["entity_id"].isin(labels["entity_id"])]
    arriving = pd.concat([unlabelled[unlabelled["entity_type"] == nt].head(3) for nt in ("review", "order")])
    arriving = arriving[["entity_type", "entity_id", "is_fraud"]].assign(
        source="analyst", labeled_at=labels["labeled_at"].max())
    pd.concat([labels, arriving], ignore_index=True).to_parquet(more / "labels.parquet", index=False)
    after_run = run(more, "labels_after", state=None)
    after = {"review": pd.read_parquet(after_run.outputs["review"]).set_index("review_id")["score"],
             "order": pd.read_parquet(work / "labels_after" / "order_scores.parquet").set_index("order_id")["score"]}
    frames = scored_node_frames(ingest(work / "all", KEY).tables)
    for nt, before in (("review", base), ("order", base_orders)):
        frame = frames[nt]
        near = sharing_a_group(frame, frame.ids.isin(arriving.loc[arriving["entity_type"] == nt, "entity_id"]))
        moved = pd.Series(~np.isclose(after[nt].loc[frame.ids].to_numpy(), before.loc[frame.ids].to_numpy(),
                                      rtol=0, atol=1e-9), index=frame.ids)
        assert moved.any(), f"the new {nt} labels reach no score"
        assert not moved[~near].any(), f"{int(moved[~near].sum())} {nt}s far from the new labels moved"
        assert near.mean() < 0.8
