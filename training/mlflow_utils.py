"""MLflow plumbing shared by training and scoring: tracking URI, model URIs, versions."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import mlflow
from mlflow.tracking import MlflowClient

from fraudlens.errors import FraudLensError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def configure_tracking(tracking_uri: str | None = None) -> str:
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


@dataclass
class ResolvedModel:
    uri: str
    name: str | None
    version: str | None
    run_id: str | None


def resolve_model(uri: str) -> ResolvedModel:
    """Pins models:/name@alias and models:/name/version to a concrete version and its run."""
    match = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))", uri)
    if not match:
        return ResolvedModel(uri=uri, name=None, version=None, run_id=None)
    name, alias, version = match.groups()
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException as exc:
        raise FraudLensError(
            f"{uri}: no such registered model version in {mlflow.get_tracking_uri()} - fix: run "
            "`fraudlens train --config configs/demo.yaml` first, or set MLFLOW_TRACKING_URI to the store that has it"
        ) from exc
    return ResolvedModel(uri=f"models:/{name}/{mv.version}", name=name, version=str(mv.version), run_id=mv.run_id)


def flatten_params(prefix: str, value) -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested config as flat MLflow params."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten_params(f"{prefix}.{k}" if prefix else k, v))
        return out
    return {prefix: value}
