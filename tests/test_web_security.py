"""Security of the web app, through the real app (FastAPI TestClient over httpx, real SQLite):
every route is walked as the wrong caller, CSRF, headers, escaping, rate limits, upload limits."""

import io
import re
import zipfile

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from fraudlens.web.app import create_app
from fraudlens.web.security import CSP
from fraudlens.workspace import queries, screening
from fraudlens.workspace.accounts import create_analyst, create_seller
from fraudlens.workspace.db import open_engine
from fraudlens.workspace.synth import synthetic_workspace

XSS_TEXT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
FORMULA = "=HYPERLINK(\"http://evil\",\"x\")"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: TestClient, token: str) -> str:
    csrf = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    return csrf_of(page.text)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    state = tmp_path_factory.mktemp("ws")
    synthetic_workspace(state, n_reviews=300, n_orders=150, n_sellers=2, products_per_seller=3)
    engine = open_engine(state)
    with engine.begin() as conn:  # one of seller A's reviews carries planted markup
        conn.exec_driver_sql("UPDATE entities SET text = ? WHERE entity_id = (SELECT e.entity_id FROM entities e "
                             "JOIN products p ON p.product_id = e.product_id WHERE p.seller_id = 'S1' AND "
                             "e.entity_type = 'review' AND e.decision = 'flag' ORDER BY e.score DESC LIMIT 1)", (XSS_TEXT,))
    seller_a, token_a, _ = create_seller(engine, "S1")
    seller_b, token_b, _ = create_seller(engine, "S2")
    analyst, token_an = create_analyst(engine, "alice")
    csv_b = b"text,rating\nseller B's own review,5\nanother one,4\n"
    upload_b = screening.screen_upload(engine, seller_b, "b.csv", csv_b, None)
    app = create_app(state, text_model_uri=None, login_failures_per_minute=10_000)
    b_review = queries.seller_reviews(engine, "S2", page_size=1).rows[0]
    a_review = queries.seller_reviews(engine, "S1", page_size=1).rows[0]
    case = queries.queue(engine, page_size=1).rows[0]
    return {"state": state, "engine": engine, "app": app, "tokens": {"a": token_a, "b": token_b, "analyst": token_an},
            "b_product": "P2-1", "b_review": b_review["review_id"], "b_upload": upload_b["public_id"],
            "a_product": "P1-1", "a_review": a_review["review_id"], "case": case, "seller_b": seller_b}


def client_for(world, who: str | None) -> tuple[TestClient, str | None]:
    client = TestClient(world["app"])
    csrf = login(client, world["tokens"][who]) if who else csrf_of(client.get("/login").text)
    return client, csrf


def bearer(world, who):
    return {"Authorization": f"Bearer {world['tokens'][who]}"}


# Every route of the app -> its scope. The walk below fails on a route missing here.
PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/api"),
          ("GET", "/openapi.json"), ("MOUNT", "/static")}
SELLER_PAGES = {("GET", "/seller"), ("GET", "/seller/products/{product_id}"), ("GET", "/seller/reviews/{review_id}"),
                ("GET", "/seller/screen"), ("POST", "/seller/screen"), ("GET", "/seller/uploads/{upload_id}"),
                ("GET", "/seller/uploads/{upload_id}/results.csv")}
ANALYST_PAGES = {("GET", "/queue"), ("GET", "/cases/{entity_type}/{entity_id}"),
                 ("POST", "/cases/{entity_type}/{entity_id}/decision"), ("GET", "/rings/{ring_id}"),
                 ("POST", "/rings/{ring_id}/decision")}
SELLER_API = {("GET", "/api/reviews"), ("GET", "/api/reviews/{review_id}"), ("GET", "/api/products"),
              ("POST", "/api/screen"), ("GET", "/api/uploads/{upload_id}")}
ANALYST_API = {("GET", "/api/queue"), ("POST", "/api/decisions")}


