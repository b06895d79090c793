"""Leak-free node features for the scored entities (orders or reviews) of a marketplace graph.

The graph seen here is the one marketplace/graph.py builds, viewed from the scored nodes: two
orders are neighbours when they share an account, a seller, an address or a device (two reviews
when they share a user or a product). Each such shared entity is a *relation*; its members form
a clique of the homogeneous projection, so a mean over a node's projected neighbours is a
group-by mean with the node itself taken out - no edge list of the (huge) cliques is needed.

Three feature blocks:
- behavioural (label-free): amount, degrees, distinct counts across relations, pair counts,
  codes of small relations (trees split on them, like the XGBoost anchor's per-column codes),
  amount relative to the group, and backward-looking velocities (events of the same account
  before this one, gaps, windows) - time features look only into the past;
- neighbour means of the behavioural block: per relation (1 hop) and over the whole projection
  (1 and 2 hops, GADBench's XGBGraph recipe);
- neighbour labels: per relation, how many *training*-labelled neighbours there are and what
  share of them is fraud. Only labels of ``train_ids`` are read, and a node's own label never
  counts for itself: every node sees only the training labels of other folds, so training rows
  see the same kind of statistic as test rows.

Label features are deliberately never averaged over neighbours: a neighbour's label share
includes the node's own training label, so a 2-hop average would hand each training row its
own label (and nothing comparable to a test row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fraudlens.marketplace.contract import SIGNAL_PREFIX

# Relations with at most this many groups also get their group code as a feature.
MAX_CODED_GROUPS = 5_000
# Pair counts, distinct counts and per-relation neighbour means grow with the square (and the
# product) of the relations: with every identifier of a rich marketplace (7 relations) orders got
# 967 columns, ~7.7 GB at a million orders. They use the first relations only (account, seller,
# address, device: S-FFSD's four); degrees, codes, velocities and the whole-projection means
# still see every relation.
MAX_CROSSED_RELATIONS = 4
# Backward-looking windows for the first relation (the account), in seconds.
VELOCITY_WINDOWS = {"1h": 3_600, "1d": 86_400, "7d": 604_800}
# Prior pseudo-count for the neighbour fraud share, so one labelled neighbour is not a verdict.
LABEL_SMOOTHING = 1.0
# Label features come out-of-fold (see label_features).
LABEL_FOLDS = 10


@dataclass
class NodeFrame:
    """The scored nodes and what links them: one row per node, in ``ids`` order."""

    ids: pd.Index
    # relation name -> group key per node (missing key: no neighbours through that relation)
    relations: dict[str, pd.Series]
    time: np.ndarray | None = None  # seconds, only differences and order are meaningful
    amount: np.ndarray | None = None
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # label-free numeric columns

    def __len__(self) -> int:
        return len(self.ids)

    def codes(self) -> dict[str, np.ndarray]:
        """Group index per node and relation, -1 for a missing key."""
        return {name: pd.factorize(keys.astype("string"))[0].astype(np.int64)
                for name, keys in self.relations.items()}


@dataclass
class FeatureSet:
    table: pd.DataFrame  # indexed by node id
    graph_columns: list[str]  # label-free: may be propagated by a GNN
    label_columns: list[str]  # from training labels: per node only


def _signals(tables: dict[str, pd.DataFrame], frame: pd.DataFrame) -> pd.DataFrame:
    """The platform's own numeric signals of the scored rows (``signal_*``, docs/data-contract.md)
    and of their accounts (``account_signal_*``), row-aligned to ``frame``."""
    out = frame[[c for c in frame.columns if c.startswith(SIGNAL_PREFIX)]].astype("float64")
    accounts = tables.get("accounts")
    if accounts is not None:
        own = [c for c in accounts.columns if c.startswith(SIGNAL_PREFIX)]
        if own:
            by_account = accounts.drop_duplicates("account_id").set_index("account_id")[own].astype("float64")
            joined = by_account.reindex(frame["account_id"]).reset_index(drop=True).add_prefix("account_")
            out = pd.concat([out.reset_index(drop=True), joined], axis=1)
    return out.reset_index(drop=True)


def order_nodes(tables: dict[str, pd.DataFrame]) -> NodeFrame:
    """Orders as scored nodes, related by account, seller and the shared identifiers present."""
    orders = tables["orders"].reset_index(drop=True)
    relations = {"account": orders["account_id"], "seller": orders["seller_id"]}
    for column in ("shipping_address", "device_id", "payment_token", "ip", "email"):
        if column in orders and orders[column].notna().any():
            relations[column] = orders[column]
    return NodeFrame(ids=pd.Index(orders["order_id"].astype("string")), relations=relations,
                     time=_seconds(orders["created_at"]), amount=orders["amount"].to_numpy(dtype=np.float64),
                     extra=_signals(tables, orders))


def review_nodes(tables: dict[str, pd.DataFrame]) -> NodeFrame:
    """Reviews as scored nodes related by user and product."""
    reviews = tables["reviews"].reset_index(drop=True)
    return NodeFrame(ids=pd.Index(reviews["review_id"].astype("string")),
                     relations={"user": reviews["account_id"], "product": reviews["product_id"]},
                     time=_seconds(reviews["created_at"]), extra=_signals(tables, reviews))


SCORED_NODES = {"review": ("reviews", review_nodes), "order": ("orders", order_nodes)}


def scored_node_frames(tables: dict[str, pd.DataFrame]) -> dict[str, NodeFrame]:
    """The scored node types present in ``tables`` (with rows), as NodeFrames."""
    return {nt: build(tables) for nt, (table, build) in SCORED_NODES.items()
            if table in tables and len(tables[table])}


def _seconds(timestamps: pd.Series) -> np.ndarray:
    return timestamps.astype("datetime64[s]").astype("int64").to_numpy().astype(np.float64)


def _membership(codes: np.ndarray) -> sp.csr_matrix:
    """Node x group one-hot matrix; nodes with a missing key have an empty row."""
    present = codes >= 0
    rows = np.flatnonzero(present)
    groups = int(codes.max()) + 1 if present.any() else 0
    return sp.csr_matrix((np.ones(len(rows)), (rows, codes[present])), shape=(len(codes), groups))


def _log(values) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(values, dtype=np.float64), 0, None))


def _group_size(codes: np.ndarray) -> np.ndarray:
    counts = np.bincount(codes[codes >= 0])
    return np.where(codes >= 0, counts[np.clip(codes, 0, None)] if len(counts) else 0, 0).astype(np.float64)


def _previous_in_group(codes: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: events of its group strictly before it, gap to the previous one, and sort order."""
    order = np.lexsort((np.arange(len(codes)), time, codes))
    sorted_codes = codes[order]
    start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    group_start = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    rank = np.empty(len(order))
    rank[order] = np.arange(len(order)) - group_start
    gap = np.full(len(order), np.nan)
    sorted_time = time[order]
    gap[order[~start]] = (sorted_time[1:] - sorted_time[:-1])[~start[1:]]
    missing = codes < 0
    rank[missing], gap[missing] = 0, np.nan
    return rank, gap, order


