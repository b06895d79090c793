"""The web app's pages and JSON API end to end (real app, real SQLite), and the CLI commands
that feed it (`workspace import`, `sellers add`, `analysts add`, `labels export`)."""

import json
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fraudlens.cli import app as cli
from fraudlens.output_contract import MANIFEST_FILE, RINGS_FILE, SCORE_FILES
from fraudlens.web.app import create_app
from fraudlens.workspace import queries
from fraudlens.workspace.db import open_engine
from fraudlens.workspace.synth import synthetic_run

runner = CliRunner()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def token_of(output: str) -> str:
    return re.search(r"fl_\d+_[A-Za-z0-9_-]{43}", output).group(0)


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    """A run's output directory and input tables on disk, as `fraudlens score` leaves them."""
    root = tmp_path_factory.mktemp("run")
    scores, tables, rings = synthetic_run(n_reviews=500, n_orders=200, n_sellers=2, products_per_seller=3)
    (root / "scores").mkdir()
    (root / "input").mkdir()
    for entity, frame in scores.items():
        frame.to_parquet(root / "scores" / SCORE_FILES[entity])
    rings.to_parquet(root / "scores" / RINGS_FILE)
    (root / "scores" / MANIFEST_FILE).write_text(json.dumps({"scoring": {"run_id": "synthetic-run"}}))
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].astype("datetime64[us]")
        frame.to_parquet(root / "input" / f"{name}.parquet")
    return root


@pytest.fixture(scope="module")
def served(run_dirs):
    state = run_dirs / "workspace"
    result = runner.invoke(cli, ["workspace", "import", "--scores", str(run_dirs / "scores"), "--input",
                                 str(run_dirs / "input"), "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert "500 reviews, 200 orders, 3 rings" in result.output
    tokens = {}
    for args, key in ((["sellers", "add", "S1"], "s1"), (["sellers", "add", "S2"], "s2"),
                      (["analysts", "add", "alice"], "alice")):
        result = runner.invoke(cli, [*args, "--state", str(state)])
        assert result.exit_code == 0, result.output
        tokens[key] = token_of(result.output)
    result = runner.invoke(cli, ["sellers", "add", "S1", "--state", str(state)])
    assert result.exit_code == 2 and "exists already" in result.output
    app = create_app(state, text_model_uri=None)
    return {"state": state, "app": app, "tokens": tokens, "engine": open_engine(state)}


def signed_in(served, who) -> tuple[TestClient, str]:
    client = TestClient(served["app"])
    csrf = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"token": served["tokens"][who], "csrf_token": csrf})
    assert response.status_code == 200
    return client, csrf_of(response.text)


def test_seller_pages_show_grades_adjusted_ratings_and_reasons(served):
    client, _ = signed_in(served, "s1")
    page = client.get("/seller").text
    products = queries.seller_products(served["engine"], "S1")
    for p in products:
        assert f">{p['product_id']}<" in page and f'grade-{p["grade"]}' in page
        if p["adjusted"].low is not None:
            assert f"[{p['adjusted'].low:.2f}, {p['adjusted'].high:.2f}]" in page
    flagged = queries.seller_reviews(served["engine"], "S1", flagged_only=True, page_size=1).rows[0]
    assert flagged["review_id"] in page and flagged["reasons"][0]["text"].split(":")[0] in page
    detail = client.get(f"/seller/reviews/{flagged['review_id']}").text
    assert "Why" in detail and flagged["reasons"][0]["code"] in detail and "Machine-written" in detail
    if flagged["text_fake_probability"] >= 0.8:
        assert "looks machine-written" in detail
    product = client.get(f"/seller/products/{flagged['product_id']}")
    assert product.status_code == 200 and flagged["review_id"] in product.text
    assert client.get("/").headers.get("location") is None  # followed to /seller
    assert client.get("/", follow_redirects=False).headers["location"] == "/seller"


def test_seller_api(served):
    headers = {"Authorization": f"Bearer {served['tokens']['s1']}"}
    client = TestClient(served["app"])
    first = client.get("/api/reviews?page_size=10", headers=headers).json()
    assert first["page"] == 1 and len(first["reviews"]) == 10
    assert set(first["reviews"][0]) >= {"review_id", "product_id", "score", "decision", "reasons"}
    second = client.get("/api/reviews?page_size=10&page=2", headers=headers).json()
    assert not {r["review_id"] for r in first["reviews"]} & {r["review_id"] for r in second["reviews"]}
    assert first["total"] == queries.seller_reviews(served["engine"], "S1").total
    one = client.get(f"/api/reviews/{first['reviews'][0]['review_id']}", headers=headers).json()
    assert one["review_id"] == first["reviews"][0]["review_id"] and "text" in one
    products = client.get("/api/products", headers=headers).json()["products"]
    assert {p["trust_grade"] for p in products} <= set("ABCDF-") and all("adjusted_rating" in p for p in products)
    assert client.get("/api/reviews?page_size=100000", headers=headers).status_code == 422
    screened = client.post("/api/screen", headers=headers, files={"file": ("r.csv", b"text,rating\nnice,5\nbad,1\n")})
    assert screened.status_code == 200 and screened.json()["n_rows"] == 2
    again = client.get(f"/api/uploads/{screened.json()['upload_id']}", headers=headers).json()
    assert [r["review_id"] for r in again["rows"]] == ["row-1", "row-2"]


