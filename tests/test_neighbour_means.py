"""Neighbour means of the label-free graph features: the group-by formulation equals the mean
over the projected neighbours, NaN cells skipped, and the column chunks never change a value."""

from __future__ import annotations

import numpy as np
import pandas as pd

import fraudlens.marketplace.graph_features as graph_features
from fraudlens.marketplace.graph_features import (
    _membership,
    _Relation,
    neighbour_mean,
    order_nodes,
    structural_features,
)
from tests.graph_fixtures import synthetic_orders


def test_neighbour_mean_is_the_mean_over_projected_neighbours_skipping_nan():
    # Two relations over five nodes; node 4 has no key in the second relation.
    first, second = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 0, -1])
    values = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0]])
    got = neighbour_mean(values, [_Relation.of(_membership(first)), _Relation.of(_membership(second))])
    expected = np.full_like(values, np.nan)
    for node in range(5):
        # A neighbour reached through both relations counts twice (the projection is a multigraph).
        neighbours = [other for codes in (first, second) for other in range(5)
                      if other != node and codes[node] >= 0 and codes[other] == codes[node]]
        for column in range(values.shape[1]):
            seen = [values[other, column] for other in neighbours if not np.isnan(values[other, column])]
            if seen:
                expected[node, column] = np.mean(seen)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.isnan(neighbour_mean(values[:1], [_Relation.of(_membership(np.array([0])))])).all()


def test_structural_features_do_not_depend_on_the_column_chunk(monkeypatch):
    tables, _ = synthetic_orders()
    nodes = order_nodes(tables)
    whole = structural_features(nodes)
    assert whole.isna().any().any(), "the fixture must exercise the NaN-skipping counts"
    monkeypatch.setattr(graph_features, "AGGREGATE_CHUNK", 1)
    pd.testing.assert_frame_equal(structural_features(nodes), whole, check_exact=True)
    assert (whole.dtypes == np.float32).all()
