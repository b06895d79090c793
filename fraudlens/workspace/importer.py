"""Importing a scoring run into the workspace: what ``fraudlens serve`` browses, with no re-scoring.

``import_run(state, scores_dir, input_dir)`` reads the run's score files (only the columns the
web app shows), its rings, and the input tables it scored, and writes them into SQLite with
the indexes the pages need (queue by score, reviews by product, products by seller).

``input_dir`` is either the night's input directory (contract tables; they go through
``fraudlens.marketplace.ingest`` so identifiers are keyed-hashed exactly as in scoring: raw PII
never reaches the workspace) or an incremental-scoring state directory (``--state`` of
``fraudlens score``: tables already validated and hashed). A later import upserts: reviews and
orders of earlier nights that are not in the new run keep their last score; rings, products,
accounts and identifiers are replaced by the new run's. Analyst decisions are never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine

from fraudlens.errors import FraudLensError
from fraudlens.output_contract import (
    ENTITY_ID,
    MANIFEST_FILE,
    RINGS_FILE,
    SCORE_FILES,
    TEXT_PROBABILITY,
    reason_columns,
)
from fraudlens.workspace import audit
from fraudlens.workspace.accounts import now_iso
from fraudlens.workspace.db import (
    N_REASONS,
    accounts,
    entities,
    identifiers,
    imports,
    open_engine,
    products,
    ring_members,
    rings,
)

SCORE_KEEP = ["score", "rank", "decision", *reason_columns(N_REASONS), "ring_id", TEXT_PROBABILITY,
              "model_name", "model_version", "run_id"]
ENTITY_COLUMNS = [c.name for c in entities.columns]
_CHUNK = 50_000


def read_scores(path: Path, id_column: str) -> pd.DataFrame:
    """The columns of a score file the workspace keeps (missing optional ones as nulls)."""
    available = set(pq.read_schema(path).names)
    if id_column not in available or "score" not in available or "decision" not in available:
        raise FraudLensError(f"{path}: not a fraudlens score file ({id_column}, score, decision needed) - fix: pass "
                             "--scores the output directory of `fraudlens score`")
    wanted = [id_column, *[c for c in SCORE_KEEP if c in available]]
    frame = pq.read_table(path, columns=wanted).to_pandas()
    for column in SCORE_KEEP:
        if column not in frame:
            frame[column] = None
    return frame.rename(columns={id_column: "entity_id"})


def read_input_tables(input_dir: Path, pii_key: bytes | None = None) -> dict[str, pd.DataFrame]:
    """Accepted, PII-hashed tables from an input directory or an incremental state directory."""
    input_dir = Path(input_dir)
    from fraudlens.inference.state import STATE_FILE, load_history

    if (input_dir / STATE_FILE).is_file():
        return load_history(input_dir).tables
    from fraudlens.marketplace.ingest import ingest
    from fraudlens.marketplace.pii import resolve_pii_key

    return ingest(input_dir, pii_key if pii_key is not None else resolve_pii_key("demo")).tables


def _iso(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, errors="coerce")
    return values.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(values.notna(), None)


def _records(frame: pd.DataFrame) -> list[dict]:
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def _insert_frame(conn, table, frame: pd.DataFrame, upsert: bool = False) -> None:
    columns = list(frame.columns)
    verb = "INSERT OR REPLACE" if upsert else "INSERT"
    sql = f"{verb} INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(frame), _CHUNK):
        part = frame.iloc[start:start + _CHUNK]
        part = part.astype(object).where(part.notna(), None)
        conn.exec_driver_sql(sql, list(part.itertuples(index=False, name=None)))


def entity_frame(entity: str, scores: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Score rows joined with their input rows: one ``entities`` row each."""
    source = tables.get(f"{entity}s")
    keep = {"review": ["account_id", "product_id", "created_at", "rating", "text", "order_id"],
            "order": ["account_id", "product_id", "seller_id", "created_at"]}[entity]
    if source is not None:
        source = source[[ENTITY_ID[entity], *[c for c in keep if c in source]]].rename(
            columns={ENTITY_ID[entity]: "entity_id"})
        source = source.astype({"entity_id": "string"})
        frame = scores.astype({"entity_id": "string"}).merge(source, on="entity_id", how="left")
    else:
        frame = scores.copy()
    if "seller_id" not in frame:
        catalogue = tables.get("products")
        if catalogue is not None and "product_id" in frame:
            sellers = catalogue.set_index(catalogue["product_id"].astype("string"))["seller_id"]
            frame["seller_id"] = frame["product_id"].astype("string").map(sellers)
    if "created_at" in frame:
        frame["created_at"] = _iso(frame["created_at"])
    frame["entity_type"] = entity
    for column in ENTITY_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["score"] = frame["score"].astype("float64")
    return frame[ENTITY_COLUMNS]


