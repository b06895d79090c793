"""The workspace database: one SQLite file (WAL mode) behind SQLAlchemy 2 Core.

    <state>/workspace.db   this schema
    <state>/secret.key     the key that signs session cookies (created once, mode 0600)

Scores of the imported runs, the products/accounts/identifiers they need (PII already hashed),
rings, accounts of sellers and analysts (token hashes only), analyst decisions, the
append-only audit log, and sellers' uploads with their results.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine

DB_FILE = "workspace.db"
SECRET_FILE = "secret.key"
N_REASONS = 3

metadata = MetaData()

imports = Table(
    "imports", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String), Column("scores_dir", Text), Column("input_dir", Text),
    Column("imported_at", String, nullable=False), Column("model_version", String),
    Column("n_reviews", Integer), Column("n_orders", Integer), Column("n_rings", Integer),
)

products = Table(
    "products", metadata,
    Column("product_id", String, primary_key=True),
    Column("seller_id", String, nullable=False, index=True),
    Column("category", String), Column("price", Float),
)

def _reason_columns() -> list[Column]:
    return [c for k in range(1, N_REASONS + 1) for c in (Column(f"reason_{k}", String), Column(f"reason_{k}_text", Text))]

# Reviews and orders, one row per scored entity (the latest score of each).
entities = Table(
    "entities", metadata,
    Column("entity_type", String, primary_key=True),
    Column("entity_id", String, primary_key=True),
    Column("product_id", String), Column("seller_id", String), Column("account_id", String),
    Column("created_at", String), Column("rating", Integer), Column("text", Text), Column("order_id", String),
    Column("score", Float, nullable=False), Column("rank", Integer), Column("decision", String, nullable=False),
    *_reason_columns(),
    Column("ring_id", String), Column("text_fake_probability", Float),
    Column("model_name", String), Column("model_version", String), Column("run_id", String),
    Index("ix_entities_queue", "decision", "score"),
    Index("ix_entities_score", "score"),
    Index("ix_entities_product", "entity_type", "product_id"),
    Index("ix_entities_ring", "ring_id"),
    Index("ix_entities_account", "account_id"),
)

accounts = Table(
    "accounts", metadata,
    Column("account_id", String, primary_key=True),
    Column("created_at", String), Column("country", String),
)

# (kind, hashed value, account): identifiers as the state holds them, keyed-hashed at ingest.
identifiers = Table(
    "identifiers", metadata,
    Column("kind", String, nullable=False), Column("value", String, nullable=False),
    Column("account_id", String, nullable=False),
    Index("ix_identifiers_value", "value"), Index("ix_identifiers_account", "account_id"),
)

rings = Table(
    "rings", metadata,
    Column("ring_id", String, primary_key=True),
    Column("ring_score", Float), Column("n_accounts", Integer), Column("n_reviews", Integer),
    Column("n_orders", Integer), Column("five_star_reviews", Integer), Column("five_star_peak_48h", Integer),
    Column("burst_share", Float), Column("mean_member_score", Float), Column("max_member_score", Float),
    Column("shared_identifiers", Text), Column("first_seen", String), Column("last_seen", String),
    Column("span_hours", Float),
)

ring_members = Table(
    "ring_members", metadata,
    Column("ring_id", String, primary_key=True), Column("account_id", String, primary_key=True),
    Index("ix_ring_members_account", "account_id"),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("role", String, nullable=False),  # seller | analyst
    Column("seller_id", String),
    Column("token_salt", LargeBinary, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("created_at", String, nullable=False),
)

# Every analyst decision, one row per entity decided (a ring decision expands to its members).
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_type", String, nullable=False), Column("entity_id", String, nullable=False),
    Column("is_fraud", Integer, nullable=False), Column("note", Text),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False), Column("analyst", String, nullable=False),
    Column("decided_at", String, nullable=False), Column("model_version", String), Column("score", Float),
    Column("via_ring", String),
    Index("ix_decisions_entity", "entity_type", "entity_id", "id"),
)

# The current analyst label per entity (the latest decision): what the queue filters on.
case_status = Table(
    "case_status", metadata,
    Column("entity_type", String, primary_key=True), Column("entity_id", String, primary_key=True),
    Column("is_fraud", Integer, nullable=False), Column("analyst", String, nullable=False),
    Column("decided_at", String, nullable=False), Column("decision_id", Integer, nullable=False),
)

# Append-only: triggers refuse UPDATE and DELETE.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String, nullable=False), Column("actor", String, nullable=False),
    Column("action", String, nullable=False), Column("entity_type", String), Column("entity_id", String),
    Column("detail", Text),
)

uploads = Table(
    "uploads", metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String, nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("filename", String), Column("created_at", String, nullable=False),
    Column("n_rows", Integer), Column("n_flagged", Integer), Column("text_model", String),
)

upload_rows = Table(
    "upload_rows", metadata,
    Column("upload_id", Integer, ForeignKey("uploads.id"), primary_key=True),
    Column("row_no", Integer, primary_key=True),
    Column("review_id", String), Column("text", Text), Column("rating", Integer), Column("created_at", String),
    Column("reviewer", String), Column("verified", Integer),
    Column("score", Float), Column("decision", String), Column("text_fake_probability", Float),
    *_reason_columns(),
)

_AUDIT_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
)


def _on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def open_engine(state_dir: Path | str, create: bool = True) -> Engine:
    """The workspace's engine; creates the directory, schema and triggers when ``create``."""
    state_dir = Path(state_dir)
    path = state_dir / DB_FILE
    if not create and not path.is_file():
        from fraudlens.errors import FraudLensError

        raise FraudLensError(f"{state_dir}: no workspace here ({DB_FILE} missing) - fix: run "
                             f"`fraudlens workspace import --scores DIR --input DIR --state {state_dir}` first")
    state_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    if create:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for statement in _AUDIT_TRIGGERS:
                conn.exec_driver_sql(statement)
    return engine


def session_secret(state_dir: Path | str) -> bytes:
    """The cookie-signing key: FRAUDLENS_WEB_SECRET, else <state>/secret.key (made once, 0600)."""
    env = os.environ.get("FRAUDLENS_WEB_SECRET")
    if env:
        return env.encode()
    path = Path(state_dir) / SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
