"""The batch scoring job: input tables -> validated tables -> model -> scores + manifest."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

import fraudlens
from marketplace.contract import SCORED_TABLES
from marketplace.ingest import TableReport, ingest
from models.fraud_model import FraudLensModel
from inference.outputs import atomic_write_csv, atomic_write_json, atomic_write_parquet
from training.mlflow_utils import ResolvedModel, configure_tracking, resolve_model

SCORE_FILES = {"review": "review_scores.parquet", "order": "order_scores.parquet"}
CHECKPOINT_DIR = ".checkpoints"


@dataclass
class ScoreRun:
    run_id: str
    out_dir: Path
    outputs: dict[str, Path]
    manifest: dict


def load_registered_model(uri: str) -> tuple[FraudLensModel, ResolvedModel]:
    resolved = resolve_model(uri)
    pyfunc = mlflow.pyfunc.load_model(resolved.uri)
    return pyfunc.unwrap_python_model().model, resolved


def code_version() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{fraudlens.__version__}+{commit}" if commit else fraudlens.__version__


def scoring_run_id(input_hashes: dict[str, str], model: ResolvedModel) -> str:
    """Derived from inputs and model, so re-running the same job names (and writes) the same run."""
    payload = json.dumps({"inputs": input_hashes, "model": model.uri}, sort_keys=True)
    return "S-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def _manifest_entry(report: TableReport) -> dict:
    """Per input table; rows_read == (rows_scored or rows_accepted) + rows_quarantined always holds."""
    accepted_key = "rows_scored" if report.name in SCORED_TABLES else "rows_accepted"
    return {"file": report.file, "sha256": report.sha256, "rows_read": report.rows_read,
            accepted_key: report.rows_accepted, "rows_quarantined": report.rows_quarantined,
            "quarantined_by_reason": report.quarantined_by_reason, "flagged_by_reason": report.flagged_by_reason,
            "ignored_columns": report.ignored_columns}


def score_input(model_uri: str, input_dir: Path, out_dir: Path, pii_key: bytes, cache_dir: str | None,
                tracking_uri: str | None = None, now: pd.Timestamp | None = None,
                settings: dict | None = None, encoder_runtime: dict | None = None) -> ScoreRun:
    """Scores every accepted review and order; safe to kill and re-run.

    Text embeddings (the slow stage) are checkpointed chunk by chunk into the embedding cache,
    or into a per-run checkpoint directory inside ``out_dir`` when the cache is disabled, so
    re-running the same command resumes and produces byte-identical outputs. Every output is
    renamed into place complete; the manifest is written last.
    """
    configure_tracking(tracking_uri)
    model, resolved = load_registered_model(model_uri)
    ingested = ingest(Path(input_dir), pii_key, now=now)
    run_id = scoring_run_id({r.name: r.sha256 for r in ingested.reports.values()}, resolved)
    out_dir = Path(out_dir)
    checkpoints = out_dir / CHECKPOINT_DIR / run_id
    encoder = model.encoder(cache_dir or checkpoints, **(encoder_runtime or {}))
    scores = model.score(ingested.tables, encoder=encoder)
    outputs: dict[str, Path] = {}
    for node_type, frame in scores.items():
        frame = frame.assign(model_name=resolved.name or resolved.uri, model_version=resolved.version,
                             model_run_id=resolved.run_id, run_id=run_id)
        outputs[node_type] = atomic_write_parquet(frame, out_dir / f"{node_type}_scores.parquet")
        outputs[f"{node_type}_csv"] = atomic_write_csv(frame, out_dir / f"{node_type}_scores.csv")
    quarantine = ingested.quarantine.astype({"row": "int64"})
    outputs["quarantine"] = atomic_write_parquet(quarantine, out_dir / "quarantine.parquet")
    outputs["quarantine_csv"] = atomic_write_csv(quarantine, out_dir / "quarantine.csv")
    manifest = {
        "run_id": run_id,
        "code_version": code_version(),
        "python": platform.python_version(),
        "model": {"uri": model_uri, "resolved": resolved.uri, "name": resolved.name, "version": resolved.version,
                  "run_id": resolved.run_id},
        "settings": settings or {},
        "text_encoder": {"fingerprint": encoder.fingerprint, "texts_encoded": encoder.stats["encoded"],
                         "texts_from_cache_or_checkpoint": encoder.stats["cache_hits"]},
        "inputs": {name: _manifest_entry(report) for name, report in ingested.reports.items()},
        "outputs": {k: str(v.name) for k, v in outputs.items()},
    }
    atomic_write_json(manifest, out_dir / "manifest.json")
    if not cache_dir:
        shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)
    return ScoreRun(run_id=run_id, out_dir=out_dir, outputs=outputs, manifest=manifest)
