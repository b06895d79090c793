"""The demo: the whole pipeline on an embedded synthetic marketplace, end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from fraudlens.config import load_config
from inference.batch import score_input
from inference.evaluate import evaluate_scores
from inference.outputs import atomic_write_json
from marketplace.ingest import ingest
from marketplace.pii import resolve_pii_key
from marketplace.synthetic import generate_marketplace, write_marketplace
from training.mlflow_utils import configure_tracking
from training.train import train

TRAIN_SEED, TONIGHT_SEED = 0, 1


def run_demo(workdir: Path, scale: int, config_path: Path, console: Console) -> dict:
    started = time.perf_counter()
    workdir = Path(workdir)
    train_dir, tonight_dir, scores_dir = workdir / "data" / "train", workdir / "data" / "tonight", workdir / "scores"
    console.print(f"[bold]1/4[/] generating marketplaces (seed {TRAIN_SEED}, scale {scale}; seed {TONIGHT_SEED}, "
                  f"scale {scale // 2})")
    write_marketplace(generate_marketplace(seed=TRAIN_SEED, scale=scale), train_dir)
    write_marketplace(generate_marketplace(seed=TONIGHT_SEED, scale=scale // 2), tonight_dir)

    config = load_config(config_path, {"train.input_dir": str(train_dir)})
    key = resolve_pii_key(config.pii.mode, config.pii.key_env)
    tracking_uri = configure_tracking(config.mlflow.tracking_uri)
    console.print(f"[bold]2/4[/] training on {train_dir} (tracking store {tracking_uri})")
    result = train(config, ingest(train_dir, key))
    console.print(f"     MLflow run {result.run_id}; registered {result.model_name} v{result.model_version} "
                  f"@{config.mlflow.alias}; validation " + ", ".join(f"{k}={v:.3f}" for k, v in result.metrics.items()),
                  soft_wrap=True)

    model_uri = f"models:/{config.mlflow.registered_model}@{config.mlflow.alias}"
    console.print(f"[bold]3/4[/] scoring tonight's marketplace {tonight_dir} with {model_uri}")
    settings = {"config_file": str(config_path), "pii_mode": config.pii.mode, "pii_key_env": config.pii.key_env,
                "embedding_cache": config.encoder.cache_dir}
    scored = score_input(model_uri, tonight_dir, scores_dir, key, config.encoder.cache_dir, config.mlflow.tracking_uri,
                         settings=settings, encoder_runtime=config.encoder.runtime())

    console.print("[bold]4/4[/] checking the scores against the synthetic ground truth")
    metrics = evaluate_scores(scores_dir, pd.read_parquet(tonight_dir / "truth" / "truth.parquet"))
    atomic_write_json(metrics, workdir / "metrics.json")
    elapsed = time.perf_counter() - started
    console.print(
        f"\n[bold green]demo finished in {elapsed:.0f} s[/]\n"
        f"  review scores   {scored.outputs['review']}\n"
        f"  order scores    {scored.outputs['order']}\n"
        f"  quarantine      {scored.outputs['quarantine']}\n"
        f"  manifest        {scores_dir / 'manifest.json'}\n"
        f"  held-out AUROC  reviews {metrics.get('review_auroc', float('nan')):.3f}, "
        f"orders {metrics.get('order_auroc', float('nan')):.3f}  ({workdir / 'metrics.json'})\n"
        f"  MLflow run      {result.run_id} in {tracking_uri}\n"
        f"  MLflow UI       mlflow ui --backend-store-uri {tracking_uri}  (then open http://127.0.0.1:5000)",
        highlight=False, soft_wrap=True,
    )
    return {"metrics": metrics, "train": result, "score": scored, "wall_s": elapsed}
