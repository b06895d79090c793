"""The output contract of a scoring run, in one place: which entities are scored, the files a
run writes, and their key and reason columns. Writers (the batch job) and readers (report,
evaluation, CLI summary, web workspace) import these names; docs/outputs.md describes them."""

from __future__ import annotations

# Scored entity -> its input table and id column.
ENTITY_TABLES = {"review": "reviews", "order": "orders"}
TABLE_ENTITIES = {table: entity for entity, table in ENTITY_TABLES.items()}
ENTITY_ID = {"review": "review_id", "order": "order_id"}

SCORE_FILES = {entity: f"{entity}_scores.parquet" for entity in ENTITY_TABLES}
SCORE_CSV_FILES = {entity: f"{entity}_scores.csv" for entity in ENTITY_TABLES}
RINGS_FILE, RINGS_CSV_FILE = "rings.parquet", "rings.csv"
QUARANTINE_FILE, QUARANTINE_CSV_FILE = "quarantine.parquet", "quarantine.csv"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"

# Columns every score file carries (docs/outputs.md lists the rest).
SCORE_COLUMN, RANK_COLUMN, DECISION_COLUMN, RING_COLUMN = "score", "rank", "decision", "ring_id"
FLAG, PASS = "flag", "pass"
# The text model's P(fake text) on review rows, when the model has a text channel.
TEXT_PROBABILITY = "text_fake_probability"


def reason_columns(n: int) -> list[str]:
    """reason_1, reason_1_text, ..., reason_n, reason_n_text."""
    return [c for k in range(1, n + 1) for c in (f"reason_{k}", f"reason_{k}_text")]
