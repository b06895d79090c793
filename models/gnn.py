"""Heterogeneous GraphSAGE with fraud heads for review and order nodes."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv

from marketplace.graph import SCORED_NODE_TYPES


class HeteroFraudGNN(nn.Module):
    """Per-type input projection -> residual SAGE layers over every relation -> per-type head.

    The head sees the node's own projection and its final state side by side, so a node with
    a weak neighbourhood still scores from its own features (and vice versa).
    """

    def __init__(self, feature_dims: dict[str, int], edge_types: list[tuple[str, str, str]], text_dim_in: int,
                 hidden: int = 64, layers: int = 2, dropout: float = 0.2, text_dim: int = 32):
        super().__init__()
        self.text_proj = nn.Linear(text_dim_in, text_dim)
        self.inputs = nn.ModuleDict({
            node_type: nn.Linear(dim + (text_dim if node_type == "review" else 0), hidden)
            for node_type, dim in feature_dims.items()
        })
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((hidden, hidden), hidden) for et in edge_types}, aggr="mean")
            for _ in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({
            node_type: nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))
            for node_type in SCORED_NODE_TYPES
        })

    def forward(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict, review_text: torch.Tensor) -> dict[str, torch.Tensor]:
        x_dict = dict(x_dict)
        x_dict["review"] = torch.cat([x_dict["review"], self.text_proj(review_text)], dim=-1)
        h0 = {nt: torch.relu(self.inputs[nt](x)) for nt, x in x_dict.items()}
        h = h0
        for conv in self.convs:
            messages = conv({nt: self.dropout(v) for nt, v in h.items()}, edge_index_dict)
            h = {nt: v + torch.relu(messages[nt]) if nt in messages else v for nt, v in h.items()}
        return {nt: self.heads[nt](torch.cat([h0[nt], h[nt]], dim=-1)).squeeze(-1) for nt in SCORED_NODE_TYPES}
