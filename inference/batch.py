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
import numpy as np
import pandas as pd

import fraudlens
from fraudlens.config import ScoringConfig
from fraudlens.inference.outputs import atomic_write_csv, atomic_write_json, atomic_write_parquet
from fraudlens.inference.reasons import (
    MACHINE_TEXT_COLUMN,
    NEAR_DUPLICATES_COLUMN,
    ReasonSettings,
    compute_reasons,
    feature_attributions,
)
from fraudlens.inference.rings import RingSettings, find_rings, rings_for_csv
from fraudlens.inference.state import attach, base_fingerprint, commit_state, load_history, to_rescore
from fraudlens.marketplace.contract import SCORED_TABLES
from fraudlens.marketplace.ingest import TableReport, ingest
from fraudlens.models.fraud_model import FraudLensModel, ModelInputs
from fraudlens.output_contract import (
    FLAG,
    MANIFEST_FILE,
    PASS,
    QUARANTINE_CSV_FILE,
    QUARANTINE_FILE,
    RINGS_CSV_FILE,
    RINGS_FILE,
    SCORE_CSV_FILES,
    SCORE_FILES,
    TEXT_PROBABILITY,
    reason_columns,
)
from fraudlens.progress import Progress, StageTimer
from fraudlens.tracking import ResolvedModel, configure_tracking, resolve_model

# Why a row is in tonight's output: its own input, a neighbour's, or --full.
SCOPE_TONIGHT, SCOPE_NEIGHBOURHOOD, SCOPE_HISTORY = "tonight", "neighbourhood_changed", "history"
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


def scoring_run_id(input_hashes: dict[str, str], model: ResolvedModel, state: str | None = None,
                   full: bool = False) -> str:
    """Derived from inputs, model (and the state attached to), so re-running the same job names
    (and writes) the same run."""
    identity = {"inputs": input_hashes, "model": model.uri}
    if state is not None:
        identity.update(state=state, full=full)
    payload = json.dumps(identity, sort_keys=True)
    return "S-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def _manifest_entry(report: TableReport) -> dict:
    """Per input table; rows_read == (rows_scored or rows_accepted) + rows_quarantined always holds."""
    accepted_key = "rows_scored" if report.name in SCORED_TABLES else "rows_accepted"
    return {"file": report.file, "sha256": report.sha256, "rows_read": report.rows_read,
            accepted_key: report.rows_accepted, "rows_quarantined": report.rows_quarantined,
            "quarantined_by_reason": report.quarantined_by_reason, "flagged_by_reason": report.flagged_by_reason,
            "ignored_columns": report.ignored_columns}


def decide(scores: pd.DataFrame, key: str, scoring: ScoringConfig) -> pd.DataFrame:
    """Adds rank (1 = highest score, ties by id) and decision, sorted by rank.

    flag = score >= threshold (when set) and rank <= top_n (when set): the threshold says what is
    suspicious enough, top_n caps the analysts' queue.
    """
    ranked = scores.sort_values([key], kind="mergesort").sort_values("score", ascending=False, kind="mergesort")
    ranked = ranked.reset_index(drop=True)
    ranked.insert(2, "rank", pd.Series(range(1, len(ranked) + 1), dtype="int64"))
    flag = pd.Series(True, index=ranked.index)
    if scoring.threshold is not None:
        flag &= ranked["score"] >= scoring.threshold
    if scoring.top_n is not None:
        flag &= ranked["rank"] <= scoring.top_n
    ranked.insert(3, "decision", flag.map({True: FLAG, False: PASS}).astype("string"))
    return ranked


