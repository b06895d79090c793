"""Adapters from the public fraud data sets in ../shared/data to fraudlens input tables.

The tables they return follow marketplace/contract.py, so they go through ``ingest`` like any
marketplace's tables (validation, PII hashing) before features or models see them.

S-FFSD (card transactions) -> orders + products + labels:
- ``Source`` -> account_id, ``Target`` -> seller_id, and one product per merchant
  (``<Target>-item``): the data set has no products, and the contract needs one per order.
- ``Location`` -> shipping_address, ``Type`` -> device_id. Both are shared attributes that link
  orders (the data set's own graph links transactions through them). They go to *identifier*
  columns, not categories, so the marketplace graph gives them identity nodes (address, device)
  the way it does for real shared addresses and devices; ingest hashes them like any raw
  identifier. ``Type`` is a transaction channel/type code, closer to "the terminal or device
  used" than to a card token (one card per buyer would be ``Source`` again), hence device_id.
- ``Time`` (an event index 0..77880) -> created_at as a synthetic monotone timestamp, one
  minute per event from 2020-01-01: only the order of events is real, so features may use
  differences and orderings of created_at but must not read clock time into them.
- ``Amount`` -> amount, currency constant "USD", status constant "placed": the data set has no
  order status, and a status like chargeback would be the label itself.
- ``Labels`` 0/1 -> labels rows (entity_type "order"); 2 means unlabelled and gets no row.

YelpChi (review graph) -> reviews + labels:
- ``user_id`` -> account_id (``u<id>``), ``product_id`` -> product_id (``p<id>``), empty text,
  rating 3 and one constant created_at (the set ships no text, ratings or dates; a constant
  keeps row order from posing as time).
- The three priors are the kind of behavioural score a platform computes itself, so they are
  platform signals of the reviews (``signal_user_prior``, ``signal_review_prior``,
  ``signal_product_prior``): ingest validates them and they become review features like any
  marketplace's signals (docs/data-contract.md).

    python -m fraudlens.marketplace.adapters sffsd OUT_DIR [--data-dir ../shared/data]
    python -m fraudlens.marketplace.adapters yelpchi OUT_DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
SFFSD_FILE = Path("sffsd") / "S-FFSD.csv"
YELPCHI_FILE = Path("yelpchi") / "reviews.csv"
SYNTHETIC_EPOCH = pd.Timestamp("2020-01-01")
SFFSD_UNLABELLED = 2
# Which contract column each shared S-FFSD attribute becomes (see the module docstring).
SFFSD_ATTRIBUTE_COLUMNS = {"Location": "shipping_address", "Type": "device_id"}
PRIOR_COLUMNS = ("user_prior", "review_prior", "product_prior")


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: data file not found - pass --data-dir pointing at the shared data "
                                "directory (see ../shared/data/README.md)")
    return path


def sffsd_tables(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """S-FFSD rows (Time, Source, Target, Amount, Location, Type, Labels) -> orders, products, labels."""
    raw = raw.sort_values("Time", kind="stable").reset_index(drop=True)
    order_id = "o" + raw["Time"].astype("int64").astype(str)
    seller = raw["Target"].astype(str)
    orders = pd.DataFrame({
        "order_id": order_id,
        "account_id": raw["Source"].astype(str),
        "product_id": seller + "-item",
        "seller_id": seller,
        "amount": raw["Amount"].astype("float64"),
        "currency": "USD",
        "created_at": SYNTHETIC_EPOCH + pd.to_timedelta(raw["Time"].astype("int64"), unit="min"),
        "status": "placed",
    })
    for source, column in SFFSD_ATTRIBUTE_COLUMNS.items():
        orders[column] = raw[source].astype(str)
    merchants = pd.unique(seller)
    products = pd.DataFrame({
        "product_id": merchants + "-item",
        "seller_id": merchants,
        "category": "card_payment",
        # No list price in the data: the merchant's median amount is the closest stand-in.
        "price": raw.groupby(seller)["Amount"].median().reindex(merchants).to_numpy(dtype="float64"),
    })
    labelled = raw["Labels"] != SFFSD_UNLABELLED
    labels = pd.DataFrame({
        "entity_type": "order",
        "entity_id": order_id[labelled].to_numpy(),
        "is_fraud": raw.loc[labelled, "Labels"].astype("int64").to_numpy(),
        "source": "sffsd",
    })
    return {"orders": orders, "products": products, "labels": labels}


def yelpchi_tables(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """YelpChi rows (review_id, user_id, product_id, is_fraud, priors) -> reviews (priors as signals), labels."""
    review_id = raw["review_id"].astype(str)
    reviews = pd.DataFrame({
        "review_id": review_id,
        "account_id": "u" + raw["user_id"].astype(str),
        "product_id": "p" + raw["product_id"].astype(str),
        "text": "",
        "rating": np.full(len(raw), 3, dtype="int64"),
        "created_at": pd.Series(SYNTHETIC_EPOCH, index=raw.index),
        **{f"signal_{c}": raw[c].astype("float64") for c in PRIOR_COLUMNS},
    })
    labels = pd.DataFrame({
        "entity_type": "review",
        "entity_id": review_id,
        "is_fraud": raw["is_fraud"].astype("int64"),
        "source": "yelp_filter",
    })
    return {"reviews": reviews, "labels": labels}


def load_sffsd(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, pd.DataFrame]:
    return sffsd_tables(pd.read_csv(_require(Path(data_dir) / SFFSD_FILE)))


def load_yelpchi(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, pd.DataFrame]:
    return yelpchi_tables(pd.read_csv(_require(Path(data_dir) / YELPCHI_FILE)))


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Writes each table as OUT/<name>.parquet."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        paths[name] = out_dir / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths


def write_sffsd(data_dir: Path, out_dir: Path) -> dict[str, Path]:
    return write_tables(load_sffsd(data_dir), out_dir)


def write_yelpchi(data_dir: Path, out_dir: Path) -> dict[str, Path]:
    return write_tables(load_yelpchi(data_dir), out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraudlens.marketplace.adapters", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=("sffsd", "yelpchi"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    writer = write_sffsd if args.dataset == "sffsd" else write_yelpchi
    try:
        paths = writer(args.data_dir, args.out_dir)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
