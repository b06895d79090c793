"""benchmarks/text_quality.py end to end on a small synthetic review file: the issue's JSON shape,
folds run in parallel processes, and fine-tuned encoders kept for a stack-only re-run."""

import json
import logging

import numpy as np
import pytest

from benchmarks import text_quality
from tests.test_text_classifier import synthetic_reviews

pytestmark = pytest.mark.slow  # trains models: minutes

SMALL = ["--folds", "2", "--threads", "1", "--no-mlflow", "--set", "finetune.epochs=1", "--set", "encoder.max_length=32",
         "--set", "finetune.train_layers=2", "--set", "stacking.inner_folds=3"]


def test_parallel_folds_keep_encoders_for_a_stack_only_rerun(tmp_path, caplog):
    data = tmp_path / "reviews.csv"
    synthetic_reviews(160, seed=5).to_csv(data, index=False)
    work, doc = tmp_path / "work", tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    common = ["--data", str(data), "--work-dir", str(work), "--doc", str(doc)] + SMALL

    assert text_quality.main(common + ["--jobs", "2", "--out", str(tmp_path / "a.json")]) == 0
    result = json.loads((tmp_path / "a.json").read_text())
    assert result["protocol"] == "2-fold stratified CV, seed 0" and result["rows"] == 160
    assert set(result["models"]) == {"tfidf_lr", "frozen_encoder_lr", "finetuned_encoder", "combined"}
    for scores in result["models"].values():
        assert set(scores) == {"accuracy", "macro_f1", "auroc"} and 0 <= scores["accuracy"] <= 1
    assert "combined_without_layout_features" in result["extra"]
    assert "```bash\npython benchmarks/text_quality.py" in doc.read_text()
    encoders = list((work / "encoders").glob("*/fold-*"))
    assert len(encoders) == 2 and all((e / "component.json").is_file() for e in encoders)

    # A stack-only change: new per-fold results, the same fine-tuned encoders (no epoch is run).
    caplog.set_level(logging.INFO, logger="text_quality")
    assert text_quality.main(common + ["--set", "stacking.stack_C=4.0", "--out", str(tmp_path / "b.json")]) == 0
    assert sum("'reused'" in r.getMessage() for r in caplog.records) == 2
    assert json.loads((tmp_path / "b.json").read_text())["encoders_reused"] is True
    assert result["encoders_reused"] is False and result["jobs"] == 2
    runs = sorted(p for p in work.iterdir() if p.name != "encoders")
    assert len(runs) == 2
    first, second = ([json.loads((run / f"fold-{k}.json").read_text()) for k in range(2)] for run in runs)
    for a, b in zip(first, second):
        # The parallel run (a worker process per fold) and the in-process one agree on the encoder's output.
        np.testing.assert_allclose(a["probabilities"]["finetuned_encoder"], b["probabilities"]["finetuned_encoder"],
                                   rtol=0, atol=1e-6)
        assert len(a["stack_holdout"]["index"]) == len(a["stack_holdout"]["encoder_logit"]) > 0
