"""Fraud campaigns injected into the clean world: review rings, AI-written reviews, card testing,
stolen cards and refund abuse.

Each injector plans its groups in a loop of cheap numpy draws, then materialises all of them at
once (accounts, identifiers, orders, reviews), so the cost per group stays microseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.behaviour import (
    as_of_window_end,
    backing_orders,
    clean_statuses,
    draw_ratings,
    event_times,
    make_verified_reviews,
    order_frame,
    quantities,
    review_frame,
    usual_identifiers,
)
from fraudlens.marketplace.synthetic.identities import addresses, country_ips, device_ids, hosting_ips, make_accounts, ordinary_creation_times, payment_tokens
from fraudlens.marketplace.synthetic.shares import (
    AGED_TESTER_SHARE,
    AI_SHORT_SHARE,
    ANTI_DETECT_CREW_SHARE,
    CAREFUL_RING_SHARE,
    HISTORY_ORDERS,
    MID_PRICED_TEST_SHARE,
    RATING_SHARES,
    REFUND_SOLO_SHARE,
    RING_CAMOUFLAGE_PER_ACCOUNT,
    RING_NATURAL_TEXT_SHARE,
    TAKEOVER_SHARE,
)
from fraudlens.marketplace.synthetic.strings import as_arrow, as_column
from fraudlens.marketplace.synthetic.vocabulary import (
    AI,
    CARD_TESTING,
    CLEAN,
    COUNTRIES,
    COUNTRY_SHARES,
    DAY,
    DELIVERED,
    HOUR,
    LANGUAGES,
    REFUND_ABUSE,
    REFUNDED,
    RING,
    STATUSES,
    STOLEN_CARD,
    TEXT_AI,
    TEXT_AI_SHORT,
    TEXT_CLEAN,
    TEXT_RING,
)
from fraudlens.marketplace.synthetic.world import Batch, World, cheap_products, expensive_electronics, seller_products, split_budget, take_rows


def _distinct_pairs(rng: np.random.Generator, n: int, n_left: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    """n distinct (left, right) index pairs, so that no account reviews a product twice."""
    flat = rng.permutation(n_left * n_right)[:n]
    return flat // n_right, flat % n_right


def _share_identifiers(accounts: pd.DataFrame, column: str, slot: np.ndarray, pool: pa.Array) -> None:
    """Replaces ``column`` by ``pool[slot]`` where slot >= 0 (the account uses a group's shared one)."""
    if not (slot >= 0).any():
        return
    shared = pool.take(pa.array(np.maximum(slot, 0)))
    accounts[column] = as_column(pc.if_else(pa.array(slot >= 0), shared, as_arrow(accounts[column])))


def _shared_ip_pool(rng: np.random.Generator, country: np.ndarray, hosting: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(hosting), hosting_ips(rng, len(country)), country_ips(rng, country))


def _history_orders(world: World, account: np.ndarray, buyers: pd.DataFrame, mean_orders: np.ndarray) -> None:
    """Ordinary purchases (clean in the truth) on fraud-controlled accounts: what makes a bought
    or warmed-up account look like a customer's."""
    rng, products = world.rng, world.products
    per_account = rng.poisson(mean_orders)
    if per_account.sum() == 0:
        return
    row = np.repeat(np.arange(len(account)), per_account)
    owners = take_rows(buyers, row)
    created = event_times(rng, world.window, owners["created"].to_numpy())
    world.add_orders(order_frame(
        world, account[row], owners, product=rng.choice(len(products), len(row), p=products["popularity"].to_numpy()),
        created=created, quantity=quantities(rng, len(row)), status=clean_statuses(rng, created, world.window),
        kind=CLEAN, **usual_identifiers(rng, owners)))


RING_LANGUAGE_SHARES = np.array([0.85, 0.05, 0.05, 0.05])


def inject_review_rings(world: World, budget: int) -> np.ndarray:
    """Bursts of 5-star reviews by accounts sharing a few devices and IPs, one to three campaigns
    per ring. CAREFUL_RING_SHARE of the rings use aged accounts with own devices, post over days,
    write in ordinary customers' words and back most reviews by a purchase. Returns their accounts."""
    rng, window = world.rng, world.window
    members, reviews, ip_pool = Batch(), Batch(), Batch()
    n_members_so_far = n_devices = n_ips = n_cards = 0
    while budget > 0:
        group = world.new_group()
        n_members = int(rng.integers(3, 14))
        # A ring works for one to three sellers over the window, each a campaign of its own.
        n_campaigns = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        targets = [seller_products(world, int(rng.integers(1, 3))) for _ in range(n_campaigns)]
        wanted = [max(1, round(n_members * len(t) * rng.uniform(0.5, 1.0))) for t in targets]
        n_members = min(n_members, max(3, min(budget, sum(wanted))))  # a ring cut short by the budget stays small
        # Late enough for backing orders to fall in the window and after the members sign up.
        # Careful rings (bought aged accounts, own devices, brushed purchases, natural words)
        # spread their burst over days; plain ones post within hours of each other.
        careful = rng.random() < CAREFUL_RING_SHARE
        burst_starts = np.sort(rng.integers(12 * DAY, window.seconds - 3 * DAY, n_campaigns))

        # Mostly fresh sign-ups, some bought "aged" accounts; most use the ring's devices and IPs.
        fresh = rng.random(n_members) < (0.15 if careful else 0.7)
        home = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        ring_devices, ring_ips, ring_cards = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        created = burst_starts[0] - np.where(fresh, rng.integers(10 * DAY, 45 * DAY, n_members),
                                             rng.integers(200 * DAY, 1500 * DAY, n_members))
        members.add(
            created=created,
            history=np.where(fresh, HISTORY_ORDERS["fresh_ring"], HISTORY_ORDERS["aged_ring"]),
            country=np.where(rng.random(n_members) < 0.7, home,
                             rng.choice(len(COUNTRIES), n_members, p=COUNTRY_SHARES)),
            group=np.full(n_members, group),
            device_slot=np.where(rng.random(n_members) < (0.3 if careful else 0.85),
                                 n_devices + rng.integers(0, ring_devices, n_members), -1),
            ip_slot=np.where(rng.random(n_members) < (0.45 if careful else 0.8),
                             n_ips + rng.integers(0, ring_ips, n_members), -1))
        ip_pool.add(country=np.full(ring_ips, home), hosting=rng.random(ring_ips) < (0.2 if careful else 0.5))
        language = rng.choice(len(LANGUAGES), p=RING_LANGUAGE_SHARES)

        for campaign_targets, n_reviews, burst_start in zip(targets, wanted, burst_starts):
            n_reviews = min(budget, n_reviews, n_members * len(campaign_targets))
            if n_reviews <= 0:
                break
            budget -= n_reviews
            burst_length = rng.integers(3 * DAY, 8 * DAY) if careful else rng.integers(24 * HOUR, 72 * HOUR)
            who, what = _distinct_pairs(rng, n_reviews, n_members, len(campaign_targets))
            natural = rng.random(n_reviews) < RING_NATURAL_TEXT_SHARE[int(careful)]
            reviews.add(
                member=n_members_so_far + who, product=campaign_targets[what],
                created=np.minimum(burst_start + rng.integers(0, burst_length, n_reviews), window.seconds - 1),
                verified=rng.random(n_reviews) < (0.6 if careful else 0.15),
                card_slot=n_cards + rng.integers(0, ring_cards, n_reviews),
                rating=np.where(rng.random(n_reviews) < np.where(natural, 0.65, 0.92), 5, 4),
                text_kind=np.where(natural, TEXT_CLEAN, TEXT_RING), language=np.full(n_reviews, language),
                careful=np.full(n_reviews, careful),
                helpful_votes=_ring_helpful_votes(rng, n_reviews, n_members), group=np.full(n_reviews, group))
        # Camouflage: ordinary reviews of popular products at ordinary times, so the accounts
        # look like customers. Fake all the same (review_ring in the truth), and no burst.
        n_camouflage = min(budget, int(rng.poisson(RING_CAMOUFLAGE_PER_ACCOUNT * n_members)))
        if n_camouflage > 0:
            budget -= n_camouflage
            who = rng.integers(0, n_members, n_camouflage)
            product = rng.choice(len(world.products), n_camouflage, p=world.products["popularity"].to_numpy())
            reviews.add(
                member=n_members_so_far + who, product=product, created=event_times(rng, window, created[who]),
                verified=np.zeros(n_camouflage, bool), card_slot=np.full(n_camouflage, n_cards),
                rating=draw_ratings(rng, RATING_SHARES, world.products["quality"].to_numpy()[product]),
                text_kind=np.full(n_camouflage, TEXT_CLEAN), language=np.full(n_camouflage, language),
                careful=np.full(n_camouflage, careful), helpful_votes=np.full(n_camouflage, np.nan),
                group=np.full(n_camouflage, group))
        n_members_so_far += n_members
        n_devices, n_ips, n_cards = n_devices + ring_devices, n_ips + ring_ips, n_cards + ring_cards
    if not members:
        return np.array([], np.int64)

    m, r, ips = members.arrays(), reviews.arrays(), ip_pool.arrays()
    once = ~pd.DataFrame({"a": r["member"], "p": r["product"]}).duplicated().to_numpy()  # camouflage may repeat
    r = {name: values[once] for name, values in r.items()}
    accounts = make_accounts(rng, m["created"], m["country"], kind=RING, group=m["group"], disposable_share=0.25)
    _share_identifiers(accounts, "device_id", m["device_slot"], device_ids(rng, n_devices))
    _share_identifiers(accounts, "ip", m["ip_slot"], _shared_ip_pool(rng, ips["country"], ips["hosting"]))
    member_idx = world.add_accounts(accounts)
    _history_orders(world, member_idx, accounts, m["history"])

    order = np.full(len(r["member"]), -1)
    verified = np.flatnonzero(r["verified"])
    if len(verified):
        # Brushing: the ring's few cards pay, the parcels go to random addresses; careful rings
        # pay with each bought account's own card and ship to its own address.
        buyers, careful = take_rows(accounts, r["member"][verified]), pa.array(r["careful"][verified])
        order[verified] = backing_orders(
            world, member_idx[r["member"][verified]], buyers, r["product"][verified], r["created"][verified], RING,
            r["group"][verified],
            payment_token=pc.if_else(careful, as_arrow(buyers["card_1"]),
                                     payment_tokens(rng, n_cards).take(pa.array(r["card_slot"][verified]))),
            shipping_address=pc.if_else(careful, as_arrow(buyers["address_1"]),
                                        addresses(rng, rng.choice(len(COUNTRIES), len(verified), p=COUNTRY_SHARES))))
    frame = review_frame(account=member_idx[r["member"]], product=r["product"], created=r["created"], order=order,
                         rating=r["rating"], language=r["language"], text_kind=r["text_kind"], kind=RING, group=r["group"])
    frame["helpful_votes"] = r["helpful_votes"]
    world.add_reviews(frame)
    return member_idx


def _ring_helpful_votes(rng: np.random.Generator, n: int, ring_size: int) -> np.ndarray:
    upvoting_ring = rng.random() < 0.4  # some rings upvote each other's reviews
    return rng.poisson(ring_size / 6 if upvoting_ring else 0.3, n)


def inject_ai_reviews(world: World, budget: int, ring_accounts: np.ndarray) -> None:
    """Campaigns of LLM-style reviews for one seller, spread over weeks, by ring accounts and by
    'sleeper' accounts that look ordinary (old enough, own identifiers, a purchase history, often
    verified). AI_SHORT_SHARE are short 3-4 star ones with a mild criticism."""
    rng, window = world.rng, world.window
    sleepers, reviews = Batch(), Batch()
    n_sleepers_so_far = 0
    while budget > 0:
        group = world.new_group()
        n_reviews = min(budget, int(rng.integers(4, 21)))
        budget -= n_reviews
        targets = seller_products(world, int(rng.integers(1, 6)))
        campaign_start = rng.integers(14 * DAY, window.seconds - 7 * DAY)

        ring_writers = rng.choice(ring_accounts, min(len(ring_accounts), n_reviews), replace=False)
        n_by_ring = min(rng.binomial(n_reviews, 0.4), len(ring_writers) * len(targets))
        n_by_sleepers = n_reviews - n_by_ring
        n_sleepers = max(-(-n_by_sleepers // len(targets)), round(n_by_sleepers / 2.5))
        sleeper_who, sleeper_what = _distinct_pairs(rng, n_by_sleepers, n_sleepers, len(targets))
        ring_who, ring_what = _distinct_pairs(rng, n_by_ring, len(ring_writers), len(targets))
        by_sleeper = np.arange(n_reviews) < n_by_sleepers
        sleepers.add(group=np.full(n_sleepers, group))
        reviews.add(
            sleeper=np.concatenate([n_sleepers_so_far + sleeper_who, np.full(n_by_ring, -1)]),
            ring_writer=np.concatenate([np.full(n_by_sleepers, -1), ring_writers[ring_who]]),
            product=targets[np.concatenate([sleeper_what, ring_what])],
            created=campaign_start + rng.integers(0, int(rng.integers(7, 31)) * DAY, n_reviews),
            verified=by_sleeper & (rng.random(n_reviews) < 0.35),
            short=rng.random(n_reviews) < AI_SHORT_SHARE,
            rating=np.where(rng.random(n_reviews) < 0.7, 5, 4), group=np.full(n_reviews, group))
        n_sleepers_so_far += n_sleepers
    if not reviews:
        return

    s, r = sleepers.arrays(), reviews.arrays()
    sleeper_accounts = _sleeper_accounts(world, s["group"])
    ring_created = world.accounts()["created"].to_numpy()
    sleeper_idx = world.add_accounts(sleeper_accounts)
    _history_orders(world, sleeper_idx, sleeper_accounts, np.full(len(sleeper_idx), HISTORY_ORDERS["sleeper"]))
    by_sleeper = r["sleeper"] >= 0
    account = r["ring_writer"].copy()
    account[by_sleeper] = sleeper_idx[r["sleeper"][by_sleeper]]
    # A ring account cannot review before it exists (sleepers are created early enough).
    created = r["created"].copy()
    created[~by_sleeper] = np.maximum(created[~by_sleeper], ring_created[account[~by_sleeper]] + DAY)
    created = np.minimum(created, window.seconds - 1)
    order = np.full(len(account), -1)
    verified = np.flatnonzero(r["verified"])
    if len(verified):
        buyers = take_rows(sleeper_accounts, r["sleeper"][verified])
        order[verified] = backing_orders(
            world, account[verified], buyers, r["product"][verified], created[verified], AI, r["group"][verified],
            payment_token=as_arrow(buyers["card_1"]), shipping_address=as_arrow(buyers["address_1"]))
    # Short ones read like a measured customer: mostly 4 stars, some 3, with a mild criticism.
    short = r["short"]
    rating = np.where(short, rng.choice([5, 4, 3], len(short), p=[0.1, 0.6, 0.3]), r["rating"])
    world.add_reviews(review_frame(account=account, product=r["product"], created=created, order=order,
                                   rating=rating, language=np.zeros(len(account), np.int64),
                                   text_kind=np.where(short, TEXT_AI_SHORT, TEXT_AI), kind=AI, group=r["group"]))


def _sleeper_accounts(world: World, group: np.ndarray) -> pd.DataFrame:
    """Ordinary-looking accounts, created before any of their activity can happen."""
    rng, n = world.rng, len(group)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
    # Campaigns start on day 14 or later and backing orders precede reviews by under 9 days.
    latest = 4 * DAY - rng.integers(0, 30 * DAY, n)
    created = np.minimum(ordinary_creation_times(rng, n, world.window), latest)
    return make_accounts(rng, created, country, kind=AI, group=group, disposable_share=0.03)


CARD_TESTING_STATUS_SHARES = np.array([0.08, 0.08, 0.24, 0.32, 0.0, 0.28])  # placed..chargeback
STOLEN_CARD_STATUS_SHARES = np.array([0.03, 0.07, 0.20, 0.10, 0.05, 0.55])


def inject_card_testing(world: World, budget: int) -> None:
    """Crews of mostly brand-new accounts firing many small orders on a few shared (stolen) cards
    to see which ones work: a burst of hours, throwaway emails, scattered shipping addresses.
    Anti-detect crews change device, card and IP with every order; some members use old
    accounts, mostly taken over from real customers; some orders are for mid-priced items."""
    rng, window, price = world.rng, world.window, world.products["price"].to_numpy()
    cheap = cheap_products(world.products)
    mid_priced = np.flatnonzero((price > 10) & (price <= 60))
    mid_priced = mid_priced if len(mid_priced) else cheap
    members, orders, drop_countries, ip_pool = Batch(), Batch(), Batch(), Batch()
    n_members_so_far = n_devices = n_ips = n_cards = n_drops = 0
    while budget > 0:
        group = world.new_group()
        n_members = int(rng.integers(2, 7))
        orders_per_member = rng.integers(2, 9, n_members)
        n_orders = min(budget, int(orders_per_member.sum()))
        budget -= n_orders
        burst_start = rng.integers(4 * DAY, window.seconds - DAY)
        burst_length = rng.integers(HOUR, 24 * HOUR)
        # Anti-detect crews spoof a new device fingerprint for every order, cycle through a list
        # of cards (one attempt each) and rotate residential proxies: nothing repeats but timing.
        spoofing = rng.random() < ANTI_DETECT_CREW_SHARE
        if spoofing:
            crew_devices = crew_cards = crew_ips = n_orders
        else:
            crew_devices, crew_ips, crew_cards = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        # Most members signed up days ago; some log into old accounts, bought or taken over.
        aged = rng.random(n_members) < AGED_TESTER_SHARE
        country = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        members.add(created=burst_start - np.where(aged, rng.integers(60 * DAY, 900 * DAY, n_members),
                                                   rng.integers(2 * HOUR, 3 * DAY, n_members)),
                    country=np.full(n_members, country), group=np.full(n_members, group),
                    disposable=np.where(aged, 0.1, 0.6), takeover=aged & (rng.random(n_members) < TAKEOVER_SHARE),
                    device_slot=np.where(spoofing, -1, n_devices + rng.integers(0, crew_devices, n_members)),
                    ip_slot=np.where(spoofing, -1, n_ips + rng.integers(0, crew_ips, n_members)))
        ip_pool.add(country=np.full(crew_ips, country), hosting=np.full(crew_ips, not spoofing))
        drop_countries.add(country=rng.choice(len(COUNTRIES), p=COUNTRY_SHARES))

        buyer = rng.permutation(np.repeat(np.arange(n_members), orders_per_member))[:n_orders]
        product = np.where(rng.random(n_orders) < MID_PRICED_TEST_SHARE, rng.choice(mid_priced, n_orders),
                           rng.choice(cheap, n_orders))
        orders.add(member=n_members_so_far + buyer, product=product,
                   created=np.minimum(burst_start + rng.integers(0, burst_length, n_orders), window.seconds - 1),
                   quantity=rng.choice([1, 1, 1, 2], n_orders),
                   status=rng.choice(len(STATUSES), n_orders, p=CARD_TESTING_STATUS_SHARES),
                   device_slot=n_devices + (np.arange(n_orders) if spoofing else rng.integers(0, crew_devices, n_orders)),
                   ip_slot=n_ips + (np.arange(n_orders) if spoofing else rng.integers(0, crew_ips, n_orders)),
                   card_slot=n_cards + (np.arange(n_orders) if spoofing else rng.integers(0, crew_cards, n_orders)),
                   drop_slot=np.where(rng.random(n_orders) < (0.85 if spoofing else 0.6), -1, n_drops),
                   group=np.full(n_orders, group))
        n_members_so_far += n_members
        n_devices, n_ips, n_cards, n_drops = n_devices + crew_devices, n_ips + crew_ips, n_cards + crew_cards, n_drops + 1
    if not orders:
        return

    m, o = members.arrays(), orders.arrays()
    # Taken-over accounts are real customers' (they stay clean in the truth: victims); the
    # crew's own accounts are new rows.
    existing = world.accounts()
    victims = np.flatnonzero((existing["kind"].to_numpy() == CLEAN) & (existing["created"].to_numpy() < 0))
    taken = m["takeover"] & (len(victims) > 0)
    own = ~taken
    accounts = make_accounts(rng, m["created"][own], m["country"][own], kind=CARD_TESTING, group=m["group"][own],
                             disposable_share=m["disposable"][own])
    ips = ip_pool.arrays()
    device_pool, ip_pool = device_ids(rng, n_devices), _shared_ip_pool(rng, ips["country"], ips["hosting"])
    _share_identifiers(accounts, "device_id", m["device_slot"][own], device_pool)
    _share_identifiers(accounts, "ip", m["ip_slot"][own], ip_pool)
    victim_idx = rng.choice(victims, int(taken.sum()), replace=int(taken.sum()) > len(victims)) if taken.any() \
        else np.zeros(0, np.int64)
    member_idx = np.empty(len(own), np.int64)
    member_idx[own], member_idx[taken] = world.add_accounts(accounts), victim_idx
    member_row = np.empty(len(own), np.int64)
    member_row[own], member_row[taken] = np.arange(int(own.sum())), own.sum() + np.arange(int(taken.sum()))
    accounts = pd.concat([accounts, take_rows(existing, victim_idx)], ignore_index=True)
    n = len(o["member"])
    scattered = addresses(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES))
    drop = addresses(rng, drop_countries.arrays()["country"]).take(pa.array(np.maximum(o["drop_slot"], 0)))
    world.add_orders(order_frame(
        world, member_idx[o["member"]], take_rows(accounts, member_row[o["member"]]), product=o["product"],
        created=o["created"],
        quantity=o["quantity"], status=as_of_window_end(o["status"], o["created"], window),
        device_id=device_pool.take(pa.array(o["device_slot"])),
        ip=ip_pool.take(pa.array(o["ip_slot"])), payment_token=payment_tokens(rng, n_cards).take(pa.array(o["card_slot"])),
        shipping_address=pc.if_else(pa.array(o["drop_slot"] < 0), scattered, drop), kind=CARD_TESTING, group=o["group"]))


def inject_stolen_cards(world: World, budget: int) -> None:
    """Expensive electronics bought with a stolen card from a fresh device, foreign IP and a new
    shipping address: half by brand-new accounts, half by taken-over legitimate accounts (which
    stay clean in the truth: they are victims). One to three orders per incident, within hours."""
    rng, window = world.rng, world.window
    expensive = expensive_electronics(world.products)
    existing = world.accounts()
    victims = np.flatnonzero((existing["kind"].to_numpy() == CLEAN) & (existing["created"].to_numpy() < 0))

    sizes = split_budget(rng, budget, 1, 4)
    n_incidents = len(sizes)
    group = np.array([world.new_group() for _ in range(n_incidents)])
    start = rng.integers(DAY, window.seconds - HOUR, n_incidents)
    takeover = (rng.random(n_incidents) < 0.5) & (len(victims) > 0)
    n_new = int((~takeover).sum())
    new_accounts = make_accounts(rng, start[~takeover] - rng.integers(HOUR, 2 * DAY, n_new),
                                 rng.choice(len(COUNTRIES), n_new, p=COUNTRY_SHARES), kind=STOLEN_CARD,
                                 group=group[~takeover], disposable_share=0.3)
    taken_over = rng.choice(victims, int(takeover.sum())) if takeover.any() else np.array([], np.int64)
    thieves = pd.concat([new_accounts, take_rows(existing, taken_over)], ignore_index=True)
    thief_idx = np.concatenate([world.add_accounts(new_accounts), taken_over])
    thief_of_incident = np.empty(n_incidents, np.int64)
    thief_of_incident[~takeover] = np.arange(n_new)
    thief_of_incident[takeover] = n_new + np.arange(int(takeover.sum()))

    incident = np.repeat(np.arange(n_incidents), sizes)
    n = len(incident)
    per_incident = pa.array(incident)
    created = np.minimum(start[incident] + rng.integers(0, 12 * HOUR, n), window.seconds - 1)
    status = as_of_window_end(rng.choice(len(STATUSES), n, p=STOLEN_CARD_STATUS_SHARES), created, window)
    world.add_orders(order_frame(
        world, thief_idx[thief_of_incident[incident]], take_rows(thieves, thief_of_incident[incident]),
        product=rng.choice(expensive, n), created=created, quantity=rng.choice([1, 1, 1, 2, 3], n), status=status,
        device_id=device_ids(rng, n_incidents).take(per_incident),
        ip=_shared_ip_pool(rng, rng.integers(0, len(COUNTRIES), n_incidents),
                           rng.random(n_incidents) < 0.6).take(per_incident),
        payment_token=payment_tokens(rng, n_incidents).take(per_incident),
        shipping_address=addresses(rng, rng.integers(0, len(COUNTRIES), n_incidents)).take(per_incident),
        kind=STOLEN_CARD, group=group[incident]))


def inject_refund_abuse(world: World, budget: int) -> None:
    """Groups of established accounts shipping to a couple of shared addresses whose orders are
    mostly refunded, and solo abusers. Only the refunded orders are fraud; the rest are ordinary
    purchases."""
    rng, window, products = world.rng, world.window, world.products
    members, orders, address_pool = Batch(), Batch(), Batch()
    n_members_so_far = n_addresses = 0
    while budget > 0:
        group = world.new_group()
        # Solo abusers ("wardrobing") share nothing: only their refund rate sets them apart.
        solo = rng.random() < REFUND_SOLO_SHARE
        n_members = 1 if solo else int(rng.integers(2, 6))
        country = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        group_addresses = 0 if solo else 1 if n_members < 4 else int(rng.integers(1, 3))
        created = np.minimum(ordinary_creation_times(rng, n_members, window), window.seconds - 30 * DAY)
        # Round-robin, so that every address of the group is shared by at least two members.
        members.add(created=created, country=np.full(n_members, country), group=np.full(n_members, group),
                    address_slot=np.full(1, -1) if solo else n_addresses + np.arange(n_members) % group_addresses)
        address_pool.add(country=np.full(group_addresses, country))

        buyer = np.repeat(np.arange(n_members), rng.integers(4, 13, n_members))
        created_at = event_times(rng, window, created[buyer])
        settled = window.seconds - created_at >= 6 * DAY
        refunded = (rng.random(len(buyer)) < rng.uniform(0.3, 0.75)) & settled
        refunded[np.flatnonzero(refunded)[budget:]] = False  # trim the last group to the budget
        budget -= int(refunded.sum())
        orders.add(member=n_members_so_far + buyer, created=created_at, refunded=refunded,
                   group=np.full(len(buyer), group))
        n_members_so_far += n_members
        n_addresses += group_addresses
        if not refunded.any():
            break  # nothing settles in time to be refunded; avoid looping forever
    if not orders:
        return

    m, o = members.arrays(), orders.arrays()
    accounts = make_accounts(rng, m["created"], m["country"], kind=REFUND_ABUSE, group=m["group"])
    shared = addresses(rng, address_pool.arrays()["country"])
    _share_identifiers(accounts, "address_2", m["address_slot"], shared)
    # A quarter of them send most parcels home and only some to the shared drop.
    _share_identifiers(accounts, "address_1", np.where(rng.random(len(accounts)) < 0.25, -1, m["address_slot"]),
                       shared)
    member_idx = world.add_accounts(accounts)
    buyers = take_rows(accounts, o["member"])
    refunded, n = o["refunded"], len(o["member"])
    ordinary = clean_statuses(rng, o["created"], window)
    status = np.where(refunded, REFUNDED, np.where(ordinary == REFUNDED, DELIVERED, ordinary))
    frame = order_frame(
        world, member_idx[o["member"]], buyers,
        product=rng.choice(len(products), n, p=products["popularity"].to_numpy()), created=o["created"],
        quantity=quantities(rng, n), status=status, kind=np.where(refunded, REFUND_ABUSE, CLEAN), group=o["group"],
        **usual_identifiers(rng, buyers))
    first = world.n_orders
    world.add_orders(frame)
    # They review like customers, complaining about what they sent back (the reviews are genuine
    # in the sense of the truth table: the fraud is the refund).
    world.add_reviews(make_verified_reviews(world, frame, first))
