"""Reason codes: why a flagged review or order was flagged, in words a trust analyst can check.

Two sources are combined:
- **verifiable facts** read off the tables of this run (shared identifiers and how many of
  their users are flagged, ring membership, copied text, no verified purchase, a fresh
  account, card bursts, a machine-text probability when one is supplied);
- **the model's attribution**: gradient x input of the GNN's logit with respect to the
  scored node's own input features (standardised, so the baseline is the training mean),
  and, where the model has a tree head, the trees' per-feature contributions, the two weighed
  by the blend; summed over readable feature families.

Facts always rank above model-only reasons (a fact can be checked, a weight cannot), and
among facts the one whose feature family the model leaned on most comes first. The rest of
the slots are filled with the model's strongest families that no fact already covers.
Everything is vectorised over the explained rows, and only flagged rows are explained, so
the cost follows the flag budget, not the size of the marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fraudlens.inference.rings import RING_IDENTIFIER_COLUMNS, identifier_links
from fraudlens.marketplace.features import window_counts
from fraudlens.models.numeric import row_slices
from fraudlens.output_contract import ENTITY_TABLES, FLAG

# ---- The reason-code vocabulary (docs/outputs.md lists it; codes never change meaning) ----
RING = "RING"
SHARED_DEVICE = "SHARED_DEVICE"
SHARED_PAYMENT = "SHARED_PAYMENT"
SHARED_EMAIL = "SHARED_EMAIL"
SHARED_PHONE = "SHARED_PHONE"
SHARED_IP = "SHARED_IP"
SHARED_ADDRESS = "SHARED_ADDRESS"
NEAR_DUPLICATE_TEXT = "NEAR_DUPLICATE_TEXT"
UNVERIFIED_PURCHASE = "UNVERIFIED_PURCHASE"
NEW_ACCOUNT = "NEW_ACCOUNT"
CARD_BURST = "CARD_BURST"
MACHINE_TEXT = "MACHINE_TEXT"
MODEL_TEXT_CONTENT = "MODEL_TEXT_CONTENT"
MODEL_TEXT_STYLE = "MODEL_TEXT_STYLE"
MODEL_DUPLICATES = "MODEL_DUPLICATES"
MODEL_RATING = "MODEL_RATING"
MODEL_VERIFICATION = "MODEL_VERIFICATION"
MODEL_ENGAGEMENT = "MODEL_ENGAGEMENT"
MODEL_ACCOUNT_AGE = "MODEL_ACCOUNT_AGE"
MODEL_BURST = "MODEL_BURST"
MODEL_AMOUNT = "MODEL_AMOUNT"
MODEL_STATUS = "MODEL_STATUS"
MODEL_VELOCITY = "MODEL_VELOCITY"
MODEL_SHARED_IDENTIFIERS = "MODEL_SHARED_IDENTIFIERS"
MODEL_KNOWN_FRAUD_LINKS = "MODEL_KNOWN_FRAUD_LINKS"
MODEL_OTHER = "MODEL_OTHER"

SHARED_CODES = {"device": SHARED_DEVICE, "payment": SHARED_PAYMENT, "email": SHARED_EMAIL, "phone": SHARED_PHONE,
                "ip": SHARED_IP, "address": SHARED_ADDRESS}
# Feature family -> (code, what the family means, in words).
FAMILIES = {
    "text_content": (MODEL_TEXT_CONTENT, "the wording of the text"),
    "text_style": (MODEL_TEXT_STYLE, "the style of the text (length, punctuation, capitals)"),
    "duplicates": (MODEL_DUPLICATES, "copies of the same text"),
    "rating": (MODEL_RATING, "the rating pattern"),
    "verification": (MODEL_VERIFICATION, "purchase verification"),
    "engagement": (MODEL_ENGAGEMENT, "helpful votes and language"),
    "account_age": (MODEL_ACCOUNT_AGE, "the account's age"),
    "burst": (MODEL_BURST, "review bursts on the product or account"),
    "amount": (MODEL_AMOUNT, "the amount against the product price"),
    "status": (MODEL_STATUS, "the order status"),
    "velocity": (MODEL_VELOCITY, "the account's order velocity"),
    "shared_identifiers": (MODEL_SHARED_IDENTIFIERS, "identifiers shared with other accounts"),
    "known_fraud": (MODEL_KNOWN_FRAUD_LINKS, "links to accounts, sellers or identifiers with known fraud"),
    "other": (MODEL_OTHER, "other behaviour features"),
}
# Fact -> the feature family it substantiates (rings are built from shared identifiers).
FACT_FAMILY = {RING: "shared_identifiers", NEAR_DUPLICATE_TEXT: "duplicates", UNVERIFIED_PURCHASE: "verification",
               NEW_ACCOUNT: "account_age", CARD_BURST: "velocity", MACHINE_TEXT: "text_content",
               **{code: "shared_identifiers" for code in SHARED_CODES.values()}}
# Tie-break among facts the model weighs equally: the harder to explain away, the earlier.
FACT_PRIORITY = {RING: 0.6, CARD_BURST: 0.5, NEAR_DUPLICATE_TEXT: 0.4, MACHINE_TEXT: 0.4,
                 **{code: 0.3 for code in SHARED_CODES.values()}, NEW_ACCOUNT: 0.2, UNVERIFIED_PURCHASE: 0.1}
REASON_CODES = tuple(sorted({*FACT_PRIORITY, *(code for code, _ in FAMILIES.values())}))
# Optional reviews column with a machine-written-text probability (e.g. from the text model).
MACHINE_TEXT_COLUMN = "machine_text_probability"
NEAR_DUPLICATES_COLUMN = "_near_duplicates"  # optional reviews column: precomputed near-duplicate counts


@dataclass(frozen=True)
class ReasonSettings:
    reasons: int = 3
    identifier_cap: int = 20
    min_near_duplicates: int = 2
    new_account_days: int = 7
    card_burst_orders: int = 3
    card_burst_window: pd.Timedelta = pd.Timedelta(minutes=30)  # +-30 min: within one hour
    machine_text_min: float = 0.8
    min_model_share: float = 0.05


def feature_family(node_type: str, column: str) -> str:
    """Which readable family an input feature belongs to; unknown columns fall into 'other'."""
    if column.startswith("lab_"):
        return "known_fraud"  # graph_features.label_features: labelled neighbours per relation
    if column.startswith("g_"):
        return _graph_feature_family(node_type, column.removeprefix("g_"))
    if column.startswith(("text_proj_", "text_logit_")):
        return "text_content"  # the bundled text model's embedding and logits
    if column.startswith("log_accounts_sharing_"):
        return "shared_identifiers"
    if column.startswith("status_"):
        return "status"
    if column in ("log_account_age_days", "account_age_unknown"):
        return "account_age"
    if node_type == "review":
        rules = {"rating": ("rating_centred", "five_star", "one_star", "rating_minus_product_mean"),
                 "verification": ("verified_purchase",), "engagement": ("log_helpful_votes", "non_english"),
                 "burst": ("log_product_reviews_24h", "log_product_five_star_24h", "log_account_reviews_24h",
                           "log_account_reviews"),
                 "duplicates": ("log_identical_texts",),
                 "text_style": ("log_chars", "log_words", "empty_text", "exclamations_per_word", "upper_share")}
    else:
        rules = {"amount": ("log_amount", "log_amount_over_price"),
                 "velocity": ("log_account_orders_24h", "log_account_orders")}
    return next((family for family, columns in rules.items() if column in columns), "other")


def _graph_feature_family(node_type: str, column: str) -> str:
    """Families of marketplace/graph_features.py's columns; neighbour means (n1_, n2_) describe
    the neighbourhood, not the node, so they stay 'other'."""
    if column.startswith(("n1_", "n2_")):
        return "other"
    if column.startswith(("log_amount", "amount_")):
        return "amount"
    if column.startswith(("log_prior_", "log_gap_prev_")):
        return "velocity" if node_type == "order" else "burst"
    if column.startswith(("log_deg_", "log_pair_", "log_distinct_")):
        return "shared_identifiers"
    return "other"


def family_sums(node_type: str, per_feature: pd.DataFrame) -> pd.DataFrame:
    """Per row, the columns summed within each feature family (columns: families, sorted)."""
    return per_feature.T.groupby([feature_family(node_type, c) for c in per_feature.columns], sort=True).sum().T


# Explained nodes per attribution pass: bounds its autograd and tree-contribution buffers,
# which otherwise grow past a gigabyte for 100k flagged reviews.
ATTRIBUTION_ROWS = 4_096


def feature_attributions(model, inputs, explain: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Gradient x input per feature family for the explained nodes: {node_type: DataFrame(id -> family)}.

    Each node's logit is differentiated with respect to its own inputs along its own paths
    through the GNN, its neighbours' states held at their values (``HeteroFraudGNN.local_logits``):
    one no-grad pass over the graph, then [explained nodes, hidden] work, instead of a backward
    pass over millions of nodes. Every node is explained alone (no cross-talk between two flagged
    neighbours) and nothing is sampled, so it is deterministic.
    """
    states = inputs.layer_states if inputs.layer_states is not None \
        else model.layer_states(inputs, layers=max(len(model.gnn.convs) - 1, 0))
    text = model.projected_text(inputs)
    out = {}
    for nt, idx in explain.items():
        idx = np.asarray(idx, dtype=np.int64)
        parts = [_attributions(model, inputs, states, text, nt, idx[rows])
                 for rows in row_slices(len(idx), ATTRIBUTION_ROWS)]
        out[nt] = pd.concat(parts) if parts else _attributions(model, inputs, states, text, nt, idx)
    return out


