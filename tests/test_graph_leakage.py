"""Graph features must not see test labels: changing them cannot change any feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudlens.marketplace import adapters
from fraudlens.marketplace.graph_features import (
    graph_features,
    label_features,
    label_folds,
    label_prior,
    labels_by_id,
    order_nodes,
    review_nodes,
    structural_features,
)
from tests.graph_fixtures import sharing_a_group, synthetic_orders

DATA_DIR = adapters.DEFAULT_DATA_DIR


def _split(labels: pd.Series, seed: int = 0) -> tuple[pd.Index, pd.Index]:
    rng = np.random.default_rng(seed)
    train = rng.random(len(labels)) < 0.6
    return labels.index[train], labels.index[~train]


def _assert_test_labels_unused(nodes, labels: pd.Series, train_ids: pd.Index, test_ids: pd.Index) -> None:
    rng = np.random.default_rng(1)
    baseline = graph_features(nodes, labels, train_ids).table
    flipped = labels.copy()
    flipped[test_ids] = 1 - flipped[test_ids]
    permuted = labels.copy()
    permuted[test_ids] = rng.permutation(permuted[test_ids].to_numpy())
    all_fraud = labels.copy()
    all_fraud[test_ids] = 1
    without_test = labels.drop(test_ids)
    for changed in (flipped, permuted, all_fraud, without_test):
        pd.testing.assert_frame_equal(graph_features(nodes, changed, train_ids).table, baseline)


def test_changing_test_labels_changes_no_feature():
    tables, labels = synthetic_orders()
    train_ids, test_ids = _split(labels)
    _assert_test_labels_unused(order_nodes(tables), labels, train_ids, test_ids)


def test_training_labels_do_reach_the_label_features():
    # The check above would pass for features that ignore labels altogether; they must not.
    tables, labels = synthetic_orders()
    nodes = order_nodes(tables)
    train_ids, _ = _split(labels)
    flipped = labels.copy()
    flipped[train_ids] = 1 - flipped[train_ids]
    before = label_features(nodes, labels, train_ids)
    after = label_features(nodes, flipped, train_ids)
    assert not np.allclose(before.to_numpy(), after.to_numpy())


def test_a_training_row_does_not_see_its_own_label():
    tables, labels = synthetic_orders()
    nodes = order_nodes(tables)
    train_ids, _ = _split(labels)
    before = label_features(nodes, labels, train_ids)
    changed_rows = 0
    for node in train_ids[:40]:
        flipped = labels.copy()
        flipped[node] = 1 - flipped[node]
        after = label_features(nodes, flipped, train_ids)
        pd.testing.assert_series_equal(after.loc[node], before.loc[node])
        changed_rows += int((after != before).any(axis=1).sum())
    assert changed_rows > 0  # ... while its neighbours in other folds do see it


def _rows_changed(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    same = (after == before) | (after.isna() & before.isna())
    return ~same.all(axis=1).to_numpy()


def test_a_node_keeps_its_fold_when_rows_are_added_or_reordered():
    ids = pd.Index([f"o{i}" for i in range(2000)])
    folds = label_folds(ids)
    assert np.bincount(folds).min() > 150  # about 200 per fold
    grown = ids.append(pd.Index([f"x{i}" for i in range(500)]))[::-1]
    pd.testing.assert_series_equal(pd.Series(label_folds(grown), index=grown).loc[ids], pd.Series(folds, index=ids))
    assert not np.array_equal(label_folds(ids, seed=1), folds)


def test_with_the_models_prior_new_labels_move_only_the_features_of_their_neighbours():
    tables, labels = synthetic_orders()
    nodes = order_nodes(tables)
    train_ids, test_ids = _split(labels)
    prior = label_prior(labels, train_ids)
    before = label_features(nodes, labels, train_ids, prior=prior)
    arriving = test_ids[:2]  # two analyst decisions on rows the model never read
    after = label_features(nodes, labels, train_ids.append(arriving), prior=prior)
    moved = _rows_changed(before, after)
    near = sharing_a_group(nodes, nodes.ids.isin(arriving))
    assert moved.any() and not (moved & ~near).any()
    assert near.mean() < 0.6  # a seller groups a sixth of the orders
    # Recomputing the prior from each night's labels is what moved every row before.
    drifting = label_features(nodes, labels, train_ids.append(arriving))
    assert (_rows_changed(label_features(nodes, labels, train_ids), drifting) & ~near).mean() > 0.3


def test_label_free_block_ignores_labels_entirely():
    tables, _ = synthetic_orders()
    nodes = order_nodes(tables)
    table = structural_features(nodes)
    assert not any(c.startswith("lab_") for c in table.columns)
    assert len(table) == len(tables["orders"])


def test_velocity_features_look_only_into_the_past():
    tables, _ = synthetic_orders()
    base = structural_features(order_nodes(tables))
    later = tables["orders"].copy()
    last = later["created_at"].max()
    # Append orders after every existing one: past-looking features of the old rows must not move.
    extra = later.tail(50).assign(order_id=[f"x{i}" for i in range(50)], created_at=last + pd.Timedelta(days=1))
    grown = structural_features(order_nodes({"orders": pd.concat([later, extra], ignore_index=True)}))
    past_columns = [c for c in base.columns if c.startswith(("log_prior_", "log_gap_prev_", "amount_vs_past_"))]
    assert past_columns
    pd.testing.assert_frame_equal(grown.loc[base.index, past_columns], base[past_columns])


@pytest.mark.skipif(not (DATA_DIR / adapters.SFFSD_FILE).exists(), reason=f"S-FFSD not found under {DATA_DIR}")
def test_sffsd_slice_test_labels_change_no_feature():
    raw = pd.read_csv(DATA_DIR / adapters.SFFSD_FILE, nrows=4000)
    tables = adapters.sffsd_tables(raw)
    labels = labels_by_id(tables["labels"], "order")
    train_ids, test_ids = _split(labels)
    _assert_test_labels_unused(order_nodes(tables), labels, train_ids, test_ids)


@pytest.mark.skipif(not (DATA_DIR / adapters.YELPCHI_FILE).exists(), reason=f"YelpChi not found under {DATA_DIR}")
def test_yelpchi_slice_test_labels_change_no_feature():
    raw = pd.read_csv(DATA_DIR / adapters.YELPCHI_FILE, nrows=4000)
    tables = adapters.yelpchi_tables(raw)
    labels = labels_by_id(tables["labels"], "review")
    train_ids, test_ids = _split(labels)
    _assert_test_labels_unused(review_nodes(tables), labels, train_ids, test_ids)


def test_latest_label_features_read_only_earlier_events():
    tables, labels = synthetic_orders()
    nodes = order_nodes(tables)
    cut = np.quantile(nodes.time, 0.5)
    later = nodes.ids[nodes.time > cut]
    before = label_features(nodes, labels, labels.index)
    flipped = labels.copy()
    flipped[later] = 1 - flipped[later]
    after = label_features(nodes, flipped, labels.index)
    last = [c for c in before.columns if c.startswith("lab_last_")]
    assert last and before[last].notna().any().all()
    earlier = nodes.time <= cut
    pd.testing.assert_frame_equal(after.loc[earlier, last], before.loc[earlier, last])
    assert not after.loc[~earlier, last].equals(before.loc[~earlier, last])


def test_labels_given_after_the_run_clock_are_not_read():
    labels = pd.DataFrame({"entity_type": ["order", "order", "order", "review"], "entity_id": ["o1", "o2", "o3", "r1"],
                           "is_fraud": [1, 0, 1, 1],
                           "labeled_at": pd.to_datetime(["2026-01-01", "2026-02-01", None, "2026-01-01"])})
    known = labels_by_id(labels, "order", as_of=pd.Timestamp("2026-01-15", tz="UTC"))
    assert list(known.index) == ["o1", "o3"]  # o2 was labelled later; o3 has no date: always known
    assert list(labels_by_id(labels, "order").index) == ["o1", "o2", "o3"]
