"""Reason codes on a hand-built marketplace: every planted fact shows up with its numbers, only
flagged rows are explained, the model's attribution orders the facts, and it is deterministic."""

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import torch

from fraudlens.inference import reasons as R
from fraudlens.inference.reasons import ReasonSettings, compute_reasons, feature_attributions
from fraudlens.inference.rings import RING_COLUMNS
from fraudlens.marketplace.features import node_features
from fraudlens.marketplace.graph import build_graph
from fraudlens.models.fraud_model import FeatureScaler, FraudLensModel, ModelInputs, architecture_for
from fraudlens.output_contract import reason_columns

T0 = pd.Timestamp("2026-03-03 12:00")
OLD = pd.Timestamp("2025-01-01")
COPY = "this kettle is the best kettle i have ever owned truly"


def _marketplace() -> dict[str, pd.DataFrame]:
    accounts, reviews = [], []

    def add(aid, text, created=OLD, device=None, order_id=None, machine=np.nan, hours=0.0):
        accounts.append({"account_id": aid, "created_at": created, "country": "DE", "device_id": device or f"dev-{aid}"})
        reviews.append({"review_id": f"r-{aid}", "account_id": aid, "product_id": "p1", "text": text, "rating": 5,
                        "created_at": T0 + pd.Timedelta(hours=hours), "order_id": order_id,
                        "machine_text_probability": machine})

    # Texts made of words no other review uses, so only the planted copies are near duplicates.
    def own(tag):
        return " ".join(f"{tag}w{j}" for j in range(8))

    for i in range(1, 16):
        add(f"y{i:02d}", own(f"y{i}"), device="dev-farm", order_id=f"o-y{i}")   # 15 accounts on one device
    add("z1", own("z1"), order_id="o-z1")                                       # a ring member
    add("n1", own("n1"), created=T0 - pd.Timedelta(days=2, hours=6), order_id="o-n1")  # created 2 days before
    for i in range(1, 13):
        add(f"d{i:02d}", COPY, order_id=f"o-d{i}", hours=i * 50)                # 12 copies of one text
    add("m1", own("m1"), machine=0.97)                                          # machine text, unverified
    add("q1", own("q1"), order_id="o-q1")                                       # flagged, no planted fact
    accounts.append({"account_id": "b1", "created_at": OLD, "country": "DE", "device_id": "dev-b1"})
    order_ids = [r["order_id"] for r in reviews if r["order_id"]]
    orders = pd.DataFrame({
        "order_id": order_ids + ["ob1", "ob2", "ob3", "ob4", "ob5"],
        "account_id": [r["account_id"] for r in reviews if r["order_id"]] + ["b1"] * 5,
        "product_id": "p1", "seller_id": "s1", "amount": 2.0, "currency": "EUR", "status": "delivered",
        "created_at": [OLD + pd.Timedelta(days=1)] * len(order_ids)
        + [T0 + pd.Timedelta(minutes=m) for m in (0, 5, 15, 25)] + [T0 + pd.Timedelta(days=1)],
        "payment_token": [f"tok-{o}" for o in order_ids] + ["tok-b"] * 5,
    })
    return {"accounts": pd.DataFrame(accounts), "reviews": pd.DataFrame(reviews), "orders": orders}


def _decided(tables, flag_reviews, flag_orders=("ob1",)):
    reviews, orders = tables["reviews"], tables["orders"]
    return {
        "review": pd.DataFrame({"review_id": reviews["review_id"], "score": 0.5,
                                "decision": np.where(reviews["review_id"].isin(flag_reviews), "flag", "pass")}),
        "order": pd.DataFrame({"order_id": orders["order_id"], "score": 0.5,
                               "decision": np.where(orders["order_id"].isin(flag_orders), "flag", "pass")}),
    }


FLAGGED = ["r-y01", "r-y02", "r-y03", "r-y04", "r-y05", "r-y06", "r-y07", "r-y08", "r-y09", "r-y10",
           "r-z1", "r-n1", "r-d01", "r-m1", "r-q1"]


