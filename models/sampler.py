"""A degree-capped k-hop neighbour sampler for mini-batch GNN training, in numpy.

torch-geometric's NeighborLoader needs pyg-lib or torch-sparse, which do not install here, so
this is our own. The graph is stored by destination (CSR over in-edges), which makes two things
cheap: sampling a node's in-neighbours, and layer-wise full-graph inference, where the edges
into a contiguous chunk of nodes are one contiguous slice.

The graph used for fraud scoring is the entity graph: scored nodes (orders/reviews) plus one
node per shared entity (account, seller, address, device; user, product), with an edge each
way between a scored node and each of its entities, typed by relation and direction. Popular
entities have thousands of members; the per-hop caps keep a 2-hop batch small.
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
class EntityGraph:
    graph: CSRGraph
    num_scored: int  # scored nodes are 0..num_scored-1, entity nodes follow
    node_type: np.ndarray  # 0 = scored, 1 + i = entity of relation i
    relation_names: list[str]


def entity_graph(codes: dict[str, np.ndarray]) -> EntityGraph:
    """Scored nodes + one node per group of each relation; relation i gives edge types 2i
    (entity -> scored) and 2i + 1 (scored -> entity). ``codes``: group per scored node, -1 = none."""
    n = len(next(iter(codes.values()))) if codes else 0
    srcs, dsts, rels, types = [], [], [], [np.zeros(n, dtype=np.int64)]
    offset = n
    for i, code in enumerate(codes.values()):
        code = np.asarray(code, dtype=np.int64)
        groups = int(code.max()) + 1 if (code >= 0).any() else 0
        scored = np.flatnonzero(code >= 0)
        entity = offset + code[scored]
        srcs += [entity, scored]
        dsts += [scored, entity]
        rels += [np.full(len(scored), 2 * i), np.full(len(scored), 2 * i + 1)]
        types.append(np.full(groups, 1 + i, dtype=np.int64))
        offset += groups
    def cat(parts):
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))
    graph = CSRGraph.from_edges(cat(srcs), cat(dsts), cat(rels), offset)
    return EntityGraph(graph=graph, num_scored=n, node_type=np.concatenate(types), relation_names=list(codes))


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
