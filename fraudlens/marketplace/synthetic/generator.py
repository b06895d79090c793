"""The whole generation, in the order its random draws are made: the world and its clean
behaviour first, then each kind of fraud, then assembly into tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudlens.marketplace.synthetic.assembly import assemble
from fraudlens.marketplace.synthetic.behaviour import (
    add_clean_bursts,
    make_big_ticket_orders,
    make_bulk_orders,
    make_clean_orders,
    make_household_reviews,
    make_unverified_reviews,
    make_verified_reviews,
)
from fraudlens.marketplace.synthetic.campaigns import inject_ai_reviews, inject_card_testing, inject_refund_abuse, inject_review_rings, inject_stolen_cards
from fraudlens.marketplace.synthetic.identities import make_clean_accounts
from fraudlens.marketplace.synthetic.shares import (
    AI_REVIEW_SHARE,
    BIG_TICKET_SHARE,
    BULK_ORDER_SHARE,
    CLEAN_BURST_REVIEW_SHARE,
    CLEAN_ORDER_SHARE,
    HOUSEHOLD_REVIEW_SHARE,
    ORDER_FRAUD_SHARE,
    REFUND_ABUSE_ORDER_SHARE,
    RING_REVIEW_SHARE,
    STOLEN_CARD_ORDER_SHARE,
    UNVERIFIED_REVIEW_SHARE,
)
from fraudlens.marketplace.synthetic.world import Window, World, make_products


def generate_marketplace(seed: int, scale: int, start: str = "2026-01-01", days: int = 120
                         ) -> dict[str, pd.DataFrame]:
    """Returns {"reviews", "orders", "products", "accounts", "labels", "truth"}.

    ``scale`` N gives roughly N reviews and N orders, N/4 accounts, N/15 products and
    max(3, N/150) sellers over ``days`` days from ``start``. Same seed and scale give identical
    tables. ``truth`` holds is_fraud and fraud_kind for every review, order and account.
    """
    if scale < 50:
        raise ValueError(f"scale must be at least 50, got {scale}")
    if days < 30:
        raise ValueError(f"days must be at least 30 so that fraud bursts fit the window, got {days}")
    rng = np.random.default_rng(seed)
    window = Window(np.datetime64(start, "s"), days)
    products = make_products(rng, n_products=max(12, scale // 15), n_sellers=max(3, scale // 150))
    world = World(rng, window, products)

    world.add_accounts(make_clean_accounts(rng, max(20, scale // 4), window))
    clean_orders = round(scale * CLEAN_ORDER_SHARE)
    n_bulk, n_big = round(clean_orders * BULK_ORDER_SHARE), round(clean_orders * BIG_TICKET_SHARE)
    world.add_orders(make_clean_orders(world, clean_orders - n_bulk - n_big))
    if n_big > 0:
        world.add_orders(make_big_ticket_orders(world, n_big))
    world.add_reviews(make_verified_reviews(world, world.orders()))
    n_household, n_burst = round(scale * HOUSEHOLD_REVIEW_SHARE), round(scale * CLEAN_BURST_REVIEW_SHARE)
    world.add_reviews(make_unverified_reviews(world, round(scale * UNVERIFIED_REVIEW_SHARE) - n_household - n_burst))
    world.add_reviews(make_household_reviews(world, n_household))
    add_clean_bursts(world, n_burst)
    world.one_review_per_product()
    if n_bulk > 0:
        world.add_orders(make_bulk_orders(world, n_bulk))

    fake_review_share = RING_REVIEW_SHARE + AI_REVIEW_SHARE
    clean_reviews = world.n_reviews
    ring_accounts = inject_review_rings(
        world, round(clean_reviews * RING_REVIEW_SHARE / (1 - fake_review_share)))
    inject_ai_reviews(world, round(clean_reviews * AI_REVIEW_SHARE / (1 - fake_review_share)), ring_accounts)
    inject_stolen_cards(world, max(1, round(scale * STOLEN_CARD_ORDER_SHARE)))
    inject_refund_abuse(world, max(2, round(scale * REFUND_ABUSE_ORDER_SHARE)))
    inject_card_testing(world, _card_testing_budget(world))
    return assemble(world)


def _card_testing_budget(world: World) -> int:
    """Orders that bring fraud to ORDER_FRAUD_SHARE of all orders: (F + x) / (N + x) = share."""
    short = ORDER_FRAUD_SHARE * world.n_orders - world.n_fraud_orders()
    return max(1, round(short / (1 - ORDER_FRAUD_SHARE)))