def all_routes(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        if isinstance(route, Mount):
            out.add(("MOUNT", route.path))
        elif isinstance(route, (APIRoute, Route)):
            for method in route.methods or []:
                if method != "HEAD":
                    out.add((method, route.path))
    return out


def test_every_route_has_a_declared_scope(world):
    routes = all_routes(world["app"])
    declared = PUBLIC | SELLER_PAGES | ANALYST_PAGES | SELLER_API | ANALYST_API
    assert routes - declared == set(), f"routes without a security expectation: {sorted(routes - declared)}"
    assert declared - routes == set(), f"expectations for routes that do not exist: {sorted(declared - routes)}"


def concrete(path: str, world, mine: bool, other: bool = True) -> str:
    """The route with ids filled in: seller B's ids (other), a nonexistent one, or seller A's (mine)."""
    ids = {"product_id": world["b_product"] if other else "P-nope", "review_id": world["b_review"] if other else "R-nope",
           "upload_id": world["b_upload"] if other else "nope-upload-id", "entity_type": world["case"]["entity_type"],
           "entity_id": world["case"]["entity_id"] if other else "nope", "ring_id": "R-1" if other else "R-nope"}
    if mine:
        ids.update(product_id=world["a_product"], review_id=world["a_review"])
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def send(client, method, url, csrf=None, headers=None):
    if method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    if url.endswith("/screen"):
        files = {"file": ("r.csv", b"text,rating\nhello,5\n", "text/csv")}
        return client.post(url, files=files, data={"csrf_token": csrf or ""}, headers=headers, follow_redirects=False)
    if url == "/api/decisions":
        return client.post(url, json={"entity_type": "review", "entity_id": "R1", "is_fraud": True}, headers=headers)
    return client.post(url, data={"csrf_token": csrf or "", "verdict": "fraud"}, headers=headers,
                       follow_redirects=False)



def mentions(text: str, value: str) -> bool:
    """``value`` as a whole id in ``text``: never inside a random token (a CSRF token of 43
    URL-safe characters holds a short id like "R1" about one page in a hundred)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None

def test_no_credentials_pages_redirect_to_login_and_api_says_401(world):
    client = TestClient(world["app"])
    for method, path in sorted(SELLER_PAGES | ANALYST_PAGES):
        response = send(client, method, concrete(path, world, mine=False), csrf="x")
        assert response.status_code == 303 and response.headers["location"] == "/login", (method, path)
    for method, path in sorted(SELLER_API | ANALYST_API):
        for headers in (None, {"Authorization": "Bearer fl_1_" + "x" * 43}, {"Authorization": "Basic abc"},
                        {"Authorization": f"Bearer {world['tokens']['a']}x"}):
            response = send(client, method, concrete(path, world, mine=False), headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
    # A session cookie does not authenticate the API (no CSRF surface there).
    session_client, _ = client_for(world, "a")
    assert session_client.get("/api/reviews").status_code == 401


def test_seller_cannot_reach_another_sellers_rows_and_cannot_tell_they_exist(world):
    client, csrf = client_for(world, "a")
    for method, path in sorted(SELLER_PAGES | SELLER_API):
        if "{" not in path:
            continue
        headers = bearer(world, "a") if path.startswith("/api/") else None
        theirs = send(client, method, concrete(path, world, mine=False, other=True), csrf, headers)
        missing = send(client, method, concrete(path, world, mine=False, other=False), csrf, headers)
        assert theirs.status_code == 404 == missing.status_code, (method, path, theirs.status_code)
        assert theirs.content == missing.content, (method, path)
        assert not mentions(theirs.text, world["b_review"]) and not mentions(theirs.text, world["b_product"])
    # Listing routes show only the caller's own rows.
    b_ids = {r["review_id"] for r in queries.seller_reviews(world["engine"], "S2", page_size=10_000).rows}
    listed = client.get("/api/reviews?page_size=500", headers=bearer(world, "a")).json()
    assert listed["total"] and not {r["review_id"] for r in listed["reviews"]} & b_ids
    assert all(p["product_id"].startswith("P1-") for p in client.get("/api/products", headers=bearer(world, "a"))
               .json()["products"])
    page = client.get("/seller").text
    assert "P2-" not in page and not any(f">{rid}<" in page for rid in b_ids)
    assert world["b_upload"] not in client.get("/seller/screen").text
    # B sees its own upload.
    b_client, _ = client_for(world, "b")
    assert b_client.get(f"/seller/uploads/{world['b_upload']}").status_code == 200
    assert b_client.get(f"/api/uploads/{world['b_upload']}", headers=bearer(world, "b")).status_code == 200


def test_seller_is_refused_every_analyst_route_and_analyst_every_seller_route(world):
    seller, seller_csrf = client_for(world, "a")
    analyst, analyst_csrf = client_for(world, "analyst")
    for method, path in sorted(ANALYST_PAGES | ANALYST_API):
        headers = bearer(world, "a") if path.startswith("/api/") else None
        existing = send(seller, method, concrete(path, world, mine=False, other=True), seller_csrf, headers)
        missing = send(seller, method, concrete(path, world, mine=False, other=False), seller_csrf, headers)
        assert existing.status_code == 403 == missing.status_code, (method, path, existing.status_code)
        assert existing.content == missing.content
    for method, path in sorted(SELLER_PAGES | SELLER_API):
        headers = bearer(world, "analyst") if path.startswith("/api/") else None
        response = send(analyst, method, concrete(path, world, mine=True), analyst_csrf, headers)
        assert response.status_code == 403, (method, path, response.status_code)
    # Nothing was decided by any of these requests.
    assert queries.case(world["engine"], world["case"]["entity_type"], world["case"]["entity_id"])["decisions"] == []


def test_every_form_post_needs_the_sessions_csrf_token(world):
    seller, seller_csrf = client_for(world, "a")
    analyst, analyst_csrf = client_for(world, "analyst")
    anonymous = TestClient(world["app"])
    anonymous.get("/login")
    posts = [(anonymous, "/login", {"token": world["tokens"]["a"]}),
             (seller, "/logout", {}),
             (analyst, concrete("/cases/{entity_type}/{entity_id}/decision", world, mine=False), {"verdict": "fraud"}),
             (analyst, "/rings/R-1/decision", {"verdict": "fraud"})]
    for client, url, data in posts:
        for token in (None, "wrong", analyst_csrf if client is seller else seller_csrf):
            payload = dict(data, **({"csrf_token": token} if token else {}))
            response = client.post(url, data=payload, follow_redirects=False)
            assert response.status_code == 403, (url, token, response.status_code)
    for token in (None, "wrong", analyst_csrf):
        files = {"file": ("r.csv", b"text,rating\nhello,5\n", "text/csv")}
        response = seller.post("/seller/screen", files=files, data={"csrf_token": token} if token else {},
                               follow_redirects=False)
        assert response.status_code == 403
    assert seller.post("/seller/screen", content=b"x", headers={"content-type": "text/plain"}).status_code == 403
    assert queries.case(world["engine"], world["case"]["entity_type"], world["case"]["entity_id"])["decisions"] == []
    assert seller.get("/seller").status_code == 200  # the seller is still signed in


def test_headers_cookie_flags_and_inert_markup(world):
    client = TestClient(world["app"])
    csrf = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"token": world["tokens"]["a"], "csrf_token": csrf}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = client.get("/seller")
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP and "form-action 'self'" in CSP
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text.lower() and " style=" not in page.text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" not in page.text
    flagged = [r for r in queries.seller_reviews(world["engine"], "S1", flagged_only=True, page_size=5).rows
               if r["text"] == XSS_TEXT]
    review_page = client.get(f"/seller/reviews/{flagged[0]['review_id']}").text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in review_page
    assert "<script" not in review_page.lower() and "<img src=x" not in review_page
    # An upload with markup and formulas: inert on the page, quoted in the CSV download.
    upload = f'text,rating,reviewer\n"{XSS_TEXT}",5,"{FORMULA.replace(chr(34), chr(34) * 2)}"\n@SUM(A1),4,+bob\n'
    csrf = csrf_of(client.get("/seller/screen").text)
    response = client.post("/seller/screen", files={"file": ("x.csv", upload.encode(), "text/csv")},
                           data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    results = client.get(response.headers["location"])
    assert "<script" not in results.text.lower() and "&lt;script&gt;" in results.text
    download = client.get(response.headers["location"] + "/results.csv")
    assert download.headers["content-disposition"].startswith("attachment")
    lines = download.text.splitlines()
    assert "'@SUM(A1)" in download.text and "'+bob" in download.text and "'=HYPERLINK" in download.text
    assert not any(cell.startswith(("=", "+", "@")) for line in lines for cell in line.split(","))


def test_raw_pii_never_shown(world, tmp_path):
    """The importer hashes identifiers through ingest: a raw email of the input never reaches a page."""
    from fraudlens.workspace.importer import read_input_tables
    from fraudlens.workspace.synth import synthetic_run

    _, tables, _ = synthetic_run(n_reviews=50, n_orders=30, n_sellers=1, products_per_seller=2)
    raw = tmp_path / "input"
    raw.mkdir()
    tables["accounts"]["email"] = [f"person{k}@example.com" for k in range(len(tables["accounts"]))]
    tables["accounts"]["created_at"] = tables["accounts"]["created_at"].astype("datetime64[us]")
    for name, frame in tables.items():
        frame.to_parquet(raw / f"{name}.parquet")
    hashed = read_input_tables(raw)
    assert not hashed["accounts"]["email"].str.contains("@").any()
    assert hashed["accounts"]["email"].str.match(r"^h[0-9a-f]{23}$").all()
    client, _ = client_for(world, "analyst")
    case = world["case"]
    page = client.get(f"/cases/{case['entity_type']}/{case['entity_id']}").text
    assert "@example.com" not in page and "keyed hashes" in page


def test_failed_sign_ins_and_tokens_are_rate_limited(world):
    app = create_app(world["state"], text_model_uri=None, login_failures_per_minute=3)
    client = TestClient(app)
    csrf = csrf_of(client.get("/login").text)
    codes = [client.post("/login", data={"token": "fl_1_" + "y" * 43, "csrf_token": csrf}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Even the right token is refused while limited; so is the API from the same client.
    assert client.post("/login", data={"token": world["tokens"]["a"], "csrf_token": csrf}).status_code == 429
    assert client.get("/api/reviews", headers={"Authorization": "Bearer fl_1_" + "z" * 43}).status_code == 429


def xlsx_bytes(rows, extra: dict | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    if not extra:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        for name, payload in extra.items():
            dst.writestr(name, payload)
    return out.getvalue()


def test_uploads_wrong_type_bomb_huge_tiny_and_too_many_rows(world):
    client, csrf = client_for(world, "a")
    api = bearer(world, "a")

    def page(name, payload):
        return client.post("/seller/screen", files={"file": (name, payload, "application/octet-stream")},
                           data={"csrf_token": csrf}, follow_redirects=False)

    def error_of(response):
        return re.search(r'id="upload-error">([^<]+)<', response.text).group(1)

    cases = {
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100): "only .csv and .xlsx",
        ("r.csv", b"\x89PNG\r\n\x1a\n\x00\x00"): "binary data",
        ("r.csv", b"PK\x03\x04rest"): "zip archive",
        ("r.csv", "text,rating\nCafé,5\n".encode("utf-16")): "binary data",
        ("r.csv", b""): "empty",
        ("r.csv", b"text,rating\n"): "no reviews",
        ("r.csv", b"body;stars\nx;5\n"): "missing",
        ("r.csv", b"text,rating\nfine,abc\n"): "rating",
        ("r.xlsx", b"not a zip at all"): "not a valid Excel",
        ("r.xlsx", xlsx_bytes([["text", "rating"], ["ok", 5]], {"xl/bomb.bin": b"\x00" * (60 * 2**20)})): "unpacks to",
    }
    for (name, payload), message in cases.items():
        response = page(name, payload)
        assert response.status_code == 400, (name, message, response.status_code)
        assert message in error_of(response), (name, error_of(response))
        api_response = client.post("/api/screen", files={"file": (name, payload)}, headers=api)
        assert api_response.status_code == 400 and message in api_response.json()["detail"]
    # A zip bomb is refused from the zip directory: it is never inflated.
    bomb = xlsx_bytes([["text", "rating"], ["ok", 5]], {"xl/bomb.bin": b"\x00" * (60 * 2**20)})
    assert len(bomb) < 200_000
    # Too many rows (the limit + 1, and a million), in CSV and XLSX.
    many = ("text,rating\n" + "".join(f"review {i},5\n" for i in range(screening.MAX_ROWS + 1))).encode()
    assert "more than 2,000 reviews" in error_of(page("many.csv", many))
    million = b"text,rating\n" + b"x,5\n" * 1_000_000  # 4 MB: under the byte limit, over the row limit
    assert len(million) < screening.MAX_UPLOAD_BYTES
    assert "more than 2,000 reviews" in error_of(page("million.csv", million))
    wide_million = b"text,rating\n" + b"a longer review text,5\n" * 1_000_000  # 23 MB
    response = client.post("/seller/screen", files={"file": ("m.csv", wide_million)}, data={"csrf_token": csrf})
    assert response.status_code == 413 and "limit" in response.text
    rows_big = xlsx_bytes([["text", "rating"]] + [[f"r{i}", 5] for i in range(screening.MAX_ROWS + 5)])
    assert "more than 2,000 reviews" in error_of(page("many.xlsx", rows_big))
    # One row works (and is scored), in CSV and XLSX.
    for name, payload in (("one.csv", b"text,rating\nGreat kettle,5\n"), ("one.xlsx", xlsx_bytes([["Text", "Rating"],
                                                                                                ["Great kettle", 5]]))):
        response = page(name, payload)
        assert response.status_code == 303, (name, response.text[:500])
        result = client.get(response.headers["location"]).text
        assert "Great kettle" in result and 'id="no-text-model"' in result
    # 200 MB: refused by Content-Length before anything is read...
    huge = client.post("/api/screen", content=b"x" * 10, headers={**api, "content-type": "multipart/form-data; "
                                                                         "boundary=b", "content-length": str(200 * 2**20)})
    assert huge.status_code == 413 and "limit" in huge.json()["detail"]

    # ...and, without a Content-Length (chunked), by counting the bytes as they stream.
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\ntext,rating\n"
        for _ in range(200):
            yield b"y" * (1 << 20)

    streamed = client.post("/api/screen", content=chunks(), headers={**api, "content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413
    streamed_page = client.post("/seller/screen", content=chunks(),
                                headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed_page.status_code == 413 and "File too large" in streamed_page.text
