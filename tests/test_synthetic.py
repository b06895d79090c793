"""Behaviour of the synthetic marketplace generator (fraudlens/marketplace/synthetic/)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from fraudlens.marketplace.features import node_features
from fraudlens.marketplace.graph import build_graph
from fraudlens.marketplace.synthetic import generate_marketplace, phrases, read_marketplace, shares, write_marketplace
from fraudlens.marketplace.synthetic import labels as synthetic_labels

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
    assert status["delivered"] > 0.75
    assert 0.03 < status[["cancelled", "refunded"]].sum() < 0.12  # returns are common, more so in some homes
    assert status.get("chargeback", 0) < 0.015
    sales = clean_orders["product_id"].value_counts()
    assert sales.iloc[: len(sales) // 10].sum() > 0.4 * sales.sum()  # heavy-tailed popularity
    hour = clean_orders["created_at"].dt.hour
    assert hour.between(18, 21).mean() > 2 * hour.between(1, 4).mean()  # daily rhythm
    reviewed = reviews["order_id"].notna().sum() / len(orders)
    assert 0.3 <= reviewed <= 0.5
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


def test_labels_are_a_partial_and_slightly_wrong_view_of_the_truth(market):
    labels, truth = market["labels"], market["truth"]
    joined = labels.merge(truth, on=["entity_type", "entity_id"], how="left", suffixes=("", "_true"))
    assert joined["is_fraud_true"].notna().all()
    # Moderators and chargeback processes err: about LABEL_NOISE_SHARE of the labels are wrong,
    # in both directions and for every entity type.
    wrong = joined["is_fraud"] != joined["is_fraud_true"]
    assert 0.5 * synthetic_labels.LABEL_NOISE_SHARE < wrong.mean() < 2 * synthetic_labels.LABEL_NOISE_SHARE
    assert (wrong & (joined["is_fraud_true"] == 1)).any() and (wrong & (joined["is_fraud_true"] == 0)).any()
    assert set(joined.loc[wrong, "entity_type"]) == {"review", "order", "account"}
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


def test_label_noise_touches_only_the_labels_never_the_truth(monkeypatch):
    noisy = generate_marketplace(3, 400)
    monkeypatch.setattr(synthetic_labels, "LABEL_NOISE_SHARE", 0.0)
    exact = generate_marketplace(3, 400)
    for name in ("reviews", "orders", "products", "accounts", "truth"):
        pd.testing.assert_frame_equal(noisy[name], exact[name])
    keys = ["entity_type", "entity_id"]
    pd.testing.assert_frame_equal(noisy["labels"][keys], exact["labels"][keys])
    assert (exact["labels"].merge(exact["truth"], on=keys, suffixes=("", "_true"))
            .pipe(lambda j: (j["is_fraud"] == j["is_fraud_true"]).all()))
    flipped = noisy["labels"]["is_fraud"] != exact["labels"]["is_fraud"]
    assert 0 < flipped.sum() < 0.06 * len(flipped)


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


def _normalised(text: pd.Series) -> pd.Series:
    return text.str.lower().str.replace(r"!+", "!", regex=True).str.strip()


def _in_ring_phrasing(text: pd.Series) -> pd.Series:
    """Starts with one of the rings' template phrases (in any case, with any '!' count)."""
    templates = sorted({re.sub(r"!+", "!", t.lower()) for pool in phrases.RING_TEMPLATES.values() for t in pool},
                       key=len, reverse=True)
    return _normalised(text).str.match("|".join(re.escape(t) for t in templates))


def _in_llm_style(text: pd.Series) -> pd.Series:
    """Starts with one of the stock LLM openers (whatever product it names)."""
    openers = [re.escape(o).replace(re.escape("{noun}"), ".+?") for o in phrases.AI_OPENERS]
    return text.str.match("|".join(openers))


def _account_age(frame: pd.DataFrame, market) -> pd.Series:
    return frame["created_at"] - frame["account_id"].map(market["accounts"].set_index("account_id")["created_at"])


def test_ring_accounts_share_devices_and_ips_more_than_clean_ones(accounts):
    ring, clean = accounts["fraud_kind"] == "review_ring", accounts["fraud_kind"] == "none"
    for column in ("device_id", "ip"):
        shared = accounts[column].map(accounts[column].value_counts()) > 1
        assert shared[ring].mean() > 0.3, column
        assert shared[ring].mean() > 2 * shared[clean].mean(), column
        assert shared[clean].mean() > 0.05, column  # households, offices and carriers share too


