"""Heterogeneous GraphSAGE with fraud heads for review and order nodes.

Label features ("linked to known fraud", marketplace/graph_features.py) enter the heads only,
never message passing: a neighbour's label feature holds the node's own training label (it
counts the node among the neighbour's labelled neighbours), so propagating it two hops would
hand each training node its own label.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.utils import spmm

from fraudlens.marketplace.graph import SCORED_NODE_TYPES
from fraudlens.models.numeric import row_slices

# Destination rows per slice of a full-graph layer: bounds its messages to [rows, hidden].
UPDATE_ROWS = 65_536


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


def csr_rows(adjacency: torch.Tensor, rows: slice) -> torch.Tensor:
    """A slice of a CSR matrix's rows, as a CSR matrix over the same columns (views, no copy)."""
    crow = adjacency.crow_indices()
    first, last = int(crow[rows.start]), int(crow[rows.stop])
    return torch.sparse_csr_tensor(crow[rows.start:rows.stop + 1] - first, adjacency.col_indices()[first:last],
                                   adjacency.values()[first:last], (rows.stop - rows.start, adjacency.shape[1]))


def csr_gather(adjacency: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """The rows ``nodes`` of a CSR matrix, in that order, as a CSR matrix over the same columns."""
    crow = adjacency.crow_indices()
    starts, lengths = crow[nodes], crow[nodes + 1] - crow[nodes]
    offsets = torch.zeros(len(nodes) + 1, dtype=crow.dtype)
    torch.cumsum(lengths, 0, out=offsets[1:])
    # Position of every kept entry: its row's start plus its rank within the row.
    within = torch.arange(int(offsets[-1]), dtype=crow.dtype) - torch.repeat_interleave(offsets[:-1], lengths)
    entries = torch.repeat_interleave(starts, lengths) + within
    return torch.sparse_csr_tensor(offsets, adjacency.col_indices()[entries], adjacency.values()[entries],
                                   (len(nodes), adjacency.shape[1]))


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
        return {nt: self.input_state(nt, x, review_text_projected) for nt, x in x_dict.items()}

    def input_state(self, node_type: str, x: torch.Tensor, review_text_projected: torch.Tensor | None = None
                    ) -> torch.Tensor:
        """h0 of some nodes of one type (row-wise: any slice of rows, with the same slice of text)."""
        if node_type == "review":
            x = torch.cat([x, review_text_projected], dim=-1)
        return torch.relu(self.inputs[node_type](x))

    @torch.no_grad()
    def layer_states(self, x_dict: dict[str, torch.Tensor], adjacency: dict,
                     review_text_projected: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """[h0, h1, ..., h_layers]: every node's state after each layer (eval mode); see ``propagate``."""
        return self.propagate(self.input_states(x_dict, review_text_projected), adjacency)

    @torch.no_grad()
    def propagate(self, h: dict[str, torch.Tensor], adjacency: dict, layers: int | None = None
                  ) -> list[dict[str, torch.Tensor]]:
        """[h, h1, ..., h_layers] from the input states ``h`` (``layers``: that many, default all),
        layer by layer, a slice of destination rows at a time (``layer_update``). In the last
        layer only review and order nodes are updated: the heads read nothing else.

        The same function as ``forward`` (to float rounding: relations are averaged by a running
        sum, not a stacked mean), but HeteroConv materialises every relation's output of a layer
        before averaging them, which at 1M reviews + 1M orders peaked above 12 GB.
        """
        states = [h]
        for layer in range(len(self.convs) if layers is None else layers):
            last = layer == len(self.convs) - 1
            updated = {}
            for nt, v in h.items():
                reached = any(et[2] == nt and et in adjacency for et in self.convs[layer].convs.keys())
                if not reached or (last and nt not in SCORED_NODE_TYPES):
                    updated[nt] = v
                    continue
                updated[nt] = torch.empty_like(v)
                for rows in row_slices(len(v), UPDATE_ROWS):
                    updated[nt][rows] = self.layer_update(layer, nt, h, adjacency, rows)
            h = updated
            states.append(h)
        return states

    @torch.no_grad()
    def layer_update(self, layer: int, node_type: str, h: dict[str, torch.Tensor], adjacency: dict,
                     rows: slice) -> torch.Tensor:
        """The state after ``layer`` of the ``rows`` of ``node_type``, from every node's state ``h``
        before it: the mean over relations of each relation's SAGE message, through a ReLU, added
        to the node's state (which it keeps when no relation reaches its type)."""
        total, relations = None, 0
        for edge_type, sage in self.convs[layer].convs.items():
            if edge_type[2] != node_type or edge_type not in adjacency:
                continue
            message = sage.lin_l(spmm(csr_rows(adjacency[edge_type], rows), h[edge_type[0]], reduce=sage.aggr))
            message += sage.lin_r(h[node_type][rows])
            total = message if total is None else total.add_(message)
            relations += 1
        own = h[node_type][rows]
        return own if total is None else own + torch.relu(total.div_(relations))

    @torch.no_grad()
    def scored_logits(self, states: list[dict[str, torch.Tensor]], adjacency: dict,
                      label_rows: Callable[[str, slice], torch.Tensor | None] | None = None
                      ) -> dict[str, torch.Tensor]:
        """``forward``'s logits from the states before the last layer (``propagate(..., layers=
        len(convs) - 1)``): the last layer and the heads run a slice of rows at a time, so the last
        layer's states are never held for every node. ``label_rows(node_type, rows)``: the label
        features of those rows (scaled), or None."""
        out = {}
        for nt in SCORED_NODE_TYPES:
            h0 = states[0][nt]
            out[nt] = torch.empty(len(h0))
            for rows in row_slices(len(h0), UPDATE_ROWS):
                last = self.layer_update(len(self.convs) - 1, nt, states[-1], adjacency, rows) if self.convs \
                    else h0[rows]
                labels = label_rows(nt, rows) if label_rows is not None else None
                out[nt][rows] = self._head(nt, h0[rows], last, None if labels is None else {nt: labels})
        return out

    def local_logits(self, node_type: str, x: torch.Tensor, nodes: torch.Tensor, states: list[dict[str, torch.Tensor]],
                     adjacency: dict, review_text_projected: torch.Tensor | None = None,
                     label_x: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``nodes`` (of ``node_type``) as functions of their own inputs ``x`` (and
        projected text and label features), every neighbour's state held at its value in ``states``.

        The values equal ``forward``'s; the gradients cover each node's own paths (input
        projection, residuals, SAGE root weights, head) and not its echo through neighbours, so
        an attribution costs [nodes, hidden] memory instead of a backward pass over the graph.
        """
        h0 = self.input_state(node_type, x, review_text_projected)
        h = h0
        for layer, conv in enumerate(self.convs):
            relation_outputs = []
            for edge_type, sage in conv.convs.items():
                if edge_type[2] != node_type or edge_type not in adjacency:
                    continue
                with torch.no_grad():
                    neighbours = spmm(csr_gather(adjacency[edge_type], nodes), states[layer][edge_type[0]],
                                      reduce=sage.aggr)
                relation_outputs.append(sage.lin_l(neighbours) + sage.lin_r(h))
            if relation_outputs:
                h = h + torch.relu(torch.stack(relation_outputs).mean(dim=0))
        return self._head(node_type, h0, h, None if label_x is None else {node_type: label_x})
