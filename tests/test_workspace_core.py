"""The workspace library: tokens, import, grades, decisions, the audit log and the labels export,
on a real SQLite database."""

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy import select, text

from fraudlens.errors import FraudLensError
from fraudlens.marketplace.contract import TABLES
from fraudlens.marketplace.ingest import ingest, read_raw_table, validate_table
from fraudlens.marketplace.pii import DEMO_PII_KEY
from fraudlens.workspace import audit, queries
from fraudlens.workspace.accounts import create_analyst, create_seller, verify_token
from fraudlens.workspace.db import audit_log, open_engine, users
from fraudlens.workspace.decisions import decide_case, decide_ring, export_labels, labels_frame
from fraudlens.workspace.grades import adjusted_rating, trust_grade
from fraudlens.workspace.synth import synthetic_run, synthetic_workspace


@pytest.fixture
def ws(tmp_path):
    synthetic_workspace(tmp_path / "ws", n_reviews=400, n_orders=200, n_sellers=3, products_per_seller=3)
    engine = open_engine(tmp_path / "ws")
    yield engine
    engine.dispose()


def test_tokens_are_stored_only_as_salted_scrypt_hashes(ws):
    seller, token, known = create_seller(ws, "S1")
    analyst, token2 = create_analyst(ws, "alice")
    assert known and token.startswith(f"fl_{seller.id}_") and token != token2
    with ws.connect() as conn:
        rows = conn.execute(select(users)).mappings().all()
    dump = repr([dict(r) for r in rows])
    assert token.split("_", 2)[2] not in dump and token2.split("_", 2)[2] not in dump
    assert len({r["token_salt"] for r in rows}) == 2 and all(len(r["token_hash"]) == 32 for r in rows)
    assert verify_token(ws, token).name == "S1" and verify_token(ws, token2).role == "analyst"
    for wrong in (None, "", "garbage", token[:-1] + ("A" if token[-1] != "A" else "B"),
                  f"fl_{analyst.id}_{token.split('_', 2)[2]}",  # seller's secret with the analyst's id
                  "fl_999_" + "x" * 43):
        assert verify_token(ws, wrong) is None
    with pytest.raises(FraudLensError, match="exists already"):
        create_seller(ws, "S1")
    with pytest.raises(FraudLensError, match="name"):
        create_analyst(ws, "<script>")
    _, _, known = create_seller(ws, "S-unknown")
    assert not known


def test_grade_rule_and_adjusted_rating_interval():
    assert [trust_grade(100, k) for k in (0, 1, 2, 4, 5, 9, 10, 19, 20, 100)] == list("AABBCCDDFF")
    assert trust_grade(0, 0) == "-"
    ratings = np.array([5, 4, 4, 3, 5, 2, 4])
    a = adjusted_rating(len(ratings), float(ratings.sum()), float((ratings ** 2).sum()))
    from scipy import stats

    low, high = stats.t.interval(0.95, len(ratings) - 1, loc=ratings.mean(), scale=stats.sem(ratings))
    assert math.isclose(a.mean, ratings.mean()) and math.isclose(a.low, low) and math.isclose(a.high, min(5, high))
    one = adjusted_rating(1, 4.0, 16.0)
    assert one.mean == 4.0 and one.low is None
    assert adjusted_rating(0, None, None).mean is None
    same = adjusted_rating(3, 15.0, 75.0)
    assert same.low == same.high == 5.0


def test_import_and_seller_scoping(ws):
    products = queries.seller_products(ws, "S1")
    assert {p["product_id"] for p in products} == {"PS1-1", "PS1-2", "PS1-3"} or all(
        p["product_id"].startswith("P1-") for p in products)
    for p in products:
        reviews = queries.seller_reviews(ws, "S1", p["product_id"], page_size=1000)
        assert reviews.total == p["n_reviews"]
        flagged = [r for r in reviews.rows if r["decision"] == "flag"]
        assert p["n_suspicious"] == len(flagged) and p["grade"] == trust_grade(p["n_reviews"], len(flagged))
        kept = [r["rating"] for r in reviews.rows if r["decision"] != "flag"]
        assert math.isclose(p["adjusted"].mean, np.mean(kept))
        assert all(r["reasons"] for r in flagged) and not any(r["reasons"] for r in reviews.rows if r["decision"] == "pass")
    other_review = queries.seller_reviews(ws, "S2", page_size=1).rows[0]["review_id"]
    assert queries.seller_review(ws, "S1", other_review) is None
    assert queries.seller_review(ws, "S2", other_review) is not None
    assert queries.seller_product(ws, "S1", "P2-1") is None and queries.seller_product(ws, "S2", "P2-1")


def test_queue_filters_and_pagination(ws):
    q = queries.queue(ws, page_size=10)
    assert q.total == 48 and len(q.rows) == 10  # 8 % of 400 reviews + 8 % of 200 orders
    scores = [r["score"] for r in q.rows]
    assert scores == sorted(scores, reverse=True)
    page2 = queries.queue(ws, page=2, page_size=10)
    assert not {r["entity_id"] for r in page2.rows} & {r["entity_id"] for r in q.rows}
    ring = queries.queue(ws, ring_id="R-1", page_size=100)
    assert ring.total and all(r["ring_id"] == "R-1" for r in ring.rows)
    card = queries.queue(ws, reason="CARD_BURST", page_size=100)
    assert card.total and all("CARD_BURST" in [x["code"] for x in r["reasons"]] for r in card.rows)
    reviews_only = queries.queue(ws, entity_type="review", page_size=100)
    assert reviews_only.total == 32 and {r["entity_type"] for r in reviews_only.rows} == {"review"}
    dated = queries.queue(ws, date_from="2026-11-10", date_to="2026-11-12", page_size=100)
    assert all("2026-11-10" <= r["created_at"][:10] <= "2026-11-12" for r in dated.rows)
    assert queries.queue(ws, decision="pass").total == 600 - 48