def _rings():
    ring = {c: [None] for c in RING_COLUMNS}
    ring.update(ring_id=["R-17"], n_accounts=[23], five_star_peak_48h=[140], n_orders=[0], n_reviews=[150])
    return pd.DataFrame(ring), pd.DataFrame({"account_id": ["z1"], "ring_id": ["R-17"]})


def _texts(frame, key, entity):
    row = frame.set_index(key).loc[entity]
    return [row[f"reason_{k}_text"] for k in range(1, 6) if f"reason_{k}_text" in row and pd.notna(row[f"reason_{k}_text"])]


def _reasons(tables=None, flagged=FLAGGED, attributions=None, n=5):
    tables = tables or _marketplace()
    rings, membership = _rings()
    return compute_reasons(tables, _decided(tables, flagged), rings, membership, attributions, ReasonSettings(reasons=n))


def test_planted_facts_appear_with_their_numbers():
    out = _reasons()
    reviews, orders = out["review"], out["order"]
    assert "shares a device with 14 other accounts, 9 already flagged" in _texts(reviews, "review_id", "r-y01")
    assert "part of ring R-17: 23 accounts, 140 five-star reviews in 48 h" in _texts(reviews, "review_id", "r-z1")
    assert "text near-identical to 11 other reviews" in _texts(reviews, "review_id", "r-d01")
    assert "account created 2 days before the review" in _texts(reviews, "review_id", "r-n1")
    assert {"no verified purchase", "text looks machine-written (p = 0.97)"} <= set(_texts(reviews, "review_id", "r-m1"))
    assert "4 orders on one card within an hour" in _texts(orders, "order_id", "ob1")
    # Facts are true only where planted: verified reviews never read "no verified purchase".
    assert "no verified purchase" not in _texts(reviews, "review_id", "r-n1")
    assert _texts(reviews, "review_id", "r-q1") == []


def test_a_labelled_fraud_account_counts_as_flagged():
    tables = _marketplace()
    tables["labels"] = pd.DataFrame({"entity_type": ["account"], "entity_id": ["y11"], "is_fraud": [1]})
    out = _reasons(tables)
    assert "shares a device with 14 other accounts, 10 already flagged" in _texts(out["review"], "review_id", "r-y01")


def test_only_flagged_rows_are_explained_with_the_vocabulary():
    out = _reasons(n=3)
    reviews = out["review"]
    assert sorted(reviews["review_id"]) == sorted(FLAGGED)
    assert list(reviews.columns) == ["review_id", *reason_columns(3)]
    codes = set(pd.concat([reviews[f"reason_{k}"] for k in (1, 2, 3)]).dropna())
    assert codes <= set(R.REASON_CODES)
    assert reviews.set_index("review_id").loc["r-z1", "reason_1"] == R.RING
    assert list(out["order"]["order_id"]) == ["ob1"]
    # Nothing flagged: the table keeps its columns and is empty.
    none = _reasons(flagged=[])
    assert none["review"].empty and list(none["review"].columns) == ["review_id", *reason_columns(5)]


def test_attribution_orders_facts_and_fills_free_slots():
    # r-d01 has NEAR_DUPLICATE_TEXT; r-m1 has MACHINE_TEXT and UNVERIFIED_PURCHASE; r-q1 has no fact.
    # r-n1 has NEW_ACCOUNT.
    families = ["duplicates", "verification", "text_content", "rating", "burst", "account_age"]
    attribution = pd.DataFrame([[0.0, 0.9, 0.1, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.7, 0.3, -0.2],
                                [0.0, 0.0, 0.1, 0.0, 0.0, 0.9]],
                               columns=families, index=pd.Index(["r-m1", "r-q1", "r-n1"], dtype="string"))
    out = _reasons(attributions={"review": attribution}, n=3)["review"].set_index("review_id")
    # The model leaned on verification, so "no verified purchase" outranks the machine-text fact.
    assert list(out.loc["r-m1", ["reason_1", "reason_2"]]) == [R.UNVERIFIED_PURCHASE, R.MACHINE_TEXT]
    # No fact: the model's families fill the slots, strongest first, with their share.
    assert out.loc["r-q1", "reason_1"] == R.MODEL_RATING and out.loc["r-q1", "reason_2"] == R.MODEL_BURST
    assert out.loc["r-q1", "reason_1_text"] == "model: the rating pattern raises the score (70% of its push)"
    # A family a fact already covers is not repeated as a model reason.
    assert list(out.loc["r-n1", ["reason_1", "reason_2"]]) == [R.NEW_ACCOUNT, R.MODEL_TEXT_CONTENT]
    assert R.MODEL_ACCOUNT_AGE not in set(out.loc["r-n1", ["reason_1", "reason_2", "reason_3"]].dropna())