def _window_counts(codes: np.ndarray, time: np.ndarray, seconds: float) -> np.ndarray:
    """Events of the same group in (t - seconds, t), earlier events only."""
    span = time.max() - time.min() + 2 * seconds + 1
    # Nodes without a key get groups of their own so they do not join group 0.
    own = np.where(codes >= 0, codes, codes.max() + 1 + np.arange(len(codes)))
    key = own * span + (time - time.min())
    ordered = np.sort(key)
    before = np.searchsorted(ordered, key, "left") - np.searchsorted(ordered, key - seconds, "right")
    return np.where(codes >= 0, before, 0).astype(np.float64)


def behavioural_features(nodes: NodeFrame) -> pd.DataFrame:
    """Label-free per-node features (see the module docstring)."""
    codes = nodes.codes()
    names = list(codes)
    out: dict[str, np.ndarray] = {}
    if nodes.amount is not None:
        out["log_amount"] = _log(nodes.amount)
    for name in names:
        out[f"log_deg_{name}"] = _log(_group_size(codes[name]))
        if 0 < codes[name].max() + 1 <= MAX_CODED_GROUPS:
            # Codes ranked by group size, so the same code means the same kind of group across runs.
            sizes = np.bincount(codes[name][codes[name] >= 0])
            rank = np.empty(len(sizes))
            rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
            out[f"code_{name}"] = np.where(codes[name] >= 0, rank[np.clip(codes[name], 0, None)], np.nan)
    crossed = names[:MAX_CROSSED_RELATIONS]
    for a, b in combinations(crossed, 2):
        pair = _pair_codes(codes[a], codes[b])
        out[f"log_pair_{a}_{b}"] = _log(_group_size(pair))
    for a in crossed:
        for b in crossed:
            if a != b:
                frame = pd.DataFrame({"a": codes[a], "b": codes[b]})
                distinct = frame[frame.a >= 0].groupby("a")["b"].nunique()
                out[f"log_distinct_{b}_per_{a}"] = _log(frame["a"].map(distinct).fillna(0).to_numpy())
    if nodes.amount is not None:
        amount = _log(nodes.amount)
        for name in names:
            member = _membership(codes[name])
            n = np.asarray(member.sum(axis=0)).ravel()
            s1, s2 = member.T @ amount, member.T @ amount**2
            mean = np.divide(s1, n, out=np.zeros_like(s1), where=n > 0)
            var = np.divide(s2, n, out=np.zeros_like(s2), where=n > 0) - mean**2
            mean_i, sd_i = member @ mean, np.sqrt(np.clip(member @ var, 0, None))
            out[f"amount_z_{name}"] = np.where(codes[name] >= 0, (amount - mean_i) / (sd_i + 0.1), np.nan)
    if nodes.time is not None and np.ptp(nodes.time) > 0:
        for name in names:
            rank, gap, _ = _previous_in_group(codes[name], nodes.time)
            out[f"log_prior_events_{name}"] = _log(rank)
            out[f"log_gap_prev_{name}"] = _log(gap)
        first = names[0]
        for label, seconds in VELOCITY_WINDOWS.items():
            out[f"log_prior_{first}_{label}"] = _log(_window_counts(codes[first], nodes.time, seconds))
        if nodes.amount is not None:
            out[f"amount_vs_past_{first}"] = _amount_vs_past(codes[first], nodes.time, _log(nodes.amount))
    for column in nodes.extra.columns:
        values = nodes.extra[column].to_numpy(dtype=np.float64)
        out[column] = values
        # Where a node stands among its group (a review's prior among the product's reviews).
        for name in names:
            keys = pd.Series(codes[name]).where(codes[name] >= 0)
            grouped = pd.Series(values).groupby(keys)
            mean, sd = grouped.transform("mean").to_numpy(), grouped.transform("std").fillna(0).to_numpy()
            out[f"{column}_z_{name}"] = (values - mean) / (sd + 1e-3)
            out[f"{column}_pct_{name}"] = grouped.rank(pct=True).to_numpy()
    return pd.DataFrame(out, index=nodes.ids)


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pair = pd.factorize(pd.Series(a) * (b.max() + 2) + b)[0].astype(np.int64)
    return np.where((a >= 0) & (b >= 0), pair, -1)


