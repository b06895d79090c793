"""XGBGraph on small synthetic order graphs."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from fraudlens.marketplace.graph_features import graph_features, order_nodes
from fraudlens.models.xgbgraph import XGBGraph
from tests.graph_fixtures import synthetic_orders


def _split(n: int, seed: int = 0):
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2: 3 * n // 4], order[3 * n // 4:]


def _data(seed: int = 0, n: int = 1200):
    tables, labels = synthetic_orders(n=n, seed=seed)
    nodes = order_nodes(tables)
    fit, valid, test = _split(len(labels), seed)
    features = graph_features(nodes, labels, labels.index[fit])
    return features, labels.to_numpy(), fit, valid, test


def test_xgbgraph_learns_fraud_that_shows_in_the_graph():
    features, y, fit, valid, test = _data()
    x = features.table
    model = XGBGraph(num_boost_round=300, early_stopping_rounds=20).fit(x.iloc[fit], y[fit], x.iloc[valid], y[valid])
    p = model.predict(x.iloc[test])
    assert p.shape == (len(test),) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(y[test], p) > 0.85
    # Early stopping picked a round before the cap.
    assert model.best_iteration < 299


def test_neighbour_features_beat_the_node_alone():
    # Fraud here is an account / device-ring property: the order's own columns hold little of it.
    features, y, fit, valid, test = _data(seed=1)
    x = features.table
    own = ["log_amount"]
    alone = XGBGraph(num_boost_round=200).fit(x.iloc[fit][own], y[fit], x.iloc[valid][own], y[valid])
    graph = XGBGraph(num_boost_round=200).fit(x.iloc[fit], y[fit], x.iloc[valid], y[valid])
    auc_alone = roc_auc_score(y[test], alone.predict(x.iloc[test]))
    auc_graph = roc_auc_score(y[test], graph.predict(x.iloc[test]))
    assert auc_graph > auc_alone + 0.05


def test_class_weight_follows_the_training_imbalance():
    features, y, fit, valid, _ = _data()
    x = features.table
    model = XGBGraph(num_boost_round=5).fit(x.iloc[fit], y[fit], x.iloc[valid], y[valid])
    config = model.booster.save_config()
    expected = (len(fit) - y[fit].sum()) / y[fit].sum()
    import json
    weight = float(json.loads(config)["learner"]["objective"]["reg_loss_param"]["scale_pos_weight"])
    assert abs(weight - expected) < 1e-3
