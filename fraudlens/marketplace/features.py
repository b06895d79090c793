"""Behavioural node features computed from the validated tables alone (no labels).

Only relative quantities (counts, ages, bursts, ratios) are used, never absolute dates, so
a model trained on one period scores another. Counts are log1p'd because marketplaces are
heavy-tailed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlens.marketplace.contract import IDENTITY_COLUMNS, ORDER_STATUSES, SIGNAL_PREFIX

BURST_WINDOW = pd.Timedelta(hours=24)


def _log_count(values) -> np.ndarray:
    return np.log1p(np.asarray(values, dtype=np.float64))


def _seconds(timestamps: pd.Series) -> np.ndarray:
    return timestamps.astype("datetime64[s]").astype("int64").to_numpy()


def group_time_keys(groups: pd.Series, timestamps: pd.Series, window: pd.Timedelta) -> np.ndarray:
    """One sortable integer per row (at least one row): time order within a group, and groups
    more than 2 * window apart, so one searchsorted over the sorted keys finds a row's
    same-group neighbours in time for every group at once."""
    codes = pd.factorize(groups.astype("string"), use_na_sentinel=False)[0].astype(np.int64)
    seconds = _seconds(timestamps)
    seconds = seconds - seconds.min()
    return codes * (int(seconds.max()) + 2 * int(window.total_seconds()) + 1) + seconds


def window_counts(groups: pd.Series, timestamps: pd.Series, window: pd.Timedelta = BURST_WINDOW,
                  ahead_only: bool = False) -> np.ndarray:
    """For each row, how many rows of the same group fall within +-window of it (itself included);
    with ``ahead_only``, within [t, t + window]."""
    if len(groups) == 0:
        return np.zeros(0)
    keys = group_time_keys(groups, timestamps, window)
    ordered = np.sort(keys)
    w = int(window.total_seconds())
    first = keys if ahead_only else keys - w
    return (np.searchsorted(ordered, keys + w, "right") - np.searchsorted(ordered, first, "left")).astype(np.float64)


def _per_id(values: pd.Series, ids: pd.Index, default: float = 0.0) -> np.ndarray:
    """Aligns a Series indexed by entity id to node order."""
    return values.reindex(ids).fillna(default).to_numpy(dtype=np.float64)


def _age_days(event_at: pd.Series, account_ids: pd.Series, accounts: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if accounts is None or len(event_at) == 0:
        return np.zeros(len(event_at)), np.ones(len(event_at))
    created = account_ids.map(accounts.set_index("account_id")["created_at"])
    age = (event_at - created).dt.total_seconds().to_numpy() / 86400
    unknown = np.isnan(age)
    return _log_count(np.clip(np.nan_to_num(age), 0, None)), unknown.astype(np.float64)


def _text_stats(text: pd.Series) -> dict[str, np.ndarray]:
    # Computed once per distinct text (templated and copied reviews repeat), then spread back.
    rows, distinct = pd.factorize(text.fillna(""))
    text = pd.Series(distinct, dtype=text.dtype)
    chars = text.str.len().to_numpy(dtype=np.float64)
    words = text.str.count(r"\S+").to_numpy(dtype=np.float64)
    letters = text.str.count(r"[A-Za-z]").to_numpy(dtype=np.float64)
    uppers = text.str.count(r"[A-Z]").to_numpy(dtype=np.float64)
    normalised_of, _ = pd.factorize(text.str.lower().str.replace(r"\W+", " ", regex=True).str.strip())
    # minlength from the distinct texts, not normalised_of.max(): no reviews at all must work too.
    copies = np.bincount(normalised_of[rows], minlength=len(distinct))[normalised_of] - 1.0
    stats = {
        "log_chars": _log_count(chars),
        "log_words": _log_count(words),
        "empty_text": (chars == 0).astype(np.float64),
        "exclamations_per_word": text.str.count("!").to_numpy(dtype=np.float64) / np.maximum(words, 1),
        "upper_share": uppers / np.maximum(letters, 1),
        "log_identical_texts": _log_count(np.where(words >= 3, copies, 0)),
    }
    return {name: values[rows] for name, values in stats.items()}


def review_features(tables: dict[str, pd.DataFrame], ids: pd.Index) -> pd.DataFrame:
    reviews = tables["reviews"].set_index("review_id").reindex(ids)
    rating = reviews["rating"].astype("float64").fillna(3).to_numpy()
    created = reviews["created_at"]
    text = reviews["text"].fillna("").astype("string")
    orders = tables.get("orders")
    order_ids = reviews["order_id"] if "order_id" in reviews else pd.Series(pd.NA, index=reviews.index)
    verified = order_ids.notna() & (order_ids.isin(orders["order_id"]) if orders is not None else True)
    product_mean = reviews.groupby("product_id")["rating"].transform("mean").astype("float64").to_numpy()
    five_star = reviews["rating"] == 5
    five_star_burst = np.zeros(len(reviews))
    if five_star.any():
        five_star_burst[five_star.to_numpy()] = window_counts(reviews.loc[five_star, "product_id"], created[five_star])
    age, age_unknown = _age_days(created, reviews["account_id"], tables.get("accounts"))
    helpful = reviews["helpful_votes"].astype("float64").fillna(0) if "helpful_votes" in reviews else pd.Series(0.0, index=reviews.index)
    language = reviews["language"].fillna("en") if "language" in reviews else pd.Series("en", index=reviews.index)
    features = {
        "rating_centred": (rating - 3) / 2,
        "five_star": (rating == 5).astype(np.float64),
        "one_star": (rating == 1).astype(np.float64),
        "rating_minus_product_mean": rating - product_mean,
        "verified_purchase": verified.to_numpy(dtype=np.float64),
        "log_helpful_votes": _log_count(helpful.clip(lower=0)),
        "non_english": (language.str.lower() != "en").to_numpy(dtype=np.float64),
        "log_account_age_days": age,
        "account_age_unknown": age_unknown,
        "log_product_reviews_24h": _log_count(window_counts(reviews["product_id"], created)),
        "log_product_five_star_24h": _log_count(five_star_burst),
        "log_account_reviews_24h": _log_count(window_counts(reviews["account_id"], created)),
        "log_account_reviews": _log_count(reviews.groupby("account_id")["rating"].transform("size").to_numpy()),
        **_text_stats(text),
    }
    return pd.DataFrame(features, index=ids)


def _accounts_per_identifier(tables: dict[str, pd.DataFrame], column: str) -> pd.Series:
    links = [t[["account_id", column]] for t in (tables.get("accounts"), tables.get("orders"))
             if t is not None and column in t]
    if not links:
        return pd.Series(dtype=np.float64)
    return pd.concat(links).dropna().drop_duplicates().groupby(column)["account_id"].size()


def order_features(tables: dict[str, pd.DataFrame], ids: pd.Index) -> pd.DataFrame:
    orders = tables["orders"].set_index("order_id").reindex(ids)
    amount = orders["amount"].astype("float64").fillna(0)
    products = tables.get("products")
    # float64 because mapping an empty string column keeps the string dtype (a reviews-only input).
    price = (orders["product_id"].map(products.set_index("product_id")["price"]).astype("float64")
             if products is not None else None)
    ratio = (amount / price.replace(0, np.nan)).fillna(1.0) if price is not None else pd.Series(1.0, index=orders.index)
    age, age_unknown = _age_days(orders["created_at"], orders["account_id"], tables.get("accounts"))
    features = {
        "log_amount": _log_count(amount.clip(lower=0)),
        "log_amount_over_price": np.log(np.clip(ratio.to_numpy(dtype=np.float64), 1e-3, 1e3)),
        **{f"status_{s}": (orders["status"] == s).to_numpy(dtype=np.float64) for s in ORDER_STATUSES},
        "log_account_age_days": age,
        "account_age_unknown": age_unknown,
        "log_account_orders_24h": _log_count(window_counts(orders["account_id"], orders["created_at"])),
        "log_account_orders": _log_count(orders.groupby("account_id")["amount"].transform("size").to_numpy()),
    }
    for identity, column in IDENTITY_COLUMNS.items():
        if column in orders:
            shared = orders[column].map(_accounts_per_identifier(tables, column)).fillna(0)
            features[f"log_accounts_sharing_{identity}"] = _log_count(shared.to_numpy(dtype=np.float64))
        else:
            features[f"log_accounts_sharing_{identity}"] = np.zeros(len(orders))
    return pd.DataFrame(features, index=ids)


def account_features(tables: dict[str, pd.DataFrame], ids: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(index=ids)
    reviews, orders, accounts = tables.get("reviews"), tables.get("orders"), tables.get("accounts")
    if reviews is not None and len(reviews):
        by_account = reviews.assign(five=reviews["rating"] == 5,
                                    unverified=reviews["order_id"].isna() if "order_id" in reviews else True)
        grouped = by_account.groupby("account_id")
        out["log_reviews"] = _log_count(_per_id(grouped.size(), ids))
        out["five_star_share"] = _per_id(grouped["five"].mean(), ids)
        out["unverified_share"] = _per_id(grouped["unverified"].mean(), ids)
        out["distinct_products_share"] = _per_id(grouped["product_id"].nunique() / grouped.size(), ids)
    else:
        out[["log_reviews", "five_star_share", "unverified_share", "distinct_products_share"]] = 0.0
    if orders is not None and len(orders):
        grouped = orders.groupby("account_id")
        out["log_orders"] = _log_count(_per_id(grouped.size(), ids))
        for status in ("refunded", "chargeback", "cancelled"):
            is_status = (orders["status"] == status).fillna(False).astype(np.float64)
            out[f"{status}_share"] = _per_id(is_status.groupby(orders["account_id"]).mean(), ids)
        out["log_mean_amount"] = _log_count(_per_id(grouped["amount"].mean(), ids))
    else:
        out[["log_orders", "refunded_share", "chargeback_share", "cancelled_share", "log_mean_amount"]] = 0.0
    for identity in ("device", "ip"):
        column = IDENTITY_COLUMNS[identity]
        if accounts is not None and column in accounts:
            shared = accounts.set_index("account_id")[column].map(_accounts_per_identifier(tables, column))
            out[f"log_accounts_sharing_{identity}"] = _log_count(_per_id(shared, ids))
        else:
            out[f"log_accounts_sharing_{identity}"] = 0.0
    out["known_account"] = ids.isin(accounts["account_id"]).astype(np.float64) if accounts is not None else 0.0
    if accounts is not None:
        # The platform's own account signals (docs/data-contract.md); a missing one reads 0.
        signals = [c for c in accounts.columns if c.startswith(SIGNAL_PREFIX)]
        by_account = accounts.drop_duplicates("account_id").set_index("account_id")
        for column in signals:
            out[column] = _per_id(by_account[column].astype("float64"), ids)
    return out


def _activity_features(tables: dict[str, pd.DataFrame], ids: pd.Index, key: str) -> pd.DataFrame:
    out = pd.DataFrame(index=ids)
    for table in ("reviews", "orders"):
        frame = tables.get(table)
        counts = frame.groupby(key).size() if frame is not None and key in frame else pd.Series(dtype=np.float64)
        out[f"log_{table}"] = _log_count(_per_id(counts, ids))
    return out


def product_features(tables: dict[str, pd.DataFrame], ids: pd.Index) -> pd.DataFrame:
    out = _activity_features(tables, ids, "product_id")
    products, reviews = tables.get("products"), tables.get("reviews")
    price = products.set_index("product_id")["price"] if products is not None else pd.Series(dtype=np.float64)
    out["log_price"] = _log_count(_per_id(price, ids))
    out["known_product"] = ids.isin(price.index).astype(np.float64)
    if reviews is not None and len(reviews):
        grouped = reviews.groupby("product_id")["rating"]
        out["mean_rating_centred"] = (_per_id(grouped.mean().astype("float64"), ids, 3.0) - 3) / 2
        out["five_star_share"] = _per_id((reviews["rating"] == 5).groupby(reviews["product_id"]).mean(), ids)
    else:
        out[["mean_rating_centred", "five_star_share"]] = 0.0
    return out


def seller_features(tables: dict[str, pd.DataFrame], ids: pd.Index) -> pd.DataFrame:
    out = _activity_features(tables, ids, "seller_id")
    products = tables.get("products")
    counts = products.groupby("seller_id").size() if products is not None else pd.Series(dtype=np.float64)
    out["log_products"] = _log_count(_per_id(counts, ids))
    return out


def identity_features(tables: dict[str, pd.DataFrame], ids: pd.Index, column: str) -> pd.DataFrame:
    orders = tables.get("orders")
    order_counts = orders.groupby(column).size() if orders is not None and column in orders else pd.Series(dtype=np.float64)
    return pd.DataFrame({
        "log_accounts": _log_count(_per_id(_accounts_per_identifier(tables, column), ids)),
        "log_orders": _log_count(_per_id(order_counts, ids)),
    }, index=ids)


def node_features(tables: dict[str, pd.DataFrame], ids: dict[str, pd.Index]) -> dict[str, pd.DataFrame]:
    """Numeric features per node type, rows in node order; the column set never depends on the input."""
    empty_reviews = {"reviews": _empty_reviews()} if "reviews" not in tables else {}
    empty_orders = {"orders": _empty_orders()} if "orders" not in tables else {}
    full = {**tables, **empty_reviews, **empty_orders}
    features = {
        "review": review_features(full, ids["review"]),
        "order": order_features(full, ids["order"]),
        "account": account_features(tables, ids["account"]),
        "product": product_features(tables, ids["product"]),
        "seller": seller_features(tables, ids["seller"]),
    }
    for identity, column in IDENTITY_COLUMNS.items():
        features[identity] = identity_features(tables, ids[identity], column)
    return {k: v.astype(np.float64).fillna(0.0) for k, v in features.items()}


def _empty_reviews() -> pd.DataFrame:
    return pd.DataFrame({"review_id": pd.Series(dtype="string"), "account_id": pd.Series(dtype="string"),
                         "product_id": pd.Series(dtype="string"), "text": pd.Series(dtype="string"),
                         "rating": pd.Series(dtype="Int64"), "created_at": pd.Series(dtype="datetime64[us]"),
                         "order_id": pd.Series(dtype="string")})


def _empty_orders() -> pd.DataFrame:
    return pd.DataFrame({"order_id": pd.Series(dtype="string"), "account_id": pd.Series(dtype="string"),
                         "product_id": pd.Series(dtype="string"), "amount": pd.Series(dtype="float64"),
                         "status": pd.Series(dtype="string"), "created_at": pd.Series(dtype="datetime64[us]")})
