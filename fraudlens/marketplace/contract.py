"""The input table contract: which tables fraudlens reads, their columns and rules.

This is the single source of truth that ingest enforces and that docs/data-contract.md
describes. Identifier columns marked ``pii`` are replaced by a keyed hash at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["id", "text", "int", "float", "timestamp", "category", "pii", "flag"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    # (table, column) this column points to; a dangling reference is flagged, not dropped.
    references: tuple[str, str] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str | None
    columns: tuple[Column, ...]
    description: str = ""
    # Whether the table takes the platform's own numeric signals (``signal_*`` columns).
    signals: bool = False

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "refunded", "chargeback")
LABEL_ENTITY_TYPES = ("review", "order", "account")
# Identity node types of the graph, and the raw identifier column each one comes from.
IDENTITY_COLUMNS = {
    "device": "device_id",
    "ip": "ip",
    "payment": "payment_token",
    "address": "shipping_address",
}
MAX_TEXT_CHARS = 20_000
# Why a row was quarantined (the first problem found); docs/data-contract.md explains each.
QUARANTINE_REASONS = (
    "missing_value",
    "bad_type",
    "out_of_range",
    "not_allowed",
    "future_timestamp",
    "implausible_timestamp",
    "duplicate_id",
    "invalid_utf8",
)
# Usable but suspicious rows of the scored tables are kept and carry these flags.
ROW_FLAGS = ("unknown_account", "unknown_product", "unknown_order", "text_truncated", "bad_signal")
# Extra numeric columns of reviews, orders and accounts named signal_<name> (lower-case letters,
# digits, underscores) are the platform's own scores and counts: ingest validates them as
# finite numbers and they become node features (docs/data-contract.md, "Platform signals").
SIGNAL_PREFIX = "signal_"
SIGNAL_NAME = r"^signal_[a-z0-9_]+$"

REVIEWS = TableSpec(
    name="reviews",
    signals=True,
    key="review_id",
    description="One row per product review.",
    columns=(
        Column("review_id", "id", description="Unique review id."),
        Column("account_id", "id", references=("accounts", "account_id"), description="Author."),
        Column("product_id", "id", references=("products", "product_id"), description="Reviewed product."),
        Column("text", "text", description="Review text (may be empty; capped at 20,000 characters)."),
        Column("rating", "int", minimum=1, maximum=5, description="Star rating 1-5."),
        Column("created_at", "timestamp", description="When the review was posted."),
        Column("order_id", "id", required=False, references=("orders", "order_id"),
               description="Set for a verified purchase: the order behind the review."),
        Column("helpful_votes", "int", required=False, minimum=0, description="Helpful votes received."),
        Column("language", "category", required=False, description="ISO 639-1 language code."),
    ),
)

ORDERS = TableSpec(
    name="orders",
    signals=True,
    key="order_id",
    description="One row per order.",
    columns=(
        Column("order_id", "id", description="Unique order id."),
        Column("account_id", "id", references=("accounts", "account_id"), description="Buyer."),
        Column("product_id", "id", references=("products", "product_id"), description="Product bought."),
        Column("seller_id", "id", description="Seller of the product."),
        Column("amount", "float", minimum=0, description="Order amount, >= 0."),
        Column("currency", "category", description="ISO 4217 currency code."),
        Column("created_at", "timestamp", description="When the order was placed."),
        Column("status", "category", allowed=ORDER_STATUSES, description="Order status."),
        Column("device_id", "pii", required=False, description="Raw device id (hashed at ingest)."),
        Column("ip", "pii", required=False, description="Raw IP address (hashed at ingest)."),
        Column("payment_token", "pii", required=False, description="Card/payment token (hashed at ingest)."),
        Column("shipping_address", "pii", required=False, description="Shipping address (hashed at ingest)."),
        Column("email", "pii", required=False, description="Buyer email (hashed at ingest)."),
    ),
)

PRODUCTS = TableSpec(
    name="products",
    key="product_id",
    description="Product catalogue.",
    columns=(
        Column("product_id", "id", description="Unique product id."),
        Column("seller_id", "id", description="Seller."),
        Column("category", "category", description="Product category."),
        Column("price", "float", minimum=0, description="List price, >= 0."),
    ),
)

ACCOUNTS = TableSpec(
    name="accounts",
    signals=True,
    key="account_id",
    description="Buyer/reviewer accounts.",
    columns=(
        Column("account_id", "id", description="Unique account id."),
        Column("created_at", "timestamp", description="Account creation time."),
        Column("country", "category", description="ISO 3166-1 alpha-2 country."),
        Column("email", "pii", required=False, description="Raw email (hashed at ingest)."),
        Column("phone", "pii", required=False, description="Raw phone (hashed at ingest)."),
        Column("device_id", "pii", required=False, description="Primary device id (hashed at ingest)."),
        Column("ip", "pii", required=False, description="Primary/sign-up IP (hashed at ingest)."),
    ),
)

LABELS = TableSpec(
    name="labels",
    key=None,
    description="Known outcomes for some entities (most entities are unlabelled).",
    columns=(
        Column("entity_type", "category", allowed=LABEL_ENTITY_TYPES, description="review, order or account."),
        Column("entity_id", "id", description="Id in the table of that entity type."),
        Column("is_fraud", "flag", description="1/true = fraud, 0/false = legitimate."),
        Column("source", "category", required=False, description="Where the label came from."),
        Column("labeled_at", "timestamp", required=False, description="When it was labelled."),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (REVIEWS, ORDERS, PRODUCTS, ACCOUNTS, LABELS)}
# At least one of these must be present: they are what gets scored.
SCORED_TABLES = ("reviews", "orders")
