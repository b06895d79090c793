"""Fraud rings: groups of accounts tied together by shared identifiers and co-review bursts.

Accounts are linked when they share a (hashed) identifier - device, payment token, email,
phone, IP, shipping address - or when they review the same products within a short window.
Each link kind has a weight and a pair of accounts is joined only when the summed weight
reaches ``min_link_weight``: a single weak coincidence (one shared IP, one co-reviewed product)
does not make a ring, a shared device or card does. Identifiers used by more than
``identifier_cap`` accounts (an office NAT, a marketplace-wide test card) and bursts of more
than ``burst_cap`` reviews on one product (a viral product) are ignored, so they cannot glue
the whole marketplace into one component.

Connected components of the linked accounts are rings; a component larger than
``max_ring_size`` is split into Louvain communities (seeded, so the split is reproducible).
Everything is deterministic for the same input: nodes and edges enter networkx in sorted
order and ring ids follow a total order (ring score, size, smallest account id).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from fraudlens.marketplace.features import group_time_keys, window_counts

# Identifier kind -> raw column, in the accounts and orders tables (hashed at ingest).
RING_IDENTIFIER_COLUMNS = {
    "device": "device_id",
    "payment": "payment_token",
    "email": "email",
    "phone": "phone",
    "ip": "ip",
    "address": "shipping_address",
}
# Why these weights: a device, card, email or phone is personal, so sharing one is a link on
# its own; households and offices share IPs and addresses, so those need a second signal.
LINK_WEIGHTS = {"device": 1.0, "payment": 1.0, "email": 1.0, "phone": 1.0, "ip": 0.5, "address": 0.5,
                "co_review": 0.5}

RING_COLUMNS = ("ring_id", "ring_score", "n_accounts", "accounts", "n_reviews", "n_orders", "five_star_reviews",
                "five_star_peak_48h", "burst_share", "mean_member_score", "max_member_score", "shared_identifiers",
                "first_seen", "last_seen", "span_hours")


@dataclass(frozen=True)
class RingSettings:
    min_size: int = 3
    max_ring_size: int = 50
    identifier_cap: int = 20
    burst_cap: int = 50
    co_review_window: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=48))
    min_link_weight: float = 1.0
    seed: int = 0


def identifier_links(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Distinct (kind, value, account_id) from every table that carries an identifier column."""
    parts = []
    for table in ("accounts", "orders"):
        frame = tables.get(table)
        if frame is None or "account_id" not in frame:
            continue
        for kind, column in RING_IDENTIFIER_COLUMNS.items():
            if column in frame:
                part = frame[["account_id", column]].dropna()
                parts.append(pd.DataFrame({"kind": kind, "value": part[column].astype("string"),
                                           "account_id": part["account_id"].astype("string")}))
    if not parts:
        return pd.DataFrame({"kind": pd.Series(dtype="string"), "value": pd.Series(dtype="string"),
                             "account_id": pd.Series(dtype="string")})
    links = pd.concat(parts, ignore_index=True).astype({"kind": "string"}).drop_duplicates()
    return links.sort_values(["kind", "value", "account_id"], kind="mergesort").reset_index(drop=True)


def _pairs_within_groups(frame: pd.DataFrame, group_columns: list[str]) -> pd.DataFrame:
    """Unordered account pairs (a < b) that appear together in a group, one row per group."""
    left = frame.merge(frame, on=group_columns, suffixes=("_a", "_b"))
    left = left[left["account_id_a"] < left["account_id_b"]]
    return left.rename(columns={"account_id_a": "a", "account_id_b": "b"})


def identifier_edges(links: pd.DataFrame, identifier_cap: int) -> pd.DataFrame:
    """(a, b, kind, shared) for pairs sharing identifiers used by 2..identifier_cap accounts."""
    users = links.groupby(["kind", "value"])["account_id"].transform("size")
    kept = links[(users >= 2) & (users <= identifier_cap)]
    pairs = _pairs_within_groups(kept, ["kind", "value"])
    return (pairs.groupby(["a", "b", "kind"], sort=True).size().rename("shared").reset_index())


