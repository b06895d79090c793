"""Seller and analyst accounts and their access tokens.

A token is ``fl_<user id>_<43 random url-safe characters>`` (256 bits of secret). It is shown
once, when the account is made; the database keeps only a per-token random salt and the
``hashlib.scrypt`` hash of it (n=2**14, r=8, p=1). Verification looks the account up by the id
in the token and compares the hashes in constant time (``hmac.compare_digest``); a malformed
token, an unknown id and a wrong secret all cost one scrypt and give the same ``None``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from fraudlens.errors import FraudLensError
from fraudlens.workspace import audit
from fraudlens.workspace.db import products, users

SELLER, ANALYST = "seller", "analyst"
_TOKEN = re.compile(r"fl_(\d{1,12})_([A-Za-z0-9_-]{43})")
_SCRYPT = dict(n=2 ** 14, r=8, p=1, dklen=32)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
_DUMMY_SALT = b"\x00" * 16


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    seller_id: str | None

    @property
    def is_analyst(self) -> bool:
        return self.role == ANALYST


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def create_user(engine: Engine, name: str, role: str, seller_id: str | None = None) -> tuple[User, str]:
    """Makes the account; returns it and its token (the only time the token exists in clear)."""
    if role not in (SELLER, ANALYST):
        raise FraudLensError(f"unknown role {role!r}")
    if not _NAME.fullmatch(name):
        raise FraudLensError(f"{name!r}: a name is 1-100 letters, digits, '_', '.', '@' or '-', starting with a "
                             "letter or digit")
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first():
            raise FraudLensError(f"an account named {name!r} exists already - fix: pick another name")
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        user_id = conn.execute(insert(users).values(
            name=name, role=role, seller_id=seller_id, token_salt=salt, token_hash=_hash(secret, salt),
            created_at=now_iso())).inserted_primary_key[0]
        audit.record(conn, "cli", f"create_{role}", "user", name, {"seller_id": seller_id})
    return User(user_id, name, role, seller_id), f"fl_{user_id}_{secret}"


def create_seller(engine: Engine, seller_id: str) -> tuple[User, str, bool]:
    """A seller account named after its seller id; the bool says whether the seller has products."""
    user, token = create_user(engine, seller_id, SELLER, seller_id)
    with engine.connect() as conn:
        known = conn.execute(select(products.c.product_id).where(products.c.seller_id == seller_id).limit(1)).first()
    return user, token, known is not None


def create_analyst(engine: Engine, name: str) -> tuple[User, str]:
    return create_user(engine, name, ANALYST)


def verify_token(engine: Engine, token: str | None) -> User | None:
    """The account a token belongs to, or None (same cost and answer for every kind of wrong)."""
    match = _TOKEN.fullmatch(token or "")
    row = None
    if match:
        with engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == int(match.group(1)))).first()
    secret = match.group(2) if match else "x" * 43
    expected = row.token_hash if row is not None else b"\x00" * 32
    ok = hmac.compare_digest(_hash(secret, row.token_salt if row is not None else _DUMMY_SALT), expected)
    if not ok or row is None:
        return None
    return User(row.id, row.name, row.role, row.seller_id)


def get_user(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users.c.id, users.c.name, users.c.role, users.c.seller_id)
                           .where(users.c.id == user_id)).first()
    return User(row.id, row.name, row.role, row.seller_id) if row else None
