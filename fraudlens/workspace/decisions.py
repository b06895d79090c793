"""Analyst decisions (confirm fraud / not fraud on a case or a whole ring), stored durably with
who, when and the model version that flagged it, every one also written to the audit log, and
exported as a ``labels`` table of the input contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine

from fraudlens.errors import FraudLensError
from fraudlens.workspace import audit
from fraudlens.workspace.accounts import User, now_iso
from fraudlens.workspace.db import case_status, decisions, entities, ring_members, rings

MAX_NOTE = 2000
LABEL_COLUMNS = ["entity_type", "entity_id", "is_fraud", "source", "labeled_at"]


class NotFound(FraudLensError):
    pass


def _decide_rows(conn: Connection, user: User, rows: list, is_fraud: bool, note: str | None,
                 via_ring: str | None) -> int:
    at = now_iso()
    for row in rows:
        decision_id = conn.execute(insert(decisions).values(
            entity_type=row.entity_type, entity_id=row.entity_id, is_fraud=int(is_fraud), note=note, user_id=user.id,
            analyst=user.name, decided_at=at, model_version=row.model_version, score=row.score,
            via_ring=via_ring)).inserted_primary_key[0]
        conn.execute(text("INSERT OR REPLACE INTO case_status (entity_type, entity_id, is_fraud, analyst, decided_at, "
                          "decision_id) VALUES (:t, :i, :f, :a, :at, :d)"),
                     {"t": row.entity_type, "i": row.entity_id, "f": int(is_fraud), "a": user.name, "at": at,
                      "d": decision_id})
        audit.record(conn, f"analyst:{user.name}", "confirm_fraud" if is_fraud else "confirm_not_fraud",
                     row.entity_type, row.entity_id,
                     {"decision_id": decision_id, "note": note, "model_version": row.model_version,
                      "score": row.score, "via_ring": via_ring})
    return len(rows)


def _check(user: User, note: str | None) -> str | None:
    if not user.is_analyst:
        raise PermissionError("only analysts decide cases")
    note = (note or "").strip()[:MAX_NOTE]
    return note or None


def decide_case(engine: Engine, user: User, entity_type: str, entity_id: str, is_fraud: bool,
                note: str | None = None) -> int:
    """Confirms one review or order as fraud / not fraud; returns 1 (NotFound if unknown)."""
    note = _check(user, note)
    with engine.begin() as conn:
        rows = conn.execute(select(entities.c.entity_type, entities.c.entity_id, entities.c.model_version,
                                   entities.c.score)
                            .where(entities.c.entity_type == entity_type, entities.c.entity_id == entity_id)).all()
        if not rows:
            raise NotFound(f"no {entity_type} {entity_id}")
        return _decide_rows(conn, user, rows, is_fraud, note, None)


def decide_ring(engine: Engine, user: User, ring_id: str, is_fraud: bool, note: str | None = None) -> int:
    """Confirms every review and order of a ring's member accounts; returns how many."""
    note = _check(user, note)
    with engine.begin() as conn:
        if not conn.execute(select(rings.c.ring_id).where(rings.c.ring_id == ring_id)).first():
            raise NotFound(f"no ring {ring_id}")
        members = select(ring_members.c.account_id).where(ring_members.c.ring_id == ring_id)
        rows = conn.execute(select(entities.c.entity_type, entities.c.entity_id, entities.c.model_version,
                                   entities.c.score).where(entities.c.account_id.in_(members))
                            .order_by(entities.c.entity_type, entities.c.entity_id)).all()
        audit.record(conn, f"analyst:{user.name}", "ring_" + ("fraud" if is_fraud else "not_fraud"), "ring", ring_id,
                     {"members_decided": len(rows), "note": note})
        return _decide_rows(conn, user, rows, is_fraud, note, ring_id)


def labels_frame(engine: Engine) -> pd.DataFrame:
    """The current analyst label of every decided entity, as a contract ``labels`` table."""
    with engine.connect() as conn:
        rows = conn.execute(select(case_status).order_by(case_status.c.entity_type, case_status.c.entity_id)).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in case_status.columns])
    return pd.DataFrame({
        "entity_type": frame["entity_type"].astype("string"),
        "entity_id": frame["entity_id"].astype("string"),
        "is_fraud": frame["is_fraud"].astype("int64"),
        "source": ("analyst:" + frame["analyst"].astype("string")).astype("string"),
        "labeled_at": pd.to_datetime(frame["decided_at"].astype("string"), utc=True, format="ISO8601")
        .dt.tz_convert(None).astype("datetime64[us]"),
    }, columns=LABEL_COLUMNS)


def check_labels_file(path: Path) -> None:
    """Reads the file back through the input contract's labels validation: every row must pass."""
    from fraudlens.marketplace.contract import TABLES
    from fraudlens.marketplace.ingest import read_raw_table, validate_table
    from fraudlens.marketplace.pii import DEMO_PII_KEY

    raw = read_raw_table(path, TABLES["labels"])
    accepted, quarantine, _ = validate_table(raw, TABLES["labels"], path, DEMO_PII_KEY.encode(),
                                             pd.Timestamp.now(tz="UTC").tz_localize(None))
    if len(quarantine):
        first = quarantine.iloc[0]
        raise FraudLensError(f"{path}: {len(quarantine)} exported label rows fail the labels contract "
                             f"(first: row {first['row']} {first['column']}: {first['message']})")


def export_labels(engine: Engine, out: Path, actor: str = "cli") -> int:
    """Writes the labels table to ``out`` (.parquet or .csv), checks it against the contract."""
    from fraudlens.inference.outputs import atomic_write_csv, atomic_write_parquet

    out = Path(out)
    frame = labels_frame(engine)
    if out.suffix == ".parquet":
        atomic_write_parquet(frame, out)
    elif out.suffix == ".csv":
        csv_frame = frame.assign(labeled_at=frame["labeled_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        atomic_write_csv(csv_frame, out)
    else:
        raise FraudLensError(f"{out}: unknown format - fix: name the file .parquet or .csv")
    if len(frame):
        check_labels_file(out)
    with engine.begin() as conn:
        audit.record(conn, actor, "export_labels", None, None, {"rows": len(frame), "out": str(out)})
    return len(frame)
