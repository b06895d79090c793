"""The marketplace under construction: its time window, its product catalogue, and the accounts,
orders and reviews that each generation step appends to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudlens.marketplace.synthetic.vocabulary import CATEGORIES, CLEAN, DAY, ELECTRONICS


@dataclass(frozen=True)
class Window:
    start: np.datetime64
    days: int

    @property
    def seconds(self) -> int:
        return self.days * DAY

    def timestamps(self, seconds: np.ndarray) -> np.ndarray:
        return (self.start + seconds.astype("timedelta64[s]")).astype("datetime64[us]")


class World:
    """Accounts, orders and reviews generated so far, each part indexed globally as it is added.

    Rows refer to each other by these integer indices; public ids are assigned in ``assemble``
    after sorting by time, so neither an id nor a row position reveals how a row was generated.
    """

    def __init__(self, rng: np.random.Generator, window: Window, products: pd.DataFrame):
        self.rng = rng
        self.window = window
        self.products = products
        self._accounts: list[pd.DataFrame] = []
        self._orders: list[pd.DataFrame] = []
        self._reviews: list[pd.DataFrame] = []
        self.n_accounts = self.n_orders = self.n_reviews = self.n_groups = 0

    def add_accounts(self, frame: pd.DataFrame) -> np.ndarray:
        self._accounts.append(frame)
        self.n_accounts += len(frame)
        return np.arange(self.n_accounts - len(frame), self.n_accounts)

    def add_orders(self, frame: pd.DataFrame) -> np.ndarray:
        self._orders.append(frame)
        self.n_orders += len(frame)
        return np.arange(self.n_orders - len(frame), self.n_orders)

    def add_reviews(self, frame: pd.DataFrame) -> None:
        self._reviews.append(frame)
        self.n_reviews += len(frame)

    def one_review_per_product(self) -> None:
        """The platform keeps one review per account and product: later ones are dropped."""
        reviews = self.reviews()
        keep = ~pd.DataFrame({"a": reviews["account"], "p": reviews["product"]}).duplicated().to_numpy()
        self._reviews = [reviews[keep].reset_index(drop=True)]
        self.n_reviews = int(keep.sum())

    def n_fraud_orders(self) -> int:
        return sum(int((frame["kind"] != CLEAN).sum()) for frame in self._orders)

    def new_group(self) -> int:
        self.n_groups += 1
        return self.n_groups - 1

    def accounts(self) -> pd.DataFrame:
        return _concat(self._accounts)

    def orders(self) -> pd.DataFrame:
        return _concat(self._orders)

    def reviews(self) -> pd.DataFrame:
        return _concat(self._reviews)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.iloc[positions].reset_index(drop=True)


class Batch:
    """Per-group arrays collected in a loop and concatenated once afterwards."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray | int) -> None:
        for name, values in columns.items():
            self._parts.setdefault(name, []).append(np.atleast_1d(np.asarray(values)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self._parts.items()}

    def __bool__(self) -> bool:
        return bool(self._parts)


def split_budget(rng: np.random.Generator, budget: int, low: int, high: int) -> np.ndarray:
    """Random group sizes in [low, high) adding up to exactly ``budget`` (the last one trimmed)."""
    sizes = rng.integers(low, high, max(1, budget // low + 1))
    total = np.cumsum(sizes)
    last = int(np.searchsorted(total, budget))
    sizes = sizes[:last + 1]
    sizes[-1] -= total[last] - budget
    return sizes


def make_products(rng: np.random.Generator, n_products: int, n_sellers: int) -> pd.DataFrame:
    shares = np.array([c[0] for c in CATEGORIES.values()])
    category = rng.choice(len(CATEGORIES), n_products, p=shares / shares.sum())
    median = np.array([c[1] for c in CATEGORIES.values()])[category]
    log_sd = np.array([c[2] for c in CATEGORIES.values()])[category]
    price = np.round(np.maximum(0.99, median * np.exp(rng.normal(0, log_sd))), 2)
    # Every seller gets at least one product; beyond that, seller size is heavy-tailed.
    seller_weight = rng.lognormal(0, 1.0, n_sellers)
    seller = np.concatenate([rng.permutation(n_sellers),
                             rng.choice(n_sellers, n_products - n_sellers, p=seller_weight / seller_weight.sum())])
    popularity_rank = rng.permutation(n_products) + 1
    popularity = 1.0 / popularity_rank ** 1.1  # Zipf-like: a few bestsellers, a long tail
    return pd.DataFrame({
        "seller": seller,
        "category": category,
        "price": price,
        "popularity": popularity / popularity.sum(),
        "quality": rng.normal(0, 1, n_products),  # tilts the product's ratings
    })


def seller_products(world: World, n_wanted: int) -> np.ndarray:
    """A few products of one seller, picked with probability proportional to its catalogue."""
    rng, seller = world.rng, world.products["seller"].to_numpy()
    owner = seller[rng.integers(0, len(seller))]
    catalogue = np.flatnonzero(seller == owner)
    return rng.choice(catalogue, min(n_wanted, len(catalogue)), replace=False)


def cheap_products(products: pd.DataFrame) -> np.ndarray:
    price = products["price"].to_numpy()
    cheap = np.flatnonzero(price <= 10)
    return cheap if len(cheap) >= 3 else np.argsort(price, kind="stable")[:3]


def expensive_electronics(products: pd.DataFrame) -> np.ndarray:
    price = products["price"].to_numpy()
    electronics = np.flatnonzero(products["category"].to_numpy() == ELECTRONICS)
    candidates = electronics if len(electronics) >= 3 else np.arange(len(products))
    return candidates[price[candidates] >= np.quantile(price[candidates], 0.6)]
