"""Assembly into the public tables: rows sorted by time, public ids assigned, codes turned into
strings, review texts and votes written, the truth and labels attached.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.labels import labels_table, last_activity_times, truth_table
from fraudlens.marketplace.synthetic.strings import STR, as_arrow, as_column, codes_to_strings, join, number_strings
from fraudlens.marketplace.synthetic.text import review_texts
from fraudlens.marketplace.synthetic.vocabulary import CATEGORY_NAMES, COUNTRY_CODES, CURRENCIES, LANGUAGES, STATUSES
from fraudlens.marketplace.synthetic.world import Window, World


def _ids(prefix: str, n: int) -> pa.Array:
    width = max(6, len(str(max(n - 1, 0))))
    return join([prefix, pc.utf8_lpad(number_strings(np.arange(n)), width, "0")], "")


def _time_order(created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by time (ties by generation order) and, for each old index, its new position."""
    order = np.argsort(created, kind="stable")
    new_position = np.empty_like(order)
    new_position[order] = np.arange(len(order))
    return order, new_position


def _unique_emails(emails: pa.Array) -> pa.Array:
    """A platform allows one account per email: a name-based address drawn twice gets the
    account's row number appended, as people do when their first choice is taken."""
    while True:
        taken = pd.Series(emails.to_pandas()).duplicated().to_numpy()
        if not taken.any():
            return emails
        local_and_domain = pc.split_pattern(emails, "@", max_splits=1)
        numbered = join([pc.list_element(local_and_domain, 0), number_strings(np.arange(len(emails))), "@",
                         pc.list_element(local_and_domain, 1)], "")
        emails = pc.if_else(pa.array(taken), numbered, emails)


def _helpful_votes(rng: np.random.Generator, text: pa.Array, created: np.ndarray, window: Window) -> np.ndarray:
    """Long and older reviews collect more votes; most get none."""
    words = pc.count_substring(text, " ").to_numpy(zero_copy_only=False) + 1
    exposure = 0.1 + (window.seconds - created) / window.seconds
    votes = np.floor(rng.pareto(1.4, len(words)) * (0.3 + words / 30) * exposure)
    return np.minimum(votes, 5_000).astype(np.int64)


def assemble(world: World) -> dict[str, pd.DataFrame]:
    rng, window, products = world.rng, world.window, world.products
    accounts, orders, reviews = world.accounts(), world.orders(), world.reviews()

    account_order, account_position = _time_order(accounts["created"].to_numpy())
    order_order, order_position = _time_order(orders["created"].to_numpy())
    review_order, _ = _time_order(reviews["created"].to_numpy())
    accounts = accounts.iloc[account_order].reset_index(drop=True)
    orders = orders.iloc[order_order].reset_index(drop=True)
    reviews = reviews.iloc[review_order].reset_index(drop=True)
    account_ids, order_ids = _ids("a", len(accounts)), _ids("o", len(orders))
    product_ids, seller_ids = _ids("p", len(products)), _ids("s", int(products["seller"].max()) + 1)

    product_seller = products["seller"].to_numpy()
    public_products = pd.DataFrame({
        "product_id": as_column(product_ids),
        "seller_id": as_column(seller_ids.take(pa.array(product_seller))),
        "category": codes_to_strings(CATEGORY_NAMES, products["category"].to_numpy()),
        "price": products["price"].to_numpy(),
    })
    emails = _unique_emails(as_arrow(accounts["email"]))
    public_accounts = pd.DataFrame({
        "account_id": as_column(account_ids),
        "created_at": window.timestamps(accounts["created"].to_numpy()),
        "country": codes_to_strings(COUNTRY_CODES, accounts["country"].to_numpy()),
        "email": as_column(emails),
        "device_id": accounts["device_id"].array,
        "ip": accounts["ip"].array,
    })
    order_product = orders["product"].to_numpy()
    public_orders = pd.DataFrame({
        "order_id": as_column(order_ids),
        "account_id": as_column(account_ids.take(pa.array(account_position[orders["account"].to_numpy()]))),
        "product_id": as_column(product_ids.take(pa.array(order_product))),
        "seller_id": as_column(seller_ids.take(pa.array(product_seller[order_product]))),
        "amount": orders["amount"].to_numpy(),
        "currency": codes_to_strings(CURRENCIES, orders["currency"].to_numpy()),
        "created_at": window.timestamps(orders["created"].to_numpy()),
        "status": codes_to_strings(STATUSES, orders["status"].to_numpy()),
        **{c: orders[c].array for c in ("device_id", "ip", "payment_token", "shipping_address")},
        "email": as_column(emails.take(pa.array(account_position[orders["account"].to_numpy()]))),
    })

    text = review_texts(rng, reviews, products)
    review_order_idx = reviews["order"].to_numpy()
    verified = review_order_idx >= 0
    review_order_ids = order_ids.take(pa.array(np.where(verified, order_position[review_order_idx], 0)))
    votes = _helpful_votes(rng, text, reviews["created"].to_numpy(), window)
    if "helpful_votes" in reviews:  # ring reviews carry their own (upvoted) counts
        ring_votes = reviews["helpful_votes"].to_numpy()
        votes = np.where(np.isnan(ring_votes), votes, ring_votes).astype(np.int64)
    public_reviews = pd.DataFrame({
        "review_id": as_column(_ids("r", len(reviews))),
        "account_id": as_column(account_ids.take(pa.array(account_position[reviews["account"].to_numpy()]))),
        "product_id": as_column(product_ids.take(pa.array(reviews["product"].to_numpy()))),
        "text": as_column(text),
        "rating": reviews["rating"].to_numpy(),
        "created_at": window.timestamps(reviews["created"].to_numpy()),
        "order_id": as_column(pc.if_else(pa.array(verified), review_order_ids, pa.scalar(None, STR))),
        "helpful_votes": votes,
        "language": codes_to_strings(LANGUAGES, reviews["language"].to_numpy()),
    })

    truth = truth_table(public_reviews, public_orders, public_accounts, reviews, orders, accounts)
    last_activity = last_activity_times(accounts, orders, reviews, account_position)
    labels = labels_table(rng, window, public_reviews, public_orders, public_accounts, reviews, orders, accounts,
                          last_activity)
    return {"reviews": public_reviews, "orders": public_orders, "products": public_products,
            "accounts": public_accounts, "labels": labels, "truth": truth}
