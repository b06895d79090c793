"""Screening a seller's upload: a CSV or XLSX of their own reviews, scored by the registered
text model and by the context the upload itself carries.

Limits (docs/web.md): at most ``MAX_UPLOAD_BYTES`` per file, ``MAX_ROWS`` data rows; an XLSX
(a zip archive) must unpack to at most ``MAX_XLSX_UNCOMPRESSED`` bytes in at most
``MAX_XLSX_MEMBERS`` members, checked from the zip directory *before* openpyxl reads it.
Every unusable file raises ``UploadError`` with a message fit for the page.

The screening score of a row is a noisy-OR of the text model's P(fake text) and the upload's
context signals: ``1 - (1 - p_text) * prod(1 - w_signal)`` with the weights in
``SIGNAL_WEIGHTS``; ``flag`` when it is >= ``FLAG_THRESHOLD``.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from fraudlens.errors import FraudLensError
from fraudlens.workspace import audit
from fraudlens.workspace.accounts import User, now_iso
from fraudlens.workspace.db import N_REASONS, upload_rows, uploads

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2_000
MAX_XLSX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_XLSX_MEMBERS = 500
MAX_TEXT_CHARS = 20_000
DEFAULT_TEXT_MODEL_URI = "models:/fraudlens-text@champion"
FLAG_THRESHOLD = 0.5
MACHINE_TEXT_MIN = 0.8
# Reason codes: MACHINE_TEXT, NEAR_DUPLICATE_TEXT, UNVERIFIED_PURCHASE and MODEL_TEXT_CONTENT
# mean what they mean in inference/reasons.py; REVIEWER_BURST and DAY_BURST are screening-only.
SIGNAL_WEIGHTS = {"NEAR_DUPLICATE_TEXT": 0.6, "REVIEWER_BURST": 0.4, "DAY_BURST": 0.3, "UNVERIFIED_PURCHASE": 0.15}
MIN_NEAR_DUPLICATES = 2
REVIEWER_BURST_MIN = 3      # reviews by one reviewer within 24 h
DAY_BURST_MIN = 5           # five-star reviews on one day, and at least 3x the upload's median day

ALIASES = {
    "text": ("text", "review", "review_text", "body", "content", "comment"),
    "rating": ("rating", "stars", "star_rating", "score_stars"),
    "created_at": ("created_at", "date", "review_date", "posted_at", "timestamp"),
    "reviewer": ("reviewer", "reviewer_id", "account_id", "author", "user"),
    "verified": ("verified", "verified_purchase", "is_verified"),
    "review_id": ("review_id", "id"),
}
_TRUE = {"1", "true", "t", "yes", "y", "1.0", "verified"}
_FALSE = {"0", "false", "f", "no", "n", "0.0", "unverified"}


class UploadError(FraudLensError):
    """The upload cannot be screened; the message says why and what to do."""


def _xlsx_rows(payload: bytes) -> list[list]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UploadError("this .xlsx file is not a valid Excel workbook (not a zip archive) - save it again as "
                          "Excel Workbook (.xlsx) or export it as CSV") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise UploadError(f"this .xlsx file holds {len(members):,} parts (limit {MAX_XLSX_MEMBERS}) - export the "
                          "sheet as CSV")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_XLSX_UNCOMPRESSED:
        raise UploadError(f"this .xlsx file unpacks to {unpacked / 2**20:,.0f} MB (limit "
                          f"{MAX_XLSX_UNCOMPRESSED / 2**20:.0f} MB) - export the sheet as CSV with at most "
                          f"{MAX_ROWS:,} reviews")
    if not any(m.filename == "xl/workbook.xml" for m in members):
        raise UploadError("this zip archive is not an Excel workbook (no xl/workbook.xml) - upload a .xlsx or .csv")
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + 1:
                break
        workbook.close()
    except UploadError:
        raise
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise UploadError(f"this .xlsx file cannot be read ({type(exc).__name__}) - save it again or export it as "
                          "CSV") from None
    rows = [r for r in rows if any(v is not None and str(v).strip() for v in r)]
    return rows


def _csv_frame(payload: bytes) -> pd.DataFrame:
    if payload.startswith(b"PK\x03\x04"):
        raise UploadError("this file is a zip archive (an Excel workbook?) with a .csv name - name it .xlsx or export "
                          "the sheet as CSV (UTF-8)")
    if b"\x00" in payload[:4096]:
        raise UploadError("this is binary data, not CSV text - export the reviews as CSV (UTF-8)")
    try:
        content = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError("this CSV is not UTF-8 text - export it again as CSV (UTF-8)") from None
    try:
        reader = csv.reader(io.StringIO(content, newline=""))
        rows = []
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise UploadError(f"this CSV is malformed ({exc}) - export it as comma-separated CSV with quotes around "
                          "fields that hold commas or line breaks") from None
    return _frame_from_rows(rows)


def _frame_from_rows(rows: list[list]) -> pd.DataFrame:
    if not rows:
        raise UploadError("the file is empty - it needs a header row (text, rating, ...) and at least one review")
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise UploadError(f"the file has more than {MAX_ROWS:,} reviews (the limit per upload) - split it into files "
                          f"of at most {MAX_ROWS:,} rows")
    if not body:
        raise UploadError("the file has a header row but no reviews")
    width = len(header)
    body = [list(r[:width]) + [None] * (width - len(r)) for r in body]
    columns = {}
    for target, names in ALIASES.items():
        for name in names:
            if name in header:
                columns[target] = header.index(name)
                break
    missing = [c for c in ("text", "rating") if c not in columns]
    if missing:
        found = ", ".join(h for h in header[:10] if h) or "none"
        raise UploadError(f"column(s) {', '.join(missing)} missing (found: {found}) - the first row must name the "
                          "columns; text and rating are required, date, reviewer and verified are optional")
    frame = pd.DataFrame({target: [r[i] for r in body] for target, i in columns.items()})
    return frame


def parse_upload(filename: str, payload: bytes) -> pd.DataFrame:
    """The upload as a table of text, rating (+ created_at, reviewer, verified, review_id)."""
    name = (filename or "").lower()
    if len(payload) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is larger than {MAX_UPLOAD_BYTES / 2**20:.0f} MB (the limit per upload)")
    if not payload:
        raise UploadError("the file is empty - it needs a header row (text, rating, ...) and at least one review")
    if name.endswith(".xlsx"):
        frame = _frame_from_rows(_xlsx_rows(payload))
    elif name.endswith(".csv") or name.endswith(".txt"):
        frame = _csv_frame(payload)
    else:
        raise UploadError("only .csv and .xlsx files can be screened - export your reviews as CSV (UTF-8) or Excel")
    return clean_upload(frame)


def clean_upload(frame: pd.DataFrame) -> pd.DataFrame:
    n = len(frame)
    out = pd.DataFrame(index=range(n))
    out["row_no"] = np.arange(1, n + 1)
    ids = frame["review_id"] if "review_id" in frame else pd.Series([None] * n)
    out["review_id"] = [str(v).strip() if v is not None and str(v).strip() else f"row-{i + 1}"
                        for i, v in enumerate(ids)]
    out["text"] = [("" if v is None else str(v))[:MAX_TEXT_CHARS] for v in frame["text"]]
    rating = pd.to_numeric(pd.Series(list(frame["rating"]), dtype=object).map(
        lambda v: str(v).strip() if v is not None else None), errors="coerce")
    bad = rating.isna() | (rating < 1) | (rating > 5)
    if bad.all():
        raise UploadError("no row has a rating from 1 to 5 - the rating column must hold star ratings 1-5")
    out["rating"] = rating.clip(1, 5).round().astype("Int64").where(~bad)
    if "created_at" in frame:
        values = pd.Series(list(frame["created_at"]), dtype=object).map(lambda v: None if v is None else str(v))
        dates = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        out["created_at"] = dates.dt.strftime("%Y-%m-%dT%H:%M:%S").where(dates.notna(), None)
    else:
        out["created_at"] = None
    out["reviewer"] = ([None if v is None or not str(v).strip() else str(v).strip()[:200] for v in frame["reviewer"]]
                       if "reviewer" in frame else None)
    if "verified" in frame:
        lowered = [str(v).strip().lower() if v is not None else "" for v in frame["verified"]]
        out["verified"] = [1 if v in _TRUE else 0 if v in _FALSE else None for v in lowered]
    else:
        out["verified"] = None
    return out


# ---------------------------------------------------------------------------------------------
# The text model
# ---------------------------------------------------------------------------------------------

def load_text_model(uri: str, tracking_uri: str | None = None):
    """The registered text model (``predict_proba(texts, ratings)``) behind an MLflow URI such as
    ``models:/fraudlens-text@champion``, or a directory a ``CombinedTextModel`` was saved to."""
    from fraudlens.models.text_model import load_text_model as load
    from fraudlens.tracking import configure_tracking

    configure_tracking(tracking_uri)
    return load(uri)


@dataclass
class TextModelHandle:
    """Loads the registered text model once, on first use (thread-safe); remembers failure."""
    uri: str | None = DEFAULT_TEXT_MODEL_URI
    tracking_uri: str | None = None
    _model: object = None
    _error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loaded: bool = False

    def get(self):
        if self.uri is None:
            return None
        with self._lock:
            if not self._loaded:
                self._loaded = True
                try:
                    started = time.perf_counter()
                    self._model = load_text_model(self.uri, self.tracking_uri)
                    log.info("text model %s loaded in %.1f s", self.uri, time.perf_counter() - started)
                except Exception as exc:  # a missing/broken registry entry: screen without it
                    self._error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    log.warning("text model %s not available: %s", self.uri, self._error)
            return self._model

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def label(self) -> str | None:
        return self.uri if self._model is not None else None


def _near_duplicates(texts: list[str]) -> np.ndarray:
    from fraudlens.models.stylometry import duplicate_counts

    exact, near = duplicate_counts(texts)
    return np.maximum(np.asarray(exact), np.asarray(near)).astype(int)


def _reviewer_bursts(frame: pd.DataFrame) -> np.ndarray:
    """Per row: reviews by the same reviewer within 24 h of it (itself included)."""
    out = np.zeros(len(frame), dtype=int)
    if frame["reviewer"].isna().all() or frame["created_at"].isna().all():
        return out
    when = pd.to_datetime(frame["created_at"], errors="coerce")
    for _, group in frame[frame["reviewer"].notna() & when.notna()].groupby("reviewer"):
        times = when[group.index].astype("datetime64[s]").astype("int64").to_numpy()
        order = np.argsort(times)
        sorted_times = times[order]
        lo = np.searchsorted(sorted_times, sorted_times - 86400, side="left")
        hi = np.searchsorted(sorted_times, sorted_times + 86400, side="right")
        out[group.index.to_numpy()[order]] = hi - lo
    return out


def _day_bursts(frame: pd.DataFrame) -> np.ndarray:
    """Per row: five-star reviews on the row's day, when that day is a burst (else 0)."""
    out = np.zeros(len(frame), dtype=int)
    day = frame["created_at"].str.slice(0, 10)
    five = (frame["rating"] == 5).fillna(False).to_numpy(dtype=bool)
    if day.isna().all() or not five.any():
        return out
    per_day = day[five].value_counts()
    median = float(day.value_counts().median())
    burst_days = per_day[(per_day >= DAY_BURST_MIN) & (per_day >= 3 * median)]
    hit = five & day.isin(burst_days.index).to_numpy(dtype=bool)
    out[hit] = day[hit].map(burst_days).to_numpy(dtype=int)
    return out