def test_reasons_are_deterministic_and_independent_of_row_order():
    first = _reasons()
    tables = _marketplace()
    shuffled = {k: v.sample(frac=1.0, random_state=3).reset_index(drop=True) for k, v in tables.items()}
    second = _reasons(shuffled)
    for nt in ("review", "order"):
        pdt.assert_frame_equal(first[nt], second[nt])


def _tiny_model(tables):
    graph = build_graph(tables)
    features = node_features(tables, graph.ids)
    generator = torch.Generator().manual_seed(0)
    inputs = ModelInputs(graph=graph, features=features,
                         review_text=torch.randn(len(graph.ids["review"]), 8, generator=generator))
    torch.manual_seed(0)
    architecture = architecture_for(inputs, hidden=8, layers=2, dropout=0.2, text_dim=4)
    gnn = FraudLensModel.new_gnn(architecture)
    return FraudLensModel(gnn, FeatureScaler.fit(features), architecture, Path("."), {}), inputs


def test_feature_attributions_are_family_sums_and_deterministic():
    tables = _marketplace()
    model, inputs = _tiny_model(tables)
    explain = {"review": inputs.graph.node_index("review", ["r-d01", "r-m1"]),
               "order": inputs.graph.node_index("order", ["ob1"])}
    first = feature_attributions(model, inputs, explain)
    second = feature_attributions(model, inputs, explain)
    for nt in explain:
        pdt.assert_frame_equal(first[nt], second[nt])
    assert list(first["review"].index) == ["r-d01", "r-m1"] and list(first["order"].index) == ["ob1"]
    assert {"text_content", "duplicates", "rating", "burst"} <= set(first["review"].columns)
    assert {"amount", "status", "velocity", "shared_identifiers"} <= set(first["order"].columns)
    # Gradient x input over the families adds up to the total over the features.
    x = model.scaler.transform(inputs.features)
    assert np.isfinite(first["review"].to_numpy()).all() and x["review"].shape[1] > 0


def test_a_tree_head_mixes_its_contributions_in_at_its_blend_weight():
    from fraudlens.models.tree_head import TreeHead

    tables = _marketplace()
    model, inputs = _tiny_model(tables)
    explain = {"order": np.arange(len(inputs.graph.ids["order"]))}
    gnn_only = feature_attributions(model, inputs, explain)["order"]
    logits = model.logits(inputs)
    n = len(inputs.graph.ids["order"])
    y = (np.arange(n) % 2).astype(float)  # both classes in training and validation
    features = inputs.features["order"]
    model.tree_head = TreeHead.fit({"order": features}, {"order": logits["order"].numpy()},
                                   {"order": (np.arange(n), y)}, {"order": (np.arange(n), y)})
    model.tree_head.weights["order"] = 0.5
    mixed = feature_attributions(model, inputs, explain)["order"]
    trees = model.tree_head.contributions("order", features)
    trees = trees.T.groupby([R.feature_family("order", c) for c in trees.columns]).sum().T
    expected = gnn_only.reset_index(drop=True).mul(0.5).add(trees.reset_index(drop=True).mul(0.5), fill_value=0.0)
    assert list(mixed.index) == list(gnn_only.index)
    np.testing.assert_allclose(mixed[expected.columns].to_numpy(), expected.to_numpy(), atol=1e-9)
    assert not np.allclose(mixed[expected.columns].to_numpy(), gnn_only[expected.columns].to_numpy())
