"""Real-data quality of fraudlens's graph model: S-FFSD (fraudulent orders) and YelpChi (fake reviews).

Everything goes through the product, as a new user would run it: the adapter writes the data
set as input tables (marketplace/adapters.py), each seed's training labels become the labels
table, ``ingest`` validates them, ``fraudlens.training.train.train`` (what ``fraudlens train``
calls) fits and registers the model, and the registered model scores every row with
``FraudLensModel.inputs`` + ``score_inputs`` (what ``fraudlens score`` runs inside
``inference.batch.score_input``). There is no second implementation: the ``shipped`` row is the
registered model's calibrated scores on the test rows.

Protocol (../shared/data/README.md): S-FFSD - labelled rows split stratified 80/20 train/test,
unlabelled rows are graph context only; YelpChi - stratified 40/60. Seeds 0-4. Test labels are
never written to the input: the model sees the training labels only (its own validation split,
``train.val_fraction``, is carved out of them inside ``train``).

Rows per seed, all from the one registered model:
- shipped: its scores (trees and GNN blended by validation AUPRC, Platt-calibrated);
- xgbgraph: its tree head alone - XGBoost (models/xgbgraph.py) on the node's features, their
  1-/2-hop neighbour means and the out-of-fold label features: the GADBench baseline;
- gnn: its GNN alone.
The macro-F1 threshold of each row is chosen on the model's own validation ("val") labels,
scored as in training (label features without those labels).

    python benchmarks/graph_quality.py [--data-dir ../shared/data] [--seeds 0,1,2,3,4]
        [--sets sffsd,yelpchi] [--quick] [--threads 1]

Writes benchmarks/results/graph_quality.json (top-level "path": "product"; "sffsd"/"yelpchi": per
model the test means and sds, e.g. ``auprc_mean``, ``auprc_per_seed``, ``train_s_mean``; "sets"
and "runs": everything), the graph_quality block of docs/benchmarks.md and one MLflow run per
(set, seed) in experiment fraudlens-graph-benchmark ($MLFLOW_TRACKING_URI, default
sqlite:///mlflow.db in the repository root). The models themselves are registered in a
throwaway store, not in the repository's registry.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from benchmarks.doc_blocks import update_doc  # noqa: E402
from fraudlens.config import load_config  # noqa: E402
from fraudlens.inference.batch import load_registered_model  # noqa: E402
from fraudlens.marketplace import adapters  # noqa: E402
from fraudlens.marketplace.graph_features import labels_by_id  # noqa: E402
from fraudlens.marketplace.ingest import ingest  # noqa: E402
from fraudlens.marketplace.pii import DEMO_PII_KEY  # noqa: E402
from fraudlens.training.train import train  # noqa: E402

EXPERIMENT = "fraudlens-graph-benchmark"
RESULTS = ROOT / "benchmarks" / "results" / "graph_quality.json"
DOC = ROOT / "docs" / "benchmarks.md"
CONFIG = ROOT / "configs" / "demo.yaml"
MARKER = "graph_quality"
MODELS = ("xgbgraph", "gnn", "shipped")
METRICS = ("auroc", "auprc", "macro_f1", "recall_at_k")
SETS = {
    # name: (entity type, test share of labelled rows, protocol text)
    "sffsd": ("order", 0.2, "labelled rows stratified 80/20 train/test; unlabelled rows are graph context"),
    "yelpchi": ("review", 0.6, "stratified 40/60 train/test"),
}
# Issue 13's targets for the shipped model: (AUROC, AUPRC).
TARGETS = {"sffsd": (0.95, 0.85), "yelpchi": (0.86, 0.51)}
# Issue 13: training on S-FFSD's 80 % split within this many seconds on the 2-core machine.
TRAIN_SECONDS_TARGET = {"sffsd": 300}


def write_set(name: str, data_dir: Path, out_dir: Path) -> tuple[pd.Series, pd.DataFrame]:
    """The adapter's tables under ``out_dir`` (all but labels), and every label as a Series by id."""
    tables = adapters.load_sffsd(data_dir) if name == "sffsd" else adapters.load_yelpchi(data_dir)
    labels = tables.pop("labels")
    adapters.write_tables(tables, out_dir)
    return labels_by_id(labels, SETS[name][0]), labels


