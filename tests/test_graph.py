import numpy as np
import pandas as pd

from fraudlens.marketplace.features import node_features, window_counts
from fraudlens.marketplace.graph import EDGE_TYPES, NODE_TYPES, build_graph, to_networkx
from fraudlens.marketplace.ingest import ingest


def _graph(small_input):
    tables = ingest(small_input, b"k").tables
    return tables, build_graph(tables)


def test_every_node_and_edge_type_exists_with_reverse_edges(small_input):
    _, graph = _graph(small_input)
    assert set(graph.data.node_types) == set(NODE_TYPES)
    for src, rel, dst in EDGE_TYPES:
        assert (src, rel, dst) in graph.data.edge_types
        assert (dst, f"rev_{rel}", src) in graph.data.edge_types
    assert graph.data["review"].num_nodes == 4 and graph.data["order"].num_nodes == 3
    assert graph.data["account"].num_nodes == 3 and graph.data["seller"].num_nodes == 1


def test_edges_map_back_to_the_right_entities(small_input):
    _, graph = _graph(small_input)
    src, dst = graph.data["account", "writes", "review"].edge_index.numpy()
    written = {(graph.ids["account"][s], graph.ids["review"][d]) for s, d in zip(src, dst)}
    assert written == {("a1", "r1"), ("a2", "r2"), ("a3", "r3"), ("a1", "r4")}
    src, dst = graph.data["review", "verified_by", "order"].edge_index.numpy()
    assert [(graph.ids["review"][s], graph.ids["order"][d]) for s, d in zip(src, dst)] == [("r1", "o1")]


def test_shared_identifiers_become_shared_nodes(small_input):
    _, graph = _graph(small_input)
    # o2 and o3 used the same card and device: one payment node, one device node with two orders.
    src, dst = graph.data["order", "uses", "payment"].edge_index.numpy()
    orders_per_card = np.bincount(dst, minlength=graph.data["payment"].num_nodes)
    assert sorted(orders_per_card.tolist()) == [1, 2]
    # accounts a2 and a3 share their primary device.
    src, dst = graph.data["account", "uses", "device"].edge_index.numpy()
    assert max(np.bincount(dst)) == 2


def test_networkx_view_supports_ring_analytics(small_input):
    _, graph = _graph(small_input)
    view = to_networkx(graph)
    assert view.has_edge(("account", "a2"), ("review", "r2"))
    accounts_on_device = {n for d in view.nodes if d[0] == "device" for n in view.neighbors(d) if n[0] == "account"}
    assert {("account", "a2"), ("account", "a3")} <= accounts_on_device


def test_a_reviews_only_input_still_builds_every_type(small_input):
    tables = ingest(small_input, b"k").tables
    graph = build_graph({"reviews": tables["reviews"]})
    assert graph.data["order"].num_nodes == 0
    assert graph.data["account", "places", "order"].edge_index.shape == (2, 0)
    features = node_features({"reviews": tables["reviews"]}, graph.ids)
    full = node_features(tables, build_graph(tables).ids)
    assert {nt: list(f.columns) for nt, f in features.items()} == {nt: list(f.columns) for nt, f in full.items()}


def test_features_capture_bursts_copies_and_verification(small_input):
    tables, graph = _graph(small_input)
    reviews = node_features(tables, graph.ids)["review"]
    assert reviews.loc["r1", "verified_purchase"] == 1 and reviews.loc["r2", "verified_purchase"] == 0
    assert reviews.loc["r2", "log_identical_texts"] > 0 and reviews.loc["r1", "log_identical_texts"] == 0
    assert reviews.loc["r3", "log_product_five_star_24h"] > reviews.loc["r4", "log_product_five_star_24h"]
    orders = node_features(tables, graph.ids)["order"]
    assert orders.loc["o2", "log_accounts_sharing_payment"] > orders.loc["o1", "log_accounts_sharing_payment"]
    assert orders.loc["o2", "status_chargeback"] == 1


def test_window_counts_counts_neighbours_in_time_per_group():
    groups = pd.Series(["a", "a", "a", "b"])
    times = pd.to_datetime(pd.Series(["2026-01-01 00:00", "2026-01-01 20:00", "2026-01-03 00:00", "2026-01-01 00:00"]))
    assert window_counts(groups, times).tolist() == [2, 2, 1, 1]