def _attributions(model, inputs, states: list, text: torch.Tensor, nt: str, idx: np.ndarray) -> pd.DataFrame:
    """``feature_attributions`` of the nodes ``idx`` of type ``nt``."""
    gnn = model.gnn
    nodes = torch.as_tensor(idx)
    # Only the explained rows are scaled: the whole feature matrix is gigabytes at a million nodes.
    own = model.scaler.transform(inputs.features, rows={nt: idx})[nt].requires_grad_(True)
    label_x = model.label_inputs(inputs, rows={nt: idx})
    # Gradient x input of the text, summed over its dimensions, equals gradient x (output -
    # bias) at the linear text projection: exact, on [reviews, 32] instead of [reviews, 384].
    own_text = text[nodes].clone().requires_grad_(True) if nt == "review" else None
    own_labels = label_x[nt].requires_grad_(True) if label_x is not None else None
    with torch.enable_grad():
        logits = gnn.local_logits(nt, own, nodes, states, inputs.adjacency, own_text, own_labels)
        wanted = [own] + [t for t in (own_text, own_labels) if t is not None]
        grads = list(torch.autograd.grad(logits.sum(), wanted))
    per_feature = pd.DataFrame((grads.pop(0) * own).detach().numpy(), columns=model.scaler.columns[nt])
    text_grad = grads.pop(0) if own_text is not None else None
    if own_labels is not None:
        per_feature = per_feature.join(pd.DataFrame((grads.pop(0) * own_labels).detach().numpy(),
                                                    columns=model.label_scaler.columns[nt]))
    frame = family_sums(nt, per_feature)
    if text_grad is not None:
        frame["text_content"] = (text_grad * (own_text - gnn.text_proj.bias.detach())).detach().numpy().sum(axis=1)
    weight = model.tree_head.weights.get(nt, 0.0) if model.tree_head is not None else 0.0
    if weight > 0 and len(idx):
        trees = family_sums(nt, model.tree_head.contributions(nt, inputs.tree_features(nt).iloc[idx]))
        frame = frame.reset_index(drop=True).mul(1 - weight).add(trees.reset_index(drop=True).mul(weight),
                                                                 fill_value=0.0)
    frame.index = pd.Index(inputs.graph.ids[nt][idx], dtype="string", name="id")
    return frame.astype(np.float64)


