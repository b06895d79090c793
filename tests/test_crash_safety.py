"""Kill the real scoring process mid-run, re-run the same command: it resumes, and the outputs
are byte-identical to an uninterrupted run. Also: two cold runs give identical bytes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # trains models: minutes

FRAUDLENS = str(Path(sys.executable).with_name("fraudlens"))
OUTPUT_FILES = ("review_scores.parquet", "order_scores.parquet", "review_scores.csv", "order_scores.csv",
                "quarantine.parquet", "quarantine.csv")


def _run(args, env, cwd):
    result = subprocess.run([FRAUDLENS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("crash")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    _run(["generate", "--out", "train", "--seed", "21", "--scale", "400"], env, work)
    _run(["generate", "--out", "tonight", "--seed", "22", "--scale", "2500"], env, work)
    config = yaml.safe_load((REPO_ROOT / "configs" / "demo.yaml").read_text())
    config["train"]["epochs"] = 5
    config["text_model"]["uri"] = None  # frozen encoder: the resume path is the same, the test much faster
    # No shared cache: checkpoints then live in the output directory and must be cleaned up.
    config["encoder"].update(cache_dir=None, checkpoint_every=96)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    _run(["train", "--config", "config.yaml", "--input", "train"], env, work)
    return work, env


def _score(work, env, out):
    return [FRAUDLENS, "score", "--input", "tonight", "--out", out, "--config", "config.yaml"]


def test_killed_run_resumes_to_byte_identical_outputs(setup):
    work, env = setup
    _run(_score(work, env, "clean")[1:], env, work)

    victim = subprocess.Popen(_score(work, env, "resumed"), env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = work / "resumed" / ".checkpoints"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list(checkpoints.rglob("shard-*.npz"))) < 3:
        assert victim.poll() is None, "scoring finished before it could be killed: make the input bigger"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not any((work / "resumed" / name).exists() for name in OUTPUT_FILES + ("manifest.json",)), \
        "a killed run must leave no output that looks complete"
    done_before_kill = len(list(checkpoints.rglob("shard-*.npz")))

    _run(_score(work, env, "resumed")[1:], env, work)
    for name in OUTPUT_FILES:
        assert (work / "resumed" / name).read_bytes() == (work / "clean" / name).read_bytes(), name
    resumed = json.loads((work / "resumed" / "manifest.json").read_text())
    clean = json.loads((work / "clean" / "manifest.json").read_text())
    assert resumed["text_encoder"]["texts_from_cache_or_checkpoint"] >= 96 * done_before_kill
    assert resumed["text_encoder"]["texts_encoded"] < clean["text_encoder"]["texts_encoded"]
    assert resumed["inputs"] == clean["inputs"] and resumed["run_id"] == clean["run_id"]
    assert not (work / "resumed" / ".checkpoints").exists(), "checkpoints are removed once the run completes"


def test_same_inputs_and_model_give_identical_bytes(setup):
    work, env = setup
    _run(_score(work, env, "first")[1:], env, work)
    _run(_score(work, env, "second")[1:], env, work)
    for name in OUTPUT_FILES:
        assert (work / "first" / name).read_bytes() == (work / "second" / name).read_bytes(), name


def test_written_csvs_neutralise_spreadsheet_formulas(setup, tmp_path):
    work, env = setup
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "reviews.csv").write_text(
        "review_id,account_id,product_id,text,rating,created_at\n"
        "=HYPERLINK(\"http://x\"),a1,p1,ok,5,2026-01-01\n"
        "+r2,a1,p1,ok,5,2026-01-01\n"
        "r3,@a,p1,ok,9,2026-01-01\n")
    _run(["score", "--input", str(inputs), "--out", str(tmp_path / "out"), "--config", "config.yaml"], env, work)
    lines = (tmp_path / "out" / "review_scores.csv").read_text().splitlines()[1:]
    assert all(not line.startswith(("=", "+", "-", "@", '"=', '"+', '"-', '"@')) for line in lines)
    assert any(line.startswith(("'=", "\"'=")) for line in lines)
    quarantine = (tmp_path / "out" / "quarantine.csv").read_text().splitlines()
    assert len(quarantine) == 2 and "out_of_range" in quarantine[1]
