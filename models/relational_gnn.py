"""A relational mean-aggregation GNN over the entity graph, with exact layer-wise inference.

Each layer updates a node from its own state (its own weight) and, per relation type, the mean
of its in-neighbours' states (one weight per relation). Separate self and neighbour weights
matter for fraud: fraudsters hide among legitimate neighbours (heterophily), and a shared
weight would average a fraudulent order into its merchant's honest majority.

The head sees the scored node's input encoding, its last hidden state, and the per-node
label features. Label features enter only there, never into message passing: a neighbour's
label share includes the node's own training label (see marketplace/graph_features.py).

Mean aggregation is exact when computed layer by layer over all nodes, so full-graph
inference runs each layer over every node in chunks of destinations (the graph is stored by
destination, so a chunk's in-edges are one slice) and needs no sampling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fraudlens.models.sampler import CSRGraph


def relation_means(h_src: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, rel: torch.Tensor,
                   num_dst: int, num_relations: int) -> torch.Tensor:
    """(num_relations, num_dst, dim): mean of h_src over each destination's in-edges of each relation."""
    dim = h_src.shape[1]
    slot = rel * num_dst + dst
    total = torch.zeros(num_relations * num_dst, dim, dtype=h_src.dtype)
    total.index_add_(0, slot, h_src[src])
    count = torch.bincount(slot, minlength=num_relations * num_dst).clamp(min=1).to(h_src.dtype)
    return (total / count[:, None]).view(num_relations, num_dst, dim)


class RelationalLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, num_relations: int):
        super().__init__()
        self.num_relations = num_relations
        self.self_weight = nn.Linear(in_dim, out_dim)
        self.relation_weights = nn.Parameter(torch.empty(num_relations, in_dim, out_dim))
        nn.init.xavier_uniform_(self.relation_weights.view(-1, out_dim))

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                rel: torch.Tensor) -> torch.Tensor:
        means = relation_means(h_src, src, dst, rel, h_dst.shape[0], self.num_relations)
        return self.self_weight(h_dst) + torch.einsum("rnd,rde->ne", means, self.relation_weights)


class RelationalGNN(nn.Module):
    def __init__(self, in_dim: int, label_dim: int, num_relations: int, hidden: int = 64, layers: int = 2,
                 dropout: float = 0.2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.layers = nn.ModuleList(RelationalLayer(hidden, hidden, num_relations) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(2 * hidden + label_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def _step(self, i: int, h_src, h_dst, src, dst, rel) -> torch.Tensor:
        return self.dropout(torch.relu(self.norms[i](self.layers[i](h_src, h_dst, src, dst, rel))))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(self.encoder(x)))

    def embed(self, x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """Full-batch: [input encoding, last hidden state] of every node of the given graph."""
        h0 = h = self.encode(x)
        for i in range(len(self.layers)):
            h = self._step(i, h, h, src, dst, rel)
        return torch.cat([h0, h], dim=1)

    def score(self, embedding: torch.Tensor, label_x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([embedding, label_x], dim=1)).squeeze(1)

    def forward(self, x, src, dst, rel, label_x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Logits of nodes ``out`` (label_x holds their label features, in the same order)."""
        return self.score(self.embed(x, src, dst, rel)[out], label_x)


@torch.no_grad()
def layerwise_embed(model: RelationalGNN, x: torch.Tensor, graph: CSRGraph, chunk: int = 16_384) -> torch.Tensor:
    """embed() over the whole graph, one layer at a time over destination chunks (exact, bounded memory)."""
    model.eval()
    h0 = torch.cat([model.encode(x[a:a + chunk]) for a in range(0, graph.num_nodes, chunk)])
    src_all = torch.from_numpy(graph.src)
    rel_all = torch.from_numpy(graph.rel)
    h = h0
    for i in range(len(model.layers)):
        parts = []
        for a in range(0, graph.num_nodes, chunk):
            b = min(a + chunk, graph.num_nodes)
            lo, hi = int(graph.indptr[a]), int(graph.indptr[b])
            dst = torch.from_numpy(np.searchsorted(graph.indptr[a:b + 1], np.arange(lo, hi), "right") - 1)
            parts.append(model._step(i, h, h[a:b], src_all[lo:hi], dst, rel_all[lo:hi]))
        h = torch.cat(parts)
    return torch.cat([h0, h], dim=1)