def test_ring_reviews_are_mostly_short_unverified_bursty_praise(reviews, market):
    ring, clean = reviews[reviews["fraud_kind"] == "review_ring"], reviews[reviews["fraud_kind"] == "none"]
    campaign = ring[_in_ring_phrasing(ring["text"])]
    assert len(campaign) > 0.25 * len(ring)
    assert (campaign["rating"] == 5).mean() > 0.85 and campaign["rating"].isin([4, 5]).all()
    assert (ring["rating"] == 5).mean() > 0.6
    assert ring["order_id"].isna().mean() > 0.5
    assert ring["words"].median() < 8 < clean["words"].median() + 2
    assert ring["text"].duplicated().mean() > 0.05  # copy-pasted scripts
    assert (_account_age(ring, market) < pd.Timedelta(days=60)).mean() > 0.25
    # A ring review usually has another review of the same product within hours; clean ones rarely do.
    assert _burstiness(ring) > _burstiness(clean[clean["rating"] == 5]) + 0.2
    # Clean data holds the same surface signals, just less often.
    assert ((clean["rating"] == 5) & (clean["words"] <= 4)).sum() > 0
    assert clean["order_id"].isna().mean() > 0.2


def test_ai_reviews_are_long_generic_and_similar_but_not_identical(reviews):
    ai = reviews[reviews["fraud_kind"] == "ai_review"]
    clean = reviews[reviews["fraud_kind"] == "none"]
    assert ai["rating"].isin([3, 4, 5]).all() and ai["rating"].isin([4, 5]).mean() > 0.7
    assert ai["words"].median() > 2 * clean["words"].median()
    assert not ai["text"].duplicated().any()
    assert _in_llm_style(ai["text"]).all()
    assert (ai["language"] == "en").all()
    assert ai["order_id"].notna().any() and ai["order_id"].isna().any()


def test_card_testing_is_bursts_of_small_orders_mostly_on_shared_cards(orders, market):
    testing, clean = orders[orders["fraud_kind"] == "card_testing"], orders[orders["fraud_kind"] == "none"]
    assert testing["amount"].median() <= 15
    assert testing["status"].isin(["cancelled", "chargeback"]).mean() > 0.4
    accounts_per_card = orders.groupby("payment_token")["account_id"].nunique()
    orders_per_card = orders.groupby("payment_token").size()
    assert (testing["payment_token"].map(accounts_per_card) > 1).mean() > 0.3
    assert (testing["payment_token"].map(orders_per_card) > 1).mean() > 0.3
    assert (_account_age(testing, market) < pd.Timedelta(days=4)).mean() > 0.4
    per_account_day = testing.groupby(["account_id", testing["created_at"].dt.floor("D")]).size()
    assert per_account_day.mean() > 2
    assert (clean["amount"] <= 10).any()  # legitimate small orders exist


# --- ambiguity: clean that looks fake ---------------------------------------------------------


def test_some_genuine_reviews_use_ring_phrases_or_llm_polish(reviews):
    clean = reviews[reviews["fraud_kind"] == "none"]
    five_star = clean[clean["rating"] == 5]
    hype = _in_ring_phrasing(five_star["text"]).mean()
    assert 0.7 * shares.HYPE_TEXT_SHARE < hype < 2.5 * shares.HYPE_TEXT_SHARE
    # The very same scripts: most ring phrasings also occur in genuine reviews.
    ring = reviews[reviews["fraud_kind"] == "review_ring"]
    ring_phrases = set(_normalised(ring.loc[_in_ring_phrasing(ring["text"]), "text"]))
    assert len(ring_phrases & set(_normalised(five_star["text"]))) > 0
    eligible = clean[(clean["language"] == "en") & (clean["rating"] >= 3)]
    polished = _in_llm_style(eligible["text"]).mean()
    assert 0.5 * shares.POLISHED_TEXT_SHARE < polished < 2 * shares.POLISHED_TEXT_SHARE
    assert not _in_llm_style(clean.loc[clean["rating"] <= 2, "text"]).any()


