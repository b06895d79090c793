"""A seller's bare reviews export (text + rating, maybe more) as a reviews table of the input contract."""

from __future__ import annotations

import pandas as pd

from fraudlens.errors import TableError

# A fixed date, not "now": the same CSV must always get the same scores.
UNDATED = pd.Timestamp("2000-01-01")


def reviews_from_frame(frame: pd.DataFrame, source: str = "input") -> pd.DataFrame:
    missing = [c for c in ("text", "rating") if c not in frame.columns]
    if missing:
        raise TableError(source, f"column(s) {', '.join(missing)} missing", "provide at least text and rating columns")
    reviews = frame.copy()
    n = len(reviews)
    reviews["review_id"] = reviews.get("review_id", pd.Series([f"row-{i + 1}" for i in range(n)], index=reviews.index))
    # Without account/product ids every review is its own author/product: no invented links.
    reviews["account_id"] = reviews.get("account_id", "anon-" + reviews["review_id"].astype(str))
    reviews["product_id"] = reviews.get("product_id", "product-" + reviews["review_id"].astype(str))
    reviews["created_at"] = pd.to_datetime(reviews.get("created_at", UNDATED), errors="coerce", utc=True)
    reviews["created_at"] = reviews["created_at"].dt.tz_convert(None).fillna(UNDATED).astype("datetime64[us]")
    reviews["rating"] = pd.to_numeric(reviews["rating"], errors="coerce").clip(1, 5).fillna(3).round().astype("Int64")
    reviews["text"] = reviews["text"].fillna("").astype("string")
    for column in ("review_id", "account_id", "product_id"):
        reviews[column] = reviews[column].astype("string")
    if "order_id" not in reviews:
        reviews["order_id"] = pd.Series(pd.NA, index=reviews.index, dtype="string")
    reviews["flags"] = ""
    return reviews.reset_index(drop=True)
