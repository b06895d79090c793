"""A degree-capped k-hop neighbour sampler for mini-batch GNN training, in numpy.

torch-geometric's NeighborLoader needs pyg-lib or torch-sparse, which do not install here, so
this is our own. The graph is stored by destination (CSR over in-edges), which makes two things
cheap: sampling a node's in-neighbours, and layer-wise full-graph inference, where the edges
into a contiguous chunk of nodes are one contiguous slice.

The GNN trains on the marketplace graph (marketplace/graph.py) through ``HeteroSampler``: every
node type in one id space, every edge type a relation. Popular products and shared sellers have
thousands of members; the per-hop caps keep a 2-hop batch small, so an epoch costs what the
labelled nodes' capped neighbourhoods cost, not what the graph costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CSRGraph:
    """Directed, typed edges sorted by destination: in-edges of v are src[indptr[v]:indptr[v+1]]."""

    num_nodes: int
    indptr: np.ndarray
    src: np.ndarray
    rel: np.ndarray

    @classmethod
    def from_edges(cls, src: np.ndarray, dst: np.ndarray, rel: np.ndarray, num_nodes: int) -> "CSRGraph":
        src, dst, rel = (np.asarray(a, dtype=np.int64) for a in (src, dst, rel))
        order = np.lexsort((src, dst))
        indptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_nodes), out=indptr[1:])
        return cls(num_nodes=num_nodes, indptr=indptr, src=src[order], rel=rel[order])

    @property
    def dst(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_nodes, dtype=np.int64), np.diff(self.indptr))

    @property
    def num_relations(self) -> int:
        return int(self.rel.max()) + 1 if len(self.rel) else 0

    def in_degree(self) -> np.ndarray:
        return np.diff(self.indptr)


@dataclass
class SampledSubgraph:
    """A k-hop sample around seeds, in local indices: nodes[:num_seeds] are the seeds, in order."""

    nodes: np.ndarray  # global ids of the local nodes
    src: np.ndarray
    dst: np.ndarray
    rel: np.ndarray
    num_seeds: int


def _capped_in_edges(graph: CSRGraph, frontier: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (into graph.src) of at most ``cap`` in-edges per frontier node, drawn without replacement."""
    start, degree = graph.indptr[frontier], np.diff(graph.indptr)[frontier]
    total = int(degree.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(frontier)), degree)
    first = np.repeat(np.cumsum(degree) - degree, degree)
    positions = np.repeat(start, degree) + np.arange(total) - first
    if (degree <= cap).all():
        return positions
    # A random key per edge, sorted within each owner: the first ``cap`` are a uniform sample.
    order = np.lexsort((rng.random(total), owner))
    rank = np.arange(total) - first
    return positions[order][rank < cap]


def sample_k_hop(graph: CSRGraph, seeds: np.ndarray, caps: list[int], rng: np.random.Generator) -> SampledSubgraph:
    """Expands seeds hop by hop over in-edges, keeping at most caps[h] in-edges per node at hop h.

    A node is expanded once, at the first hop that reaches it. The result holds every sampled
    edge, so a GNN of len(caps) layers run on the subgraph gives the seeds exactly the output it
    would give on the graph restricted to those edges.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    local = np.full(graph.num_nodes, -1, dtype=np.int64)
    local[seeds] = np.arange(len(seeds))
    nodes = [seeds]
    count = len(seeds)
    frontier = seeds
    edge_src, edge_dst, edge_rel = [], [], []
    for cap in caps:
        positions = _capped_in_edges(graph, frontier, cap, rng)
        src_global = graph.src[positions]
        # The destination of an edge position is the last node whose slice starts at or before it.
        dst_global = np.searchsorted(graph.indptr, positions, "right") - 1
        new = np.unique(src_global[local[src_global] < 0])
        local[new] = count + np.arange(len(new))
        count += len(new)
        nodes.append(new)
        edge_src.append(local[src_global])
        edge_dst.append(local[dst_global])
        edge_rel.append(graph.rel[positions])
        frontier = new
    return SampledSubgraph(nodes=np.concatenate(nodes), src=np.concatenate(edge_src), dst=np.concatenate(edge_dst),
                           rel=np.concatenate(edge_rel), num_seeds=len(seeds))


@dataclass
class HeteroSubgraph:
    """A sampled subgraph of a heterogeneous graph, as the GNN's forward reads it."""

    nodes: dict[str, np.ndarray]  # per node type: node indices (of that type) in the subgraph
    edge_index: dict[tuple[str, str, str], np.ndarray]  # per edge type: [2, edges] of subgraph positions
    seed_types: np.ndarray  # per seed: index into HeteroSampler.node_types
    seed_positions: np.ndarray  # per seed: its position among the subgraph's nodes of its type


class HeteroSampler:
    """The degree-capped sampler over a torch-geometric ``HeteroData``: every node type is laid
    out in one id space (an offset per type), every edge type becomes a relation of one CSR
    graph, and a sample is cut back into per-type node lists and per-type edge lists."""

    def __init__(self, data):
        self.node_types = list(data.node_types)
        sizes = np.array([int(data[nt].num_nodes or 0) for nt in self.node_types], dtype=np.int64)
        self.offsets = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
        self.edge_types = [et for et in data.edge_types if data[et].edge_index.shape[1]]
        offset = dict(zip(self.node_types, self.offsets))
        src, dst, rel = [], [], []
        for r, edge_type in enumerate(self.edge_types):
            edge_index = data[edge_type].edge_index.numpy()
            src.append(edge_index[0] + offset[edge_type[0]])
            dst.append(edge_index[1] + offset[edge_type[2]])
            rel.append(np.full(edge_index.shape[1], r, dtype=np.int64))
        def cat(parts):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self.graph = CSRGraph.from_edges(cat(src), cat(dst), cat(rel), int(sizes.sum()))

    def global_ids(self, node_type: str, index: np.ndarray) -> np.ndarray:
        return np.asarray(index, dtype=np.int64) + self.offsets[self.node_types.index(node_type)]

    def sample(self, seeds: np.ndarray, caps: list[int], rng: np.random.Generator) -> HeteroSubgraph:
        """``seeds``: global ids (``global_ids``); a GNN of len(caps) layers on the result gives
        them their output on the sampled edges."""
        sub = sample_k_hop(self.graph, seeds, caps, rng)
        types = np.searchsorted(self.offsets, sub.nodes, "right") - 1
        local = sub.nodes - self.offsets[types]
        position = np.empty(len(sub.nodes), dtype=np.int64)
        nodes = {}
        for t, node_type in enumerate(self.node_types):
            mask = types == t
            position[mask] = np.arange(int(mask.sum()))
            nodes[node_type] = local[mask]
        edge_index = {}
        for r, edge_type in enumerate(self.edge_types):
            mask = sub.rel == r
            if mask.any():
                edge_index[edge_type] = np.stack([position[sub.src[mask]], position[sub.dst[mask]]])
        return HeteroSubgraph(nodes=nodes, edge_index=edge_index, seed_types=types[:sub.num_seeds],
                              seed_positions=position[:sub.num_seeds])
