"""The fraudlens web app: server-rendered pages and a JSON API over a workspace (fraudlens.workspace).

``create_app(state_dir)`` builds it; ``fraudlens serve --state DIR`` runs it with uvicorn.
Pages authenticate with a signed session cookie (HttpOnly, SameSite=Strict), the API with
``Authorization: Bearer <token>``; every route states its scope through its dependency, and
every seller query is scoped by the caller's seller id in SQL (docs/web.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from fraudlens.web import security
from fraudlens.web.security import (
    CSRF_FIELD,
    SESSION_CSRF,
    SESSION_USER,
    BodyLimitMiddleware,
    BodyTooLarge,
    LoginRequired,
    RateLimiter,
    SecurityHeadersMiddleware,
    TokenCache,
    bearer_user,
    check_csrf,
    client_key,
    csrf_token,
    read_limited_body,
    session_user,
)
from fraudlens.workspace import decisions as decisions_lib
from fraudlens.workspace import queries, screening
from fraudlens.workspace.accounts import ANALYST, SELLER, User, verify_token
from fraudlens.workspace.db import open_engine, session_secret

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
# The body limit: the upload limit plus room for the multipart envelope and form fields.
REQUEST_LIMIT = screening.MAX_UPLOAD_BYTES + 64 * 1024
SESSION_MAX_AGE = 8 * 3600
API_PAGE_MAX = 500


# ---------------------------------------------------------------------------------------------
# Callers and their scopes (every route depends on exactly one of these, or is public)
# ---------------------------------------------------------------------------------------------

def page_seller(user: User = Depends(session_user)) -> User:
    if user.role != SELLER:
        raise HTTPException(403, "this page is for sellers")
    return user


def page_analyst(user: User = Depends(session_user)) -> User:
    if user.role != ANALYST:
        raise HTTPException(403, "this page is for analysts")
    return user


def api_seller(user: User = Depends(bearer_user)) -> User:
    if user.role != SELLER:
        raise HTTPException(403, "this endpoint is for sellers")
    return user


def api_analyst(user: User = Depends(bearer_user)) -> User:
    if user.role != ANALYST:
        raise HTTPException(403, "this endpoint is for analysts")
    return user


NOT_FOUND = HTTPException(404, "not found")


class DecisionIn(BaseModel):
    entity_type: str = Field(description="review, order, or ring (a ring decides every review and order of its members)")
    entity_id: str = Field(max_length=200)
    is_fraud: bool
    note: str | None = Field(None, max_length=decisions_lib.MAX_NOTE)


# ---------------------------------------------------------------------------------------------

def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "-" if v is None else f"{100 * v:.1f} %"
    env.filters["num"] = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
    env.filters["short"] = lambda v, n=300: "" if v is None else (v if len(v) <= n else v[:n] + "…")
    return env


def create_app(state_dir: Path | str, text_model_uri: str | None = screening.DEFAULT_TEXT_MODEL_URI,
               tracking_uri: str | None = None, secure_cookies: bool = False, login_failures_per_minute: int = 5,
               preload_text_model: bool = False) -> FastAPI:
    """The app over the workspace in ``state_dir`` (made by ``fraudlens workspace import``)."""
    state_dir = Path(state_dir)
    engine = open_engine(state_dir, create=True)
    app = FastAPI(title="fraudlens", version="1", docs_url=None, redoc_url=None,
                  description="Seller and analyst workspace over fraudlens scoring runs. Every endpoint needs "
                              "`Authorization: Bearer <token>` (a token from `fraudlens sellers add` or "
                              "`fraudlens analysts add`). Pages: /login.")
    app.state.engine = engine
    app.state.state_dir = state_dir
    app.state.limiter = RateLimiter(login_failures_per_minute, 60.0)
    app.state.token_cache = TokenCache()
    app.state.text_model = screening.TextModelHandle(text_model_uri, tracking_uri)
    if preload_text_model:
        app.state.text_model.get()
    env = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(SessionMiddleware, secret_key=session_secret(state_dir).decode(),
                       session_cookie="fraudlens_session", max_age=SESSION_MAX_AGE, same_site="strict",
                       https_only=secure_cookies)
    app.add_middleware(BodyLimitMiddleware, limit=REQUEST_LIMIT)
    app.add_middleware(SecurityHeadersMiddleware)

    def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        user = None
        uid = request.session.get(SESSION_USER)
        if isinstance(uid, int):
            from fraudlens.workspace.accounts import get_user

            user = get_user(engine, uid)
        html = env.get_template(name).render(csrf=csrf_token(request), me=user, request_path=request.url.path,
                                             **context)
        return HTMLResponse(html, status_code=status_code)

    # ---- errors: never a traceback; the same body for "not yours" and "does not exist" ----------

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: F401

        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if _is_api(request):
            return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, message=detail)

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_http_error(request: Request, exc: StarletteHTTPException):
        detail = "not found" if exc.status_code == 404 else (exc.detail if isinstance(exc.detail, str) else "error")
        if _is_api(request):
            return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, message=detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        if _is_api(request):
            return JSONResponse({"detail": "invalid request", "errors": [
                {"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]}, status_code=422)
        return render(request, "error.html", status_code=422, status=422, message="invalid request")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        if _is_api(request):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        return HTMLResponse("<!doctype html><title>error</title><p>Internal error.</p>", status_code=500)

    # ---- public ---------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(request: Request):
        try:
            user = session_user(request)
        except LoginRequired:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse("/queue" if user.role == ANALYST else "/seller", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request):
        return render(request, "login.html")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        check_csrf(request, form.get(CSRF_FIELD))
        key = client_key(request)
        app.state.limiter.check(key)
        token = form.get("token")
        user = await run_in_threadpool(verify_token, engine, token if isinstance(token, str) else None)
        if user is None:
            app.state.limiter.fail(key)
            return render(request, "login.html", status_code=401, error="That token is not valid.")
        request.session.clear()
        request.session[SESSION_USER] = user.id
        request.session[SESSION_CSRF] = security.secrets.token_urlsafe(32)
        return RedirectResponse("/queue" if user.role == ANALYST else "/seller", status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        form = await request.form()
        check_csrf(request, form.get(CSRF_FIELD))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/api", include_in_schema=False)
    def api_docs(request: Request):
        """The API reference, rendered on the server from FastAPI's OpenAPI schema (no JavaScript)."""
        spec = app.openapi()
        endpoints = []
        for path, methods in spec.get("paths", {}).items():
            for method, op in methods.items():
                params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                           "description": p.get("description", "")} for p in op.get("parameters", [])]
                endpoints.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                                  "description": op.get("description", ""), "params": params,
                                  "body": "requestBody" in op,
                                  "responses": sorted(op.get("responses", {}).keys())})
        return render(request, "api.html", endpoints=endpoints, info=spec.get("info", {}))

    # ---- seller pages ---------------------------------------------------------------------------

    @app.get("/seller", include_in_schema=False)
    def seller_home(request: Request, user: User = Depends(page_seller)):
        products = queries.seller_products(engine, user.seller_id)
        flagged = queries.seller_reviews(engine, user.seller_id, flagged_only=True, page_size=20)
        return render(request, "seller.html", products=products, flagged=flagged,
                      run=queries.latest_import(engine))

    @app.get("/seller/products/{product_id}", include_in_schema=False)
    def seller_product(request: Request, product_id: str, page: int = Query(1, ge=1, le=100_000),
                       user: User = Depends(page_seller)):
        product = queries.seller_product(engine, user.seller_id, product_id)
        if product is None:
            raise NOT_FOUND
        reviews = queries.seller_reviews(engine, user.seller_id, product_id=product_id, page=page)
        return render(request, "product.html", product=product, reviews=reviews)

    @app.get("/seller/reviews/{review_id}", include_in_schema=False)
    def seller_review(request: Request, review_id: str, user: User = Depends(page_seller)):
        review = queries.seller_review(engine, user.seller_id, review_id)
        if review is None:
            raise NOT_FOUND
        return render(request, "review.html", review=review)

    @app.get("/seller/screen", include_in_schema=False)
    def screen_form(request: Request, user: User = Depends(page_seller)):
        return render(request, "screen.html", uploads=screening.uploads_of(engine, user), limits=_limits())

    async def _read_upload(request: Request) -> tuple[dict, UploadFile | None]:
        """Fields and the file of a multipart upload, counted while it streams."""
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise screening.UploadError("send the file as multipart/form-data (a form with a file field)")
        body = await read_limited_body(request, REQUEST_LIMIT)

        async def stream():
            yield body

        try:
            form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=10,
                                         max_part_size=64 * 1024).parse()
        except MultiPartException as exc:
            raise screening.UploadError(f"the upload could not be read ({exc.message})") from None
        upload = form.get("file")
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        return fields, upload if isinstance(upload, UploadFile) else None

    async def _screen(user: User, upload: UploadFile | None) -> dict:
        if upload is None:
            raise screening.UploadError("choose a file to upload (.csv or .xlsx)")
        payload = await upload.read()
        return await run_in_threadpool(screening.screen_upload, engine, user, upload.filename or "", payload,
                                       app.state.text_model)

    @app.post("/seller/screen", include_in_schema=False)
    async def screen_submit(request: Request, user: User = Depends(page_seller)):
        # The CSRF field travels inside the multipart body: it is checked before anything is screened.
        try:
            fields, upload = await _read_upload(request)
        except BodyTooLarge:
            return security.too_large_response(request.url.path, REQUEST_LIMIT)
        except screening.UploadError as exc:
            check_csrf(request, request.query_params.get(CSRF_FIELD))  # no readable form: only a query token
            return render(request, "screen.html", status_code=400, error=str(exc),
                          uploads=screening.uploads_of(engine, user), limits=_limits())
        check_csrf(request, fields.get(CSRF_FIELD))
        try:
            record = await _screen(user, upload)
        except screening.UploadError as exc:
            return render(request, "screen.html", status_code=400, error=str(exc),
                          uploads=screening.uploads_of(engine, user), limits=_limits())
        return RedirectResponse(f"/seller/uploads/{record['public_id']}", status_code=303)

    @app.get("/seller/uploads/{upload_id}", include_in_schema=False)
    def upload_page(request: Request, upload_id: str, user: User = Depends(page_seller)):
        record = screening.upload_of(engine, user, upload_id)
        if record is None:
            raise NOT_FOUND
        results = screening.upload_results(engine, user, upload_id)
        rows = [queries._with_reasons(r) for r in results.astype(object).where(results.notna(), None)
                .to_dict("records")]
        return render(request, "upload.html", upload=record, rows=rows, handle=app.state.text_model)

    @app.get("/seller/uploads/{upload_id}/results.csv", include_in_schema=False)
    def upload_csv(upload_id: str, user: User = Depends(page_seller)):
        results = screening.upload_results(engine, user, upload_id)
        if results is None:
            raise NOT_FOUND
        return Response(screening.results_csv(results), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="screening-{upload_id}.csv"'})

    # ---- analyst pages --------------------------------------------------------------------------

    @app.get("/queue", include_in_schema=False)
    def queue_page(request: Request, decision: str = "flag", type: str = "all", reason: str = "", ring: str = "",
                   date_from: str = Query("", alias="from", max_length=10),
                   date_to: str = Query("", alias="to", max_length=10), status: str = "open",
                   page: int = Query(1, ge=1, le=100_000), user: User = Depends(page_analyst)):
        filters = {"decision": decision, "type": type, "reason": reason, "ring": ring, "from": date_from,
                   "to": date_to, "status": status}
        result = queries.queue(engine, decision=decision, entity_type=type, reason=reason or None,
                               ring_id=ring or None, date_from=date_from or None, date_to=date_to or None,
                               status=status, page=page)
        keep = {k: v for k, v in filters.items() if v}
        return render(request, "queue.html", result=result, filters=filters, reason_codes=queries.reason_codes(engine),
                      query=lambda **kw: "?" + urlencode({**keep, **kw}))

    def _case_or_404(entity_type: str, entity_id: str) -> dict:
        data = queries.case(engine, entity_type, entity_id)
        if data is None:
            raise NOT_FOUND
        return data

    @app.get("/cases/{entity_type}/{entity_id}", include_in_schema=False)
    def case_page(request: Request, entity_type: str, entity_id: str, user: User = Depends(page_analyst)):
        data = _case_or_404(entity_type, entity_id)
        svg = queries.ring_svg(data["ring"]) if data["ring"] else None
        return render(request, "case.html", case=data, svg=svg, done=request.query_params.get("done"))

    def _verdict(form) -> bool:
        verdict = form.get("verdict")
        if verdict not in ("fraud", "not_fraud"):
            raise HTTPException(400, "choose fraud or not fraud")
        return verdict == "fraud"

    @app.post("/cases/{entity_type}/{entity_id}/decision", include_in_schema=False)
    async def case_decide(request: Request, entity_type: str, entity_id: str, user: User = Depends(page_analyst)):
        form = await request.form()
        check_csrf(request, form.get(CSRF_FIELD))
        is_fraud = _verdict(form)
        note = form.get("note") if isinstance(form.get("note"), str) else None
        try:
            await run_in_threadpool(decisions_lib.decide_case, engine, user, entity_type, entity_id, is_fraud, note)
        except decisions_lib.NotFound:
            raise NOT_FOUND from None
        return RedirectResponse(f"/cases/{entity_type}/{entity_id}?done=1", status_code=303)

    @app.get("/rings/{ring_id}", include_in_schema=False)
    def ring_page(request: Request, ring_id: str, user: User = Depends(page_analyst)):
        data = queries.ring(engine, ring_id)
        if data is None:
            raise NOT_FOUND
        return render(request, "ring.html", ring=data, svg=queries.ring_svg(data), done=request.query_params.get("done"))

    @app.post("/rings/{ring_id}/decision", include_in_schema=False)
    async def ring_decide(request: Request, ring_id: str, user: User = Depends(page_analyst)):
        form = await request.form()
        check_csrf(request, form.get(CSRF_FIELD))
        is_fraud = _verdict(form)
        note = form.get("note") if isinstance(form.get("note"), str) else None
        try:
            await run_in_threadpool(decisions_lib.decide_ring, engine, user, ring_id, is_fraud, note)
        except decisions_lib.NotFound:
            raise NOT_FOUND from None
        return RedirectResponse(f"/rings/{ring_id}?done=1", status_code=303)

    # ---- the JSON API ---------------------------------------------------------------------------

    def _review_json(row: dict) -> dict:
        return {"review_id": row["review_id"], "product_id": row["product_id"], "score": row["score"],
                "decision": row["decision"], "text_fake_probability": row.get("text_fake_probability"),
                "ring_id": row.get("ring_id"), "model_version": row.get("model_version"),
                "reasons": row["reasons"], "rating": row.get("rating"), "created_at": row.get("created_at")}

    @app.get("/api/reviews", tags=["sellers"], summary="The caller's reviews, most suspicious first")
    def api_reviews(page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(100, ge=1, le=API_PAGE_MAX),
                    product_id: str | None = Query(None, max_length=200), flagged_only: bool = False,
                    user: User = Depends(api_seller)):
        """review_id, product_id, score, decision and reasons of the caller's reviews, paginated."""
        result = queries.seller_reviews(engine, user.seller_id, product_id=product_id, page=page, page_size=page_size,
                                        flagged_only=flagged_only)
        return {"page": result.page, "page_size": result.page_size, "total": result.total,
                "reviews": [_review_json(r) for r in result.rows]}

    @app.get("/api/reviews/{review_id}", tags=["sellers"], summary="One of the caller's reviews",
             responses={404: {"description": "not the caller's, or does not exist (the same answer)"}})
    def api_review(review_id: str, user: User = Depends(api_seller)):
        review = queries.seller_review(engine, user.seller_id, review_id)
        if review is None:
            raise NOT_FOUND
        return {**_review_json(review), "text": review.get("text")}

    @app.get("/api/products", tags=["sellers"], summary="The caller's products with trust grade and adjusted rating")
    def api_products(user: User = Depends(api_seller)):
        out = []
        for p in queries.seller_products(engine, user.seller_id):
            a = p["adjusted"]
            out.append({"product_id": p["product_id"], "category": p["category"], "n_reviews": p["n_reviews"],
                        "n_suspicious": p["n_suspicious"], "share_suspicious": p["share_suspicious"],
                        "trust_grade": p["grade"], "mean_rating": p["raw_mean"],
                        "adjusted_rating": {"mean": a.mean, "low_95": a.low, "high_95": a.high, "n": a.n}})
        return {"products": out}

    def _upload_json(record: dict, results) -> dict:
        rows = [queries._with_reasons(r) for r in results.astype(object).where(results.notna(), None).to_dict("records")]
        return {"upload_id": record["public_id"], "filename": record["filename"], "created_at": record["created_at"],
                "n_rows": record["n_rows"], "n_flagged": record["n_flagged"], "text_model": record["text_model"],
                "rows": [{"row": r["row_no"], "review_id": r["review_id"], "score": r["score"],
                          "decision": r["decision"], "text_fake_probability": r["text_fake_probability"],
                          "reasons": r["reasons"]} for r in rows]}

    @app.post("/api/screen", tags=["sellers"], summary="Screen a CSV or XLSX of the caller's reviews",
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["file"],
                  "properties": {"file": {"type": "string", "format": "binary",
                                          "description": "CSV or XLSX: text and rating columns, optionally date, "
                                                         "reviewer, verified"}}}}}}},
              responses={400: {"description": "unusable file (the message says why)"},
                         413: {"description": "larger than the upload limit"}})
    async def api_screen(request: Request, user: User = Depends(api_seller)):
        try:
            _, upload = await _read_upload(request)
            record = await _screen(user, upload)
        except BodyTooLarge:
            return security.too_large_response(request.url.path, REQUEST_LIMIT)
        except screening.UploadError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return _upload_json(record, screening.upload_results(engine, user, record["public_id"]))

    @app.get("/api/uploads/{upload_id}", tags=["sellers"], summary="Results of one of the caller's uploads",
             responses={404: {"description": "not the caller's, or does not exist (the same answer)"}})
    def api_upload(upload_id: str, user: User = Depends(api_seller)):
        record = screening.upload_of(engine, user, upload_id)
        if record is None:
            raise NOT_FOUND
        return _upload_json(record, screening.upload_results(engine, user, upload_id))

    @app.get("/api/queue", tags=["analysts"], summary="Scored reviews and orders, highest score first")
    def api_queue(decision: str = Query("flag", pattern="^(flag|pass|all)$"),
                  entity_type: str = Query("all", pattern="^(review|order|all)$"),
                  reason: str | None = Query(None, max_length=64), ring_id: str | None = Query(None, max_length=64),
                  date_from: str | None = Query(None, max_length=10, description="YYYY-MM-DD, inclusive"),
                  date_to: str | None = Query(None, max_length=10, description="YYYY-MM-DD, inclusive"),
                  status: str = Query("all", pattern="^(open|fraud|not_fraud|all)$"),
                  page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(100, ge=1, le=API_PAGE_MAX),
                  user: User = Depends(api_analyst)):
        result = queries.queue(engine, decision=decision, entity_type=entity_type, reason=reason, ring_id=ring_id,
                               date_from=date_from, date_to=date_to, status=status, page=page, page_size=page_size)
        keys = ("entity_type", "entity_id", "product_id", "account_id", "created_at", "score", "rank", "decision",
                "ring_id", "model_version", "text_fake_probability", "reasons", "analyst_label")
        return {"page": result.page, "page_size": result.page_size, "total": result.total,
                "items": [{k: r.get(k) for k in keys} for r in result.rows]}

    @app.post("/api/decisions", tags=["analysts"], summary="Confirm fraud / not fraud on a case or a whole ring",
              responses={404: {"description": "no such review, order or ring"}})
    def api_decide(body: DecisionIn, user: User = Depends(api_analyst)):
        try:
            if body.entity_type == "ring":
                n = decisions_lib.decide_ring(engine, user, body.entity_id, body.is_fraud, body.note)
            elif body.entity_type in queries.ENTITY_TYPES:
                n = decisions_lib.decide_case(engine, user, body.entity_type, body.entity_id, body.is_fraud, body.note)
            else:
                raise HTTPException(422, "entity_type must be review, order or ring")
        except decisions_lib.NotFound:
            raise NOT_FOUND from None
        return {"decided": n, "entity_type": body.entity_type, "entity_id": body.entity_id, "is_fraud": body.is_fraud,
                "analyst": user.name}

    return app


def _limits() -> dict:
    return {"bytes_mb": screening.MAX_UPLOAD_BYTES // 2**20, "rows": screening.MAX_ROWS,
            "xlsx_mb": screening.MAX_XLSX_UNCOMPRESSED // 2**20}