def co_review_edges(reviews: pd.DataFrame | None, window: pd.Timedelta, burst_cap: int) -> pd.DataFrame:
    """(a, b, products) for account pairs reviewing the same product within ``window`` of each other.

    For each review only the next reviews of the same product within the window are paired
    (a sorted sweep, not a product-wide self-join), and reviews inside a burst of more than
    ``burst_cap`` reviews are dropped, so the pair count stays linear in the number of reviews.
    """
    empty = pd.DataFrame({"a": pd.Series(dtype="string"), "b": pd.Series(dtype="string"),
                          "products": pd.Series(dtype="int64")})
    if reviews is None or len(reviews) < 2:
        return empty
    frame = reviews[["account_id", "product_id", "created_at"]].dropna()
    if len(frame) < 2:
        return empty
    keys = group_time_keys(frame["product_id"], frame["created_at"], window)
    in_burst = window_counts(frame["product_id"], frame["created_at"], window)
    accounts = frame["account_id"].astype("string").to_numpy()
    product = frame["product_id"].astype("string").to_numpy()
    order = np.lexsort((accounts, keys))
    keys, accounts, product = keys[order], accounts[order], product[order]
    keep = in_burst[order] <= burst_cap
    keys, accounts, product = keys[keep], accounts[keep], product[keep]
    if len(keys) < 2:
        return empty
    start = np.arange(len(keys)) + 1
    stop = np.searchsorted(keys, keys + int(window.total_seconds()), "right")
    lengths = np.maximum(stop - start, 0)
    i = np.repeat(np.arange(len(keys)), lengths)
    j = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(start, lengths)
    a, b = accounts[i], accounts[j]
    pairs = pd.DataFrame({"a": np.where(a < b, a, b), "b": np.where(a < b, b, a), "product": product[i]})
    pairs = pairs[pairs["a"] != pairs["b"]].drop_duplicates()
    if pairs.empty:
        return empty
    out = pairs.groupby(["a", "b"], sort=True).size().rename("products").reset_index()
    return out.astype({"a": "string", "b": "string", "products": "int64"})


def account_edges(tables: dict[str, pd.DataFrame], settings: RingSettings,
                  links: pd.DataFrame | None = None) -> pd.DataFrame:
    """(a, b, <kind> counts..., weight) for every account pair with any link; _groups keeps the
    pairs whose weight reaches min_link_weight."""
    links = identifier_links(tables) if links is None else links
    ids = identifier_edges(links, settings.identifier_cap)
    wide = ids.pivot_table(index=["a", "b"], columns="kind", values="shared", aggfunc="sum", fill_value=0)
    co = co_review_edges(tables.get("reviews"), settings.co_review_window, settings.burst_cap)
    co = co.set_index(["a", "b"])["products"].rename("co_review")
    edges = wide.join(co, how="outer").fillna(0) if len(wide.columns) else co.to_frame()
    edges.columns = [str(c) for c in edges.columns]
    for kind in LINK_WEIGHTS:
        if kind not in edges:
            edges[kind] = 0.0
    edges = edges[list(LINK_WEIGHTS)].astype(np.float64)
    edges["weight"] = sum(edges[k] * w for k, w in LINK_WEIGHTS.items())
    edges = edges.reset_index()
    return edges.sort_values(["a", "b"], kind="mergesort").reset_index(drop=True)


def _groups(edges: pd.DataFrame, settings: RingSettings) -> list[list[str]]:
    edges = edges[edges["weight"] >= settings.min_link_weight]
    graph = nx.Graph()
    graph.add_nodes_from(sorted(set(edges["a"]) | set(edges["b"])))
    graph.add_weighted_edges_from(zip(edges["a"], edges["b"], edges["weight"]))
    groups = []
    for component in nx.connected_components(graph):
        members = sorted(component)
        if len(members) > settings.max_ring_size:
            sub = nx.Graph()
            sub.add_nodes_from(members)
            sub.add_weighted_edges_from(sorted((a, b, d["weight"]) for a, b, d in graph.subgraph(members).edges(data=True)))
            parts = nx.community.louvain_communities(sub, weight="weight", seed=settings.seed)
            groups.extend(sorted(p) for p in parts)
        else:
            groups.append(members)
    return [g for g in groups if len(g) >= settings.min_size]