def test_genuine_reviews_come_in_bursts_and_from_shared_households(reviews, market):
    clean = reviews[reviews["fraud_kind"] == "none"]
    # Viral products / sale days: many genuine 5-star reviews of one product within 48 h.
    five = clean[clean["rating"] == 5].sort_values("created_at")
    in_48h = (five.groupby("product_id").rolling("48h", on="created_at")["rating"].count())
    assert (in_48h >= 8).sum() > 0.01 * len(clean)
    # Households and offices: clean accounts on one IP or device reviewing the same product.
    accounts = market["accounts"].set_index("account_id")
    for column in ("ip", "device_id"):
        keyed = clean.assign(key=clean["account_id"].map(accounts[column]))
        per_key_product = keyed.groupby(["key", "product_id"])["account_id"].nunique()
        assert (per_key_product >= 2).sum() > 10, column


def test_genuine_buyers_burst_share_cards_and_return_a_lot(orders, accounts):
    clean = orders[orders["fraud_kind"] == "none"]
    per_account_hours = clean.groupby(["account_id", clean["created_at"].dt.floor("4h")]).size()
    assert (per_account_hours >= 4).sum() > 5  # stocking up / gift-card sprees
    clean_accounts = set(accounts.loc[accounts["fraud_kind"] == "none", "account_id"])
    accounts_per_card = clean[clean["account_id"].isin(clean_accounts)].groupby("payment_token")["account_id"].nunique()
    assert (accounts_per_card >= 2).sum() > 3  # families and offices share a card
    refund_share = clean.groupby("account_id")["status"].apply(lambda s: (s == "refunded").mean())
    orders_per_account = clean.groupby("account_id").size()
    assert ((refund_share > 0.2) & (orders_per_account >= 4)).sum() > 5  # serial returners


# --- ambiguity: fraud that looks clean --------------------------------------------------------


def test_some_fraud_looks_like_ordinary_customers(reviews, orders, market):
    ring = reviews[reviews["fraud_kind"] == "review_ring"]
    natural = ring[~_in_ring_phrasing(ring["text"])]
    assert 0.2 < len(natural) / len(ring) < 0.8 and natural["words"].median() > 5
    assert ring["order_id"].notna().mean() > 0.1  # brushing
    assert (_account_age(ring, market) > pd.Timedelta(days=180)).mean() > 0.1  # bought aged accounts
    ai = reviews[reviews["fraud_kind"] == "ai_review"]
    assert (ai["rating"] <= 4).mean() > 0.2 and (ai["words"] < 40).mean() > 0.1
    details = "|".join(re.escape(d.split("{")[0]) for d in phrases.DETAILS)
    assert ai["text"].str.contains(details).mean() > 0.2
    testing = orders[orders["fraud_kind"] == "card_testing"]
    assert (_account_age(testing, market) > pd.Timedelta(days=60)).any()
    assert (testing["amount"] > 10).mean() > 0.1
    # Fraud accounts carry ordinary purchase histories (clean orders of fraud-controlled accounts).
    fraud_accounts = set(market["truth"].query("entity_type == 'account' and is_fraud == 1")["entity_id"])
    clean_orders = orders[orders["fraud_kind"] == "none"]
    assert clean_orders["account_id"].isin(fraud_accounts).sum() > 20


def test_no_single_feature_gives_fraud_away_but_combining_them_works(market):
    tables = {name: table for name, table in market.items() if name != "truth"}
    graph = build_graph(tables)
    features = node_features(tables, graph.ids)
    truth = market["truth"]
    for node_type in ("review", "order"):
        x = features[node_type]
        y = x.index.map(truth[truth["entity_type"] == node_type].set_index("entity_id")["is_fraud"]).to_numpy()
        single = max(max(a, 1 - a) for a in (roc_auc_score(y, x[c]) for c in x if x[c].nunique() > 1))
        assert single < 0.85, node_type
        combined = cross_val_predict(HistGradientBoostingClassifier(max_iter=100, random_state=0), x, y, cv=3,
                                     method="predict_proba")[:, 1]
        assert roc_auc_score(y, combined) > single + 0.05, node_type


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


def test_refund_abuse_is_refunds_mostly_to_shared_addresses(orders, accounts):
    abuse = orders[orders["fraud_kind"] == "refund_abuse"]
    assert (abuse["status"] == "refunded").all()
    accounts_per_address = orders.groupby("shipping_address")["account_id"].nunique()
    shared = abuse["shipping_address"].map(accounts_per_address) > 1
    assert 0.3 < shared.mean() < 1  # rings share drop addresses; solo abusers do not
    abusers = accounts.loc[accounts["fraud_kind"] == "refund_abuse", "account_id"]
    their_orders = orders[orders["account_id"].isin(abusers)]
    assert (their_orders["status"] == "refunded").mean() > 0.3
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
