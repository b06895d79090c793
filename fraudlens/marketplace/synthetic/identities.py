"""Who acts on the marketplace: identifiers (emails, devices, IPs, payment tokens, addresses) and
the accounts that own them, with the clean households and offices that share them.

Every account starts with identifiers of its own; sharing is modelled by overwriting them with a
group's, so a shared identifier looks like any other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.shares import (
    CLEAN_REFUND_SHARE,
    HOUSEHOLD_ACCOUNT_SHARE,
    NON_REVIEWER_SHARE,
    NON_SHOPPER_SHARE,
    RETURNER_HOUSEHOLD_SHARE,
    SERIAL_RETURNER_SHARE,
)
from fraudlens.marketplace.synthetic.strings import STR, Pools, as_column, join, keep_where, number_strings, random_codes
from fraudlens.marketplace.synthetic.vocabulary import CLEAN, COUNTRIES, COUNTRY_CODES, COUNTRY_SHARES, DAY, NO_GROUP
from fraudlens.marketplace.synthetic.world import Window

FIRST_NAMES = (
    "james", "mary", "john", "linda", "david", "sarah", "michael", "emma", "daniel", "olivia", "lukas",
    "anna", "leon", "sofia", "lucas", "chloe", "hugo", "ines", "marco", "giulia", "pablo", "lucia", "jan",
    "eva", "noah", "mia", "liam", "ava", "arjun", "priya", "rahul", "ananya", "jack", "grace", "tom",
    "lily", "max", "lea", "pierre", "camille", "carlos", "elena", "sam", "nina", "oscar", "zoe",
)
LAST_NAMES = (
    "smith", "johnson", "brown", "miller", "wilson", "taylor", "clark", "lewis", "walker", "young",
    "mueller", "schmidt", "schneider", "fischer", "weber", "martin", "bernard", "dubois", "moreau",
    "garcia", "lopez", "martinez", "sanchez", "rossi", "russo", "bianchi", "jansen", "devries", "kowalski",
    "nowak", "sharma", "patel", "singh", "kumar", "murphy", "kelly", "obrien", "wright", "hill", "green",
)
EMAIL_DOMAINS = (
    ("gmail.com",) * 6 + ("yahoo.com", "outlook.com", "outlook.com", "hotmail.com", "icloud.com",
                          "proton.me", "aol.com", "gmx.de", "web.de", "orange.fr", "free.fr",
                          "yahoo.es", "libero.it", "btinternet.com", "live.co.uk")
)
DISPOSABLE_DOMAINS = ("mailinator.com", "tempmail.net", "guerrillamail.com", "10minutemail.com",
                      "trashmail.io", "yopmail.com", "dropmail.me")
STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Lake", "Hill", "Park", "Main", "Church", "Mill", "River",
    "Station", "Garden", "Highland", "Sunset", "Willow", "Meadow", "Forest", "Bridge", "King", "Queen",
    "Victoria", "Harbour", "Orchard", "Chestnut", "Spring", "Valley", "Ridge", "Walnut", "Birch", "Market",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Blvd", "Way", "Dr", "Ct", "Pl")
HEX = b"0123456789abcdef"
BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = b"0123456789abcdefghijklmnopqrstuvwxyz"
HOSTING_OCTETS = (5, 45, 104, 185, 193)  # VPN / data-centre ranges fraudsters route through


_COUNTRY_OCTETS = Pools([[str(o) for o in c[4]] for c in COUNTRIES])
_HOSTING_OCTETS = Pools.single([str(o) for o in HOSTING_OCTETS])
_CITIES = Pools([c[5] for c in COUNTRIES])
_FIRST_NAMES = Pools.single(FIRST_NAMES)
_LAST_NAMES = Pools.single(LAST_NAMES)
_EMAIL_DOMAINS = Pools.single(EMAIL_DOMAINS)
_DISPOSABLE_DOMAINS = Pools.single(DISPOSABLE_DOMAINS)
_STREETS = Pools.single(STREET_NAMES)
_STREET_SUFFIXES = Pools.single(STREET_SUFFIXES)
_EMAIL_SEPARATORS = Pools.single((".", ".", "", "_"))


def device_ids(rng: np.random.Generator, n: int) -> pa.Array:
    return join(["dev-", random_codes(rng, n, 12, HEX)], "")


def payment_tokens(rng: np.random.Generator, n: int) -> pa.Array:
    return join(["tok_", random_codes(rng, n, 16, BASE62)], "")


def _ips(rng: np.random.Generator, first_octets: pa.Array) -> pa.Array:
    n = len(first_octets)
    rest = [number_strings(rng.integers(0, 256, n)), number_strings(rng.integers(0, 256, n)), number_strings(rng.integers(1, 255, n))]
    return join([first_octets, *rest], ".")


def country_ips(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    return _ips(rng, _COUNTRY_OCTETS.sample(rng, country))


def hosting_ips(rng: np.random.Generator, n: int) -> pa.Array:
    return _ips(rng, _HOSTING_OCTETS.sample(rng, 0, n))


def addresses(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = len(country)
    street = join([number_strings(rng.integers(1, 3000, n)), _STREETS.sample(rng, 0, n),
                   _STREET_SUFFIXES.sample(rng, 0, n)], " ")
    town = join([_CITIES.sample(rng, country), number_strings(rng.integers(10_000, 99_999, n))], " ")
    return join([street, town, pa.array(np.array(COUNTRY_CODES)[country], STR)], ", ")


def _emails(rng: np.random.Generator, n: int, disposable_share: float) -> pa.Array:
    first, last = _FIRST_NAMES.sample(rng, 0, n), _LAST_NAMES.sample(rng, 0, n)
    initial_only = pa.array(rng.random(n) < 0.2)
    first = pc.if_else(initial_only, pc.utf8_slice_codeunits(first, 0, 1), first)
    year_or_number = np.where(rng.random(n) < 0.5, rng.integers(1960, 2006, n), rng.integers(1, 1000, n))
    suffix = keep_where(rng, number_strings(year_or_number), 0.55)
    local = join([first, _EMAIL_SEPARATORS.sample(rng, 0, n), last, suffix], "")
    personal = join([local, _EMAIL_DOMAINS.sample(rng, 0, n)], "@")
    throwaway = join([random_codes(rng, n, 9, BASE36), _DISPOSABLE_DOMAINS.sample(rng, 0, n)], "@")
    return pc.if_else(pa.array(rng.random(n) < disposable_share), throwaway, personal)


def _pool_pick(rng: np.random.Generator, pool: pa.Array, n: int) -> pa.Array:
    return pool.take(pa.array(rng.integers(0, len(pool), n)))


def make_accounts(rng: np.random.Generator, created: np.ndarray, country: np.ndarray, *, kind: int,
                  group: int | np.ndarray = NO_GROUP, disposable_share: float = 0.01) -> pd.DataFrame:
    """Accounts with their own fresh identifiers; callers override these to model sharing.

    Besides the public primary device/IP, each account owns a second device, up to two cards
    and up to two shipping addresses, which its orders draw from."""
    n = len(created)
    device = device_ids(rng, n)
    card = payment_tokens(rng, n)
    address = addresses(rng, country)
    return pd.DataFrame({
        "created": created.astype(np.int64),
        "country": country,
        "email": as_column(_emails(rng, n, disposable_share)),
        "device_id": as_column(device),
        "ip": as_column(country_ips(rng, country)),
        "device_2": as_column(pc.if_else(pa.array(rng.random(n) < 0.35), device_ids(rng, n), device)),
        "card_1": as_column(card),
        "card_2": as_column(pc.if_else(pa.array(rng.random(n) < 0.3), payment_tokens(rng, n), card)),
        "address_1": as_column(address),
        "address_2": as_column(pc.if_else(pa.array(rng.random(n) < 0.2), addresses(rng, country), address)),
        "activity": rng.lognormal(0, 1.2, n),
        "kind": np.full(n, kind),
        "group": np.broadcast_to(group, n).copy(),
        "household": np.full(n, NO_GROUP),
        "refunds": np.full(n, CLEAN_REFUND_SHARE),  # how often the account's ordinary orders get refunded
        "shopper": np.ones(n, bool),  # places ordinary orders on this account
        "reviewer": np.ones(n, bool),  # reviews (some of) what it buys
        "office": np.zeros(n, bool),
    })


def ordinary_creation_times(rng: np.random.Generator, n: int, window: Window) -> np.ndarray:
    """Most accounts predate the window (years back); some sign up during it."""
    is_new = rng.random(n) < 0.15
    before = -rng.exponential(500 * DAY, n).clip(max=8 * 365 * DAY)
    during = rng.uniform(0, window.seconds - DAY, n)
    return np.where(is_new, during, before).astype(np.int64)


def _households(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """HOUSEHOLD_ACCOUNT_SHARE of the accounts in households of 2-6; returns each account's
    household (-1 for none) and the household's first account (-1 for none)."""
    household, head = np.full(n, NO_GROUP), np.full(n, NO_GROUP)
    sizes = rng.integers(2, 7, max(0, round(n * HOUSEHOLD_ACCOUNT_SHARE / 4)))
    sizes = sizes[np.cumsum(sizes) <= n]
    if len(sizes) == 0:
        return household, head
    members = rng.permutation(n)[:sizes.sum()]
    which = np.repeat(np.arange(len(sizes)), sizes)
    household[members] = which
    head[members] = members[(np.cumsum(sizes) - sizes)[which]]
    return household, head