def _account_scores(tables: dict[str, pd.DataFrame], scores: dict[str, pd.DataFrame]) -> pd.Series:
    """Max model score over each account's reviews and orders: how suspicious its worst act is."""
    parts = []
    for node_type, table in (("review", "reviews"), ("order", "orders")):
        frame, scored = tables.get(table), scores.get(node_type)
        if frame is None or scored is None or not len(frame):
            continue
        by_id = scored.set_index(f"{node_type}_id")["score"]
        parts.append(pd.DataFrame({"account_id": frame["account_id"].astype("string"),
                                   "score": frame[f"{node_type}_id"].astype("string").map(by_id).astype("float64")}))
    if not parts:
        return pd.Series(dtype=np.float64)
    return pd.concat(parts).groupby("account_id")["score"].max().fillna(0.0)


def _empty_rings() -> tuple[pd.DataFrame, pd.DataFrame]:
    rings = pd.DataFrame({c: pd.Series(dtype="object") for c in RING_COLUMNS})
    rings = rings.astype({"ring_id": "string", "ring_score": "float64", "n_accounts": "int64", "n_reviews": "int64",
                          "n_orders": "int64", "five_star_reviews": "int64", "five_star_peak_48h": "int64",
                          "burst_share": "float64", "mean_member_score": "float64", "max_member_score": "float64",
                          "shared_identifiers": "string", "first_seen": "datetime64[us]",
                          "last_seen": "datetime64[us]", "span_hours": "float64"})
    membership = pd.DataFrame({"account_id": pd.Series(dtype="string"), "ring_id": pd.Series(dtype="string")})
    return rings, membership


