"""The persistence contract of every saved component: ``save(dir)`` writes a directory,
``load(dir)`` reads it back, and the directory's ``component.json`` names the component and
its format version, so a bundle written by another version of fraudlens fails with a clear
error instead of loading wrong numbers."""

from __future__ import annotations

import json
from pathlib import Path

from fraudlens.errors import FraudLensError

MANIFEST = "component.json"


class BundleFormatError(FraudLensError):
    """A saved directory is not the component asked for, or is of another format version."""


def write_component(directory: Path | str, kind: str, version: int, payload: dict | None = None) -> Path:
    """Creates ``directory`` and its manifest; ``payload`` (JSON) holds the component's own settings."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"component": kind, "format_version": version, **(payload or {})}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return directory


def read_component(directory: Path | str, kind: str, version: int) -> dict:
    """The manifest's payload, after checking the directory holds ``kind`` at format ``version``."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleFormatError(f"{directory}: not a saved {kind} (no {MANIFEST}) - fix: point at a directory "
                                f"written by {kind}.save, or retrain with this version of fraudlens") from None
    except json.JSONDecodeError as exc:
        raise BundleFormatError(f"{path}: damaged ({exc}) - fix: retrain, or restore the bundle from MLflow") from None
    found_kind, found_version = manifest.pop("component", None), manifest.pop("format_version", None)
    if found_kind != kind:
        raise BundleFormatError(f"{directory}: holds a {found_kind!r}, not a {kind!r} - fix: point at the {kind} directory")
    if found_version != version:
        raise BundleFormatError(f"{directory}: {kind} format version {found_version}, this fraudlens reads version "
                                f"{version} - fix: retrain with this version, or install the fraudlens that wrote it")
    return manifest
