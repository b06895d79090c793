"""The one module that talks to the MLflow tracking server and registry, for both trainers and
the scorer: tracking URI, resolving ``models:/name@alias``, logging + registering + aliasing a
model, loading a registered model.

Registered models are logged without ``code_paths``: the model's code is the installed
``fraudlens`` package (the bundle's format version, checked at load, says whether it can read
it). Shipping a copy of the package in ``code_paths`` would put a second ``fraudlens`` first on
``sys.path`` at load time, and MLflow evicts already-imported modules of that name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.pyfunc
from mlflow.tracking import MlflowClient

from fraudlens.errors import FraudLensError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# A new version is registered as the challenger; `fraudlens promote` moves the champion.
CHAMPION, CHALLENGER = "champion", "challenger"
# Run tag: when the latest training label became known; promotion evaluates on later labels.
TRAINING_CUTOFF_TAG = "training_cutoff"
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


def log_and_register(python_model: Path | str, artifacts: dict[str, str], registered_model: str, alias: str,
                     **log_model_kwargs) -> str:
    """Logs a "models from code" pyfunc (``python_model`` is the defining module's file: nothing is
    pickled) in the active run, registers it and points ``alias`` at the new version. The first
    version of a model also becomes ``champion``: there is nothing to compare it with."""
    info = mlflow.pyfunc.log_model(name="model", python_model=str(python_model), artifacts=artifacts,
                                   registered_model_name=registered_model, **log_model_kwargs)
    version = str(info.registered_model_version)
    if alias != CHAMPION and alias_version(registered_model, CHAMPION) is None:
        set_alias(registered_model, CHAMPION, version, {"promotion_rule": "first version"})
    set_alias(registered_model, alias, version)
    return version


def alias_version(registered_model: str, alias: str) -> str | None:
    """The version ``alias`` points at, None when it points nowhere (or the model does not exist)."""
    try:
        return str(MlflowClient().get_model_version_by_alias(registered_model, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def version_run_tags(registered_model: str, version: str) -> dict[str, str]:
    """The tags of the training run that produced ``version`` (e.g. its ``training_cutoff``)."""
    client = MlflowClient()
    return dict(client.get_run(client.get_model_version(registered_model, version).run_id).data.tags)


def describe_version(registered_model: str, version: str, description: str) -> None:
    MlflowClient().update_model_version(registered_model, version, description=description)


def set_alias(registered_model: str, alias: str, version: str, tags: dict[str, str] | None = None) -> None:
    """Points ``alias`` at ``version`` and records ``tags`` (why) on that version."""
    client = MlflowClient()
    client.set_registered_model_alias(registered_model, alias, version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(registered_model, version, key, str(value))


def load_python_model(uri: str):
    """The fraudlens object behind a logged pyfunc (``unwrap_python_model``), resolved first."""
    resolved = resolve_model(uri)
    return mlflow.pyfunc.load_model(resolved.uri).unwrap_python_model(), resolved


def flatten_params(prefix: str, value) -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested config as flat MLflow params."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten_params(f"{prefix}.{k}" if prefix else k, v))
        return out
    return {prefix: value}