def seed_input(base: Path, labels_table: pd.DataFrame, train_ids: pd.Index, out: Path) -> Path:
    """An input directory: the set's tables, and a labels table of the training rows only."""
    out.mkdir(parents=True, exist_ok=True)
    for table in base.glob("*.parquet"):
        (out / table.name).symlink_to(table)
    keep = labels_table["entity_id"].astype("string").isin(train_ids)
    labels_table[keep.to_numpy()].to_parquet(out / "labels.parquet", index=False)
    return out


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability cut with the best macro-F1 on (validation) rows."""
    candidates = np.unique(np.quantile(p, np.linspace(0.5, 0.995, 100)))
    scores = [f1_score(y, p >= t, average="macro") for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    k = int(y.sum())
    top = np.argsort(-p, kind="stable")[:k]
    return {"auroc": float(roc_auc_score(y, p)), "auprc": float(average_precision_score(y, p)),
            "macro_f1": float(f1_score(y, p >= threshold, average="macro")),
            "recall_at_k": float(y[top].sum() / max(k, 1))}


def split(labels: pd.Series, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``labels`` of the training and test rows."""
    y = labels.to_numpy()
    return train_test_split(np.arange(len(y)), test_size=test_share, stratify=y, random_state=seed)


def run_seed(set_name: str, base: Path, labels: pd.Series, labels_table: pd.DataFrame, seed: int, args,
             work: Path, log) -> dict:
    started = time.perf_counter()
    node_type, test_share, _ = SETS[set_name]
    train_pos, test_pos = split(labels, test_share, seed)
    input_dir = seed_input(base, labels_table, labels.index[train_pos], work / f"{set_name}-seed{seed}")
    overrides = {"train.input_dir": str(input_dir), "train.seed": seed, "text_model.uri": None,
                 "mlflow.tracking_uri": f"sqlite:///{work / 'mlflow.db'}", "mlflow.experiment": EXPERIMENT,
                 "mlflow.registered_model": f"fraudlens-bench-{set_name}", "encoder.cache_dir": str(work / "cache")}
    if args.quick:
        overrides["train.epochs"] = 3
    config = load_config(CONFIG, overrides)

    t = time.perf_counter()
    trained = train(config, ingest(input_dir, DEMO_PII_KEY.encode()))
    train_s = time.perf_counter() - t

    t = time.perf_counter()
    model, _ = load_registered_model(f"models:/{trained.model_name}/{trained.model_version}")
    tables = ingest(input_dir, DEMO_PII_KEY.encode()).tables
    inputs = model.inputs(tables)
    preds = {"shipped": model.score_inputs(inputs, tables)[node_type]["score"].to_numpy()}
    components = model.component_probabilities(inputs)[node_type]
    preds["gnn"], preds["xgbgraph"] = components["gnn"], components.get("trees", components["gnn"])
    score_s = time.perf_counter() - t
    test = inputs.graph.node_index(node_type, labels.index[test_pos])
    y_test = labels.to_numpy()[test_pos].astype(np.float64)

    # The validation rows as the model saw them in training (label features without their labels).
    v = trained.split.val_idx[node_type].numpy()
    y_v = trained.split.val_y[node_type].numpy().astype(np.float64)
    seen = {"shipped": trained.model.score_inputs(trained.inputs, tables)[node_type]["score"].to_numpy()}
    seen_components = trained.model.component_probabilities(trained.inputs)[node_type]
    seen["gnn"], seen["xgbgraph"] = seen_components["gnn"], seen_components.get("trees", seen_components["gnn"])

    if args.dump_predictions:
        args.dump_predictions.mkdir(parents=True, exist_ok=True)
        np.savez(args.dump_predictions / f"{set_name}-seed{seed}.npz", test=test, y_test=y_test, val=v, y_val=y_v,
                 **preds, **{f"val_{k}": p for k, p in seen.items()})
    result = {"seed": seed, "sizes": {"train": int(len(train_pos)), "val": int(len(v)), "test": int(len(test_pos))},
              "train_s": train_s, "score_s": score_s, "epochs_run": trained.epochs_run,
              "blend_weight": trained.model.tree_head.weights.get(node_type, 0.0) if trained.model.tree_head else 0.0,
              "models": {}}
    for name in MODELS:
        threshold = best_threshold(y_v, seen[name][v])
        result["models"][name] = {"select": evaluate(y_v, seen[name][v], threshold),
                                  "test": evaluate(y_test, preds[name][test], threshold), "threshold": threshold}
    result["seconds"] = time.perf_counter() - started
    log(f"  seed {seed}: " + ", ".join(f"{m} AUROC {result['models'][m]['test']['auroc']:.4f} AUPRC "
                                       f"{result['models'][m]['test']['auprc']:.4f}" for m in MODELS)
        + f"; trees' weight {result['blend_weight']}, {trained.epochs_run} epochs, train {train_s:.0f}s, "
          f"score {score_s:.0f}s")
    return result


