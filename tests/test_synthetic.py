"""Behaviour of the synthetic marketplace generator (marketplace/synthetic.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketplace.synthetic import generate_marketplace, read_marketplace, write_marketplace

SCHEMA = {
    "reviews": {"review_id": "str", "account_id": "str", "product_id": "str", "text": "str", "rating": "int",
                "created_at": "datetime", "order_id": "str", "helpful_votes": "int", "language": "str"},
    "orders": {"order_id": "str", "account_id": "str", "product_id": "str", "seller_id": "str", "amount": "float",
               "currency": "str", "created_at": "datetime", "status": "str", "device_id": "str", "ip": "str",
               "payment_token": "str", "shipping_address": "str", "email": "str"},
    "products": {"product_id": "str", "seller_id": "str", "category": "str", "price": "float"},
    "accounts": {"account_id": "str", "created_at": "datetime", "country": "str", "email": "str", "device_id": "str",
                 "ip": "str"},
    "labels": {"entity_type": "str", "entity_id": "str", "is_fraud": "int", "source": "str", "labeled_at": "datetime"},
    "truth": {"entity_type": "str", "entity_id": "str", "is_fraud": "int", "fraud_kind": "str"},
}
DTYPE_CHECKS = {
    "str": pd.api.types.is_string_dtype,
    "int": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "datetime": pd.api.types.is_datetime64_dtype,
}
KEYS = {"reviews": "review_id", "orders": "order_id", "products": "product_id", "accounts": "account_id"}
START, DAYS = pd.Timestamp("2026-01-01"), 120


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_marketplace(seed=11, scale=3000)


@pytest.fixture(scope="module")
def reviews(market) -> pd.DataFrame:
    """Reviews with their true fraud kind and word count."""
    return _with_truth(market, "reviews", "review").assign(words=lambda r: r["text"].str.split().str.len())


@pytest.fixture(scope="module")
def orders(market) -> pd.DataFrame:
    return _with_truth(market, "orders", "order")


@pytest.fixture(scope="module")
def accounts(market) -> pd.DataFrame:
    return _with_truth(market, "accounts", "account")


def _with_truth(market, table: str, entity: str) -> pd.DataFrame:
    truth = market["truth"][market["truth"]["entity_type"] == entity].set_index("entity_id")["fraud_kind"]
    frame = market[table].copy()
    frame["fraud_kind"] = frame[KEYS[table]].map(truth)
    return frame


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_tables():
    first, second = generate_marketplace(3, 400), generate_marketplace(3, 400)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_different_seeds_give_different_marketplaces():
    first, second = generate_marketplace(3, 400), generate_marketplace(4, 400)
    assert not first["reviews"]["text"].equals(second["reviews"]["text"])
    assert not first["orders"]["amount"].equals(second["orders"]["amount"])
    assert set(first["orders"]["device_id"]).isdisjoint(second["orders"]["device_id"])


# --- schema and referential integrity ----------------------------------------------------------


def test_tables_have_exactly_the_contract_columns_and_dtypes(market):
    assert set(market) == set(SCHEMA)
    for name, columns in SCHEMA.items():
        assert list(market[name].columns) == list(columns), name
        for column, kind in columns.items():
            assert DTYPE_CHECKS[kind](market[name][column]), (name, column, market[name][column].dtype)


def test_only_order_id_has_missing_values(market):
    for name, table in market.items():
        missing = table.isna().any()
        assert list(missing[missing].index) == (["order_id"] if name == "reviews" else []), name


def test_ids_are_unique_and_prefixed(market):
    for table, key in KEYS.items():
        ids = market[table][key]
        assert ids.is_unique, table
        assert ids.str.fullmatch(rf"{key[0]}\d{{6,}}").all(), table


def test_sizes_follow_scale(market):
    assert 0.7 * 3000 <= len(market["reviews"]) <= 1.1 * 3000
    assert 0.9 * 3000 <= len(market["orders"]) <= 1.1 * 3000
    assert 3000 / 4 <= len(market["accounts"]) <= 1.4 * 3000 / 4
    assert len(market["products"]) == 3000 // 15
    assert market["products"]["seller_id"].nunique() == 3000 // 150


def test_every_reference_resolves(market):
    accounts, products = set(market["accounts"]["account_id"]), market["products"].set_index("product_id")
    for table in ("reviews", "orders"):
        assert market[table]["account_id"].isin(accounts).all(), table
        assert market[table]["product_id"].isin(products.index).all(), table
    orders = market["orders"]
    assert (orders["seller_id"] == orders["product_id"].map(products["seller_id"])).all()


def test_verified_reviews_point_to_an_earlier_order_of_the_same_account_and_product(market):
    reviews = market["reviews"].dropna(subset=["order_id"])
    assert len(reviews) > 0
    orders = market["orders"].set_index("order_id").loc[reviews["order_id"]]
    assert (orders["account_id"].to_numpy() == reviews["account_id"].to_numpy()).all()
    assert (orders["product_id"].to_numpy() == reviews["product_id"].to_numpy()).all()
    assert (orders["created_at"].to_numpy() < reviews["created_at"].to_numpy()).all()
    assert orders["status"].isin(["delivered", "refunded"]).all()


def test_activity_happens_after_account_creation_and_inside_the_window(market):
    created = market["accounts"].set_index("account_id")["created_at"]
    end = START + pd.Timedelta(days=DAYS)
    for table in ("reviews", "orders"):
        events = market[table]
        assert (events["created_at"] > events["account_id"].map(created)).all(), table
        assert events["created_at"].between(START, end).all(), table


def test_value_ranges(market):
    reviews, orders, products = market["reviews"], market["orders"], market["products"]
    assert reviews["rating"].between(1, 5).all()
    assert (reviews["helpful_votes"] >= 0).all()
    assert set(reviews["language"]) == {"en", "de", "es", "fr"}
    assert (reviews["language"] == "en").mean() > 0.6
    assert (orders["amount"] >= 0).all()
    assert set(orders["currency"]) == {"USD", "EUR", "GBP"}
    assert set(orders["status"]) <= {"placed", "shipped", "delivered", "cancelled", "refunded", "chargeback"}
    assert (products["price"] > 0).all()
    assert products["category"].nunique() == 12
    assert market["accounts"]["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert market["accounts"]["country"].nunique() >= 8


def test_identifiers_look_like_real_ones(market):
    orders = market["orders"]
    assert orders["device_id"].str.fullmatch(r"dev-[0-9a-f]{12}").all()
    assert orders["payment_token"].str.fullmatch(r"tok_[0-9A-Za-z]{16}").all()
    octets = orders["ip"].str.split(".", expand=True).astype(int)
    assert octets.shape[1] == 4 and octets.le(255).all().all()
    assert orders["email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+").all()
    assert orders["shipping_address"].str.fullmatch(r"\d+ \w+ \w+, [\w ]+ \d{5}, [A-Z]{2}").all()


def test_emails_are_unique_per_account_and_orders_carry_the_account_email(market):
    accounts = market["accounts"].set_index("account_id")
    assert accounts["email"].is_unique
    orders = market["orders"]
    assert (orders["email"] == orders["account_id"].map(accounts["email"])).all()


def test_orders_mostly_reuse_the_account_identifiers(orders, market):
    clean = orders[orders["fraud_kind"] == "none"]
    per_account = clean.groupby("account_id").agg(orders=("order_id", "size"), devices=("device_id", "nunique"),
                                                  cards=("payment_token", "nunique"))
    regulars = per_account[per_account["orders"] >= 5]
    assert (regulars["devices"] <= 2).mean() > 0.9
    assert (regulars["cards"] <= 2).mean() > 0.9
    primary = clean["account_id"].map(market["accounts"].set_index("account_id")["device_id"])
    assert (clean["device_id"] == primary).mean() > 0.6


# --- clean behaviour ---------------------------------------------------------------------------


def test_clean_behaviour_looks_like_a_marketplace(reviews, orders):
    clean_orders = orders[orders["fraud_kind"] == "none"]
    status = clean_orders["status"].value_counts(normalize=True)
    assert status["delivered"] > 0.8
    assert 0.015 < status[["cancelled", "refunded"]].sum() < 0.05
    assert status.get("chargeback", 0) < 0.01
    sales = clean_orders["product_id"].value_counts()
    assert sales.iloc[: len(sales) // 10].sum() > 0.4 * sales.sum()  # heavy-tailed popularity
    hour = clean_orders["created_at"].dt.hour
    assert hour.between(18, 21).mean() > 2 * hour.between(1, 4).mean()  # daily rhythm
    reviewed = reviews["order_id"].notna().sum() / len(orders)
    assert 0.35 <= reviewed <= 0.5
    stars = reviews.loc[reviews["fraud_kind"] == "none", "rating"].value_counts(normalize=True)
    assert stars[5] > stars[4] > stars[3] and stars[1] + stars[2] < 0.25
    assert 0.35 < stars[5] < 0.55


def test_review_text_varies_and_matches_the_rating(reviews):
    clean = reviews[reviews["fraud_kind"] == "none"]
    assert clean["words"].std() > 6
    assert clean["words"].min() <= 2 and clean["words"].max() >= 30
    negative = clean["text"].str.contains(r"disappoint|waste|broke|terrible|avoid|poor|returning", case=False)
    assert negative.sum() > 50
    assert clean.loc[negative, "rating"].mean() < clean.loc[~negative, "rating"].mean() - 1.5
    longer = clean[clean["words"] >= 8]
    assert longer["text"].duplicated().mean() < 0.02
    assert clean["text"].str.contains("!").any() and clean["text"].str.fullmatch(r"[^A-Z]+").any()


# --- injected fraud ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed, scale", [(0, 200), (1, 1000), (11, 3000)])
def test_fraud_rates_stay_within_bounds(seed, scale):
    truth = generate_marketplace(seed, scale)["truth"]
    rate = truth.groupby("entity_type")["is_fraud"].mean()
    assert 0.08 <= rate["review"] <= 0.15
    assert 0.05 <= rate["order"] <= 0.12


def test_truth_covers_every_entity_once(market):
    truth = market["truth"]
    assert not truth.duplicated(["entity_type", "entity_id"]).any()
    for table, key in (("reviews", "review_id"), ("orders", "order_id"), ("accounts", "account_id")):
        covered = truth.loc[truth["entity_type"] == table[:-1], "entity_id"]
        assert set(covered) == set(market[table][key])
    assert ((truth["fraud_kind"] == "none") == (truth["is_fraud"] == 0)).all()
    assert set(truth.loc[truth["entity_type"] == "review", "fraud_kind"]) == {"none", "review_ring", "ai_review"}
    assert {"card_testing", "stolen_card", "refund_abuse"} <= set(truth.loc[truth["entity_type"] == "order",
                                                                            "fraud_kind"])


def test_labels_are_a_consistent_partial_view_of_the_truth(market):
    labels, truth = market["labels"], market["truth"]
    joined = labels.merge(truth, on=["entity_type", "entity_id"], how="left", suffixes=("", "_true"))
    assert joined["is_fraud_true"].notna().all()
    assert (joined["is_fraud"] == joined["is_fraud_true"]).all()
    assert not labels.duplicated(["entity_type", "entity_id"]).any()
    assert set(labels["source"]) <= {"moderation", "chargeback", "manual_review"}
    for entity in ("review", "order"):
        known = truth[truth["entity_type"] == entity].merge(
            labels[["entity_type", "entity_id"]].assign(labelled=True), how="left").fillna({"labelled": False})
        share = known.groupby("is_fraud")["labelled"].mean()
        assert 0.45 < share[1] < 0.75, entity
        assert 0.2 < share[0] < 0.4, entity
    assert labels.loc[labels["entity_type"] == "account", "is_fraud"].sum() > 0
    chargebacks = labels[labels["source"] == "chargeback"]
    assert len(chargebacks) > 0 and (chargebacks["is_fraud"] == 1).all()


def test_labels_come_after_the_labelled_event(market):
    labels = market["labels"]
    for entity, table, key in (("review", "reviews", "review_id"), ("order", "orders", "order_id"),
                               ("account", "accounts", "account_id")):
        mine = labels[labels["entity_type"] == entity]
        happened = mine["entity_id"].map(market[table].set_index(key)["created_at"])
        assert (mine["labeled_at"] > happened).all(), entity


def _share_shared(values: pd.Series) -> float:
    return float((values.map(values.value_counts()) > 1).mean())


def _burstiness(reviews: pd.DataFrame, within: pd.Timedelta = pd.Timedelta(hours=12)) -> float:
    """Share of reviews with another review of the same product (in ``reviews``) close in time."""
    ordered = reviews.sort_values(["product_id", "created_at"])
    same_as_previous = ordered["product_id"].eq(ordered["product_id"].shift())
    gap_before = ordered["created_at"].diff().where(same_as_previous)
    gap_after = gap_before.shift(-1).where(same_as_previous.shift(-1, fill_value=False))
    return float(((gap_before <= within) | (gap_after <= within)).mean())


def test_ring_accounts_share_devices_and_ips_more_than_clean_ones(accounts):
    ring, clean = accounts["fraud_kind"] == "review_ring", accounts["fraud_kind"] == "none"
    for column in ("device_id", "ip"):
        shared = accounts[column].map(accounts[column].value_counts()) > 1
        assert shared[ring].mean() > 0.6, column
        assert shared[ring].mean() > 4 * shared[clean].mean(), column
        assert shared[clean].mean() > 0, column  # households and carriers share too


def test_ring_reviews_are_short_unverified_bursty_five_stars(reviews, market):
    ring, clean = reviews[reviews["fraud_kind"] == "review_ring"], reviews[reviews["fraud_kind"] == "none"]
    assert (ring["rating"] == 5).mean() > 0.85
    assert ring["order_id"].isna().mean() > 0.75 > clean["order_id"].isna().mean()
    assert ring["words"].median() < 8 < clean["words"].median() + 2
    assert ring["text"].duplicated().mean() > 0.25  # copy-pasted scripts
    account_created = market["accounts"].set_index("account_id")["created_at"]
    age = ring["created_at"] - ring["account_id"].map(account_created)
    assert (age < pd.Timedelta(days=60)).mean() > 0.5
    # A ring review has another review of the same product within hours; clean ones rarely do.
    assert _burstiness(ring) > 0.9 > 0.5 > _burstiness(clean[clean["rating"] == 5])
    # Clean data holds the same surface signals, just less often.
    assert ((clean["rating"] == 5) & (clean["words"] <= 4)).sum() > 0
    assert clean["order_id"].isna().mean() > 0.2


def test_ai_reviews_are_long_generic_and_similar_but_not_identical(reviews):
    ai = reviews[reviews["fraud_kind"] == "ai_review"]
    clean = reviews[reviews["fraud_kind"] == "none"]
    assert ai["rating"].isin([4, 5]).all()
    assert ai["words"].median() > 2 * clean["words"].median()
    assert not ai["text"].duplicated().any()
    stock = r"recommend it to|excellent choice for anyone|look no further|fantastic investment for anyone"
    assert ai["text"].str.contains(stock).all()
    assert not clean["text"].str.contains(stock).any()
    assert ai["order_id"].notna().any() and ai["order_id"].isna().any()


def test_card_testing_is_many_small_orders_on_shared_cards(orders, accounts):
    testing, clean = orders[orders["fraud_kind"] == "card_testing"], orders[orders["fraud_kind"] == "none"]
    assert testing["amount"].median() <= 10
    assert testing["status"].isin(["cancelled", "chargeback"]).mean() > 0.5
    accounts_per_card = orders.groupby("payment_token")["account_id"].nunique()
    assert (testing["payment_token"].map(accounts_per_card) > 1).mean() > 0.8
    assert (clean["amount"] <= 10).any()  # legitimate small orders exist
    created = accounts.set_index("account_id")["created_at"]
    assert (testing["created_at"] - testing["account_id"].map(created) < pd.Timedelta(days=4)).all()


def test_stolen_card_orders_are_expensive_electronics_with_fresh_identifiers(orders, market):
    stolen, clean = orders[orders["fraud_kind"] == "stolen_card"], orders[orders["fraud_kind"] == "none"]
    category = market["products"].set_index("product_id")["category"]
    assert (stolen["product_id"].map(category) == "electronics").mean() > 0.9
    assert stolen["amount"].median() > 3 * clean["amount"].median()
    assert (stolen["status"] == "chargeback").mean() > 0.3
    primary = market["accounts"].set_index("account_id")
    assert (stolen["device_id"] != stolen["account_id"].map(primary["device_id"])).all()
    assert (stolen["ip"] != stolen["account_id"].map(primary["ip"])).all()
    usual_addresses = set(clean["shipping_address"])
    assert stolen["shipping_address"].isin(usual_addresses).mean() < 0.1
    # Half are account takeovers: the victim account is clean and also buys normally.
    victims = orders.groupby("account_id")["fraud_kind"].nunique() > 1
    assert stolen["account_id"].map(victims).any()


def test_refund_abuse_is_refunds_to_shared_addresses(orders, accounts):
    abuse = orders[orders["fraud_kind"] == "refund_abuse"]
    assert (abuse["status"] == "refunded").all()
    accounts_per_address = orders.groupby("shipping_address")["account_id"].nunique()
    assert (abuse["shipping_address"].map(accounts_per_address) > 1).mean() > 0.6
    abusers = accounts.loc[accounts["fraud_kind"] == "refund_abuse", "account_id"]
    their_orders = orders[orders["account_id"].isin(abusers)]
    assert (their_orders["status"] == "refunded").mean() > 0.4
    clean = orders[orders["fraud_kind"] == "none"]
    assert (clean["status"] == "refunded").sum() > 0  # legitimate refunds exist


def test_new_accounts_exist_in_clean_data_too(accounts):
    clean = accounts[accounts["fraud_kind"] == "none"]
    assert 0.05 < (clean["created_at"] >= START).mean() < 0.3


# --- scales and files --------------------------------------------------------------------------


def test_smallest_scale_works():
    tables = generate_marketplace(5, 50)
    assert len(tables["reviews"]) > 20 and len(tables["orders"]) > 40
    assert tables["truth"]["is_fraud"].any()


def test_rejects_unusable_arguments():
    with pytest.raises(ValueError):
        generate_marketplace(0, 10)
    with pytest.raises(ValueError):
        generate_marketplace(0, 500, days=7)
    with pytest.raises(ValueError):
        write_marketplace({}, "unused", fmt="json")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_marketplace_round_trips(tmp_path, fmt):
    tables = generate_marketplace(2, 300)
    paths = write_marketplace(tables, tmp_path / "out", fmt=fmt)
    assert paths["truth"] == tmp_path / "out" / "truth" / f"truth.{fmt}"
    assert {p.name for p in (tmp_path / "out").iterdir() if p.is_file()} == {
        f"{name}.{fmt}" for name in ("reviews", "orders", "products", "accounts", "labels")}
    back = read_marketplace(tmp_path / "out", fmt=fmt)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(back[name], table)
    if fmt == "parquet":  # what other modules do: a plain read_parquet
        pd.testing.assert_frame_equal(pd.read_parquet(paths["reviews"]), tables["reviews"])


def test_ids_and_row_order_follow_time_only(market):
    """Fraud is generated after clean data; sorting by time keeps that from leaking into ids."""
    for table, key in (("reviews", "review_id"), ("orders", "order_id"), ("accounts", "account_id")):
        frame = market[table]
        assert frame["created_at"].is_monotonic_increasing, table
        assert frame[key].is_monotonic_increasing, table


def test_no_order_is_refunded_or_charged_back_before_it_could_be_delivered(market):
    orders = market["orders"]
    age = START + pd.Timedelta(days=DAYS) - orders["created_at"]
    settled_statuses = orders["status"].isin(["delivered", "refunded", "chargeback"])
    assert not (settled_statuses & (age < pd.Timedelta(days=6))).any()