def screen_frame(frame: pd.DataFrame, text_model=None) -> pd.DataFrame:
    """Scores, decisions and reasons for a cleaned upload (``clean_upload``'s output)."""
    frame = frame.copy().reset_index(drop=True)
    texts = frame["text"].tolist()
    if text_model is not None:
        ratings = frame["rating"].fillna(3).astype(int).tolist()
        p_text = np.asarray(text_model.predict_proba(texts, ratings), dtype=float)
        frame["text_fake_probability"] = p_text
    else:
        p_text = np.zeros(len(frame))
        frame["text_fake_probability"] = None
    signals: dict[str, tuple[np.ndarray, list[str]]] = {}
    near = _near_duplicates(texts)
    signals["NEAR_DUPLICATE_TEXT"] = (near >= MIN_NEAR_DUPLICATES,
                                      [f"text near-identical to {n} other review{'' if n == 1 else 's'} in this upload"
                                       for n in near])
    bursts = _reviewer_bursts(frame)
    signals["REVIEWER_BURST"] = (bursts >= REVIEWER_BURST_MIN,
                                 [f"{n} reviews by the same reviewer within 24 h" for n in bursts])
    days = _day_bursts(frame)
    signals["DAY_BURST"] = (days > 0, [f"{n} five-star reviews on the same day" for n in days])
    verified = frame["verified"]
    signals["UNVERIFIED_PURCHASE"] = ((verified == 0).fillna(False).to_numpy(dtype=bool),
                                      ["no verified purchase"] * len(frame))
    keep = np.ones(len(frame)) * (1 - p_text)
    for code, (mask, _) in signals.items():
        keep *= np.where(mask, 1 - SIGNAL_WEIGHTS[code], 1.0)
    score = 1 - keep
    frame["score"] = np.round(score, 6)
    frame["decision"] = np.where(score >= FLAG_THRESHOLD, "flag", "pass")
    reasons = []
    for i in range(len(frame)):
        row = []
        if text_model is not None and p_text[i] >= MACHINE_TEXT_MIN:
            row.append((1.0 + p_text[i], "MACHINE_TEXT", f"text looks machine-written (p = {p_text[i]:.2f})"))
        elif text_model is not None and p_text[i] >= FLAG_THRESHOLD:
            row.append((p_text[i], "MODEL_TEXT_CONTENT", f"model: the wording of the text raises the score "
                                                         f"(p = {p_text[i]:.2f})"))
        for code, (mask, texts_) in signals.items():
            if mask[i]:
                row.append((SIGNAL_WEIGHTS[code] + 1.0, code, texts_[i]))
        row.sort(key=lambda r: (-r[0], r[1]))
        reasons.append(row[:N_REASONS] if frame.at[i, "decision"] == "flag" else [])
    for k in range(1, N_REASONS + 1):
        frame[f"reason_{k}"] = [r[k - 1][1] if len(r) >= k else None for r in reasons]
        frame[f"reason_{k}_text"] = [r[k - 1][2] if len(r) >= k else None for r in reasons]
    return frame