def flagged_accounts(tables: dict[str, pd.DataFrame], decided: dict[str, pd.DataFrame]) -> pd.Index:
    """Accounts with a flagged review or order in this run, or labelled fraud (itself or one of its acts)."""
    flagged = []
    for nt, table in ENTITY_TABLES.items():
        frame, scored = tables.get(table), decided.get(nt)
        if frame is None or scored is None:
            continue
        hit = scored.loc[scored["decision"] == FLAG, f"{nt}_id"]
        flagged.append(frame.loc[frame[f"{nt}_id"].isin(hit), "account_id"])
    labels = tables.get("labels")
    if labels is not None and len(labels):
        fraud = labels[labels["is_fraud"].astype("Int64").fillna(0) == 1]
        flagged.append(fraud.loc[fraud["entity_type"] == "account", "entity_id"])
        for nt, table in ENTITY_TABLES.items():
            frame = tables.get(table)
            if frame is not None:
                ids = fraud.loc[fraud["entity_type"] == nt, "entity_id"]
                flagged.append(frame.loc[frame[f"{nt}_id"].isin(ids), "account_id"])
    values = pd.concat(flagged, ignore_index=True).astype("string") if flagged else pd.Series([], dtype="string")
    return pd.Index(values.dropna().unique(), dtype="string").sort_values()