def summarise(runs: list[dict]) -> dict:
    summary = {}
    for name in MODELS:
        summary[name] = {}
        for part in ("select", "test"):
            values = {m: [r["models"][name][part][m] for r in runs] for m in METRICS}
            summary[name][part] = {m: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                                       "per_seed": [float(x) for x in v]}
                                   for m, v in values.items()}
        # One training gives all three rows (they are parts of one model).
        summary[name]["train_s_mean"] = float(np.mean([r["train_s"] for r in runs]))
    best_select = max(MODELS, key=lambda n: summary[n]["select"]["auprc"]["mean"])
    return {"models": summary, "shipped": "shipped", "best_select": best_select}


def machine_readable(sets: dict) -> dict:
    """The issue's shape, test rows only: {set: {model: {auroc_mean, auroc_sd, auprc_mean, auprc_sd,
    auprc_per_seed, ..., train_s_mean}}}."""
    out = {}
    for name, summary in sets.items():
        out[name] = {}
        for model, numbers in summary["models"].items():
            row = {f"{metric}_{stat}": value[stat] for metric, value in numbers["test"].items() for stat in ("mean", "sd")}
            row["auprc_per_seed"] = numbers["test"]["auprc"].get("per_seed", [])
            row["auroc_per_seed"] = numbers["test"]["auroc"].get("per_seed", [])
            row["train_s_mean"] = numbers.get("train_s_mean")
            out[name][model] = row
    return out


def log_to_mlflow(set_name: str, run: dict, args) -> None:
    import mlflow

    from fraudlens.tracking import configure_tracking
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT / 'mlflow.db'}")
    configure_tracking()
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"{set_name}-seed{run['seed']}"):
        mlflow.set_tags({"dataset": set_name, "seed": run["seed"], "quick": args.quick, "path": "product"})
        mlflow.log_params({"seed": run["seed"], "threads": args.threads, "epochs_run": run["epochs_run"],
                           "blend_weight": run["blend_weight"], **{f"n_{k}": v for k, v in run["sizes"].items()}})
        mlflow.log_metrics({"train_s": run["train_s"], "score_s": run["score_s"],
                            **{f"{name}_{part}_{m}": model[part][m] for name, model in run["models"].items()
                               for part in ("select", "test") for m in METRICS}})