def test_screening_signals_without_a_text_model(served):
    client, csrf = signed_in(served, "s2")
    rows = ["text,rating,date,reviewer,verified"]
    rows += [f"Best product ever buy it now,5,2026-11-0{1 + i % 2} 10:0{i}:00,bot7,no" for i in range(6)]
    rows += ["The lid is stiff but the kettle boils fast,4,2026-10-01,anna,yes",
             "Cord is short; returned it after a week,2,2026-10-05,ben,yes"]
    response = client.post("/seller/screen", files={"file": ("mine.csv", "\n".join(rows).encode())},
                           data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "No text model is registered" in page
    assert "NEAR_DUPLICATE_TEXT" in page and "REVIEWER_BURST" in page and "UNVERIFIED_PURCHASE" in page
    assert 'id="n-flagged">6<' in page
    listing = client.get("/seller/screen").text
    assert "mine.csv" in listing


def test_analyst_queue_case_ring_decisions_and_labels_export(served, tmp_path):
    client, csrf = signed_in(served, "alice")
    queue = client.get("/queue").text
    top = queries.queue(served["engine"], page_size=1).rows[0]
    assert top["entity_id"] in queue and 'id="queue"' in queue
    assert client.get("/queue?type=order&reason=CARD_BURST&page=2").status_code == 200
    filtered = client.get("/queue?ring=R-1&status=all").text
    assert "R-1" in filtered and "R-2<" not in filtered
    case = client.get(f"/cases/{top['entity_type']}/{top['entity_id']}").text
    assert "Reasons" in case and "<svg" in case and "Linked accounts" in case and "keyed hashes" in case
    response = client.post(f"/cases/{top['entity_type']}/{top['entity_id']}/decision",
                           data={"csrf_token": csrf, "verdict": "fraud", "note": "confirmed <b>by</b> me"},
                           follow_redirects=False)
    assert response.status_code == 303
    after = client.get(response.headers["location"]).text
    assert "Decision recorded" in after and "confirmed &lt;b&gt;by&lt;/b&gt; me" in after
    ring_id = next(r for r in ("R-3", "R-2", "R-1") if r != top["ring_id"])  # a ring the top case is not in
    ring = client.get(f"/rings/{ring_id}").text
    assert "<svg" in ring and ring.count("<circle") == 5 and "<line" in ring
    assert client.post(f"/rings/{ring_id}/decision", data={"csrf_token": csrf, "verdict": "not_fraud"},
                       follow_redirects=False).status_code == 303
    assert client.post(f"/rings/{ring_id}/decision", data={"csrf_token": csrf, "verdict": "maybe"}).status_code == 400
    assert client.post("/rings/R-nope/decision", data={"csrf_token": csrf, "verdict": "fraud"}).status_code == 404
    # The API beside the pages.
    headers = {"Authorization": f"Bearer {served['tokens']['alice']}"}
    api_queue = client.get("/api/queue?page_size=5&status=open", headers=headers).json()
    assert len(api_queue["items"]) == 5 and top["entity_id"] not in {i["entity_id"] for i in api_queue["items"]}
    order = queries.queue(served["engine"], entity_type="order", status="open", page_size=1).rows[0]
    decided = client.post("/api/decisions", headers=headers,
                          json={"entity_type": "order", "entity_id": order["entity_id"], "is_fraud": True})
    assert decided.status_code == 200 and decided.json()["decided"] == 1
    assert client.post("/api/decisions", headers=headers,
                       json={"entity_type": "order", "entity_id": "nope", "is_fraud": True}).status_code == 404
    assert client.post("/api/decisions", headers=headers,
                       json={"entity_type": "account", "entity_id": "A1", "is_fraud": True}).status_code == 422
    # The labels export holds them all, and ingest accepts it as a labels table.
    out = tmp_path / "labels.parquet"
    result = runner.invoke(cli, ["labels", "export", "--state", str(served["state"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    labels = pd.read_parquet(out).set_index(["entity_type", "entity_id"])
    assert labels.loc[(top["entity_type"], top["entity_id"]), "is_fraud"] == 1
    assert labels.loc[("order", order["entity_id"]), "source"] == "analyst:alice"
    ring_members = queries.ring(served["engine"], ring_id)["members"]
    ring_rows = [r for r in queries.queue(served["engine"], decision="all", page_size=10_000).rows
                 if r["account_id"] in ring_members]
    assert all(labels.loc[(r["entity_type"], r["entity_id"]), "is_fraud"] == 0 for r in ring_rows
               if (r["entity_type"], r["entity_id"]) != (top["entity_type"], top["entity_id"]))


def test_api_is_documented_without_javascript(served):
    client = TestClient(served["app"])
    spec = client.get("/openapi.json").json()
    for path in ("/api/reviews", "/api/reviews/{review_id}", "/api/screen", "/api/products", "/api/queue",
                 "/api/decisions", "/api/uploads/{upload_id}"):
        assert path in spec["paths"], path
    assert "multipart/form-data" in spec["paths"]["/api/screen"]["post"]["requestBody"]["content"]
    page = client.get("/api")
    assert page.status_code == 200 and "GET /api/reviews" in page.text and "<script" not in page.text
    assert client.get("/docs").status_code == 404  # no CDN-loaded Swagger UI


def test_serve_command_refuses_an_empty_workspace(tmp_path):
    result = runner.invoke(cli, ["serve", "--state", str(tmp_path / "none")])
    assert result.exit_code == 2 and "workspace import" in result.output
