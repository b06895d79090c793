"""Read queries behind the pages and the API. Every seller query is scoped by the caller's
seller id inside the SQL: a row that is not the caller's is indistinguishable from one that
does not exist (both give None / nothing)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

from fraudlens.workspace.db import N_REASONS
from fraudlens.workspace.grades import adjusted_rating, trust_grade

PAGE_SIZE = 50
ENTITY_TYPES = ("review", "order")
_SUSPICIOUS = "(CASE WHEN cs.is_fraud IS NOT NULL THEN cs.is_fraud = 1 ELSE e.decision = 'flag' END)"


@dataclass
class Page:
    rows: list[dict]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def reasons_of(row: dict) -> list[dict]:
    """[{code, text}] of a score row's reasons, strongest first."""
    out = []
    for k in range(1, N_REASONS + 1):
        code = row.get(f"reason_{k}")
        if code:
            out.append({"code": code, "text": row.get(f"reason_{k}_text") or code})
    return out


def _page_args(page: int, page_size: int) -> tuple[int, int]:
    page = max(1, int(page))
    return page, (page - 1) * page_size


def seller_products(engine: Engine, seller_id: str, product_id: str | None = None) -> list[dict]:
    """The seller's products with review counts, suspicious share, trust grade and adjusted rating."""
    sql = text(f"""
        SELECT p.product_id, p.category,
               COUNT(e.entity_id) AS n_reviews,
               COALESCE(SUM({_SUSPICIOUS}), 0) AS n_suspicious,
               COALESCE(SUM(e.decision = 'flag'), 0) AS n_flagged,
               SUM(CASE WHEN NOT {_SUSPICIOUS} THEN 1 ELSE 0 END) AS n_kept,
               SUM(CASE WHEN NOT {_SUSPICIOUS} THEN e.rating END) AS kept_sum,
               SUM(CASE WHEN NOT {_SUSPICIOUS} THEN e.rating * e.rating END) AS kept_sq,
               AVG(e.rating) AS raw_mean
        FROM products p
        LEFT JOIN entities e ON e.entity_type = 'review' AND e.product_id = p.product_id
        LEFT JOIN case_status cs ON cs.entity_type = 'review' AND cs.entity_id = e.entity_id
        WHERE p.seller_id = :seller {"AND p.product_id = :product" if product_id is not None else ""}
        GROUP BY p.product_id, p.category
        ORDER BY p.product_id""")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sql, {"seller": seller_id, "product": product_id}).mappings()]
    for row in rows:
        row["grade"] = trust_grade(row["n_reviews"], row["n_suspicious"])
        row["share_suspicious"] = row["n_suspicious"] / row["n_reviews"] if row["n_reviews"] else 0.0
        adjusted = adjusted_rating(row["n_kept"] or 0, row["kept_sum"], row["kept_sq"])
        row["adjusted"] = adjusted
        for key in ("kept_sum", "kept_sq"):
            row.pop(key)
    return rows


def seller_product(engine: Engine, seller_id: str, product_id: str) -> dict | None:
    """One of the seller's products (None when it is another seller's or does not exist)."""
    rows = seller_products(engine, seller_id, product_id)
    return rows[0] if rows else None


_REVIEW_COLUMNS = ("e.entity_id AS review_id, e.product_id, e.account_id, e.created_at, e.rating, e.text, e.order_id, "
                   "e.score, e.rank, e.decision, e.ring_id, e.text_fake_probability, e.model_version, "
                   + ", ".join(f"e.reason_{k}, e.reason_{k}_text" for k in range(1, N_REASONS + 1))
                   + ", cs.is_fraud AS analyst_label")


def seller_reviews(engine: Engine, seller_id: str, product_id: str | None = None, page: int = 1,
                   page_size: int = PAGE_SIZE, flagged_only: bool = False) -> Page:
    """The seller's reviews (of one product, or all), most suspicious first."""
    page, offset = _page_args(page, page_size)
    where = ["e.entity_type = 'review'", "p.seller_id = :seller"]
    params: dict = {"seller": seller_id, "limit": page_size, "offset": offset}
    if product_id is not None:
        where.append("e.product_id = :product")
        params["product"] = product_id
    if flagged_only:
        where.append("e.decision = 'flag'")
    clause = " AND ".join(where)
    base = (f"FROM entities e JOIN products p ON p.product_id = e.product_id "
            f"LEFT JOIN case_status cs ON cs.entity_type = 'review' AND cs.entity_id = e.entity_id WHERE {clause}")
    with engine.connect() as conn:
        total = conn.execute(text(f"SELECT COUNT(*) {base}"), params).scalar_one()
        rows = conn.execute(text(f"SELECT {_REVIEW_COLUMNS} {base} ORDER BY e.score DESC, e.entity_id "
                                 f"LIMIT :limit OFFSET :offset"), params).mappings().all()
    return Page([_with_reasons(dict(r)) for r in rows], total, page, page_size)


