"""The append-only audit log (UPDATE and DELETE are refused by triggers in the database)."""

from __future__ import annotations

import json

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from fraudlens.workspace.db import audit_log


def record(conn: Connection, actor: str, action: str, entity_type: str | None, entity_id: str | None,
           detail: dict | None = None) -> None:
    from fraudlens.workspace.accounts import now_iso

    conn.execute(insert(audit_log).values(at=now_iso(), actor=actor, action=action, entity_type=entity_type,
                                          entity_id=entity_id, detail=json.dumps(detail or {}, sort_keys=True)))


def entries(engine: Engine, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
