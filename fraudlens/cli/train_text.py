"""``fraudlens train-text --config configs/text.yaml --input FILE``: train the review text model.

The training code (torch, transformers, MLflow) is imported when the command runs, not when the
CLI starts: ``fraudlens --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fraudlens.errors import FraudLensError


def _progress_line(stage: str, info: dict) -> None:
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
                      if not isinstance(v, (list, dict)))
    typer.echo(f"  {stage}: {shown}", err=True)


def train_text_command(
    config: Annotated[Path, typer.Option("--config", help="Text-model YAML config, e.g. configs/text.yaml.")],
    input: Annotated[Path, typer.Option("--input", help="CSV or Parquet file of reviews with text, label (and rating), "
                                                           "or a marketplace directory with reviews and labels.")],
    result_json: Annotated[Path | None, typer.Option("--result-json", help="Also write run id, model URI and "
                                                                           "held-out metrics here.")] = None,
) -> None:
    """Train the review text model on a labelled CSV/Parquet file and register it in MLflow."""
    from fraudlens.text_config import load_text_config
    from fraudlens.training.text_data import read_table
    from fraudlens.training.train_text import train_text

    try:
        cfg = load_text_config(config)
        table = read_table(input)
        result = train_text(cfg, table, progress=_progress_line)
    except FraudLensError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    shown = {k: round(result.metrics[f"test_{k}"], 4) for k in ("accuracy", "macro_f1", "auroc")
             if f"test_{k}" in result.metrics}
    if result_json:
        from fraudlens.inference.outputs import atomic_write_json

        atomic_write_json({"run_id": result.run_id, "model_name": result.model_name,
                           "model_version": result.model_version, "model_uri": result.model_uri,
                           "metrics": result.metrics}, result_json)
    typer.echo(f"registered {result.model_name} v{result.model_version} as {result.model_uri} (run {result.run_id}); "
               f"held-out: {shown}")
