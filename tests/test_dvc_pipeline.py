"""`dvc repro` on a fresh copy of the repository runs every stage, with no DVC remote."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [f for f in listed.stdout.splitlines() if (REPO_ROOT / f).is_file()]


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    for name in _tracked_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_bytes((REPO_ROOT / name).read_bytes())
    # Small and quick, but the same stages and commands as the real pipeline.
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["generate"].update(scale=400, tonight_scale=200, text_scale=600)
    (clone / "params.yaml").write_text(yaml.safe_dump(params))
    config = yaml.safe_load((clone / "configs" / "demo.yaml").read_text())
    config["train"]["epochs"] = 5
    (clone / "configs" / "demo.yaml").write_text(yaml.safe_dump(config))
    text_config = yaml.safe_load((clone / "configs" / "demo-text.yaml").read_text())
    text_config["finetune"].update(epochs=1)
    text_config["encoder"]["max_length"] = 48
    (clone / "configs" / "demo-text.yaml").write_text(yaml.safe_dump(text_config))

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=clone, check=True)
    subprocess.run([*git, "add", "-A"], cwd=clone, check=True)
    subprocess.run([*git, "commit", "-qm", "clone"], cwd=clone, check=True)
    result = subprocess.run([str(Path(bin_dir) / "dvc"), "repro"], cwd=clone, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in ("generate", "train_text", "train", "score", "evaluate"):
        assert f"Running stage '{stage}'" in result.stdout
    metrics = json.loads((clone / "metrics" / "demo.json").read_text())
    assert metrics["review_count"] > 0 and metrics["order_count"] > 0
    assert (clone / "mlflow.db").exists() and (clone / "dvc.lock").exists()
    again = subprocess.run([str(Path(bin_dir) / "dvc"), "status"], cwd=clone, env=env, capture_output=True, text=True)
    assert "up to date" in again.stdout

    # An experiment: two parameters set on the command line; exp show lists it with its metrics.
    dvc = str(Path(bin_dir) / "dvc")
    experiment = subprocess.run([dvc, "exp", "run", "-n", "small-gnn", "-S", "configs/demo.yaml:gnn.hidden=16",
                                 "-S", "configs/demo.yaml:train.learning_rate=0.02"], cwd=clone, env=env,
                                capture_output=True, text=True, timeout=900)
    assert experiment.returncode == 0, experiment.stdout[-3000:] + experiment.stderr[-3000:]
    assert "Running stage 'train'" in experiment.stdout and "Running stage 'generate'" not in experiment.stdout
    shown = subprocess.run([dvc, "exp", "show", "--json"], cwd=clone, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    runs = [exp for baseline in json.loads(shown.stdout) for exp in (baseline.get("experiments") or [])]
    named = [r for exp in runs for r in exp.get("revs", []) if r.get("name") == "small-gnn"]
    assert named, shown.stdout[:2000]
    params = named[0]["data"]["params"]["configs/demo.yaml"]["data"]
    assert params["gnn"]["hidden"] == 16 and params["train"]["learning_rate"] == 0.02
