"""Fraud rings on a hand-built marketplace: a planted ring is found with exactly its members, a
popular identifier or a viral product glues nobody together, and the result is deterministic."""

import pandas as pd
import pandas.testing as pdt

from fraudlens.inference.rings import RING_COLUMNS, RingSettings, co_review_edges, find_rings

T0 = pd.Timestamp("2026-03-01 10:00")


def _marketplace() -> dict[str, pd.DataFrame]:
    accounts, reviews, orders = [], [], []

    def account(aid, device=None, ip=None):
        accounts.append({"account_id": aid, "created_at": pd.Timestamp("2025-01-01"), "country": "DE",
                         "device_id": device, "ip": ip})

    def review(aid, product, hours, rating=5):
        reviews.append({"review_id": f"r{len(reviews)}", "account_id": aid, "product_id": product,
                        "text": f"text {len(reviews)}", "rating": rating, "created_at": T0 + pd.Timedelta(hours=hours)})

    # The planted ring: x1..x5 share two devices and one card, and post five-star bursts on p-ring.
    for i, device in zip(range(1, 6), ["dev-a", "dev-a", "dev-a", "dev-b", "dev-b"]):
        account(f"x{i}", device=device, ip=f"ip-x{i}")
        review(f"x{i}", "p-ring", hours=i)
    orders.append({"order_id": "o-x3", "account_id": "x3", "product_id": "p-ring", "created_at": T0,
                   "payment_token": "card-ring"})
    orders.append({"order_id": "o-x4", "account_id": "x4", "product_id": "p-ring", "created_at": T0,
                   "payment_token": "card-ring"})
    # A co-review ring with no shared identifier: c1..c3 review the same two products within hours.
    for i in range(1, 4):
        account(f"c{i}", device=f"dev-c{i}", ip=f"ip-c{i}")
        review(f"c{i}", "p-c1", hours=100 + i)
        review(f"c{i}", "p-c2", hours=130 + i)
    # 30 unrelated accounts behind one office IP (above the cap); all review a viral product in one day.
    for i in range(30):
        account(f"u{i:02d}", device=f"dev-u{i}", ip="office-nat")
        review(f"u{i:02d}", "p-viral", hours=200 + i * 0.5)
    for i in range(30, 60):
        account(f"v{i:02d}", device=f"dev-v{i}", ip=f"ip-v{i}")
        review(f"v{i:02d}", "p-viral", hours=200 + i * 0.5)
        review(f"v{i:02d}", f"p-own-{i}", hours=300)
    # Household pairs: two accounts sharing a device, and accounts sharing only an IP (weak).
    account("h1", device="dev-h", ip="ip-h")
    account("h2", device="dev-h", ip="ip-h2")
    account("w1", device="dev-w1", ip="ip-w")
    account("w2", device="dev-w2", ip="ip-w")
    account("w3", device="dev-w3", ip="ip-w")
    return {"accounts": pd.DataFrame(accounts), "reviews": pd.DataFrame(reviews), "orders": pd.DataFrame(orders)}


def _scores(tables, high=("x1", "x2", "x3", "x4", "x5")):
    reviews = tables["reviews"]
    return {"review": pd.DataFrame({"review_id": reviews["review_id"],
                                    "score": reviews["account_id"].isin(high).map({True: 0.9, False: 0.1})})}


def test_planted_rings_are_found_with_exactly_their_members():
    tables = _marketplace()
    rings, membership = find_rings(tables, _scores(tables))
    assert list(rings.columns) == list(RING_COLUMNS)
    members = {tuple(accounts) for accounts in rings["accounts"]}
    assert members == {("x1", "x2", "x3", "x4", "x5"), ("c1", "c2", "c3")}
    top = rings.iloc[0]
    assert top["ring_id"] == "R-1" and list(top["accounts"]) == ["x1", "x2", "x3", "x4", "x5"]
    assert top["n_accounts"] == 5 and top["n_reviews"] == 5 and top["n_orders"] == 2
    assert top["five_star_reviews"] == 5 and top["five_star_peak_48h"] == 5
    assert top["shared_identifiers"] == "co_review=10;device=2;payment=1"
    assert top["first_seen"] == T0 and top["last_seen"] == T0 + pd.Timedelta(hours=5)
    assert top["span_hours"] == 5.0
    assert top["max_member_score"] == 0.9
    assert rings.iloc[1]["ring_id"] == "R-2" and rings.iloc[1]["shared_identifiers"] == "co_review=3"
    assert rings.iloc[0]["ring_score"] > rings.iloc[1]["ring_score"]
    assert set(membership["account_id"]) == {"x1", "x2", "x3", "x4", "x5", "c1", "c2", "c3"}
    assert (membership.loc[membership["account_id"] == "c2", "ring_id"] == "R-2").all()


def test_popular_identifier_and_viral_product_glue_nobody():
    tables = _marketplace()
    rings, membership = find_rings(tables, _scores(tables))
    glued = set(membership["account_id"])
    assert not any(a.startswith(("u", "v", "h", "w")) for a in glued)
    # With the caps lifted the office IP and the viral product do merge everyone: the caps matter.
    loose = RingSettings(identifier_cap=1000, burst_cap=1000, min_link_weight=0.5)
    rings, membership = find_rings(tables, _scores(tables), loose)
    assert {"u00", "v30"} <= set(membership["account_id"])


def test_co_review_pairs_stay_within_the_window():
    reviews = pd.DataFrame({"account_id": ["a", "b", "c"], "product_id": ["p", "p", "p"],
                            "created_at": [T0, T0 + pd.Timedelta(hours=47), T0 + pd.Timedelta(hours=95)]})
    edges = co_review_edges(reviews, pd.Timedelta(hours=48), burst_cap=50)
    assert edges[["a", "b"]].values.tolist() == [["a", "b"], ["b", "c"]]


def test_large_components_are_split_into_communities():
    accounts = []
    for clique in ("k", "m"):
        for i in range(30):
            # Each clique shares one device; a single account pair bridges them through a card.
            accounts.append({"account_id": f"{clique}{i:02d}", "created_at": T0, "country": "DE",
                             "device_id": f"dev-{clique}", "payment_token": None})
    tables = {"accounts": pd.DataFrame(accounts),
              "orders": pd.DataFrame({"order_id": ["o1", "o2"], "account_id": ["k00", "m00"], "product_id": ["p", "p"],
                                      "created_at": [T0, T0], "payment_token": ["bridge", "bridge"]})}
    settings = RingSettings(identifier_cap=100, max_ring_size=40)
    rings, _ = find_rings(tables, {}, settings)
    assert sorted(tuple(sorted({a[0] for a in accounts})) for accounts in rings["accounts"]) == [("k",), ("m",)]
    assert rings["n_accounts"].tolist() == [30, 30]
    again, _ = find_rings(tables, {}, settings)
    pdt.assert_frame_equal(rings, again)


def test_same_input_in_any_row_order_gives_the_same_rings():
    tables = _marketplace()
    first = find_rings(tables, _scores(tables))
    shuffled = {name: frame.sample(frac=1.0, random_state=7).reset_index(drop=True) for name, frame in tables.items()}
    second = find_rings(shuffled, _scores(shuffled))
    pdt.assert_frame_equal(first[0], second[0])
    pdt.assert_frame_equal(first[1], second[1])


def test_no_links_means_an_empty_but_typed_rings_table():
    tables = {"accounts": pd.DataFrame({"account_id": ["a", "b"], "created_at": [T0, T0], "country": ["DE", "DE"]})}
    rings, membership = find_rings(tables, {})
    assert rings.empty and list(rings.columns) == list(RING_COLUMNS) and membership.empty