def seller_review(engine: Engine, seller_id: str, review_id: str) -> dict | None:
    sql = text(f"SELECT {_REVIEW_COLUMNS} FROM entities e JOIN products p ON p.product_id = e.product_id "
               "LEFT JOIN case_status cs ON cs.entity_type = 'review' AND cs.entity_id = e.entity_id "
               "WHERE e.entity_type = 'review' AND e.entity_id = :r AND p.seller_id = :s")
    with engine.connect() as conn:
        row = conn.execute(sql, {"r": review_id, "s": seller_id}).mappings().first()
    return _with_reasons(dict(row)) if row else None


def _with_reasons(row: dict) -> dict:
    row["reasons"] = reasons_of(row)
    return row


# ---------------------------------------------------------------------------------------------
# Analysts
# ---------------------------------------------------------------------------------------------

QUEUE_STATUSES = ("open", "fraud", "not_fraud", "all")


def queue(engine: Engine, decision: str = "flag", entity_type: str | None = None, reason: str | None = None,
          ring_id: str | None = None, date_from: str | None = None, date_to: str | None = None,
          status: str = "all", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    """Scored reviews and orders, highest score first, filtered."""
    page, offset = _page_args(page, page_size)
    where, params = [], {"limit": page_size, "offset": offset}
    if decision in ("flag", "pass"):
        where.append("e.decision = :decision")
        params["decision"] = decision
    if entity_type in ENTITY_TYPES:
        where.append("e.entity_type = :etype")
        params["etype"] = entity_type
    if reason:
        where.append("(e.reason_1 = :reason OR e.reason_2 = :reason OR e.reason_3 = :reason)")
        params["reason"] = reason
    if ring_id:
        where.append("e.ring_id = :ring")
        params["ring"] = ring_id
    if date_from:
        where.append("e.created_at >= :dfrom")
        params["dfrom"] = date_from
    if date_to:
        where.append("e.created_at < :dto")
        params["dto"] = date_to + "T99"  # the whole last day (ISO strings compare as text)
    if status == "open":
        where.append("cs.is_fraud IS NULL")
    elif status == "fraud":
        where.append("cs.is_fraud = 1")
    elif status == "not_fraud":
        where.append("cs.is_fraud = 0")
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    base = ("FROM entities e LEFT JOIN case_status cs ON cs.entity_type = e.entity_type "
            f"AND cs.entity_id = e.entity_id {clause}")
    count_base = base if status in ("open", "fraud", "not_fraud") else f"FROM entities e {clause}"
    columns = ("e.entity_type, e.entity_id, e.product_id, e.account_id, e.created_at, e.score, e.rank, e.decision, "
               "e.ring_id, e.model_version, e.text_fake_probability, "
               + ", ".join(f"e.reason_{k}, e.reason_{k}_text" for k in range(1, N_REASONS + 1))
               + ", cs.is_fraud AS analyst_label, cs.analyst AS analyst")
    with engine.connect() as conn:
        total = conn.execute(text(f"SELECT COUNT(*) {count_base}"), params).scalar_one()
        rows = conn.execute(text(f"SELECT {columns} {base} ORDER BY e.score DESC LIMIT :limit OFFSET :offset"),
                            params).mappings().all()
    return Page([_with_reasons(dict(r)) for r in rows], total, page, page_size)


_REASON_CACHE: dict = {}


def reason_codes(engine: Engine) -> list[str]:
    """The reason codes present in the workspace (cached per import: a scan of every row)."""
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT MAX(id) FROM imports")).scalar_one()
    key = (str(engine.url), latest)
    if key not in _REASON_CACHE:
        _REASON_CACHE.clear()
        _REASON_CACHE[key] = _reason_codes(engine)
    return _REASON_CACHE[key]


def _reason_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT reason_1 FROM entities WHERE reason_1 IS NOT NULL "
                                 "UNION SELECT DISTINCT reason_2 FROM entities WHERE reason_2 IS NOT NULL "
                                 "UNION SELECT DISTINCT reason_3 FROM entities WHERE reason_3 IS NOT NULL")).all()
    return sorted(r[0] for r in rows)


def entity(engine: Engine, entity_type: str, entity_id: str) -> dict | None:
    if entity_type not in ENTITY_TYPES:
        return None
    with engine.connect() as conn:
        row = conn.execute(text("SELECT e.*, cs.is_fraud AS analyst_label, cs.analyst AS analyst FROM entities e "
                                "LEFT JOIN case_status cs ON cs.entity_type = e.entity_type AND "
                                "cs.entity_id = e.entity_id WHERE e.entity_type = :t AND e.entity_id = :i"),
                           {"t": entity_type, "i": entity_id}).mappings().first()
    return _with_reasons(dict(row)) if row else None