def markdown(result: dict) -> str:
    lines = ["The benchmark runs the product: adapter tables → `ingest` → `fraudlens.training.train.train` (what "
             "`fraudlens train` calls, `configs/demo.yaml` with `text_model.uri: null`) → the registered model's "
             "`inputs` + `score_inputs` (what `fraudlens score` runs). Rows, all from the one registered model:", "",
             "- **shipped**: its calibrated scores: `w · trees + (1 − w) · GNN`, the trees' weight w the mean over "
             "50 bootstrap resamples of the validation labels of the best of {0, 0.25, 0.5, 0.75, 1} "
             "(`models/tree_head.py`);",
             "- **xgbgraph**: its tree head alone: XGBoost (`models/xgbgraph.py`, scale_pos_weight, early stopping) "
             "on the node's behavioural features (`marketplace/features.py`), the graph features of "
             "`marketplace/graph_features.py` (amount, degrees, distinct/pair counts, codes, amount vs group, "
             "backward-looking velocities, platform signals, their per-relation 1-hop and whole-projection "
             "1-/2-hop neighbour means) and the \"linked to known fraud\" label features (per relation: labelled "
             "neighbours, fraud among them, smoothed share; out-of-fold over 10 folds) - GADBench's XGBGraph;",
             "- **gnn**: its GNN alone (`models/gnn.py`): residual heterogeneous GraphSAGE over the marketplace "
             "graph, label features in the heads only, trained in mini-batches of subgraphs from the "
             "degree-capped sampler (`models/sampler.py`, 16 in-edges per node per hop), pos_weight, best epoch "
             "by validation AUPRC; scored exactly, layer by layer over the whole graph.",
             "",
             "### Quality on real data (S-FFSD orders, YelpChi reviews)", "",
             "Mean ± sd over seeds " + ", ".join(map(str, result["seeds"])) + " on the test rows. The input holds "
             "the training labels only; `train` splits them (`train.val_fraction` 0.2): 80 % fit the GNN and the "
             "trees, 10 % stop both early, 10 % (\"val\", kept out of the label features' pool) choose the blend "
             "weight, the calibration and each row's macro-F1 threshold. At scoring the label features read "
             "every label of the input. Recall@K: K = test positives. Train s: `train()` wall seconds "
             "(features, GNN, trees, MLflow logging and registration).", ""]
    for set_name, summary in result["sets"].items():
        lines += [f"**{set_name}** ({SETS[set_name][2]})", "",
                  "| model | AUROC | AUPRC | macro-F1 | Recall@K | val AUPRC | train s |",
                  "|---|---|---|---|---|---|---|"]
        for name in MODELS:
            m = summary["models"][name]
            cells = [f"{m['test'][k]['mean']:.4f} ± {m['test'][k]['sd']:.4f}" for k in METRICS]
            label = f"**{name}**" if name == summary["shipped"] else name
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {m['select']['auprc']['mean']:.4f} | "
                         f"{m.get('train_s_mean', float('nan')):.0f} |")
        runs = result["runs"].get(set_name, [])
        lines += ["", f"Per seed: trees' blend weight {[r['blend_weight'] for r in runs]}, epochs "
                  f"{[r['epochs_run'] for r in runs]}, train s {[round(r['train_s']) for r in runs]}.", ""]
    for set_name, summary in result["sets"].items():
        if set_name not in TARGETS:
            continue
        shipped = summary["models"][summary["shipped"]]["test"]
        baseline = summary["models"]["xgbgraph"]["test"]["auprc"]["mean"]
        auroc, auprc = TARGETS[set_name]
        checks = [f"AUROC {shipped['auroc']['mean']:.4f} {'>=' if shipped['auroc']['mean'] >= auroc else '<'} {auroc}",
                  f"AUPRC {shipped['auprc']['mean']:.4f} {'>=' if shipped['auprc']['mean'] >= auprc else '<'} {auprc}",
                  f"{'beats' if shipped['auprc']['mean'] > baseline else 'does not beat'} xgbgraph on AUPRC by "
                  f"{shipped['auprc']['mean'] - baseline:+.4f}"]
        paired = [r["models"][summary["shipped"]]["test"]["auprc"] - r["models"]["xgbgraph"]["test"]["auprc"]
                  for r in result["runs"].get(set_name, [])]
        if len(paired) > 1:
            checks[-1] += (f" (per seed {np.mean(paired):+.4f} ± {np.std(paired, ddof=1):.4f}, "
                           f"ahead in {sum(d > 0 for d in paired)} of {len(paired)} seeds)")
        train_s = summary["models"]["shipped"].get("train_s_mean", float("nan"))
        limit = TRAIN_SECONDS_TARGET.get(set_name)
        checks.append(f"training {train_s:.0f} s" + (f" {'<=' if train_s <= limit else '>'} {limit} s" if limit else ""))
        lines.append(f"- Targets, {set_name} (`{summary['shipped']}`): " + "; ".join(checks) + ".")
    lines += [f"- Wall time {result['wall_minutes']:.1f} min on {result['machine']} (threads: {result['threads']}; "
              f"load average {result['load_average']:.1f} at start"
              + (" - the cores were shared with other jobs, which moves the train seconds)." if result["load_average"] > 1.5
                 else ", an otherwise idle machine)."),
              "- Anchors (../shared/data/README.md): S-FFSD RGTAN AUROC 0.846 / AP 0.694, XGBoost on per-column "
              "counts 0.921 / 0.768; YelpChi XGBoost on priors + degrees 0.80 / 0.37. Before the product path "
              "(issue 13), `fraudlens train` + `fraudlens score` gave S-FFSD 0.889 / 0.729 and YelpChi "
              "0.771 / 0.302, and the benchmark-only twin 0.9475 / 0.8335 and 0.852 / 0.492.", "",
              "```bash", result["command"], "```"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=adapters.DEFAULT_DATA_DIR)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--sets", default="sffsd,yelpchi")
    parser.add_argument("--quick", action="store_true", help="one seed, 3 epochs: a smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch/xgboost threads (1 is fastest on shared cores)")
    parser.add_argument("--out", type=Path, default=None, help=f"default {RESULTS.relative_to(ROOT)} (--quick: *_quick.json)")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the docs block from an existing results JSON (--out), run nothing")
    parser.add_argument("--dump-predictions", type=Path, default=None, help="save per-seed test and validation predictions (npz) here")
    args = parser.parse_args(argv)
    if args.render_only:
        path = args.out or RESULTS
        result = json.loads(path.read_text())
        result.update(machine_readable(result["sets"]))
        path.write_text(json.dumps(result, indent=2, default=str))
        update_doc(args.doc, MARKER, markdown(result), "Graph model")
        return 0
    seeds = [int(s) for s in args.seeds.split(",")][:1 if args.quick else None]
    sets = [s for s in args.sets.split(",") if s]
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {list(SETS)}")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    log = lambda message: print(message, flush=True)  # noqa: E731
    result = {"path": "product",
              "command": "python " + " ".join(shlex.quote(a) for a in ["benchmarks/graph_quality.py", *(argv or sys.argv[1:])]),
              "seeds": seeds, "threads": args.threads, "quick": args.quick, "sets": {}, "runs": {},
              "machine": f"{os.cpu_count()} cores, {platform.machine()}", "load_average": load}
    if args.out is None:
        args.out = RESULTS.with_name("graph_quality_quick.json") if args.quick else RESULTS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="graph_quality_") as tmp:
        work = Path(tmp)
        for set_name in sets:
            t = time.perf_counter()
            base = work / set_name
            labels, labels_table = write_set(set_name, args.data_dir, base)
            log(f"{set_name}: {len(labels)} labelled {SETS[set_name][0]}s written as input tables "
                f"[{time.perf_counter() - t:.0f}s]")
            runs = []
            for seed in seeds:
                run = run_seed(set_name, base, labels, labels_table, seed, args, work, log)
                runs.append(run)
                if not args.no_mlflow:
                    log_to_mlflow(set_name, run, args)
                # Every finished seed is kept, so an interrupted run still reports what it measured.
                result["runs"][set_name] = runs
                args.out.write_text(json.dumps({**result, "partial": True}, indent=2, default=str))
            result["runs"][set_name] = runs
            result["sets"][set_name] = summarise(runs)
    result["wall_minutes"] = (time.perf_counter() - started) / 60
    result.update(machine_readable(result["sets"]))
    args.out.write_text(json.dumps(result, indent=2, default=str))
    if not args.quick:
        update_doc(args.doc, MARKER, markdown(result), "Graph model")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
