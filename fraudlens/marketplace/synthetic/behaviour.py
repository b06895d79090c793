"""Clean behaviour: when people order and review, how orders turn out, and the genuine activity
that looks like fraud (household co-reviews, viral bursts, bulk sprees, big-ticket purchases).

Fraud campaigns build their orders and reviews with the same frames and time and status rules,
so that fraud rows differ from clean ones only in what they do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.identities import addresses, country_ips, device_ids, make_accounts, payment_tokens
from fraudlens.marketplace.synthetic.shares import (
    BACKING_ORDER_LEAD,
    BULK_DECLINED_SHARE,
    CLEAN_BURST_HYPE_SHARE,
    CLEAN_BURST_NEWCOMER_SHARE,
    CLEAN_CANCEL_SHARE,
    CLEAN_CHARGEBACK_SHARE,
    CLEAN_REFUND_SHARE,
    HOUR_WEIGHTS,
    HYPE_TEXT_SHARE,
    POLISHED_TEXT_SHARE,
    RATING_SHARES,
    REFUNDED_RATING_SHARES,
    REVIEW_ONLY_SHARE,
    VERIFIED_REVIEW_SHARE,
)
from fraudlens.marketplace.synthetic.strings import as_arrow, as_column
from fraudlens.marketplace.synthetic.vocabulary import (
    CANCELLED,
    CHARGEBACK,
    CLEAN,
    COUNTRIES,
    COUNTRY_CURRENCY,
    COUNTRY_LANGUAGE,
    COUNTRY_SHARES,
    DAY,
    DELIVERED,
    HOUR,
    NATIVE_LANGUAGE_SHARE,
    NO_GROUP,
    PLACED,
    REFUNDED,
    SHIPPED,
    TEXT_CLEAN,
    TEXT_HYPE,
    TEXT_POLISHED,
    USD_TO,
)
from fraudlens.marketplace.synthetic.world import Batch, Window, World, cheap_products, expensive_electronics, seller_products, split_budget, take_rows


def _day_cdf(window: Window) -> np.ndarray:
    day = np.arange(window.days)
    weekday = (window.start.astype("datetime64[D]").astype(np.int64) + day + 3) % 7  # 0 = Monday
    weights = (1 + 0.15 * (weekday >= 5)) * (1 + 0.3 * day / window.days)  # weekends, growth
    return np.cumsum(weights) / weights.sum()


def event_times(rng: np.random.Generator, window: Window, not_before: np.ndarray) -> np.ndarray:
    """Times in the window with weekly/daily rhythm, each no earlier than ``not_before``."""
    n = len(not_before)
    cdf = _day_cdf(window)
    first_day = np.clip(not_before, 0, window.seconds - 1) // DAY
    cdf_before = np.where(first_day > 0, cdf[np.maximum(first_day - 1, 0)], 0.0)
    u = cdf_before + rng.random(n) * (1 - cdf_before)
    day = np.minimum(np.searchsorted(cdf, u, side="right"), window.days - 1)
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * DAY + hour * HOUR + rng.integers(0, HOUR, n)
    too_early = seconds <= not_before
    seconds = np.where(too_early, not_before + rng.integers(60, 6 * HOUR, n), seconds)
    return np.minimum(seconds, window.seconds - 1)


def quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([1, 2, 3, 4, 5], n, p=[0.80, 0.13, 0.04, 0.02, 0.01])


def order_frame(world: World, account: np.ndarray, buyers: pd.DataFrame, *, product: np.ndarray,
                created: np.ndarray, quantity: np.ndarray, status: np.ndarray, device_id: pa.Array, ip: pa.Array,
                payment_token: pa.Array, shipping_address: pa.Array, kind: int | np.ndarray,
                group: int | np.ndarray = NO_GROUP) -> pd.DataFrame:
    """An order frame; ``buyers`` holds the account row of each order (global index ``account``).
    The amount follows from price, quantity, currency and a little shipping/tax. The email is
    the account's, filled in at assembly once emails are unique."""
    n = len(account)
    currency = COUNTRY_CURRENCY[buyers["country"].to_numpy()]
    price = world.products["price"].to_numpy()[product]
    extras = 1 + np.where(world.rng.random(n) < 0.6, 0, world.rng.uniform(0, 0.08, n))
    return pd.DataFrame({
        "account": account,
        "product": product,
        "created": created.astype(np.int64),
        "amount": np.round(price * quantity * USD_TO[currency] * extras, 2),
        "currency": currency,
        "status": status,
        "device_id": as_column(device_id),
        "ip": as_column(ip),
        "payment_token": as_column(payment_token),
        "shipping_address": as_column(shipping_address),
        "kind": np.broadcast_to(kind, n).copy(),
        "group": np.broadcast_to(group, n).copy(),
    })