def _facts(entity: pd.Series, codes, texts, strength_bonus=0.0) -> pd.DataFrame:
    return pd.DataFrame({"id": entity.astype("string").to_numpy(), "code": codes, "text": texts,
                         "bonus": strength_bonus})


def _shared_identifier_facts(nt: str, explained: pd.DataFrame, tables: dict[str, pd.DataFrame],
                             flagged: pd.Index, settings: ReasonSettings) -> pd.DataFrame:
    """'shares a device with 14 other accounts, 9 already flagged' - per kind, the worst value."""
    links = identifier_links(tables)
    if links.empty:
        return _facts(pd.Series([], dtype="string"), [], [])
    links = links.assign(flagged=links["account_id"].isin(flagged))
    per_value = links.groupby(["kind", "value"]).agg(users=("account_id", "size"), flagged_users=("flagged", "sum"))
    if nt == "order":
        orders = tables["orders"]
        columns = {k: c for k, c in RING_IDENTIFIER_COLUMNS.items() if c in orders}
        if not columns:
            return _facts(pd.Series([], dtype="string"), [], [])
        own = orders[orders["order_id"].isin(explained["id"])]
        used = own.melt(id_vars=["order_id", "account_id"], value_vars=list(columns.values()),
                        var_name="column", value_name="value").dropna(subset=["value"])
        used["kind"] = used["column"].map({c: k for k, c in columns.items()})
        used = used.rename(columns={"order_id": "id"})
    else:
        authors = explained[["id", "account_id"]].dropna()
        used = authors.merge(links[["kind", "value", "account_id"]], on="account_id")
    if used.empty:
        return _facts(pd.Series([], dtype="string"), [], [])
    used = used.astype({"kind": "string", "value": "string"}).join(per_value, on=["kind", "value"])
    self_flagged = used["account_id"].isin(flagged).astype(int)
    used["others"] = used["users"] - 1
    used["flagged_others"] = used["flagged_users"] - self_flagged
    # An identifier that many share (an office IP) is only a reason when flagged accounts use it too.
    used = used[(used["others"] >= 1) & ((used["others"] <= settings.identifier_cap) | (used["flagged_others"] >= 1))]
    used = used.sort_values(["id", "kind", "flagged_others", "others", "value"],
                            ascending=[True, True, False, False, True], kind="mergesort")
    used = used.drop_duplicates(["id", "kind"])
    noun = used["kind"].map({"device": "a device", "payment": "a payment card", "email": "an email",
                             "phone": "a phone number", "ip": "an IP address", "address": "a shipping address"})
    others = used["others"].astype(int)
    texts = ("shares " + noun + " with " + others.astype(str) + " other account"
             + np.where(others == 1, "", "s") + ", " + used["flagged_others"].astype(int).astype(str)
             + " already flagged")
    # A shared identifier whose other users are flagged is stronger evidence than one that is just shared.
    flagged_others = used["flagged_others"].to_numpy(np.float64)
    bonus = (np.minimum(flagged_others / np.maximum(others.to_numpy(), 1), 1.0) * 0.3
             + np.minimum(flagged_others, 10) * 0.001)
    return _facts(used["id"], used["kind"].map(SHARED_CODES).to_numpy(), texts.to_numpy(), bonus)


def _count(n: pd.Series, noun: str) -> pd.Series:
    """'1 order' / '3 orders', vectorised."""
    n = n.astype(int)
    return n.astype(str) + " " + noun + np.where(n == 1, "", "s")