def import_frames(engine: Engine, scores: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame],
                  ring_frame: pd.DataFrame | None, scores_dir: str = "", input_dir: str = "",
                  actor: str = "cli") -> dict:
    """Writes one run (already-read frames) into the workspace, in one transaction."""
    counts = {}
    with engine.begin() as conn:
        for entity, frame in scores.items():
            rows = entity_frame(entity, frame, tables)
            _insert_frame(conn, entities, rows, upsert=True)
            counts[f"n_{entity}s"] = len(rows)
        if "products" in tables:
            conn.execute(delete(products))
            catalogue = tables["products"]
            _insert_frame(conn, products, catalogue[[c for c in ("product_id", "seller_id", "category", "price")
                                                     if c in catalogue]].drop_duplicates("product_id"))
        elif "orders" in tables:  # no catalogue: each product's seller from its orders
            conn.execute(delete(products))
            pairs = tables["orders"][["product_id", "seller_id"]].dropna().drop_duplicates("product_id")
            _insert_frame(conn, products, pairs)
        if "accounts" in tables:
            conn.execute(delete(accounts))
            frame = tables["accounts"][[c for c in ("account_id", "created_at", "country") if c in tables["accounts"]]]
            frame = frame.assign(created_at=_iso(frame["created_at"])) if "created_at" in frame else frame
            _insert_frame(conn, accounts, frame)
        from fraudlens.inference.rings import identifier_links

        links = identifier_links(tables)
        conn.execute(delete(identifiers))
        _insert_frame(conn, identifiers, links[["kind", "value", "account_id"]])
        conn.execute(delete(rings))
        conn.execute(delete(ring_members))
        n_rings = 0
        if ring_frame is not None and len(ring_frame):
            ring_cols = [c.name for c in rings.columns]
            frame = ring_frame.copy()
            for column in ("first_seen", "last_seen"):
                if column in frame:
                    frame[column] = _iso(frame[column])
            _insert_frame(conn, rings, frame[[c for c in ring_cols if c in frame]])
            members = frame[["ring_id", "accounts"]].explode("accounts").dropna()
            _insert_frame(conn, ring_members, members.rename(columns={"accounts": "account_id"}).drop_duplicates())
            n_rings = len(frame)
        versions = sorted({str(v) for f in scores.values() for v in f["model_version"].dropna().unique()})
        run_ids = sorted({str(v) for f in scores.values() for v in f["run_id"].dropna().unique()})
        info = dict(run_id=";".join(run_ids), scores_dir=scores_dir, input_dir=input_dir, imported_at=now_iso(),
                    model_version=";".join(versions), n_reviews=counts.get("n_reviews", 0),
                    n_orders=counts.get("n_orders", 0), n_rings=n_rings)
        conn.execute(insert(imports).values(**info))
        audit.record(conn, actor, "import_run", None, None, info)
        conn.exec_driver_sql("ANALYZE")
    return info


def import_run(state_dir: Path, scores_dir: Path, input_dir: Path, pii_key: bytes | None = None) -> dict:
    """Imports the run in ``scores_dir`` (scored from ``input_dir``) into the workspace ``state_dir``."""
    scores_dir, input_dir = Path(scores_dir), Path(input_dir)
    if not (scores_dir / MANIFEST_FILE).is_file():
        raise FraudLensError(f"{scores_dir}: no {MANIFEST_FILE} - fix: pass --scores the output directory of a "
                             "completed `fraudlens score` run (e.g. demo/scores)")
    manifest = json.loads((scores_dir / MANIFEST_FILE).read_text())
    scores = {}
    for entity, name in SCORE_FILES.items():
        if (scores_dir / name).is_file():
            scores[entity] = read_scores(scores_dir / name, ENTITY_ID[entity])
    if not scores:
        raise FraudLensError(f"{scores_dir}: no score files ({', '.join(SCORE_FILES.values())})")
    tables = read_input_tables(input_dir, pii_key)
    ring_frame = pd.read_parquet(scores_dir / RINGS_FILE) if (scores_dir / RINGS_FILE).is_file() else None
    if ring_frame is not None and "accounts" in ring_frame:
        ring_frame["accounts"] = ring_frame["accounts"].map(lambda a: list(a) if isinstance(a, (list, np.ndarray))
                                                            else [])
    engine = open_engine(state_dir)
    try:
        info = import_frames(engine, scores, tables, ring_frame, str(scores_dir.resolve()), str(input_dir.resolve()))
    finally:
        engine.dispose()
    info["manifest_run_id"] = manifest.get("scoring", {}).get("run_id") or manifest.get("run_id")
    return info