def usual_identifiers(rng: np.random.Generator, buyers: pd.DataFrame) -> dict[str, pa.Array]:
    """What an account's own orders carry: mostly its primary device, IP, card and address."""
    n = len(buyers)
    own = {c: as_arrow(buyers[c]) for c in ("device_id", "device_2", "ip", "card_1", "card_2", "address_1", "address_2")}
    on_mobile = pa.array(rng.random(n) < 0.25)
    mobile_ip = country_ips(rng, buyers["country"].to_numpy())
    return {
        "device_id": pc.if_else(pa.array(rng.random(n) < 0.75), own["device_id"], own["device_2"]),
        "ip": pc.if_else(on_mobile, mobile_ip, own["ip"]),
        "payment_token": pc.if_else(pa.array(rng.random(n) < 0.8), own["card_1"], own["card_2"]),
        "shipping_address": pc.if_else(pa.array(rng.random(n) < 0.85), own["address_1"], own["address_2"]),
    }


def clean_statuses(rng: np.random.Generator, created: np.ndarray, window: Window,
                   refund_share: float | np.ndarray = CLEAN_REFUND_SHARE,
                   cancel_share: float | np.ndarray = CLEAN_CANCEL_SHARE) -> np.ndarray:
    u = rng.random(len(created))
    refunded, cancelled = u < refund_share, u < refund_share + cancel_share
    charged_back = u < refund_share + cancel_share + CLEAN_CHARGEBACK_SHARE
    outcome = np.select([refunded, cancelled, charged_back], [REFUNDED, CANCELLED, CHARGEBACK], DELIVERED)
    return as_of_window_end(outcome, created, window)


def as_of_window_end(status: np.ndarray, created: np.ndarray, window: Window) -> np.ndarray:
    """An order too young to be delivered (let alone refunded or charged back) at the end of
    the window is still placed or shipped."""
    age = window.seconds - created
    fulfilment = np.where(age < 2 * DAY, PLACED, SHIPPED)
    too_young = np.isin(status, [DELIVERED, REFUNDED, CHARGEBACK]) & (age < 6 * DAY)
    return np.where(too_young, fulfilment, status)


def backing_orders(world: World, account: np.ndarray, buyers: pd.DataFrame, product: np.ndarray,
                   review_time: np.ndarray, kind: int, group: np.ndarray, payment_token: pa.Array,
                   shipping_address: pa.Array) -> np.ndarray:
    """Delivered purchases placed about a week before a fake review so that it shows as verified."""
    n = len(account)
    created = review_time - world.rng.integers(*BACKING_ORDER_LEAD, n)
    frame = order_frame(world, account, buyers, product=product, created=created, quantity=np.ones(n, np.int64),
                        status=np.full(n, DELIVERED), device_id=as_arrow(buyers["device_id"]), ip=as_arrow(buyers["ip"]),
                        payment_token=payment_token, shipping_address=shipping_address, kind=kind, group=group)
    return world.add_orders(frame)


def make_clean_orders(world: World, n: int) -> pd.DataFrame:
    rng, accounts, products = world.rng, world.accounts(), world.products
    activity = accounts["activity"].to_numpy() * accounts["shopper"].to_numpy()
    account = rng.choice(len(accounts), n, p=activity / activity.sum())
    product = rng.choice(len(products), n, p=products["popularity"].to_numpy())
    buyers = take_rows(accounts, account)
    created = event_times(rng, world.window, buyers["created"].to_numpy())
    return order_frame(world, account, buyers, product=product, created=created, quantity=quantities(rng, n),
                       status=clean_statuses(rng, created, world.window, buyers["refunds"].to_numpy()), kind=CLEAN,
                       **usual_identifiers(rng, buyers))


