"""Plant raw PII in every identifier column, run the pipeline, and scan everything it wrote."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fraudlens.errors import ConfigError
from fraudlens.marketplace.graph import build_graph, to_networkx
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import resolve_pii_key
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from tests.conftest import REPO_ROOT

FRAUDLENS = str(Path(sys.executable).with_name("fraudlens"))
PLANTED = {
    ("accounts", "email"): "Planted.Person+Leak@Example.org",
    ("accounts", "phone"): "+44 20 7946 0958 leak",
    ("accounts", "device_id"): "DEVICE-LEAK-7f3a9c",
    ("accounts", "ip"): "203.0.113.77",
    ("orders", "device_id"): "device-leak-order-55aa",
    ("orders", "ip"): "198.51.100.201",
    ("orders", "payment_token"): "tok_leak_4242424242",
    ("orders", "shipping_address"): "42 Leakage Road, Sentinel Town",
    ("orders", "email"): "order.leak.sentinel@example.net",
}


def _needles() -> list[bytes]:
    out = set()
    for value in PLANTED.values():
        for variant in (value, value.lower(), value.strip().lower()):
            out.add(variant.encode())
    return sorted(out)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("pii")
    tables = generate_marketplace(seed=5, scale=300)
    tables.pop("truth")
    tables["accounts"]["phone"] = "+1 555 0100"
    for (table, column), value in PLANTED.items():
        tables[table][column] = tables[table][column].astype(object)
        tables[table].loc[tables[table].index[:5], column] = value
    write_marketplace({**tables, "truth": pd.DataFrame({"entity_type": [], "entity_id": [], "is_fraud": []})},
                      work / "input", fmt="csv")
    config = yaml.safe_load((REPO_ROOT / "configs" / "demo.yaml").read_text())
    config["train"]["epochs"] = 3
    config["encoder"]["cache_dir"] = str(work / "cache")
    config["text_model"]["uri"] = None  # the text model sees only review text; its path is tested elsewhere
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    logs = []
    for args in (["validate", "--input", "input"],
                 ["train", "--config", "config.yaml", "--input", "input", "--result-json", "train.json"],
                 ["score", "--input", "input", "--out", "scores", "--config", "config.yaml"]):
        result = subprocess.run([FRAUDLENS, *args], cwd=work, env=env, capture_output=True, timeout=900)
        assert result.returncode in (0, 1), result.stderr.decode()[-2000:]
        logs += [result.stdout, result.stderr]
    return work, b"\n".join(logs)


def test_planted_values_really_are_in_the_input(planted_run):
    work, _ = planted_run
    raw = b"".join(p.read_bytes() for p in (work / "input").glob("*.csv"))
    assert all(needle in raw for needle in (v.encode() for v in PLANTED.values()))


def test_no_raw_identifier_in_any_artifact_or_log(planted_run):
    work, logs = planted_run
    scanned = 0
    for path in work.rglob("*"):
        if path.is_file() and "input" not in path.relative_to(work).parts:
            content = path.read_bytes()
            scanned += 1
            for needle in _needles():
                assert needle not in content, f"{needle!r} leaked into {path}"
    for needle in _needles():
        assert needle not in logs, f"{needle!r} leaked into the logs"
    assert scanned > 20  # the MLflow store, artifacts, caches and outputs were all there to scan


def test_no_raw_identifier_in_the_graph(planted_run):
    work, _ = planted_run
    graph = build_graph(ingest(work / "input", b"k").tables)
    node_names = " ".join(str(n) for n in to_networkx(graph).nodes).encode()
    for needle in _needles():
        assert needle not in node_names


def test_production_mode_requires_a_key(monkeypatch):
    monkeypatch.delenv("FRAUDLENS_PII_KEY", raising=False)
    with pytest.raises(ConfigError, match="FRAUDLENS_PII_KEY"):
        resolve_pii_key("production")
    monkeypatch.setenv("FRAUDLENS_PII_KEY", "s" * 40)
    assert resolve_pii_key("production") == b"s" * 40
