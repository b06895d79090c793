"""The ground truth and the labels: the truth is exact for every review, order and account; the
labels are the platform's partial and slightly wrong view of it, each from a plausible source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlens.marketplace.synthetic.strings import as_column, codes_to_strings, string_array
from fraudlens.marketplace.synthetic.vocabulary import CHARGEBACK, CLEAN, DAY, FRAUD_KINDS, HOUR
from fraudlens.marketplace.synthetic.world import Window

LABEL_SHARE_FRAUD = 0.6
LABEL_SHARE_CLEAN = 0.3
LABELLED_GROUP_SHARE = 0.5
# Moderators and chargeback processes make mistakes: this share of the labels table is wrong
# (flipped). The truth table is never noisy.
LABEL_NOISE_SHARE = 0.025


def truth_table(public_reviews: pd.DataFrame, public_orders: pd.DataFrame, public_accounts: pd.DataFrame,
                reviews: pd.DataFrame, orders: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for entity, public, internal, id_column in (("review", public_reviews, reviews, "review_id"),
                                                 ("order", public_orders, orders, "order_id"),
                                                 ("account", public_accounts, accounts, "account_id")):
        kind = internal["kind"].to_numpy()
        parts.append(pd.DataFrame({
            "entity_type": as_column(string_array([entity] * len(public))),
            "entity_id": public[id_column].array,
            "is_fraud": (kind != CLEAN).astype(np.int64),
            "fraud_kind": codes_to_strings(FRAUD_KINDS, kind),
        }))
    return pd.concat(parts, ignore_index=True)


def last_activity_times(accounts: pd.DataFrame, orders: pd.DataFrame, reviews: pd.DataFrame,
                        account_position: np.ndarray) -> np.ndarray:
    latest = accounts["created"].to_numpy().copy()
    for events in (orders, reviews):
        np.maximum.at(latest, account_position[events["account"].to_numpy()], events["created"].to_numpy())
    return latest


def labels_table(rng: np.random.Generator, window: Window, public_reviews: pd.DataFrame, public_orders: pd.DataFrame,
                 public_accounts: pd.DataFrame, reviews: pd.DataFrame, orders: pd.DataFrame, accounts: pd.DataFrame,
                 last_activity: np.ndarray) -> pd.DataFrame:
    """What the platform knows: a random part of the truth, each label from a plausible source.

    LABEL_NOISE_SHARE of the labels are wrong: a moderator approves a fake review or removes a
    real one, a genuine customer's dispute is booked as fraud, a fraud case is closed as clean.
    A chargeback is the source only of a label that (rightly or wrongly) says fraud."""
    sources = ("moderation", "chargeback", "manual_review")
    parts = []

    def add(entity: str, ids: pd.Series, chosen: np.ndarray, is_fraud: np.ndarray, source: np.ndarray,
            labeled: np.ndarray) -> None:
        parts.append(pd.DataFrame({
            "entity_type": as_column(string_array([entity] * int(chosen.sum()))),
            "entity_id": ids.array[chosen],
            "is_fraud": is_fraud[chosen].astype(np.int64),
            "source": codes_to_strings(sources, source[chosen]),
            "labeled_at": window.timestamps(labeled[chosen]),
        }))

    def sampled(is_fraud: np.ndarray) -> np.ndarray:
        return rng.random(len(is_fraud)) < np.where(is_fraud, LABEL_SHARE_FRAUD, LABEL_SHARE_CLEAN)

    def noisy(is_fraud: np.ndarray) -> np.ndarray:
        return is_fraud ^ (rng.random(len(is_fraud)) < LABEL_NOISE_SHARE)

    review_fraud = reviews["kind"].to_numpy() != CLEAN
    review_source = np.where(rng.random(len(reviews)) < 0.8, 0, 2)
    review_labeled = reviews["created"].to_numpy() + rng.integers(HOUR, 10 * DAY, len(reviews))
    add("review", public_reviews["review_id"], sampled(review_fraud), noisy(review_fraud), review_source,
        review_labeled)

    order_fraud = orders["kind"].to_numpy() != CLEAN
    order_label = noisy(order_fraud)
    disputed = order_label & (orders["status"].to_numpy() == CHARGEBACK)
    order_source = np.where(disputed, 1, 2)
    order_labeled = orders["created"].to_numpy() + np.where(disputed, rng.integers(20 * DAY, 60 * DAY, len(orders)),
                                                            rng.integers(DAY, 30 * DAY, len(orders)))
    add("order", public_orders["order_id"], sampled(order_fraud), order_label, order_source, order_labeled)

    # Accounts: whole fraud groups get caught (or not) together; clean accounts are sampled.
    account_fraud = accounts["kind"].to_numpy() != CLEAN
    group = accounts["group"].to_numpy()
    caught_group = rng.random(max(int(group.max()) + 1, 1)) < LABELLED_GROUP_SHARE
    chosen = np.where(account_fraud, caught_group[np.maximum(group, 0)],
                      rng.random(len(accounts)) < LABEL_SHARE_CLEAN)
    account_labeled = last_activity + rng.integers(DAY, 20 * DAY, len(accounts))
    add("account", public_accounts["account_id"], chosen, noisy(account_fraud), np.full(len(accounts), 2),
        account_labeled)
    return pd.concat(parts, ignore_index=True)
