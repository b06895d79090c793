"""A synthetic scored run, written straight into a workspace: for the web tests and the web
benchmark, which measure the web layer, not the scorer. The frames have the columns of the
output contract (score files, rings) and of accepted, PII-hashed input tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlens.output_contract import reason_columns

REASON_TEXT = {
    "RING": "part of ring {ring}: 5 accounts, 12 five-star reviews in 48 h",
    "NEAR_DUPLICATE_TEXT": "text near-identical to 11 other reviews",
    "MACHINE_TEXT": "text looks machine-written (p = 0.97)",
    "SHARED_DEVICE": "shares a device with 4 other accounts, 3 already flagged",
    "NEW_ACCOUNT": "account created 2 days before the review",
    "UNVERIFIED_PURCHASE": "no verified purchase",
    "CARD_BURST": "4 orders on one card within an hour",
    "MODEL_TEXT_CONTENT": "model: the wording of the text raises the score (38% of its push)",
}


def synthetic_run(n_reviews: int = 2000, n_orders: int = 1000, n_sellers: int = 5, products_per_seller: int = 8,
                  flag_share: float = 0.08, seed: int = 0, ring_size: int = 5, n_rings: int = 3,
                  texts: bool = True) -> tuple[dict, dict, pd.DataFrame]:
    """(scores {review, order}, tables {products, reviews, orders, accounts}, rings)."""
    rng = np.random.default_rng(seed)
    sellers = [f"S{k + 1}" for k in range(n_sellers)]
    product_ids = np.array([f"P{s}-{j + 1}" for s in range(1, n_sellers + 1) for j in range(products_per_seller)])
    product_seller = np.repeat(sellers, products_per_seller)
    n_accounts = max(ring_size * n_rings + 10, (n_reviews + n_orders) // 4)
    account_ids = np.array([f"A{k + 1}" for k in range(n_accounts)])
    start = np.datetime64("2026-11-01T00:00:00")
    tables = {
        "products": pd.DataFrame({"product_id": product_ids, "seller_id": product_seller,
                                  "category": rng.choice(["kitchen", "garden", "toys"], len(product_ids)),
                                  "price": np.round(rng.uniform(5, 200, len(product_ids)), 2)}),
        "accounts": pd.DataFrame({"account_id": account_ids,
                                  "created_at": start - rng.integers(0, 400, n_accounts).astype("timedelta64[D]"),
                                  "country": rng.choice(["DE", "FR", "US"], n_accounts),
                                  "device_id": [f"h{k:023x}" for k in rng.integers(0, 2**40, n_accounts)],
                                  "email": [f"h{k:023x}" for k in rng.integers(0, 2**40, n_accounts)]}),
    }
    ring_accounts = account_ids[:ring_size * n_rings].reshape(n_rings, ring_size)
    for r, members in enumerate(ring_accounts):  # each ring shares a device
        tables["accounts"].loc[tables["accounts"]["account_id"].isin(members), "device_id"] = f"hring{r:019x}"
    review_ids = np.array([f"R{k + 1}" for k in range(n_reviews)])
    author = rng.choice(account_ids, n_reviews)
    author[: ring_size * n_rings] = ring_accounts.ravel()
    rating = rng.integers(1, 6, n_reviews)
    words = "kettle boils fast lid stiff handle great cheap broke after week love it".split()
    tables["reviews"] = pd.DataFrame({
        "review_id": review_ids, "account_id": author, "product_id": rng.choice(product_ids, n_reviews),
        "text": np.array([" ".join(rng.choice(words, 8)) for _ in range(min(n_reviews, 5000))],
                         dtype=object)[rng.integers(0, min(n_reviews, 5000), n_reviews)] if texts else "",
        "rating": rating, "created_at": start + rng.integers(0, 30 * 86400, n_reviews).astype("timedelta64[s]"),
        "order_id": None})
    order_ids = np.array([f"O{k + 1}" for k in range(n_orders)])
    order_product = rng.choice(product_ids, n_orders)
    seller_of = dict(zip(product_ids, product_seller))
    tables["orders"] = pd.DataFrame({
        "order_id": order_ids, "account_id": rng.choice(account_ids, n_orders), "product_id": order_product,
        "seller_id": [seller_of[p] for p in order_product], "amount": np.round(rng.uniform(5, 300, n_orders), 2),
        "currency": "EUR", "created_at": start + rng.integers(0, 30 * 86400, n_orders).astype("timedelta64[s]"),
        "status": "delivered",
        "payment_token": [f"h{k:023x}" for k in rng.integers(0, 2**40, n_orders)]})
    ring_of_account = {a: f"R-{r + 1}" for r, members in enumerate(ring_accounts) for a in members}
    scores = {}
    for entity, ids, accounts_ in (("review", review_ids, author),
                                   ("order", order_ids, tables["orders"]["account_id"].to_numpy())):
        n = len(ids)
        score = rng.beta(1, 8, n)
        in_ring = np.array([a in ring_of_account for a in accounts_])
        score[in_ring] = rng.uniform(0.85, 0.99, in_ring.sum())
        flagged_n = max(1, int(round(flag_share * n)))
        order = np.lexsort((ids, -score))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(1, n + 1)
        decision = np.where(rank <= flagged_n, "flag", "pass")
        frame = pd.DataFrame({f"{entity}_id": ids, "score": score, "rank": rank, "decision": decision})
        if entity == "review":
            frame["text_fake_probability"] = np.round(rng.uniform(0, 1, n), 4)
        codes = (["RING", "NEAR_DUPLICATE_TEXT", "MACHINE_TEXT", "UNVERIFIED_PURCHASE", "MODEL_TEXT_CONTENT"]
                 if entity == "review" else ["RING", "CARD_BURST", "SHARED_DEVICE", "NEW_ACCOUNT"])
        ring_ids = np.array([ring_of_account.get(a) for a in accounts_], dtype=object)
        for k, column in enumerate(reason_columns(3)[::2]):
            pick = np.array([codes[(i + k) % len(codes)] for i in range(n)], dtype=object)
            if k == 0:
                pick = np.where(ring_ids != None, "RING", np.where(pick == "RING", codes[1], pick))  # noqa: E711
            else:
                pick = np.where(pick == "RING", None, pick)
            pick = np.where(decision == "flag", pick, None)
            frame[column] = pick
            frame[f"{column}_text"] = [REASON_TEXT[c].format(ring=ring_ids[i]) if c else None
                                       for i, c in enumerate(pick)]
        frame["ring_id"] = ring_ids
        frame["scope"] = "tonight"
        frame["model_name"], frame["model_version"], frame["model_run_id"] = "fraudlens", "7", "run0"
        frame["run_id"] = "synthetic-run"
        scores[entity] = frame.sort_values("rank").reset_index(drop=True)
    rings = pd.DataFrame({
        "ring_id": [f"R-{r + 1}" for r in range(n_rings)], "ring_score": np.round(np.linspace(0.9, 0.7, n_rings), 6),
        "n_accounts": ring_size, "accounts": [sorted(m.tolist()) for m in ring_accounts],
        "n_reviews": ring_size, "n_orders": 0, "five_star_reviews": 3, "five_star_peak_48h": 3, "burst_share": 0.5,
        "mean_member_score": 0.9, "max_member_score": 0.99, "shared_identifiers": "device=1",
        "first_seen": pd.Timestamp("2026-11-01"), "last_seen": pd.Timestamp("2026-11-03"), "span_hours": 48.0})
    return scores, tables, rings


def synthetic_workspace(state_dir, **kwargs) -> dict:
    """A workspace at ``state_dir`` holding a synthetic run; returns the import record."""
    from fraudlens.workspace.db import open_engine
    from fraudlens.workspace.importer import import_frames, read_scores  # noqa: F401

    scores, tables, rings = synthetic_run(**kwargs)
    engine = open_engine(state_dir)
    try:
        renamed = {e: f.rename(columns={f"{e}_id": "entity_id"}) for e, f in scores.items()}
        return import_frames(engine, renamed, tables, rings, "synthetic", "synthetic")
    finally:
        engine.dispose()
