"""The state of incremental nightly runs: the validated history that tonight's tables attach to.

A state directory holds every table accepted so far (already validated, PII already hashed)
and a ledger of the runs applied. A run reads it, appends tonight's rows (a row whose id is
already there replaces the old one: a corrected export), scores tonight's entities and the
old ones whose graph neighbourhood changed, and replaces the state only once every output is
written, so a crash leaves the previous state intact and the same command can run again.

    state/
      state.json          applied runs, rows per table, fingerprint
      tables/<table>.parquet
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from fraudlens.marketplace.contract import TABLES
from fraudlens.marketplace.graph import SCORED_NODE_TYPES, MarketplaceGraph

STATE_FILE = "state.json"
TABLES_DIR = "tables"


@dataclass
class History:
    tables: dict[str, pd.DataFrame]
    ledger: dict

    @property
    def fingerprint(self) -> str:
        return self.ledger.get("fingerprint", "empty")


def load_history(state_dir: Path) -> History:
    """The accepted tables of past runs (empty for a new state directory)."""
    state_dir = Path(state_dir)
    ledger_path = state_dir / STATE_FILE
    if not ledger_path.is_file():
        return History({}, {"runs": [], "fingerprint": "empty"})
    ledger = json.loads(ledger_path.read_text())
    tables = {name: pd.read_parquet(state_dir / TABLES_DIR / f"{name}.parquet") for name in ledger["rows"]}
    return History(tables, ledger)


def _key(name: str) -> list[str]:
    if name == "labels":
        return ["entity_type", "entity_id"]
    return [TABLES[name].key] if TABLES[name].key else []


def attach(history: dict[str, pd.DataFrame], tonight: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """History plus tonight: tonight's rows last, replacing history rows with the same id.

    Re-applying the same night gives the same tables in the same order, so a run repeated
    after a crash that happened after the state was updated scores exactly as the first.
    """
    combined = {}
    for name in sorted(set(history) | set(tonight)):
        old, new = history.get(name), tonight.get(name)
        if old is None or new is None:
            combined[name] = (new if old is None else old).reset_index(drop=True)
            continue
        key = _key(name)
        if key:
            replaced = old.set_index(key).index.isin(new.set_index(key).index)
            old = old[~replaced]
        combined[name] = pd.concat([old, new.astype(old.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    return combined


def _adjacency(graph: MarketplaceGraph) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """All node types in one symmetric adjacency; offsets give each type's first row."""
    data = graph.data
    offsets, total = {}, 0
    for node_type in data.node_types:
        offsets[node_type] = total
        total += data[node_type].num_nodes
    rows, cols = [], []
    for (src, _, dst), edge_index in data.edge_index_dict.items():
        edges = edge_index.numpy()
        rows.append(edges[0] + offsets[src])
        cols.append(edges[1] + offsets[dst])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    adjacency = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(total, total))
    return ((adjacency + adjacency.T) > 0).astype(np.float32).tocsr(), offsets


def to_rescore(graph: MarketplaceGraph, tonight: dict[str, pd.DataFrame], hops: int
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per scored node type, (mask of the nodes to score, mask of tonight's own nodes): tonight's
    own, and every old one within ``hops`` of any node tonight brought (a GNN of ``hops``
    layers sees that far, so only those scores can have changed)."""
    adjacency, offsets = _adjacency(graph)
    frontier = np.zeros(adjacency.shape[0], dtype=bool)
    own = {}
    for node_type in SCORED_NODE_TYPES:
        table = tonight.get(f"{node_type}s")
        ids = table[f"{node_type}_id"] if table is not None else pd.Series([], dtype="string")
        own[node_type] = graph.ids[node_type].isin(ids.astype("string"))
        frontier[offsets[node_type]:offsets[node_type] + len(own[node_type])] |= own[node_type]
    reached = frontier.copy()
    for _ in range(hops):
        frontier = (adjacency @ frontier.astype(np.float32)) > 0
        reached |= frontier
    return {nt: reached[offsets[nt]:offsets[nt] + len(graph.ids[nt])] for nt in SCORED_NODE_TYPES}, own


def base_fingerprint(history: History, input_hashes: dict[str, str]) -> str:
    """The state a night attaches to: the current one, or, when this very input was applied
    before (a re-run after a crash that came after the state was updated), the one it was
    applied to, so the re-run is the same run."""
    for run in history.ledger["runs"]:
        if run["inputs"] == input_hashes:
            return run["base"]
    return history.fingerprint


def commit_state(state_dir: Path, combined: dict[str, pd.DataFrame], history: History, run: dict) -> dict:
    """Writes the new state beside the old one, then swaps them: never a half-written state."""
    state_dir = Path(state_dir)
    staging = state_dir.with_name(state_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / TABLES_DIR).mkdir(parents=True)
    digest = hashlib.sha256()  # of the content only: re-applying a night gives the same fingerprint
    for name, frame in sorted(combined.items()):
        path = staging / TABLES_DIR / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        digest.update(name.encode() + path.read_bytes())
    runs = [r for r in history.ledger["runs"] if r["run_id"] != run["run_id"]] + [run]
    ledger = {"runs": runs, "rows": {name: len(frame) for name, frame in sorted(combined.items())},
              "fingerprint": digest.hexdigest()[:16]}
    (staging / STATE_FILE).write_text(json.dumps(ledger, indent=1, sort_keys=True, default=str))
    retired = state_dir.with_name(state_dir.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if state_dir.exists():
        state_dir.rename(retired)
    staging.rename(state_dir)
    shutil.rmtree(retired, ignore_errors=True)
    return ledger
