"""The heterogeneous marketplace graph built from validated tables.

Every node type and edge type always exists (possibly empty), so a model trained on one
marketplace can run on any other, even one that has only reviews or only orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import ToUndirected

from fraudlens.marketplace.contract import IDENTITY_COLUMNS

ENTITY_NODE_TYPES = ("account", "product", "seller", "review", "order")
IDENTITY_NODE_TYPES = tuple(IDENTITY_COLUMNS)
NODE_TYPES = ENTITY_NODE_TYPES + IDENTITY_NODE_TYPES
SCORED_NODE_TYPES = ("review", "order")
# Forward edges; ToUndirected adds a rev_* edge for each.
EDGE_TYPES = (
    ("account", "writes", "review"),
    ("review", "about", "product"),
    ("account", "places", "order"),
    ("order", "contains", "product"),
    ("product", "sold_by", "seller"),
    ("review", "verified_by", "order"),
    *(("account", "uses", identity) for identity in IDENTITY_NODE_TYPES),
    *(("order", "uses", identity) for identity in IDENTITY_NODE_TYPES),
)


@dataclass
class MarketplaceGraph:
    data: HeteroData
    # Entity id (or hashed identifier) of every node, in node-index order, per node type.
    ids: dict[str, pd.Index]

    def node_index(self, node_type: str, entity_ids) -> np.ndarray:
        return self.ids[node_type].get_indexer(pd.Index(entity_ids))


def _column(tables: dict[str, pd.DataFrame], table: str, column: str) -> pd.Series:
    frame = tables.get(table)
    if frame is None or column not in frame.columns:
        return pd.Series([], dtype="string")
    return frame[column].astype("string")


def node_ids(tables: dict[str, pd.DataFrame]) -> dict[str, pd.Index]:
    def union(*series: pd.Series) -> pd.Index:
        values = pd.concat(series, ignore_index=True).dropna()
        return pd.Index(pd.unique(values), dtype="string")

    ids = {
        "review": union(_column(tables, "reviews", "review_id")),
        "order": union(_column(tables, "orders", "order_id")),
        "account": union(_column(tables, "accounts", "account_id"), _column(tables, "reviews", "account_id"),
                         _column(tables, "orders", "account_id")),
        "product": union(_column(tables, "products", "product_id"), _column(tables, "reviews", "product_id"),
                         _column(tables, "orders", "product_id")),
        "seller": union(_column(tables, "products", "seller_id"), _column(tables, "orders", "seller_id")),
    }
    for identity, column in IDENTITY_COLUMNS.items():
        ids[identity] = union(_column(tables, "accounts", column), _column(tables, "orders", column))
    return ids


def _edges(ids: dict[str, pd.Index], src_type: str, src: pd.Series, dst_type: str, dst: pd.Series) -> torch.Tensor:
    src_idx = ids[src_type].get_indexer(pd.Index(src.astype("string")))
    dst_idx = ids[dst_type].get_indexer(pd.Index(dst.astype("string")))
    keep = (src_idx >= 0) & (dst_idx >= 0)
    # Distinct (src, dst) pairs in (src, dst) order, through one int64 key per pair.
    width = max(len(ids[dst_type]), 1)
    pairs = np.unique(src_idx[keep].astype(np.int64) * width + dst_idx[keep])
    return torch.from_numpy(np.stack([pairs // width, pairs % width]))


def edge_lists(tables: dict[str, pd.DataFrame], ids: dict[str, pd.Index]) -> dict[tuple[str, str, str], torch.Tensor]:
    reviews = tables.get("reviews", pd.DataFrame(columns=["review_id", "account_id", "product_id", "order_id"]))
    orders = tables.get("orders", pd.DataFrame(columns=["order_id", "account_id", "product_id"]))
    products = tables.get("products", pd.DataFrame(columns=["product_id", "seller_id"]))
    accounts = tables.get("accounts", pd.DataFrame(columns=["account_id"]))
    order_sellers = orders[["product_id", "seller_id"]] if "seller_id" in orders else products.iloc[:0]
    product_sellers = pd.concat([products[["product_id", "seller_id"]], order_sellers], ignore_index=True)
    verified = reviews[["review_id", "order_id"]] if "order_id" in reviews else pd.DataFrame(columns=["review_id", "order_id"])
    edges = {
        ("account", "writes", "review"): _edges(ids, "account", reviews["account_id"], "review", reviews["review_id"]),
        ("review", "about", "product"): _edges(ids, "review", reviews["review_id"], "product", reviews["product_id"]),
        ("account", "places", "order"): _edges(ids, "account", orders["account_id"], "order", orders["order_id"]),
        ("order", "contains", "product"): _edges(ids, "order", orders["order_id"], "product", orders["product_id"]),
        ("product", "sold_by", "seller"): _edges(ids, "product", product_sellers["product_id"], "seller",
                                                 product_sellers["seller_id"]),
        ("review", "verified_by", "order"): _edges(ids, "review", verified["review_id"], "order", verified["order_id"]),
    }
    for identity, column in IDENTITY_COLUMNS.items():
        account_links = [frame[["account_id", column]] for frame in (accounts, orders) if column in frame]
        links = pd.concat(account_links, ignore_index=True) if account_links else pd.DataFrame(columns=["account_id", column])
        edges[("account", "uses", identity)] = _edges(ids, "account", links["account_id"], identity, links[column])
        order_links = orders[["order_id", column]] if column in orders else pd.DataFrame(columns=["order_id", column])
        edges[("order", "uses", identity)] = _edges(ids, "order", order_links["order_id"], identity, order_links[column])
    return edges


def build_graph(tables: dict[str, pd.DataFrame]) -> MarketplaceGraph:
    ids = node_ids(tables)
    data = HeteroData()
    for node_type in NODE_TYPES:
        data[node_type].num_nodes = len(ids[node_type])
    for edge_type, edge_index in edge_lists(tables, ids).items():
        data[edge_type].edge_index = edge_index
    return MarketplaceGraph(data=ToUndirected()(data), ids=ids)


def to_networkx(graph: MarketplaceGraph) -> nx.Graph:
    """Undirected analytics view; nodes are (node_type, entity_id) so they read back to the tables."""
    view = nx.Graph()
    for node_type, index in graph.ids.items():
        view.add_nodes_from(((node_type, entity), {"node_type": node_type}) for entity in index)
    for (src_type, relation, dst_type) in EDGE_TYPES:
        edge_index = graph.data[src_type, relation, dst_type].edge_index.numpy()
        src_ids, dst_ids = graph.ids[src_type], graph.ids[dst_type]
        view.add_edges_from(
            ((src_type, src_ids[s]), (dst_type, dst_ids[d]), {"relation": relation}) for s, d in edge_index.T
        )
    return view