def case(engine: Engine, entity_type: str, entity_id: str, linked_limit: int = 30) -> dict | None:
    """A case: the entity, its reasons, its account's hashed identifiers and who shares them,
    the account's other scored activity, its ring, and the decisions taken so far."""
    row = entity(engine, entity_type, entity_id)
    if row is None:
        return None
    account_id = row.get("account_id")
    with engine.connect() as conn:
        account = conn.execute(text("SELECT * FROM accounts WHERE account_id = :a"), {"a": account_id}).mappings().first()
        ids = conn.execute(text("""
            SELECT i.kind, i.value, (SELECT COUNT(DISTINCT j.account_id) FROM identifiers j
                                     WHERE j.value = i.value AND j.kind = i.kind AND j.account_id != i.account_id) AS others
            FROM identifiers i WHERE i.account_id = :a ORDER BY i.kind, i.value"""), {"a": account_id}).mappings().all()
        linked = conn.execute(text("""
            SELECT j.account_id, GROUP_CONCAT(DISTINCT j.kind) AS kinds, COUNT(DISTINCT j.value) AS n_shared
            FROM identifiers i JOIN identifiers j ON j.value = i.value AND j.kind = i.kind AND j.account_id != i.account_id
            WHERE i.account_id = :a GROUP BY j.account_id ORDER BY n_shared DESC, j.account_id LIMIT :lim"""),
                              {"a": account_id, "lim": linked_limit}).mappings().all()
        activity = conn.execute(text("""
            SELECT entity_type, entity_id, score, decision, created_at FROM entities
            WHERE account_id = :a AND NOT (entity_type = :t AND entity_id = :i) ORDER BY score DESC LIMIT 20"""),
                                {"a": account_id, "t": entity_type, "i": entity_id}).mappings().all()
        history = conn.execute(text("SELECT * FROM decisions WHERE entity_type = :t AND entity_id = :i ORDER BY id"),
                               {"t": entity_type, "i": entity_id}).mappings().all()
    return {"entity": row, "account": dict(account) if account else None, "identifiers": [dict(r) for r in ids],
            "linked": [dict(r) for r in linked], "activity": [dict(r) for r in activity],
            "decisions": [dict(r) for r in history],
            "ring": ring(engine, row["ring_id"]) if row.get("ring_id") else None}


def ring(engine: Engine, ring_id: str) -> dict | None:
    """A ring, its members, the identifier links between members, and the members' scored rows."""
    with engine.connect() as conn:
        info = conn.execute(text("SELECT * FROM rings WHERE ring_id = :r"), {"r": ring_id}).mappings().first()
        if info is None:
            return None
        members = [r[0] for r in conn.execute(text("SELECT account_id FROM ring_members WHERE ring_id = :r "
                                                   "ORDER BY account_id"), {"r": ring_id})]
        links = conn.execute(text("""
            SELECT a.account_id AS a, b.account_id AS b, GROUP_CONCAT(DISTINCT a.kind) AS kinds
            FROM ring_members ma JOIN identifiers a ON a.account_id = ma.account_id
            JOIN identifiers b ON b.value = a.value AND b.kind = a.kind AND b.account_id > a.account_id
            JOIN ring_members mb ON mb.account_id = b.account_id AND mb.ring_id = ma.ring_id
            WHERE ma.ring_id = :r GROUP BY a.account_id, b.account_id"""), {"r": ring_id}).mappings().all()
        counts = conn.execute(text("""
            SELECT e.entity_type, COUNT(*) AS n, SUM(e.decision = 'flag') AS flagged FROM entities e
            WHERE e.account_id IN (SELECT account_id FROM ring_members WHERE ring_id = :r) GROUP BY e.entity_type"""),
                              {"r": ring_id}).mappings().all()
        top = conn.execute(text("""
            SELECT e.entity_type, e.entity_id, e.account_id, e.score, e.decision, cs.is_fraud AS analyst_label
            FROM entities e LEFT JOIN case_status cs ON cs.entity_type = e.entity_type AND cs.entity_id = e.entity_id
            WHERE e.account_id IN (SELECT account_id FROM ring_members WHERE ring_id = :r)
            ORDER BY e.score DESC LIMIT 25"""), {"r": ring_id}).mappings().all()
    return {"info": dict(info), "members": members, "links": [dict(r) for r in links],
            "counts": {r["entity_type"]: dict(r) for r in counts}, "top": [dict(r) for r in top]}


def ring_svg(ring_data: dict, size: int = 420, max_members: int = 60) -> dict:
    """Node positions on a circle and the links between them, for a server-side SVG."""
    members = ring_data["members"][:max_members]
    n = max(len(members), 1)
    radius, centre = size / 2 - 40, size / 2
    position = {}
    for k, account in enumerate(members):
        angle = 2 * math.pi * k / n - math.pi / 2
        position[account] = (round(centre + radius * math.cos(angle), 1), round(centre + radius * math.sin(angle), 1))
    edges = [{"x1": position[e["a"]][0], "y1": position[e["a"]][1], "x2": position[e["b"]][0],
              "y2": position[e["b"]][1], "kinds": e["kinds"]}
             for e in ring_data["links"] if e["a"] in position and e["b"] in position]
    nodes = [{"x": x, "y": y, "label": account[-8:], "account": account} for account, (x, y) in position.items()]
    return {"size": size, "nodes": nodes, "edges": edges, "truncated": len(ring_data["members"]) > max_members}


def latest_import(engine: Engine) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM imports ORDER BY id DESC LIMIT 1")).mappings().first()
    return dict(row) if row else None