def scored_outputs(model: FraudLensModel, inputs: ModelInputs, tables: dict[str, pd.DataFrame],
                   scoring: ScoringConfig, scope: dict[str, np.ndarray] | None = None,
                   reporter: Progress | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """({node_type: scores with rank, decision, reasons, ring_id, scope}, rings) - the output contract.

    ``scope``: per node type, the label of each node's reason to be in the output ("tonight",
    "neighbourhood_changed", "history") or "" to leave it out; default: every node, "tonight".
    Rings always see every score.
    """
    reporter = reporter or StageTimer()
    with reporter.stage("GNN scores"):
        scores = model.score_inputs(inputs, tables)
    kept = {}
    for nt, frame in scores.items():
        labels = scope[nt] if scope is not None else np.full(len(frame), SCOPE_TONIGHT, dtype=object)
        kept[nt] = frame.assign(scope=pd.array(labels, dtype="string"))[labels != ""].reset_index(drop=True)
    decided = {nt: decide(frame, f"{nt}_id", scoring) for nt, frame in kept.items()}
    explain = {nt: inputs.graph.node_index(nt, frame.loc[frame["decision"] == FLAG, f"{nt}_id"])
               for nt, frame in decided.items()}
    explain = {nt: idx for nt, idx in explain.items() if len(idx)}
    with reporter.stage("attributions"):
        attributions = feature_attributions(model, inputs, explain) if explain else {}
    # The GNN's layer states (~2 GB at a million reviews + orders) served the attributions only.
    inputs.layer_states = None
    with reporter.stage("rings"):
        rings, membership = find_rings(tables, scores, RingSettings(
            min_size=scoring.ring_min_size, max_ring_size=scoring.ring_max_size,
            identifier_cap=scoring.ring_identifier_cap, burst_cap=scoring.ring_burst_cap,
            co_review_window=pd.Timedelta(hours=scoring.co_review_window_hours)))
    reason_tables = tables
    if TEXT_PROBABILITY in scores.get("review", pd.DataFrame()):
        by_review = scores["review"].set_index("review_id")
        if inputs.near_duplicates is not None:
            by_review = by_review.assign(**{NEAR_DUPLICATES_COLUMN: inputs.near_duplicates})
        review_ids = tables["reviews"]["review_id"].astype("string")
        reason_tables = {**tables, "reviews": tables["reviews"].assign(**{
            column: review_ids.map(by_review[source]).to_numpy() for column, source in
            ((MACHINE_TEXT_COLUMN, TEXT_PROBABILITY), (NEAR_DUPLICATES_COLUMN, NEAR_DUPLICATES_COLUMN))
            if source in by_review})}
    with reporter.stage("reasons"):
        reasons = compute_reasons(reason_tables, decided, rings, membership, attributions, ReasonSettings(
            reasons=scoring.reasons, identifier_cap=scoring.ring_identifier_cap,
            new_account_days=scoring.new_account_days, card_burst_orders=scoring.card_burst_orders,
            machine_text_min=scoring.machine_text_min))
    ring_of = membership.set_index("account_id")["ring_id"]
    out = {}
    for nt, frame in decided.items():
        key = f"{nt}_id"
        author = tables[f"{nt}s"].drop_duplicates(key).set_index(key)["account_id"].astype("string")
        frame = frame.merge(reasons[nt], on=key, how="left", validate="one_to_one")
        frame["ring_id"] = frame[key].map(author).map(ring_of).astype("string")
        extra = [TEXT_PROBABILITY] if TEXT_PROBABILITY in frame else []
        out[nt] = frame[[key, "score", *extra, "rank", "decision", *reason_columns(scoring.reasons), "ring_id",
                         "scope"]]
    return out, rings


def score_input(model_uri: str, input_dir: Path, out_dir: Path, pii_key: bytes, cache_dir: str | None,
                tracking_uri: str | None = None, now: pd.Timestamp | None = None,
                settings: dict | None = None, encoder_runtime: dict | None = None,
                scoring: ScoringConfig | dict | None = None, state_dir: Path | None = None,
                full: bool = False, reporter: Progress | None = None) -> ScoreRun:
    """Scores every accepted review and order; safe to kill and re-run.

    Text embeddings (the slow stage) are checkpointed chunk by chunk into the embedding cache,
    or into a per-run checkpoint directory inside ``out_dir`` when the cache is disabled, so
    re-running the same command resumes and produces byte-identical outputs. Every output is
    renamed into place complete; the manifest is written last.

    ``scoring`` (the config's ``scoring:`` section; default ScoringConfig()) sets the decision
    rule, reason codes and ring detection; see docs/outputs.md for every output column.

    ``state_dir`` makes the run incremental (inference/state.py): tonight's tables attach to
    the history there; tonight's reviews and orders are scored, and the old ones whose graph
    neighbourhood changed (or all of them, ``full``); the state is replaced after the manifest.

    ``reporter`` shows each stage (progress bars or log lines); its wall times per stage go into
    the manifest's ``stages_s`` either way.
    """
    scoring = scoring if isinstance(scoring, ScoringConfig) else ScoringConfig.model_validate(scoring or {})
    reporter = reporter or StageTimer()
    timed_before = dict(reporter.timings)
    with reporter.stage("load model"):
        configure_tracking(tracking_uri)
        model, resolved = load_registered_model(model_uri)
    with reporter.stage("ingest"):
        ingested = ingest(Path(input_dir), pii_key, now=now)
    input_hashes = {r.name: r.sha256 for r in ingested.reports.values()}
    with reporter.stage("attach history"):
        history = load_history(state_dir) if state_dir else None
        base = base_fingerprint(history, input_hashes) if history else None
        tables = attach(history.tables, ingested.tables) if history else ingested.tables
    run_id = scoring_run_id(input_hashes, resolved, base, full)
    out_dir = Path(out_dir)
    checkpoints = out_dir / CHECKPOINT_DIR / run_id
    with reporter.stage("load encoder"):
        encoder = model.encoder(cache_dir or checkpoints, **(encoder_runtime or {}))
    # Label features read the labels known when the run's clock says it runs: a replayed night
    # (``now`` in the past) does not see labels given after it.
    inputs = model.inputs(tables, encoder, reporter, as_of=now)
    scope = None
    if history:
        rescore, own = to_rescore(inputs.graph, ingested.tables, hops=int(model.architecture["layers"]))
        scope = {nt: np.select([own[nt], rescore[nt], np.full(len(own[nt]), full)],
                               [SCOPE_TONIGHT, SCOPE_NEIGHBOURHOOD, SCOPE_HISTORY], "").astype(object)
                 for nt in own}
    scores, rings = scored_outputs(model, inputs, tables, scoring, scope, reporter)
    outputs: dict[str, Path] = {}
    with reporter.stage("write outputs"):
        for node_type, frame in scores.items():
            frame = frame.assign(model_name=resolved.name or resolved.uri, model_version=resolved.version,
                                 model_run_id=resolved.run_id, run_id=run_id)
            outputs[node_type] = atomic_write_parquet(frame, out_dir / SCORE_FILES[node_type])
            outputs[f"{node_type}_csv"] = atomic_write_csv(frame, out_dir / SCORE_CSV_FILES[node_type])
        outputs["rings"] = atomic_write_parquet(rings, out_dir / RINGS_FILE)
        outputs["rings_csv"] = atomic_write_csv(rings_for_csv(rings), out_dir / RINGS_CSV_FILE)
        quarantine = ingested.quarantine.astype({"row": "int64"})
        outputs["quarantine"] = atomic_write_parquet(quarantine, out_dir / QUARANTINE_FILE)
        outputs["quarantine_csv"] = atomic_write_csv(quarantine, out_dir / QUARANTINE_CSV_FILE)
    manifest = {
        "run_id": run_id,
        "code_version": code_version(),
        "python": platform.python_version(),
        "model": {"uri": model_uri, "resolved": resolved.uri, "name": resolved.name, "version": resolved.version,
                  "run_id": resolved.run_id},
        "settings": settings or {},
        "scoring": {**scoring.model_dump(),
                    "flagged": {nt: int((f["decision"] == FLAG).sum()) for nt, f in scores.items()},
                    "rings": len(rings)},
        "text_encoder": {"fingerprint": encoder.fingerprint, "precision": encoder.precision,
                         "texts_encoded": encoder.stats["encoded"],
                         "texts_from_cache_or_checkpoint": encoder.stats["cache_hits"]},
        "inputs": {name: _manifest_entry(report) for name, report in ingested.reports.items()},
        "outputs": {k: str(v.name) for k, v in outputs.items()},
        # Wall seconds per stage of this run (not part of its identity: run_id and outputs ignore it).
        "stages_s": {name: round(seconds - timed_before.get(name, 0.0), 3)
                     for name, seconds in reporter.timings.items() if seconds != timed_before.get(name)},
    }
    if history:
        manifest["state"] = {"dir": str(state_dir), "attached_to": base, "full": full,
                             "history_rows": {name: len(t) for name, t in sorted(history.tables.items())},
                             "scored_by_scope": {nt: f["scope"].value_counts().sort_index().to_dict()
                                                 for nt, f in scores.items()}}
    atomic_write_json(manifest, out_dir / MANIFEST_FILE)
    if history:
        with reporter.stage("commit state"):
            commit_state(state_dir, tables, history, {"run_id": run_id, "inputs": input_hashes, "base": base,
                                                      "model": resolved.uri})
    if not cache_dir:
        shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)
    return ScoreRun(run_id=run_id, out_dir=out_dir, outputs=outputs, manifest=manifest)