def _ring_facts(nt: str, explained: pd.DataFrame, rings: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    if membership.empty or "account_id" not in explained:
        return _facts(pd.Series([], dtype="string"), [], [])
    ring_of = membership.set_index("account_id")["ring_id"]
    hit = explained.assign(ring_id=explained["account_id"].map(ring_of)).dropna(subset=["ring_id"])
    hit = hit.join(rings.set_index("ring_id")[["n_accounts", "five_star_peak_48h", "n_orders", "n_reviews"]],
                   on="ring_id")
    detail = (_count(hit["five_star_peak_48h"], "five-star review") + " in 48 h"
              if nt == "review" else _count(hit["n_orders"], "order"))
    texts = "part of ring " + hit["ring_id"] + ": " + _count(hit["n_accounts"], "account") + ", " + detail
    return _facts(hit["id"], RING, texts.to_numpy())


def _review_facts(explained: pd.DataFrame, reviews: pd.DataFrame, tables: dict[str, pd.DataFrame],
                  settings: ReasonSettings) -> list[pd.DataFrame]:
    from fraudlens.models.stylometry import duplicate_counts

    facts = []
    # Near duplicates are counted against every review of the run, not only the explained ones
    # (the text model has counted them already when it scored the run).
    if NEAR_DUPLICATES_COLUMN in reviews:
        near = reviews[NEAR_DUPLICATES_COLUMN].to_numpy(dtype=np.float64)
    else:
        near = duplicate_counts(reviews["text"].fillna("").astype(str).tolist())[1]
    near = pd.Series(near, index=reviews["review_id"].astype("string").to_numpy())
    copies = explained["id"].map(near).fillna(0).astype(int)
    dup = explained[copies >= settings.min_near_duplicates]
    n = copies[copies >= settings.min_near_duplicates]
    facts.append(_facts(dup["id"], NEAR_DUPLICATE_TEXT,
                        ("text near-identical to " + _count(n, "other review")).to_numpy()))

    orders = tables.get("orders")
    order_ids = explained["order_id"] if "order_id" in explained else pd.Series(pd.NA, index=explained.index)
    verified = order_ids.notna() & (order_ids.isin(orders["order_id"]) if orders is not None else True)
    facts.append(_facts(explained.loc[~verified, "id"], UNVERIFIED_PURCHASE, "no verified purchase"))

    if MACHINE_TEXT_COLUMN in explained:
        p = pd.to_numeric(explained[MACHINE_TEXT_COLUMN], errors="coerce")
        hit = explained[p >= settings.machine_text_min]
        facts.append(_facts(hit["id"], MACHINE_TEXT,
                            ("text looks machine-written (p = " + p[hit.index].map("{:.2f}".format).astype("string") + ")").to_numpy()))
    return facts


def _new_account_facts(nt: str, explained: pd.DataFrame, tables: dict[str, pd.DataFrame],
                       settings: ReasonSettings) -> pd.DataFrame:
    accounts = tables.get("accounts")
    if accounts is None or "created_at" not in accounts:
        return _facts(pd.Series([], dtype="string"), [], [])
    created = explained["account_id"].map(accounts.drop_duplicates("account_id").set_index("account_id")["created_at"])
    age = (explained["created_at"] - created).dt.total_seconds() / 86400
    hit = (age >= 0) & (age <= settings.new_account_days)
    days = np.floor(age[hit]).astype(int)
    when = np.where(days == 0, "less than a day", days.astype(str) + np.where(days == 1, " day", " days"))
    texts = "account created " + pd.Series(when, index=days.index) + f" before the {nt}"
    return _facts(explained.loc[hit, "id"], NEW_ACCOUNT, texts.to_numpy())


def _card_burst_facts(explained: pd.DataFrame, orders: pd.DataFrame, settings: ReasonSettings) -> pd.DataFrame:
    if "payment_token" not in orders:
        return _facts(pd.Series([], dtype="string"), [], [])
    carded = orders.dropna(subset=["payment_token", "created_at"])
    counts = pd.Series(window_counts(carded["payment_token"], carded["created_at"], settings.card_burst_window),
                       index=carded["order_id"].astype("string").to_numpy())
    n = explained["id"].map(counts).fillna(0).astype(int)
    hit = n >= settings.card_burst_orders
    return _facts(explained.loc[hit, "id"], CARD_BURST,
                  (_count(n[hit], "order") + " on one card within an hour").to_numpy())


def _model_candidates(attribution: pd.DataFrame | None, settings: ReasonSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(share per id and family, model-only candidate reasons). Share = the family's part of the
    positive push towards fraud, so it reads as a percentage."""
    if attribution is None or attribution.empty:
        empty = _facts(pd.Series([], dtype="string"), [], []).assign(family=pd.Series([], dtype="string"),
                                                                     strength=pd.Series([], dtype="float64"))
        return pd.DataFrame({"id": pd.Series([], dtype="string"), "family": pd.Series([], dtype="string"),
                             "share": pd.Series([], dtype="float64")}), empty
    positive = attribution.clip(lower=0)
    share = positive.div(positive.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0).round(4)
    long = share.rename_axis("id").reset_index().melt(id_vars="id", var_name="family", value_name="share")
    model = long[long["share"] >= settings.min_model_share]
    codes = model["family"].map(lambda f: FAMILIES[f][0])
    texts = ("model: " + model["family"].map(lambda f: FAMILIES[f][1]) + " raises the score ("
             + (model["share"] * 100).round().astype(int).astype(str) + "% of its push)")
    candidates = _facts(model["id"], codes.to_numpy(), texts.to_numpy()).assign(
        family=model["family"].to_numpy(), strength=model["share"].to_numpy())
    return long, candidates


def compute_reasons(tables: dict[str, pd.DataFrame], decided: dict[str, pd.DataFrame], rings: pd.DataFrame,
                    membership: pd.DataFrame, attributions: dict[str, pd.DataFrame] | None = None,
                    settings: ReasonSettings | None = None) -> dict[str, pd.DataFrame]:
    """{node_type: DataFrame(<nt>_id, reason_1, reason_1_text, ...)} for the rows with decision == "flag".

    ``decided``: {"review"|"order": DataFrame(<nt>_id, score, decision)}; ``rings``/``membership``
    from ``inference.rings.find_rings``; ``attributions`` from ``feature_attributions`` (optional:
    without it only facts are given).
    """
    settings = settings or ReasonSettings()
    attributions = attributions or {}
    flagged = flagged_accounts(tables, decided)
    out = {}
    for nt, scored in decided.items():
        key = f"{nt}_id"
        table = tables.get(ENTITY_TABLES[nt])
        ids = scored.loc[scored["decision"] == FLAG, key].astype("string")
        if table is None or ids.empty:
            out[nt] = _wide(pd.DataFrame(columns=["id", "code", "text"]), ids.rename("id"), key, settings.reasons)
            continue
        explained = table[table[key].isin(ids)].rename(columns={key: "id"})
        explained = explained.assign(id=explained["id"].astype("string"),
                                     account_id=explained["account_id"].astype("string"))
        facts = [_shared_identifier_facts(nt, explained, tables, flagged, settings),
                 _ring_facts(nt, explained, rings, membership),
                 _new_account_facts(nt, explained, tables, settings)]
        if nt == "review":
            facts += _review_facts(explained, table, tables, settings)
        else:
            facts.append(_card_burst_facts(explained, table, settings))
        facts = pd.concat([f for f in facts if len(f)], ignore_index=True) if any(len(f) for f in facts) else \
            pd.DataFrame(columns=["id", "code", "text", "bonus"])
        shares, model = _model_candidates(attributions.get(nt), settings)
        facts["family"] = facts["code"].map(FACT_FAMILY)
        fact_share = facts[["id", "family"]].merge(shares, on=["id", "family"], how="left")["share"].fillna(0.0)
        # Facts outrank model-only reasons (strength >= 1 > any share); among facts, the model's
        # weight on the matching family decides, then how hard the fact is to explain away.
        facts["strength"] = 1.0 + fact_share.to_numpy() + facts["code"].map(FACT_PRIORITY).to_numpy() \
            + facts["bonus"].astype(np.float64).to_numpy()
        covered = facts[["id", "family"]].dropna().drop_duplicates()
        model = model.merge(covered.assign(covered=True), on=["id", "family"], how="left")
        model = model[model["covered"].isna()]
        candidates = pd.concat([facts[["id", "code", "text", "strength"]], model[["id", "code", "text", "strength"]]],
                               ignore_index=True)
        candidates["strength"] = candidates["strength"].astype(np.float64).round(6)
        candidates = candidates.sort_values(["id", "strength", "code"], ascending=[True, False, True], kind="mergesort")
        top = candidates.groupby("id", sort=False).head(settings.reasons)
        out[nt] = _wide(top, ids.rename("id"), key, settings.reasons)
    return out


def _wide(top: pd.DataFrame, ids: pd.Series, key: str, n: int) -> pd.DataFrame:
    """Long (id, code, text) ranked rows -> one row per id with reason_k / reason_k_text columns."""
    top = top.assign(slot=top.groupby("id", sort=False).cumcount() + 1) if len(top) else top.assign(slot=[])
    frame = pd.DataFrame({key: pd.Index(ids.drop_duplicates().sort_values(), dtype="string")})
    for k in range(1, n + 1):
        at = top[top["slot"] == k].set_index("id") if len(top) else pd.DataFrame(columns=["code", "text"])
        frame[f"reason_{k}"] = frame[key].map(at["code"]).astype("string")
        frame[f"reason_{k}_text"] = frame[key].map(at["text"]).astype("string")
    return frame