def make_clean_accounts(rng: np.random.Generator, n: int, window: Window) -> pd.DataFrame:
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
    household, head = _households(rng, n)
    in_household = household >= 0
    country = np.where(in_household, country[np.maximum(head, 0)], country)
    accounts = make_accounts(rng, ordinary_creation_times(rng, n, window), country, kind=CLEAN)
    n_households = int(household.max()) + 1 if in_household.any() else 0
    office = rng.random(n_households) < 0.25
    returner_household = ~office & (rng.random(n_households) < RETURNER_HOUSEHOLD_SHARE)
    accounts["household"] = household
    accounts["office"] = in_household & office[np.maximum(household, 0)] if n_households else False
    returner = (rng.random(n) < SERIAL_RETURNER_SHARE)
    if n_households:
        returner |= in_household & returner_household[np.maximum(household, 0)]
    accounts["refunds"] = np.where(returner, rng.uniform(0.2, 0.6, n), CLEAN_REFUND_SHARE)
    # Some review here but buy elsewhere (often a household member whose partner orders), and
    # some buy but never review.
    member = np.flatnonzero(in_household & (head != np.arange(n)))
    family_member = np.zeros(n, bool)
    family_member[member] = ~accounts["office"].to_numpy()[member]
    accounts["shopper"] = rng.random(n) >= np.where(family_member, 0.5, NON_SHOPPER_SHARE)
    accounts["reviewer"] = ~accounts["shopper"].to_numpy() | (rng.random(n) >= NON_REVIEWER_SHARE)
    # Households and offices: several clean accounts behind one router, some on the family
    # tablet, some paying with a parent's card; office colleagues share the IP and a company card.
    in_office = accounts["office"].to_numpy()[member]
    for column, home_share, office_share in (("ip", 0.9, 0.95), ("device_id", 0.6, 0.1), ("device_2", 0.3, 0.0),
                                             ("card_1", 0.35, 0.7), ("address_1", 0.8, 0.0)):
        shared = member[rng.random(len(member)) < np.where(in_office, office_share, home_share)]
        accounts.loc[shared, column] = accounts[column].to_numpy()[head[shared]]
    # Looser sharing: a relative's device, card or address now and then; carriers' NAT shares IPs.
    family = np.flatnonzero(rng.random(n) < 0.04)
    relative = rng.integers(0, n, len(family))
    for column, share in (("device_id", 0.6), ("card_1", 0.3), ("address_1", 0.7)):
        shared = rng.random(len(family)) < share
        accounts.loc[family[shared], column] = accounts[column].to_numpy()[relative[shared]]
    behind_nat = np.flatnonzero(rng.random(n) < 0.08)
    nat_pool = country_ips(rng, rng.choice(len(COUNTRIES), max(3, n // 60), p=COUNTRY_SHARES))
    accounts.loc[behind_nat, "ip"] = as_column(_pool_pick(rng, nat_pool, len(behind_nat)))
    return accounts