def draw_ratings(rng: np.random.Generator, shares: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Draws 1-5 stars; a product's quality shifts the draw up or down a little."""
    u = np.clip(rng.random(len(quality)) + 0.06 * quality, 0, 1 - 1e-9)
    return np.searchsorted(np.cumsum(shares), u, side="right") + 1


def _review_languages(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    native = rng.random(len(country)) < NATIVE_LANGUAGE_SHARE
    return np.where(native, COUNTRY_LANGUAGE[country], 0)


def review_frame(*, account: np.ndarray, product: np.ndarray, created: np.ndarray, order: np.ndarray,
                 rating: np.ndarray, language: np.ndarray, text_kind: int | np.ndarray, kind: int,
                 group: int | np.ndarray = NO_GROUP) -> pd.DataFrame:
    n = len(account)
    return pd.DataFrame({
        "account": account, "product": product, "created": created.astype(np.int64), "order": order,
        "rating": rating.astype(np.int64), "language": language,
        "text_kind": np.broadcast_to(text_kind, n).copy(),
        "kind": np.full(n, kind), "group": np.broadcast_to(group, n).copy(),
    })


def make_verified_reviews(world: World, orders: pd.DataFrame, first_index: int = 0) -> pd.DataFrame:
    """Reviews of delivered (and refunded) orders by accounts that review; ``orders`` are the
    world's orders from global index ``first_index`` on."""
    rng, window = world.rng, world.window
    status = orders["status"].to_numpy()
    reviewer = world.accounts()["reviewer"].to_numpy()[orders["account"].to_numpy()]
    review_share = np.select([status == DELIVERED, status == REFUNDED], [VERIFIED_REVIEW_SHARE, 0.8], 0.0) * reviewer
    chosen = np.flatnonzero(rng.random(len(orders)) < review_share)
    delay = (2 + rng.gamma(2.0, 3.0, len(chosen))) * DAY
    created = orders["created"].to_numpy()[chosen] + delay.astype(np.int64)
    in_window = created < window.seconds
    chosen, created = chosen[in_window], created[in_window]
    account, product = orders["account"].to_numpy()[chosen], orders["product"].to_numpy()[chosen]
    quality = world.products["quality"].to_numpy()[product]
    refunded = status[chosen] == REFUNDED
    rating = np.where(refunded, draw_ratings(rng, REFUNDED_RATING_SHARES, quality), draw_ratings(rng, RATING_SHARES, quality))
    country = world.accounts()["country"].to_numpy()[account]
    language = _review_languages(rng, country)
    return review_frame(account=account, product=product, created=created, order=first_index + chosen, rating=rating,
                        language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def make_unverified_reviews(world: World, n: int) -> pd.DataFrame:
    """Reviews without a purchase here: from active customers, and REVIEW_ONLY_SHARE from
    accounts that never order on the platform (bought in a shop, got it as a gift)."""
    rng, accounts, products = world.rng, world.accounts(), world.products
    # Heavy buyers do not review in proportion: propensity grows with the square root of activity.
    propensity = np.sqrt(accounts["activity"].to_numpy()) * accounts["reviewer"].to_numpy()
    account = rng.choice(len(accounts), n, p=propensity / propensity.sum())
    non_shoppers = np.flatnonzero(~accounts["shopper"].to_numpy())
    if len(non_shoppers):
        account = np.where(rng.random(n) < REVIEW_ONLY_SHARE, rng.choice(non_shoppers, n), account)
    product = rng.choice(len(products), n, p=products["popularity"].to_numpy())
    created = event_times(rng, world.window, accounts["created"].to_numpy()[account])
    rating = draw_ratings(rng, RATING_SHARES, products["quality"].to_numpy()[product])
    language = _review_languages(rng, accounts["country"].to_numpy()[account])
    return review_frame(account=account, product=product, created=created, order=np.full(n, -1), rating=rating,
                        language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def _clean_text_kinds(rng: np.random.Generator, rating: np.ndarray, language: np.ndarray,
                      hype_share: float = HYPE_TEXT_SHARE) -> np.ndarray:
    """Most genuine reviews are in ordinary words, but some fans gush in exactly the phrases
    rings use, and some honest English reviewers let a writing assistant polish their text."""
    u = rng.random(len(rating))
    hype = (rating == 5) & (u < hype_share)
    polished = (language == 0) & (rating >= 3) & (u > 1 - POLISHED_TEXT_SHARE)
    return np.select([hype, polished], [TEXT_HYPE, TEXT_POLISHED], TEXT_CLEAN)


def make_household_reviews(world: World, n: int) -> pd.DataFrame:
    """Members of a household (or office) reviewing the product they all use, within days of
    each other and with similar ratings: clean, but co-reviewing from one IP like a small ring."""
    rng, window, accounts, products = world.rng, world.window, world.accounts(), world.products
    household = accounts["household"].to_numpy()
    in_household = np.flatnonzero(household >= 0)
    if n <= 0 or len(in_household) == 0:
        return review_frame(account=np.zeros(0, np.int64), product=np.zeros(0, np.int64), created=np.zeros(0),
                            order=np.zeros(0, np.int64), rating=np.zeros(0), language=np.zeros(0, np.int64),
                            text_kind=TEXT_CLEAN, kind=CLEAN)
    by_household = in_household[np.argsort(household[in_household], kind="stable")]
    _, first, size = np.unique(household[by_household], return_index=True, return_counts=True)
    n_events = max(1, round(n / (0.75 * size.mean())))
    event_household = rng.integers(0, len(size), n_events)
    per_event = size[event_household]
    event = np.repeat(np.arange(n_events), per_event)
    rank = np.arange(len(event)) - np.repeat(np.cumsum(per_event) - per_event, per_event)
    account = by_household[first[event_household][event] + rank]
    writes = (rng.random(len(event)) < 0.75) | (rank < 2)  # at least two members per product
    account, event = account[writes][:n], event[writes][:n]
    event_product = rng.choice(len(products), n_events, p=products["popularity"].to_numpy())
    event_rating = draw_ratings(rng, RATING_SHARES, products["quality"].to_numpy()[event_product])
    event_time = event_times(rng, window, np.zeros(n_events, np.int64))
    product = event_product[event]
    rating = np.clip(event_rating[event] + rng.choice([-1, 0, 0, 0, 1], len(event)), 1, 5)
    created_at = accounts["created"].to_numpy()[account]
    created = np.maximum(event_time[event] + rng.integers(0, 5 * DAY, len(event)), created_at + HOUR)
    created = np.minimum(created, window.seconds - 1)
    language = _review_languages(rng, accounts["country"].to_numpy()[account])
    return review_frame(account=account, product=product, created=created, order=np.full(len(event), -1),
                        rating=rating, language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def add_clean_bursts(world: World, budget: int) -> None:
    """A product goes viral or a seller runs a sale day: many genuine, mostly 5-star reviews
    within two days, some by accounts that signed up for the occasion, about a third verified
    by an order from the sale a week earlier. Looks like a ring's burst; is not one."""
    rng, window = world.rng, world.window
    accounts = world.accounts()
    regulars = np.flatnonzero((accounts["kind"].to_numpy() == CLEAN) & (accounts["created"].to_numpy() < 0))
    if budget <= 0 or len(regulars) == 0:
        return
    sizes = split_budget(rng, budget, 8, 41)
    sizes = sizes[sizes > 0]
    n_events, n = len(sizes), int(sizes.sum())
    targets, n_targets = Batch(), np.empty(n_events, np.int64)
    for i in range(n_events):
        chosen = seller_products(world, int(rng.integers(1, 4)))
        targets.add(product=chosen)
        n_targets[i] = len(chosen)
    event = np.repeat(np.arange(n_events), sizes)
    first_target = np.cumsum(n_targets) - n_targets
    product = targets.arrays()["product"][first_target[event] + (rng.random(n) * n_targets[event]).astype(np.int64)]
    start = rng.integers(12 * DAY, window.seconds - 2 * DAY, n_events)
    length = rng.integers(12 * HOUR, 48 * HOUR, n_events)
    created = np.minimum(start[event] + (rng.random(n) * length[event]).astype(np.int64), window.seconds - 1)

    newcomer = rng.random(n) < CLEAN_BURST_NEWCOMER_SHARE
    n_new = int(newcomer.sum())
    new_accounts = make_accounts(rng, start[event[newcomer]] - rng.integers(10 * DAY, 31 * DAY, n_new),
                                 rng.choice(len(COUNTRIES), n_new, p=COUNTRY_SHARES), kind=CLEAN)
    new_idx = world.add_accounts(new_accounts)
    activity = accounts["activity"].to_numpy()[regulars]
    regular_idx = rng.choice(regulars, n - n_new, p=activity / activity.sum())
    account = np.empty(n, np.int64)
    account[newcomer], account[~newcomer] = new_idx, regular_idx
    buyers = pd.concat([new_accounts, take_rows(accounts, regular_idx)], ignore_index=True)
    buyer_row = np.empty(n, np.int64)
    buyer_row[newcomer], buyer_row[~newcomer] = np.arange(n_new), n_new + np.arange(n - n_new)

    rating = rng.choice([5, 4, 3, 2, 1], n, p=[0.72, 0.2, 0.05, 0.02, 0.01])
    language = _review_languages(rng, buyers["country"].to_numpy()[buyer_row])
    order = np.full(n, -1)
    verified = np.flatnonzero(rng.random(n) < 0.35)
    if len(verified):
        payers = take_rows(buyers, buyer_row[verified])
        order[verified] = backing_orders(
            world, account[verified], payers, product[verified], created[verified], CLEAN,
            np.full(len(verified), NO_GROUP), payment_token=as_arrow(payers["card_1"]),
            shipping_address=as_arrow(payers["address_1"]))
    world.add_reviews(review_frame(account=account, product=product, created=created, order=order, rating=rating,
                                   language=language, kind=CLEAN,
                                   text_kind=_clean_text_kinds(rng, rating, language, CLEAN_BURST_HYPE_SHARE)))


def make_bulk_orders(world: World, n: int) -> pd.DataFrame:
    """Genuine customers stocking up: sessions of 3-12 small orders within a few hours (gift
    cards, party supplies) on their own cards, some by accounts opened during the window."""
    rng, window, accounts, products = world.rng, world.window, world.accounts(), world.products
    clean = np.flatnonzero((accounts["kind"].to_numpy() == CLEAN) & accounts["shopper"].to_numpy())
    account_created = accounts["created"].to_numpy()
    recent = clean[account_created[clean] >= 0]
    sizes = split_budget(rng, max(n, 1), 3, 13)
    sizes = sizes[sizes > 0]
    n_sessions = len(sizes)
    activity = accounts["activity"].to_numpy()[clean]
    buyer = rng.choice(clean, n_sessions, p=activity / activity.sum())
    # Offices order supplies in one go on the company card.
    office = clean[accounts["office"].to_numpy()[clean]]
    if len(office):
        buyer = np.where(rng.random(n_sessions) < 0.3, rng.choice(office, n_sessions), buyer)
    newcomer = (rng.random(n_sessions) < 0.5) & (len(recent) > 0)
    if newcomer.any():
        buyer = np.where(newcomer, rng.choice(recent, n_sessions), buyer)
    session_start = event_times(rng, window, account_created[buyer])
    # Most newcomers signed up for this spree: it starts within days of the sign-up, and the
    # bank declines a new customer's sudden spree more often.
    right_away = newcomer & (rng.random(n_sessions) < 0.7)
    session_start = np.where(right_away, account_created[buyer] + rng.integers(HOUR, 3 * DAY, n_sessions),
                             session_start)
    session = np.repeat(np.arange(n_sessions), sizes)
    n = len(session)
    account = buyer[session]
    created = np.minimum(session_start[session] + rng.integers(0, 4 * HOUR, n), window.seconds - 1)
    product = np.where(rng.random(n) < 0.8, rng.choice(cheap_products(products), n),
                       rng.choice(len(products), n, p=products["popularity"].to_numpy()))
    buyers = take_rows(accounts, account)
    return order_frame(world, account, buyers, product=product, created=created,
                       quantity=rng.choice([1, 1, 1, 2, 3], n),
                       status=clean_statuses(rng, created, window, buyers["refunds"].to_numpy(),
                                             BULK_DECLINED_SHARE * np.where(right_away[session], 2.5, 1.0)),
                       kind=CLEAN, **usual_identifiers(rng, buyers))


def make_big_ticket_orders(world: World, n: int) -> pd.DataFrame:
    """Genuine expensive electronics that look like a stolen card: bought on a new phone, on
    holiday abroad, with a just-issued card, or shipped to someone else as a gift."""
    rng, window, accounts = world.rng, world.window, world.accounts()
    shoppers = np.flatnonzero(accounts["shopper"].to_numpy())
    activity = accounts["activity"].to_numpy()[shoppers]
    account = rng.choice(shoppers, n, p=activity / activity.sum())
    buyers = take_rows(accounts, account)
    created = event_times(rng, window, buyers["created"].to_numpy())
    usual = usual_identifiers(rng, buyers)
    country = buyers["country"].to_numpy()
    abroad = rng.random(n) < 0.3
    ip = pc.if_else(pa.array(abroad), country_ips(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)),
                    country_ips(rng, country))
    return order_frame(world, account, buyers, product=rng.choice(expensive_electronics(world.products), n),
                       created=created, quantity=rng.choice([1, 1, 1, 2], n),
                       status=clean_statuses(rng, created, window, buyers["refunds"].to_numpy()), kind=CLEAN,
                       device_id=pc.if_else(pa.array(rng.random(n) < 0.6), device_ids(rng, n), usual["device_id"]),
                       ip=ip,
                       payment_token=pc.if_else(pa.array(rng.random(n) < 0.5), payment_tokens(rng, n),
                                                usual["payment_token"]),
                       shipping_address=pc.if_else(pa.array(rng.random(n) < 0.5),
                                                   addresses(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)),
                                                   usual["shipping_address"]))
