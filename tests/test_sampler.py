"""The degree-capped k-hop sampler and exact layer-wise inference of the relational GNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fraudlens.models.relational_gnn import RelationalGNN, layerwise_embed
from fraudlens.models.sampler import CSRGraph, entity_graph, sample_k_hop


def _hub_graph(seed: int = 0):
    """Scored nodes linked through a few entities, one of them a hub shared by most nodes."""
    rng = np.random.default_rng(seed)
    n = 300
    codes = {
        "account": rng.integers(0, 80, n),
        "seller": np.where(rng.random(n) < 0.8, 0, rng.integers(1, 5, n)),  # seller 0 is the hub
        "device": np.where(rng.random(n) < 0.2, -1, rng.integers(0, 30, n)),  # some orders have no device
    }
    return entity_graph(codes)


def test_entity_graph_links_each_scored_node_to_its_entities_both_ways():
    entity = _hub_graph()
    graph = entity.graph
    assert graph.num_relations == 6
    dst = graph.dst
    scored_in = np.bincount(dst[dst < entity.num_scored], minlength=entity.num_scored)
    assert scored_in.min() >= 2 and scored_in.max() <= 3  # account + seller (+ device)
    assert len(graph.src) == 2 * scored_in.sum()
    assert (entity.node_type[:entity.num_scored] == 0).all()


@pytest.mark.parametrize("caps", [[2, 3], [5, 1], [1, 1, 4]])
def test_degree_caps_hold_and_edges_are_real(caps):
    entity = _hub_graph()
    graph = entity.graph
    rng = np.random.default_rng(0)
    seeds = rng.choice(entity.num_scored, 40, replace=False)
    sub = sample_k_hop(graph, seeds, caps, rng)
    in_edges = np.bincount(sub.dst, minlength=len(sub.nodes))
    assert in_edges.max() <= max(caps)
    assert (in_edges[:len(seeds)] <= caps[0]).all()
    # The hub has far more in-edges than any cap: it was sampled, not taken whole.
    hub = entity.num_scored + 80
    assert graph.in_degree()[hub] > 10 * max(caps)
    real = set(zip(graph.src.tolist(), graph.dst.tolist()))
    sampled = set(zip(sub.nodes[sub.src].tolist(), sub.nodes[sub.dst].tolist()))
    assert sampled <= real
    assert len(sampled) == len(sub.src)  # no edge drawn twice
    rel_of = {(s, d): r for s, d, r in zip(graph.src.tolist(), graph.dst.tolist(), graph.rel.tolist())}
    assert all(rel_of[(s, d)] == r for s, d, r in zip(sub.nodes[sub.src], sub.nodes[sub.dst], sub.rel))


def test_sampled_subgraph_starts_with_the_seeds_and_has_unique_nodes():
    entity = _hub_graph()
    rng = np.random.default_rng(1)
    seeds = np.array([5, 3, 200, 17])
    sub = sample_k_hop(entity.graph, seeds, [3, 3], rng)
    assert sub.num_seeds == 4
    np.testing.assert_array_equal(sub.nodes[:4], seeds)
    assert len(np.unique(sub.nodes)) == len(sub.nodes)


def _model(graph: CSRGraph, in_dim: int = 5) -> RelationalGNN:
    torch.manual_seed(0)
    return RelationalGNN(in_dim, label_dim=2, num_relations=graph.num_relations, hidden=8, layers=2).eval()


def test_layerwise_inference_equals_full_batch_forward():
    entity = _hub_graph()
    graph = entity.graph
    x = torch.randn(graph.num_nodes, 5)
    model = _model(graph)
    with torch.no_grad():
        full = model.embed(x, torch.from_numpy(graph.src), torch.from_numpy(graph.dst), torch.from_numpy(graph.rel))
    chunked = layerwise_embed(model, x, graph, chunk=7)  # chunks cut through the hub's in-edges
    torch.testing.assert_close(chunked, full, rtol=1e-5, atol=1e-5)


def test_uncapped_sample_gives_the_seeds_their_full_graph_output():
    entity = _hub_graph()
    graph = entity.graph
    x = torch.randn(graph.num_nodes, 5)
    label_x = torch.randn(entity.num_scored, 2)
    model = _model(graph)
    seeds = np.arange(0, entity.num_scored, 9)
    big = int(graph.in_degree().max())
    sub = sample_k_hop(graph, seeds, [big, big], np.random.default_rng(0))
    with torch.no_grad():
        emb = model.embed(x, torch.from_numpy(graph.src), torch.from_numpy(graph.dst), torch.from_numpy(graph.rel))
        expected = model.score(emb[torch.from_numpy(seeds)], label_x[torch.from_numpy(seeds)])
        got = model(x[torch.from_numpy(sub.nodes)], torch.from_numpy(sub.src), torch.from_numpy(sub.dst),
                    torch.from_numpy(sub.rel), label_x[torch.from_numpy(seeds)], torch.arange(sub.num_seeds))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_gnn_trained_with_the_sampler_learns_a_neighbour_signal():
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from fraudlens.training.graph_training import GNNConfig, gnn_predict, graph_inputs, train_gnn

    rng = np.random.default_rng(0)
    n = 600
    ring = rng.integers(0, 60, n)
    bad_ring = rng.random(60) < 0.2
    y = bad_ring[ring].astype(np.float64)
    # The only signal: fraud rings share a noisy marker, visible on average over the ring, not per order.
    marker = pd.DataFrame({"marker": y * 0.6 + rng.normal(0, 1, n)})
    entity = entity_graph({"ring": ring, "seller": rng.integers(0, 3, n)})
    inputs = graph_inputs(entity, marker, pd.DataFrame({"none": np.zeros(n)}))
    order = rng.permutation(n)
    fit, valid, test = order[:300], order[300:400], order[400:]
    trained = train_gnn(inputs, y, fit, valid, GNNConfig(hidden=16, batch_size=64, max_epochs=15, patience=15))
    probability, embedding = gnn_predict(trained.model, inputs)
    assert embedding.shape == (n, 32)
    assert roc_auc_score(y[test], probability[test]) > 0.8
    assert 1 <= trained.best_epoch <= 15
