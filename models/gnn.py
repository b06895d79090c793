"""Heterogeneous GraphSAGE with fraud heads for review and order nodes.

Label features ("linked to known fraud", marketplace/graph_features.py) enter the heads only,
never message passing: a neighbour's label feature holds the node's own training label (it
counts the node among the neighbour's labelled neighbours), so propagating it two hops would
hand each training node its own label.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.utils import spmm

from fraudlens.marketplace.graph import SCORED_NODE_TYPES


def mean_adjacency(data) -> dict[tuple[str, str, str], torch.Tensor]:
    """Per edge type, the transposed adjacency [destinations, sources] as a sparse CSR tensor.

    SAGEConv's mean aggregation over it is one sparse-dense product per relation (PyG's spmm),
    the same numbers as over ``edge_index`` but without the [edges, hidden] message tensors:
    what lets a full-graph pass over millions of nodes fit in memory, and runs ~2x faster.
    """
    adjacency = {}
    # Plain tensors even when first asked for under inference_mode: attribution backpropagates
    # through the same adjacency.
    with torch.inference_mode(False), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta": spmm only
        for edge_type, edge_index in data.edge_index_dict.items():
            source, _, destination = edge_type
            shape = (data[destination].num_nodes, data[source].num_nodes)
            coo = torch.sparse_coo_tensor(torch.stack([edge_index[1], edge_index[0]]),
                                          torch.ones(edge_index.shape[1]), shape, check_invariants=False)
            adjacency[edge_type] = coo.coalesce().to_sparse_csr()
    return adjacency


class HeteroFraudGNN(nn.Module):
    """Per-type input projection -> residual SAGE layers over every relation -> per-type head.

    The head sees the node's own projection, its final state and its label features side by
    side, so a node with a weak neighbourhood still scores from its own features (and vice versa).
    """

    def __init__(self, feature_dims: dict[str, int], edge_types: list[tuple[str, str, str]], text_dim_in: int,
                 hidden: int = 64, layers: int = 2, dropout: float = 0.2, text_dim: int = 32,
                 label_dims: dict[str, int] | None = None):
        super().__init__()
        self.label_dims = {nt: int((label_dims or {}).get(nt, 0)) for nt in SCORED_NODE_TYPES}
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
            node_type: nn.Sequential(nn.Linear(2 * hidden + self.label_dims[node_type], hidden), nn.ReLU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, 1))
            for node_type in SCORED_NODE_TYPES
        })

    def _head(self, node_type: str, h0: torch.Tensor, h: torch.Tensor, label_x: dict | None) -> torch.Tensor:
        parts = [h0, h]
        if self.label_dims[node_type]:
            own = label_x.get(node_type) if label_x else None
            parts.append(own if own is not None else h0.new_zeros((len(h0), self.label_dims[node_type])))
        return self.heads[node_type](torch.cat(parts, dim=-1)).squeeze(-1)

    def forward(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict, review_text: torch.Tensor,
                label_x: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        h0 = self.input_states(x_dict, self.text_proj(review_text))
        h = h0
        for conv in self.convs:
            messages = conv({nt: self.dropout(v) for nt, v in h.items()}, edge_index_dict)
            h = {nt: v + torch.relu(messages[nt]) if nt in messages else v for nt, v in h.items()}
        return {nt: self._head(nt, h0[nt], h[nt], label_x) for nt in SCORED_NODE_TYPES}

    def input_states(self, x_dict: dict[str, torch.Tensor], review_text_projected: torch.Tensor) -> dict[str, torch.Tensor]:
        """h0: each node type's input projection, reviews with their projected text appended."""
        x_dict = {**x_dict, "review": torch.cat([x_dict["review"], review_text_projected], dim=-1)}
        return {nt: torch.relu(self.inputs[nt](x)) for nt, x in x_dict.items()}

    @torch.no_grad()
    def layer_states(self, x_dict: dict[str, torch.Tensor], adjacency: dict,
                     review_text_projected: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """[h0, h1, ..., h_layers]: every node's state after each layer (eval mode), computed
        layer by layer with one relation's messages in memory at a time. In the last state only
        review and order nodes are updated.

        The same function as ``forward`` (to float rounding: relations are averaged by a running
        sum, not a stacked mean), but HeteroConv materialises every relation's output of a layer
        before averaging them, which at 1M reviews + 1M orders peaked above 12 GB.
        """
        h = self.input_states(x_dict, review_text_projected)
        states = [h]
        for layer, conv in enumerate(self.convs):
            last = layer == len(self.convs) - 1
            total: dict[str, torch.Tensor] = {}
            relations: dict[str, int] = {}
            for edge_type, sage in conv.convs.items():
                # The heads read the last layer of review and order nodes only: other node types
                # keep their previous state there (their last update would be unused work).
                if edge_type not in adjacency or (last and edge_type[2] not in SCORED_NODE_TYPES):
                    continue
                source, _, destination = edge_type
                message = sage.lin_l(spmm(adjacency[edge_type], h[source], reduce=sage.aggr))
                message += sage.lin_r(h[destination])
                if destination in total:
                    total[destination] += message
                else:
                    total[destination] = message
                relations[destination] = relations.get(destination, 0) + 1
                del message
            h = {nt: v + torch.relu(total.pop(nt).div_(relations[nt])) if nt in relations else v
                 for nt, v in h.items()}
            states.append(h)
        return states

    @torch.no_grad()
    def head_logits(self, states: list[dict[str, torch.Tensor]],
                    label_x: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """``forward``'s logits from ``layer_states``."""
        return {nt: self._head(nt, states[0][nt], states[-1][nt], label_x) for nt in SCORED_NODE_TYPES}

    def local_logits(self, node_type: str, x: torch.Tensor, nodes: torch.Tensor, states: list[dict[str, torch.Tensor]],
                     adjacency: dict, review_text_projected: torch.Tensor | None = None,
                     label_x: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``nodes`` (of ``node_type``) as functions of their own inputs ``x`` (and
        projected text and label features), every neighbour's state held at its value in ``states``.

        The values equal ``forward``'s; the gradients cover each node's own paths (input
        projection, residuals, SAGE root weights, head) and not its echo through neighbours, so
        an attribution costs [nodes, hidden] memory instead of a backward pass over the graph.
        """
        if node_type == "review":
            x = torch.cat([x, review_text_projected], dim=-1)
        h0 = torch.relu(self.inputs[node_type](x))
        h = h0
        for layer, conv in enumerate(self.convs):
            relation_outputs = []
            for edge_type, sage in conv.convs.items():
                if edge_type[2] != node_type or edge_type not in adjacency:
                    continue
                with torch.no_grad():
                    neighbours = spmm(adjacency[edge_type], states[layer][edge_type[0]], reduce=sage.aggr)[nodes]
                relation_outputs.append(sage.lin_l(neighbours) + sage.lin_r(h))
            if relation_outputs:
                h = h + torch.relu(torch.stack(relation_outputs).mean(dim=0))
        return self._head(node_type, h0, h, None if label_x is None else {node_type: label_x})