def _amount_vs_past(codes: np.ndarray, time: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """This amount minus the mean of the group's earlier amounts (NaN for a first event)."""
    rank, _, order = _previous_in_group(codes, time)
    sorted_codes, sorted_amount = codes[order], amount[order]
    cumulative = np.cumsum(sorted_amount)
    start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    base = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    before = cumulative - sorted_amount - np.where(base > 0, cumulative[base - 1], 0)
    past_sum = np.empty(len(order))
    past_sum[order] = before
    past_mean = np.divide(past_sum, rank, out=np.full(len(rank), np.nan), where=rank > 0)
    return np.where(codes >= 0, amount - past_mean, np.nan)


@dataclass
class _Relation:
    """One relation's membership matrix, kept with what every column's neighbour mean reuses."""

    member: sp.csr_matrix  # node x group
    member_t: sp.csr_matrix  # group x node (CSR: the same sums as member.T, in the same order, ~2x faster)
    in_group: np.ndarray  # [nodes, 1] bool
    neighbours: np.ndarray  # [nodes, 1] group size less the node itself (0 outside a group)

    @classmethod
    def of(cls, member: sp.csr_matrix) -> "_Relation":
        in_group = np.asarray(member.sum(axis=1)).ravel()[:, None] > 0
        sizes = np.asarray(member.sum(axis=0)).ravel()
        return cls(member, member.T.tocsr(), in_group, (member @ sizes)[:, None] - in_group)


def neighbour_mean(values: np.ndarray, relations: list[_Relation]) -> np.ndarray:
    """Mean of each column over a node's projected neighbours, summed over relations, self excluded.

    A neighbour reached through two relations counts twice (the projection is a multigraph);
    NaN cells are skipped; a node without neighbours gets NaN.
    """
    # C order: scipy's sparse-dense product copies an F-ordered operand on every call.
    values = np.ascontiguousarray(values, dtype=np.float64)
    present = ~np.isnan(values)
    gaps = ~present.all(axis=0)  # columns with NaN cells need their own neighbour counts
    filled = np.where(present, values, 0.0)
    total = np.zeros_like(filled)
    count = np.zeros_like(filled)
    for relation in relations:
        total += relation.member @ (relation.member_t @ filled) - filled * relation.in_group
        count += relation.neighbours
        if gaps.any():
            missing = np.ascontiguousarray(~present[:, gaps], dtype=np.float64)
            count[:, gaps] -= relation.member @ (relation.member_t @ missing) - missing * relation.in_group
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


# Columns per neighbour-mean pass: bounds its float64 temporaries (~10 arrays of [nodes, chunk]).
AGGREGATE_CHUNK = 8


def neighbour_aggregates(base: pd.DataFrame, nodes: NodeFrame) -> tuple[np.ndarray, list[str]]:
    """Per-relation 1-hop means and whole-projection 1- and 2-hop means of ``base``, as one
    float32 [nodes, columns] block and its column names.

    Computed in float64 a few columns at a time (each column's means depend on that column
    only) and stored in float32: at a million orders the block is ~300 columns, and the float64
    frames it was built from peaked near 5 GB above the rest of the run.
    """
    relations = {name: _Relation.of(_membership(c)) for name, c in nodes.codes().items()}
    per_relation = list(relations.items())[:MAX_CROSSED_RELATIONS]
    columns = [c for c in base.columns if not c.startswith("code_")]
    names = [[f"n1_{name}__{c}" for c in columns] for name, _ in per_relation]
    names += [[f"n1__{c}" for c in columns], [f"n2__{c}" for c in columns]]
    block = np.empty((len(base), len(names) * len(columns)), dtype=np.float32)
    for start in range(0, len(columns), AGGREGATE_CHUNK):
        chunk = columns[start:start + AGGREGATE_CHUNK]
        values = base[chunk].to_numpy(dtype=np.float64)
        hop1 = neighbour_mean(values, list(relations.values()))
        means = [neighbour_mean(values, [relation]) for _, relation in per_relation]
        means += [hop1, neighbour_mean(hop1, list(relations.values()))]
        for part, mean in enumerate(means):
            first = part * len(columns) + start
            block[:, first:first + len(chunk)] = mean
    return block, [name for part in names for name in part]


def structural_features(nodes: NodeFrame) -> pd.DataFrame:
    """Everything label-free: behavioural features and their neighbour means (split-independent),
    in float32 (computed in float64)."""
    base = behavioural_features(nodes)
    block, names = neighbour_aggregates(base, nodes)
    return pd.concat([base.astype(np.float32), pd.DataFrame(block, index=base.index, columns=names, copy=False)],
                     axis=1)


def known_labels(labels: pd.Series, ids: pd.Index, train_ids) -> np.ndarray:
    """Labels aligned to ``ids`` with everything outside ``train_ids`` blanked (NaN)."""
    return _readable(labels, train_ids).astype("float64").reindex(ids).to_numpy(dtype=np.float64)


def _readable(labels: pd.Series, train_ids) -> pd.Series:
    """The labels of ``train_ids`` (any iterable of ids)."""
    return labels[labels.index.isin(pd.Index(pd.Series(list(train_ids), dtype="string")).unique())]


def label_folds(ids: pd.Index, folds: int = LABEL_FOLDS, seed: int = 0) -> np.ndarray:
    """A fold per node from a keyed hash of its id alone (never from labels, never from its
    position), so a node keeps its fold as nights add rows and its label features move only
    when labels near it do."""
    keys = np.asarray(pd.Index(ids).astype(str), dtype=object)
    return (pd.util.hash_array(keys, hash_key=f"fraudlens{seed:07d}"[-16:]) % folds).astype(np.int64)


def label_prior(labels: pd.Series, train_ids) -> float:
    """The fraud share of the labels the features may read: the smoothing prior that a trained
    model keeps and scoring reuses (``label_features(prior=...)``)."""
    y = _readable(labels, train_ids)
    return float(y.mean()) if len(y) else 0.0


def label_features(nodes: NodeFrame, labels: pd.Series, train_ids, folds: int = LABEL_FOLDS,
                   seed: int = 0, prior: float | None = None) -> pd.DataFrame:
    """Per relation (and account-pair relation): training-labelled neighbours, fraud among them, share.

    ``labels`` is indexed by node id (any ids, any labels); only ids in ``train_ids`` are read.
    Every node (training or not) gets a fold and sees only training labels of the *other*
    folds. Leaving just the node itself out would not do: in a big group the leave-one-out
    share is lower exactly when the node is fraud, a one-bit copy of its label that trees find
    at once (S-FFSD, seed 0: XGBGraph test AUROC 0.82 with leave-one-out label features, 0.94
    with none, 0.945 with these out-of-fold ones). Folds make a training row's
    features independent of its own label, and test rows see the same label density.

    ``prior`` (scoring: the trained model's ``label_prior``) fixes the share's smoothing prior;
    without it (training) each fold's prior is the fraud share of the other folds' labels. A
    prior recomputed from each night's labels would move every node's share whenever a few
    labels arrive anywhere (10 extra order labels changed the share of 100 % of the demo's
    orders, and the trees turned that into score moves of up to 0.74 far from the new labels).
    """
    y = known_labels(labels, nodes.ids, train_ids)
    known = ~np.isnan(y)
    fraud = np.where(known, y, 0.0)
    fold = label_folds(nodes.ids, folds, seed)
    if prior is None:
        # From the other folds too: a global rate would hold the node's own label.
        prior = np.zeros(len(nodes))
        for k in range(folds):
            visible = known & (fold != k)
            prior[fold == k] = fraud[visible].mean() if visible.any() else 0.0
    codes = nodes.codes()
    groups = dict(codes)
    names = list(codes)
    for other in names[1:]:
        groups[f"{names[0]}_{other}"] = _pair_codes(codes[names[0]], codes[other])
    out = {}
    for name, code in groups.items():
        member = _membership(code)
        n_known, n_fraud = np.zeros(len(nodes)), np.zeros(len(nodes))
        for k in range(folds):
            outside = fold != k
            inside = ~outside
            # Sums over the group of labels held by other folds, read back by this fold's nodes.
            n_known[inside] = (member @ (member.T @ (known & outside).astype(np.float64)))[inside]
            n_fraud[inside] = (member @ (member.T @ (fraud * outside)))[inside]
        out[f"lab_known_{name}"] = _log(n_known)
        out[f"lab_fraud_{name}"] = _log(n_fraud)
        out[f"lab_share_{name}"] = (n_fraud + LABEL_SMOOTHING * prior) / (n_known + LABEL_SMOOTHING)
    if nodes.time is not None and np.ptp(nodes.time) > 0:
        for name, code in codes.items():
            label, gap = np.full(len(nodes), np.nan), np.full(len(nodes), np.nan)
            in_time = _TimeOrder.of(code, nodes.time)  # once per relation: the folds share the sort
            for k in range(folds):
                inside = fold == k
                last, since = in_time.last_known_before(np.where(known & ~inside, y, np.nan))
                label[inside], gap[inside] = last[inside], since[inside]
            out[f"lab_last_{name}"] = label
            out[f"lab_last_gap_{name}"] = _log(gap)
    return pd.DataFrame(out, index=nodes.ids)


@dataclass
class _TimeOrder:
    """The nodes sorted by group, then time (then position): what ``last_known_before`` scans."""

    order: np.ndarray
    sorted_codes: np.ndarray
    sorted_time: np.ndarray
    group_start: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, time: np.ndarray) -> "_TimeOrder":
        order = np.lexsort((np.arange(len(codes)), time, codes))
        sorted_codes = codes[order]
        start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
        return cls(order, sorted_codes, time[order], np.maximum.accumulate(np.where(start, np.arange(len(order)), 0)))

    def last_known_before(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per node: the label of its group's latest earlier event with a label (NaN: none), and
        the time since it. Earlier events only, so a night's new orders read what training rows
        read (labels of later events would exist for training rows and never for tonight's)."""
        order, sorted_y = self.order, y[self.order]
        labelled_at = np.where(~np.isnan(sorted_y), np.arange(len(order)), -1)
        previous = np.r_[-1, np.maximum.accumulate(labelled_at)[:-1]] if len(order) else labelled_at
        found = (previous >= self.group_start) & (self.sorted_codes >= 0)
        label, gap = np.full(len(order), np.nan), np.full(len(order), np.nan)
        label[order[found]] = sorted_y[previous[found]]
        gap[order[found]] = self.sorted_time[found] - self.sorted_time[previous[found]]
        return label, gap


def graph_features(nodes: NodeFrame, labels: pd.Series, train_ids,
                   structural: pd.DataFrame | None = None, seed: int = 0) -> FeatureSet:
    """All features for one split; pass ``structural`` to reuse the split-independent block."""
    structural = structural_features(nodes) if structural is None else structural
    labelled = label_features(nodes, labels, train_ids, seed=seed)
    return FeatureSet(table=pd.concat([structural, labelled], axis=1),
                      graph_columns=list(structural.columns), label_columns=list(labelled.columns))


def labels_by_id(labels: pd.DataFrame, entity_type: str, as_of: pd.Timestamp | None = None) -> pd.Series:
    """The labels table (contract form) as a 0/1 Series indexed by entity id, for one entity type;
    with ``as_of``, only labels known by then (a label without ``labeled_at`` is always known),
    so a replayed night reads only the labels it could have read."""
    rows = labels[labels["entity_type"] == entity_type]
    if as_of is not None and "labeled_at" in rows:
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_convert("UTC").tz_localize(None) if as_of.tzinfo is not None else as_of
        rows = rows[~(rows["labeled_at"] > as_of).fillna(False).astype(bool)]
    return pd.Series(rows["is_fraud"].astype("int64").to_numpy(),
                     index=pd.Index(rows["entity_id"].astype("string")), name="is_fraud")
