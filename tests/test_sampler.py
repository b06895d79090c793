"""The degree-capped k-hop sampler, and the heterogeneous batches the GNN trains on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fraudlens.models.sampler import CSRGraph, sample_k_hop


class _Entity:
    def __init__(self, graph: CSRGraph, num_scored: int):
        self.graph, self.num_scored = graph, num_scored


def entity_graph(codes: dict[str, np.ndarray]) -> _Entity:
    """Scored nodes + one node per group of each relation, an edge each way (relations 2i, 2i + 1)."""
    n = len(next(iter(codes.values())))
    srcs, dsts, rels, offset = [], [], [], n
    for i, code in enumerate(codes.values()):
        scored = np.flatnonzero(code >= 0)
        entity = offset + code[scored]
        srcs += [entity, scored]
        dsts += [scored, entity]
        rels += [np.full(len(scored), 2 * i), np.full(len(scored), 2 * i + 1)]
        offset += int(code.max()) + 1
    graph = CSRGraph.from_edges(np.concatenate(srcs), np.concatenate(dsts), np.concatenate(rels), offset)
    return _Entity(graph, n)


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


def test_csr_graph_keeps_every_in_edge_of_each_node():
    entity = _hub_graph()
    graph = entity.graph
    assert graph.num_relations == 6
    dst = graph.dst
    scored_in = np.bincount(dst[dst < entity.num_scored], minlength=entity.num_scored)
    assert scored_in.min() >= 2 and scored_in.max() <= 3  # account + seller (+ device)
    assert len(graph.src) == 2 * scored_in.sum()


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


def _hetero_world():
    """A small marketplace graph with the GNN over it (random weights: the paths must agree for any)."""
    from fraudlens.marketplace.features import node_features
    from fraudlens.marketplace.graph import build_graph
    from fraudlens.marketplace.synthetic import generate_marketplace
    from fraudlens.models.fraud_model import FeatureScaler, FraudLensModel, ModelInputs, architecture_for

    tables = generate_marketplace(seed=1, scale=120)
    graph = build_graph(tables)
    features = node_features(tables, graph.ids)
    inputs = ModelInputs(graph=graph, features=features, review_text=torch.randn(len(graph.ids["review"]), 6))
    torch.manual_seed(0)
    arch = architecture_for(inputs, hidden=8, layers=2, dropout=0.0, text_dim=4)
    gnn = FraudLensModel.new_gnn(arch).eval()
    return inputs, gnn, FeatureScaler.fit(features).transform(features)


def test_hetero_sampler_cuts_samples_back_into_real_typed_edges():
    from fraudlens.models.sampler import HeteroSampler

    inputs, _, _ = _hetero_world()
    sampler = HeteroSampler(inputs.data)
    seeds = sampler.global_ids("order", np.arange(0, 40, 3))
    sub = sampler.sample(seeds, [3, 3], np.random.default_rng(0))
    order = sampler.node_types.index("order")
    assert (sub.seed_types == order).all()
    np.testing.assert_array_equal(sub.nodes["order"][sub.seed_positions], np.arange(0, 40, 3))
    for edge_type, edge_index in sub.edge_index.items():
        real = set(map(tuple, inputs.data[edge_type].edge_index.numpy().T.tolist()))
        source, _, destination = edge_type
        pairs = zip(sub.nodes[source][edge_index[0]].tolist(), sub.nodes[destination][edge_index[1]].tolist())
        assert set(pairs) <= real


def test_uncapped_hetero_sample_gives_the_seeds_their_full_graph_logits():
    from fraudlens.models.sampler import HeteroSampler

    inputs, gnn, x = _hetero_world()
    sampler = HeteroSampler(inputs.data)
    big = int(sampler.graph.in_degree().max())
    index = {"review": np.arange(0, 30, 4), "order": np.arange(1, 30, 5)}
    seeds = np.concatenate([sampler.global_ids(nt, idx) for nt, idx in index.items()])
    sub = sampler.sample(seeds, [big, big], np.random.default_rng(0))
    with torch.no_grad():
        full = gnn(x, inputs.data.edge_index_dict, inputs.review_text)
        nodes = {nt: torch.from_numpy(n) for nt, n in sub.nodes.items()}
        local = gnn({nt: x[nt][n] for nt, n in nodes.items()},
                    {et: torch.from_numpy(e) for et, e in sub.edge_index.items()}, inputs.review_text[nodes["review"]])
    for t, nt in enumerate(sampler.node_types):
        mask = sub.seed_types == t
        if mask.any():
            got = local[nt][torch.from_numpy(sub.seed_positions[mask])]
            torch.testing.assert_close(got, full[nt][torch.from_numpy(index[nt])], rtol=1e-5, atol=1e-5)