def test_decisions_ring_expansion_audit_and_labels_export(ws, tmp_path):
    analyst, _ = create_analyst(ws, "alice")
    seller, _, _ = create_seller(ws, "S1")
    top = queries.queue(ws, entity_type="review", page_size=1).rows[0]
    assert decide_case(ws, analyst, "review", top["entity_id"], True, "copied text") == 1
    with pytest.raises(PermissionError):
        decide_case(ws, seller, "review", top["entity_id"], False)
    ring = queries.ring(ws, "R-2")
    n = decide_ring(ws, analyst, "R-2", True, "ring confirmed")
    member_rows = sum(c["n"] for c in ring["counts"].values())
    assert n == member_rows > 0
    order = queries.queue(ws, entity_type="order", page_size=1).rows[0]
    decide_case(ws, analyst, "order", order["entity_id"], False)
    decide_case(ws, analyst, "order", order["entity_id"], True)  # a later decision wins
    case = queries.case(ws, "order", order["entity_id"])
    assert [d["is_fraud"] for d in case["decisions"]][-2:] == [0, 1] and case["entity"]["analyst_label"] == 1
    assert all(d["model_version"] == "7" and d["analyst"] == "alice" for d in case["decisions"])
    assert queries.queue(ws, status="open").total < queries.queue(ws).total
    # The audit log is append-only, and so are decisions.
    entries = audit.entries(ws)
    assert sum(e["action"] == "confirm_fraud" for e in entries) >= 2 and any(e["action"] == "ring_fraud" for e in entries)
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "UPDATE decisions SET is_fraud = 0",
                      "DELETE FROM decisions"):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
            with ws.begin() as conn:
                conn.execute(text(statement))
    with ws.connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(audit_log)).scalar_one() == len(audit.entries(ws))
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    labels = labels_frame(ws)
    with ws.connect() as conn:
        decided = {tuple(r) for r in conn.execute(text("SELECT entity_type, entity_id FROM decisions"))}
    assert len(labels) == len(decided) >= member_rows
    assert set(labels["source"]) == {"analyst:alice"}
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"labels.{suffix}"
        assert export_labels(ws, out) == len(labels)
        raw = read_raw_table(out, TABLES["labels"])
        accepted, quarantine, _ = validate_table(raw, TABLES["labels"], out, DEMO_PII_KEY.encode(), pd.Timestamp.now())
        assert quarantine.empty and len(accepted) == len(labels)
        assert accepted.set_index("entity_id").loc[order["entity_id"], "is_fraud"] == 1
    # ...and the whole input contract accepts it beside a reviews table.
    scores, tables, _ = synthetic_run(n_reviews=400, n_orders=200, n_sellers=3, products_per_seller=3)
    tables["reviews"].to_parquet(tmp_path / "reviews.parquet")
    (tmp_path / "labels.csv").unlink()
    result = ingest(tmp_path, DEMO_PII_KEY.encode())
    assert len(result.tables["labels"]) == len(labels) and result.quarantine.empty
    with pytest.raises(FraudLensError, match="parquet or .csv"):
        export_labels(ws, tmp_path / "labels.txt")


def test_import_reads_an_incremental_state_directory_and_upserts(tmp_path):
    """--input may be the --state directory of incremental scoring (tables already hashed); a
    second import keeps earlier rows that the new run does not carry, and keeps decisions."""
    import json

    from fraudlens.inference.state import History, commit_state
    from fraudlens.output_contract import MANIFEST_FILE, RINGS_FILE, SCORE_FILES
    from fraudlens.workspace.importer import import_run

    scores, tables, rings = synthetic_run(n_reviews=300, n_orders=100, n_sellers=2, products_per_seller=2)
    state_dir = tmp_path / "scoring-state"
    commit_state(state_dir, tables, History({}, {"runs": [], "fingerprint": "empty"}),
                 {"run_id": "night-1", "inputs": {}, "base": "empty"})
    out = tmp_path / "scores"
    out.mkdir()
    for entity, frame in scores.items():
        frame.to_parquet(out / SCORE_FILES[entity])
    rings.to_parquet(out / RINGS_FILE)
    (out / MANIFEST_FILE).write_text(json.dumps({}))
    workspace = tmp_path / "ws"
    info = import_run(workspace, out, state_dir)
    assert (info["n_reviews"], info["n_orders"], info["n_rings"]) == (300, 100, 3)
    engine = open_engine(workspace)
    analyst, _ = create_analyst(engine, "alice")
    decide_case(engine, analyst, "review", "R1", True)
    # The next night scores only some rows: the others keep their score, the decision stays.
    scores["review"].iloc[:50].assign(score=0.0001).to_parquet(out / SCORE_FILES["review"])
    scores["order"].iloc[:0].to_parquet(out / SCORE_FILES["order"])
    import_run(workspace, out, state_dir)
    assert queries.entity(engine, "review", "R300") is not None and queries.entity(engine, "order", "O100") is not None
    assert queries.case(engine, "review", "R1")["entity"]["analyst_label"] == 1
    with pytest.raises(FraudLensError, match="manifest"):
        import_run(workspace, tmp_path, state_dir)