RESULT_COLUMNS = ["row_no", "review_id", "text", "rating", "created_at", "reviewer", "verified", "score", "decision",
                  "text_fake_probability", *[c for k in range(1, N_REASONS + 1) for c in (f"reason_{k}",
                                                                                          f"reason_{k}_text")]]


def screen_upload(engine: Engine, user: User, filename: str, payload: bytes, handle: TextModelHandle | None) -> dict:
    """Parses, screens and stores an upload of ``user``; returns the upload's record."""
    if user.role != "seller":
        raise PermissionError("only sellers screen uploads")
    frame = parse_upload(filename, payload)
    model = handle.get() if handle is not None else None
    scored = screen_frame(frame, model)
    public_id = secrets.token_urlsafe(12)
    safe_name = "".join(ch for ch in (filename or "upload")[-120:] if ch.isprintable())
    with engine.begin() as conn:
        upload_id = conn.execute(insert(uploads).values(
            public_id=public_id, user_id=user.id, filename=safe_name, created_at=now_iso(), n_rows=len(scored),
            n_flagged=int((scored["decision"] == "flag").sum()),
            text_model=handle.label if handle is not None else None)).inserted_primary_key[0]
        rows = scored[RESULT_COLUMNS].assign(upload_id=upload_id)
        rows = rows.astype(object).where(rows.notna(), None)
        conn.execute(insert(upload_rows), rows.to_dict("records"))
        audit.record(conn, f"seller:{user.name}", "screen_upload", "upload", public_id,
                     {"rows": len(scored), "filename": safe_name})
    return upload_of(engine, user, public_id)


def upload_of(engine: Engine, user: User, public_id: str) -> dict | None:
    """An upload of ``user`` (None when it is someone else's or does not exist)."""
    with engine.connect() as conn:
        row = conn.execute(select(uploads).where(uploads.c.public_id == public_id, uploads.c.user_id == user.id)
                           ).mappings().first()
    return dict(row) if row else None


def uploads_of(engine: Engine, user: User, limit: int = 50) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(uploads).where(uploads.c.user_id == user.id).order_by(uploads.c.id.desc())
                            .limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def upload_results(engine: Engine, user: User, public_id: str) -> pd.DataFrame | None:
    upload = upload_of(engine, user, public_id)
    if upload is None:
        return None
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM upload_rows WHERE upload_id = :u ORDER BY row_no"),
                            {"u": upload["id"]}).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["upload_id", *RESULT_COLUMNS])
    return frame[RESULT_COLUMNS]


def results_csv(frame: pd.DataFrame) -> bytes:
    """Formula-safe CSV of screening results (cells a spreadsheet would run are quoted)."""
    from fraudlens.inference.outputs import neutralise_formulas

    return neutralise_formulas(frame).to_csv(index=False).encode("utf-8")
