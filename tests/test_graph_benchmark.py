"""The graph benchmark's bookkeeping: metrics and its own section of docs/benchmarks.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from benchmarks.doc_blocks import update_doc

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("graph_quality", ROOT / "benchmarks" / "graph_quality.py")
graph_quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(graph_quality)


def test_recall_at_k_counts_positives_among_the_top_k():
    y = np.array([1, 0, 1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.1, 0.3, 0.2, 0.7])
    metrics = graph_quality.evaluate(y, p, threshold=0.5)
    assert metrics["recall_at_k"] == 2 / 3  # top 3 = 0.9 (1), 0.8 (0), 0.7 (1)
    assert abs(metrics["auroc"] - 5 / 9) < 1e-12  # 5 of 9 positive-negative pairs ordered right


def test_split_is_stratified_disjoint_and_seeded():
    import pandas as pd
    labels = pd.Series(np.r_[np.ones(100), np.zeros(400)].astype(int), index=[f"o{i}" for i in range(500)])
    train, test = graph_quality.split(labels, 0.2, seed=3)
    assert len(set(train) | set(test)) == 500 and len(test) == 100
    assert labels.iloc[test].sum() == 20
    np.testing.assert_array_equal(graph_quality.split(labels, 0.2, seed=3)[1], test)


def test_doc_update_rewrites_only_its_own_block(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Text model\n\n<!-- text-quality:start -->\nTEXT\n<!-- text-quality:end -->\n"
                   "\n## Later\n\nkept\n")
    update_doc(doc, graph_quality.MARKER, "first", "Graph model")
    update_doc(doc, graph_quality.MARKER, "second", "Graph model")
    update_doc(doc, "text-speed", "SPEED", "Text model")
    text = doc.read_text()
    assert "TEXT" in text and "first" not in text and text.count("second") == 1 and "kept" in text
    assert text.count("## Graph model") == 1 and text.count("## Text model") == 1
    assert text.index("## Text model") < text.index("SPEED") < text.index("## Later") < text.index("## Graph model")


def test_results_json_has_the_issue_shape():
    runs = [{"train_s": 10.0 * (seed + 1),
             "models": {name: {part: {m: 0.5 + 0.1 * seed for m in graph_quality.METRICS} for part in ("select", "test")}
                        for name in graph_quality.MODELS}} for seed in range(3)]
    shaped = graph_quality.machine_readable({"sffsd": graph_quality.summarise(runs)})
    assert set(shaped["sffsd"]) == set(graph_quality.MODELS) >= {"xgbgraph", "gnn", "shipped"}
    shipped = shaped["sffsd"]["shipped"]
    assert {"auroc_mean", "auroc_sd", "auprc_mean", "auprc_sd", "macro_f1_mean", "auprc_per_seed",
            "train_s_mean"} <= set(shipped)
    assert abs(shipped["auprc_mean"] - 0.6) < 1e-12 and abs(shipped["auprc_sd"] - 0.1) < 1e-12
    np.testing.assert_allclose(shipped["auprc_per_seed"], [0.5, 0.6, 0.7])
    assert shipped["train_s_mean"] == 20.0


def test_the_benchmark_runs_the_product_path():
    """No second implementation: the benchmark trains with the product's train() and scores with
    the registered model's own inputs/score_inputs."""
    source = (ROOT / "benchmarks" / "graph_quality.py").read_text()
    assert "from fraudlens.training.train import train" in source
    assert "load_registered_model" in source and ".score_inputs(" in source
    for gone in ("relational_gnn", "graph_training", "XGBGraph("):
        assert gone not in source