def find_rings(tables: dict[str, pd.DataFrame], scores: dict[str, pd.DataFrame],
               settings: RingSettings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rings, membership): one row per ring (``RING_COLUMNS``), and (account_id, ring_id).

    ``scores``: {"review": (review_id, score), "order": (order_id, score)}, either may be missing.

    ring_score = mean_member_score * (0.5 + 0.25 * burst_share + 0.25 * (1 - 2 / n_accounts)), where
    a member's score is the max score of its reviews and orders and burst_share is the share of
    the ring's reviews and orders that have another member's review of the same product (or
    another member's order) within the co-review window. Model suspicion dominates; acting
    together in time and being many add up to half again, so a large, bursty ring of
    moderately scored accounts outranks a pair-plus-one of the same scores. Ranked by
    ring_score, then size, then smallest account id: R-1 is the most suspicious ring.
    """
    settings = settings or RingSettings()
    links = identifier_links(tables)
    edges = account_edges(tables, settings, links)
    groups = _groups(edges, settings) if len(edges) else []
    if not groups:
        return _empty_rings()
    membership = pd.DataFrame({"account_id": [a for g in groups for a in g],
                               "group": np.repeat(np.arange(len(groups)), [len(g) for g in groups])})
    group_of = membership.set_index("account_id")["group"]
    window = settings.co_review_window

    events = []
    for kind, table in (("review", "reviews"), ("order", "orders")):
        frame = tables.get(table)
        if frame is None or not len(frame):
            continue
        frame = frame[frame["account_id"].astype("string").isin(group_of.index)]
        events.append(pd.DataFrame({
            "kind": kind, "group": frame["account_id"].astype("string").map(group_of).to_numpy(),
            "product_id": frame["product_id"].astype("string").to_numpy() if kind == "review" else "",
            "five_star": (frame["rating"] == 5).fillna(False).to_numpy(bool) if kind == "review" else False,
            "created_at": frame["created_at"].to_numpy()}))
    events = pd.concat(events, ignore_index=True) if events else pd.DataFrame(
        {"kind": [], "group": [], "product_id": [], "five_star": [], "created_at": pd.Series(dtype="datetime64[us]")})
    events = events.dropna(subset=["created_at"])
    burst_key = events["group"].astype(str) + "|" + events["kind"] + "|" + events["product_id"].astype(str)
    # > 1: every event counts itself.
    events["bursty"] = window_counts(burst_key, events["created_at"], window) > 1
    five = events[events["five_star"].to_numpy(bool)]
    peak = pd.Series(window_counts(five["group"], five["created_at"], window, ahead_only=True)).groupby(
        five["group"].to_numpy()).max()

    per_group = pd.DataFrame(index=pd.RangeIndex(len(groups), name="group"))
    grouped = events.groupby("group")
    per_group["n_reviews"] = (events["kind"] == "review").groupby(events["group"]).sum()
    per_group["n_orders"] = (events["kind"] == "order").groupby(events["group"]).sum()
    per_group["five_star_reviews"] = events["five_star"].groupby(events["group"]).sum()
    per_group["five_star_peak_48h"] = peak
    per_group["burst_share"] = grouped["bursty"].mean()
    per_group["first_seen"] = grouped["created_at"].min()
    per_group["last_seen"] = grouped["created_at"].max()
    member_score = membership["account_id"].map(_account_scores(tables, scores)).fillna(0.0)
    per_group["mean_member_score"] = member_score.groupby(membership["group"]).mean()
    per_group["max_member_score"] = member_score.groupby(membership["group"]).max()
    per_group = per_group.fillna({"n_reviews": 0, "n_orders": 0, "five_star_reviews": 0, "five_star_peak_48h": 0,
                                  "burst_share": 0.0, "mean_member_score": 0.0, "max_member_score": 0.0})
    per_group["n_accounts"] = [len(g) for g in groups]
    per_group["accounts"] = groups
    per_group["first_account"] = [g[0] for g in groups]
    per_group["shared_identifiers"] = _shared_identifiers(links, edges, membership)
    per_group["span_hours"] = (per_group["last_seen"] - per_group["first_seen"]).dt.total_seconds() / 3600
    per_group["ring_score"] = (per_group["mean_member_score"]
                               * (0.5 + 0.25 * per_group["burst_share"] + 0.25 * (1 - 2 / per_group["n_accounts"])))
    # Rounded before ranking so float noise in the last bits cannot reorder rings between runs.
    per_group["ring_score"] = per_group["ring_score"].round(6)
    ranked = per_group.sort_values(["ring_score", "n_accounts", "first_account"], ascending=[False, False, True],
                                   kind="mergesort")
    ranked["ring_id"] = [f"R-{i}" for i in range(1, len(ranked) + 1)]
    ring_of_group = ranked["ring_id"]
    rings = ranked.reset_index(drop=True)[list(RING_COLUMNS)]
    rings = rings.astype({"ring_id": "string", "ring_score": "float64", "n_accounts": "int64", "n_reviews": "int64",
                          "n_orders": "int64", "five_star_reviews": "int64", "five_star_peak_48h": "int64",
                          "burst_share": "float64", "mean_member_score": "float64", "max_member_score": "float64",
                          "shared_identifiers": "string", "span_hours": "float64"})
    membership = pd.DataFrame({"account_id": membership["account_id"].astype("string"),
                               "ring_id": membership["group"].map(ring_of_group).astype("string")})
    return rings, membership.sort_values("account_id", kind="mergesort").reset_index(drop=True)


def _shared_identifiers(links: pd.DataFrame, edges: pd.DataFrame, membership: pd.DataFrame) -> list[str]:
    """Per group, 'kind=n;...': distinct identifiers of each kind used by two or more members, and
    co_review = member pairs that reviewed the same product within the window."""
    group_of = membership.set_index("account_id")["group"]
    used = links.assign(group=links["account_id"].map(group_of)).dropna(subset=["group"])
    users = used.groupby(["group", "kind", "value"]).size()
    shared = users[users >= 2].groupby(level=["group", "kind"]).size()
    inside = edges.assign(ga=edges["a"].map(group_of), gb=edges["b"].map(group_of))
    inside = inside[inside["ga"].notna() & (inside["ga"] == inside["gb"]) & (inside["co_review"] > 0)]
    co = inside.groupby("ga").size()
    counts: dict[int, dict[str, int]] = {}
    for (group, kind), n in shared.items():  # one pass: a scan per group was quadratic in rings
        counts.setdefault(int(group), {})[kind] = int(n)
    for group, n in co.items():
        if n:
            counts.setdefault(int(group), {})["co_review"] = int(n)
    return [";".join(f"{kind}={n}" for kind, n in sorted(counts.get(group, {}).items()))
            for group in range(int(membership["group"].max()) + 1)]


def rings_for_csv(rings: pd.DataFrame) -> pd.DataFrame:
    """CSV has no list type: members become one ';'-separated cell."""
    return rings.assign(accounts=rings["accounts"].map(lambda members: ";".join(members)).astype("string"))
