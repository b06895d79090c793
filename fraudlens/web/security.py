"""The web app's security pieces: headers (CSP), request-size limit, CSRF tokens, rate limiting
of sign-in / token attempts, and who the caller is (session cookie for pages, bearer token for
the API)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from fastapi import HTTPException, Request
from starlette.responses import HTMLResponse, JSONResponse

from fraudlens.workspace.accounts import User, get_user, verify_token

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
CSRF_FIELD = "csrf_token"
SESSION_USER = "uid"
SESSION_CSRF = "csrf"


class SecurityHeadersMiddleware:
    """Adds the CSP and friends to every response, and ``Cache-Control: no-store`` to all but
    static files (pages show per-user data)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control" or static]
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def too_large_response(path: str, limit: int):
    message = f"The request is larger than {limit / 2**20:.0f} MB, the limit per upload."
    if path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=413)
    return HTMLResponse(f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Too large</title>"
                        f"<link rel=stylesheet href=/static/style.css></head><body><main><h1>File too large</h1>"
                        f"<p class=error>{message}</p><p><a href=/seller/screen>Back to screening</a></p></main>"
                        f"</body></html>", status_code=413)


class BodyLimitMiddleware:
    """Refuses a request whose Content-Length exceeds the limit before reading any of it. (Bodies
    without a Content-Length are counted while they stream: ``read_limited_body``.)"""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = self.limit + 1
                    if length > self.limit:
                        return await too_large_response(scope.get("path", ""), self.limit)(scope, receive, send)
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request body, counted as it streams: BodyTooLarge as soon as it passes ``limit``."""
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


class RateLimiter:
    """At most ``limit`` failed attempts per client key in ``window`` seconds; beyond, 429."""

    def __init__(self, limit: int = 5, window: float = 60.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        events = self._failures.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def check(self, key: str) -> None:
        with self._lock:
            if len(self._recent(key, time.monotonic())) >= self.limit:
                raise HTTPException(429, "too many failed sign-in attempts: wait a minute and try again",
                                    headers={"Retry-After": str(int(self.window))})

    def fail(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, submitted: object) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not isinstance(submitted, str) or not hmac.compare_digest(submitted, expected):
        raise HTTPException(403, "the form expired or did not come from this site: reload the page and try again")


class LoginRequired(Exception):
    pass


class TokenCache:
    """Verified bearer tokens for a few minutes (keyed by their SHA-256), so an API client does
    not pay one scrypt per request. Only successful verifications are cached."""

    def __init__(self, ttl: float = 300.0, size: int = 1024):
        self.ttl, self.size = ttl, size
        self._entries: dict[bytes, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > time.monotonic():
                return entry[1]
        return None

    def put(self, token: str, user: User) -> None:
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, user)


def session_user(request: Request) -> User:
    user_id = request.session.get(SESSION_USER)
    if not isinstance(user_id, int):
        raise LoginRequired()
    user = get_user(request.app.state.engine, user_id)
    if user is None:
        request.session.clear()
        raise LoginRequired()
    return user


def bearer_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    unauthorised = HTTPException(401, "authentication required: send Authorization: Bearer <token>",
                                 headers={"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised
    token = token.strip()
    state = request.app.state
    cached = state.token_cache.get(token)
    if cached is not None:
        return cached
    key = client_key(request)
    state.limiter.check(key)
    user = verify_token(state.engine, token)
    if user is None:
        state.limiter.fail(key)
        raise unauthorised
    state.token_cache.put(token, user)
    return user
