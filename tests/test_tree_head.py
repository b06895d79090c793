"""The graph model's boosted-tree head: it earns a blend weight only where it helps on validation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from fraudlens.models.tree_head import BLEND_GRID, TreeHead, choose_blend_weight


def _task(n: int, seed: int):
    """Fraud is an interaction of two features (trees find it; a logit that ignores them cannot)."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({"a": rng.random(n), "b": rng.random(n), "noise": rng.random(n)})
    y = (((features["a"] > 0.6) & (features["b"] < 0.4)) & (rng.random(n) < 0.9)).astype(float).to_numpy()
    return features, y


def _fit(features, gnn_logits, y):
    n = len(y)
    train, valid = np.arange(n) < int(0.7 * n), np.arange(n) >= int(0.7 * n)
    return TreeHead.fit({"order": features}, {"order": gnn_logits},
                        {"order": (np.flatnonzero(train), y[train])}, {"order": (np.flatnonzero(valid), y[valid])}), valid


def test_trees_get_weight_where_the_gnn_misses_the_signal():
    features, y = _task(3000, 0)
    uninformative = np.random.default_rng(1).normal(size=len(y))
    head, valid = _fit(features, uninformative, y)
    assert 0.75 <= head.weights["order"] <= 1.0
    blended = head.blended_logits("order", features, uninformative)
    assert average_precision_score(y[valid], blended[valid]) > average_precision_score(y[valid], uninformative[valid]) + 0.3
    assert head.validation["order"]["blend_auprc"] >= head.validation["order"]["gnn_auprc"]


def test_a_head_that_does_not_help_gets_no_weight_and_leaves_the_gnn_alone():
    features, y = _task(3000, 2)
    perfect = np.where(y == 1, 8.0, -8.0)  # the GNN already separates the classes
    head, _ = _fit(features, perfect, y)
    assert head.weights["order"] == 0.0
    np.testing.assert_array_equal(head.blended_logits("order", features, perfect), perfect)


def test_node_types_without_both_classes_keep_the_gnn(tmp_path):
    features, y = _task(400, 3)
    head = TreeHead.fit({"review": features}, {"review": np.zeros(len(y))},
                        {"review": (np.arange(200), np.zeros(200))}, {"review": (np.arange(200, 400), y[200:])})
    assert head.trees == {} and head.blended_logits("review", features, np.ones(len(y)))[0] == 1.0


def test_save_load_round_trip_and_contributions_add_up(tmp_path):
    features, y = _task(2000, 4)
    logits = np.random.default_rng(5).normal(size=len(y))
    head, _ = _fit(features, logits, y)
    head.save(tmp_path / "head")
    loaded = TreeHead.load(tmp_path / "head")
    assert loaded.weights == head.weights and loaded.trees["order"].best_iteration == head.trees["order"].best_iteration
    np.testing.assert_array_equal(loaded.blended_logits("order", features, logits),
                                  head.blended_logits("order", features, logits))
    # Contributions plus the bias give the trees' log-odds, row by row.
    contributions = loaded.contributions("order", features.iloc[:50])
    p = loaded.tree_probability("order", features.iloc[:50])
    bias = np.log(p / (1 - p)) - contributions.sum(axis=1).to_numpy()
    assert np.allclose(bias, bias[0], atol=1e-4)


def test_prediction_in_chunks_equals_one_call(monkeypatch):
    import fraudlens.models.tree_head as tree_head

    features, y = _task(1500, 6)
    head, _ = _fit(features, np.zeros(len(y)), y)
    whole = head.tree_probability("order", features)
    monkeypatch.setattr(tree_head, "PREDICT_CHUNK", 97)
    np.testing.assert_array_equal(head.tree_probability("order", features), whole)


@pytest.mark.parametrize("weight", [0.25, 1.0])
def test_blend_is_the_weighted_mean_of_probabilities(weight):
    features, y = _task(1500, 7)
    logits = np.random.default_rng(8).normal(size=len(y))
    head, _ = _fit(features, logits, y)
    head.weights["order"] = weight
    p = 1 / (1 + np.exp(-head.blended_logits("order", features, logits)))
    expected = weight * head.tree_probability("order", features) + (1 - weight) / (1 + np.exp(-logits))
    assert np.allclose(p, expected, atol=1e-6)


def test_blend_weight_ties_go_to_the_gnn():
    y = np.array([0, 1, 0, 1, 0, 1])
    perfect = y.astype(float)
    weight, auprc = choose_blend_weight(y, perfect, perfect)
    assert weight == 0.0 and set(auprc) == set(BLEND_GRID)
    # Inverted GNN: 0.75 already ranks perfectly (0.75 vs 0.25), so the smaller weight is chosen.
    weight, auprc = choose_blend_weight(y, perfect, 1 - perfect)
    assert weight == 0.75 and auprc[0.75] == auprc[1.0] == 1.0 > auprc[0.5]


def test_blend_weight_is_bagged_a_clear_winner_keeps_it_a_chance_one_moves_to_the_middle():
    rng = np.random.default_rng(5)
    y = (rng.random(60) < 0.2).astype(int)
    # Two equally informative, independent scores on a small validation set: whichever grid
    # weight wins on these 60 rows wins by chance.
    a, b = y + rng.normal(0, 0.8, len(y)), y + rng.normal(0, 0.8, len(y))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    weight, auprc = choose_blend_weight(y, sigmoid(a), sigmoid(b))
    argmax = max(BLEND_GRID, key=lambda w: (round(auprc[w], 6), -w))
    assert 0.1 < weight < 0.9 and weight != argmax
    # Trees that separate the classes and a GNN that does not: every resample picks the smallest
    # weight that ranks perfectly (0.5 here), as the whole set does.
    weight, auprc = choose_blend_weight(y, y.astype(float), rng.random(len(y)))
    assert weight == max(BLEND_GRID, key=lambda w: (round(auprc[w], 6), -w)) == 0.5
