"""The demo: the whole pipeline on an embedded synthetic marketplace, end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape

from fraudlens.cli.reporter import Reporter
from fraudlens.config import load_config
from fraudlens.inference.batch import score_input
from fraudlens.inference.evaluate import evaluate_scores
from fraudlens.inference.outputs import atomic_write_json
from fraudlens.inference.report import read_review_texts, write_report
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.pii import resolve_pii_key
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.text_config import load_text_config
from fraudlens.tracking import CHAMPION, alias_version, configure_tracking
from fraudlens.training.text_data import read_table
from fraudlens.training.train import train
from fraudlens.training.train_text import train_text

TRAIN_SEED, TONIGHT_SEED, TEXT_SEED = 0, 1, 2
TEXT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo-text.yaml"


def run_demo(workdir: Path, scale: int, config_path: Path, console: Console,
             reporter: Reporter | None = None, text_config_path: Path = TEXT_CONFIG) -> dict:
    reporter = reporter or Reporter(console=console)
    say = reporter.info
    started = time.perf_counter()
    workdir = Path(workdir)
    data = workdir / "data"
    train_dir, tonight_dir, text_dir = data / "train", data / "tonight", data / "text_history"
    scores_dir = workdir / "scores"
    say(f"[bold]1/6[/] generating marketplaces (train: seed {TRAIN_SEED}, scale {scale}; tonight: seed "
        f"{TONIGHT_SEED}, scale {scale // 2}; an earlier labelled period for the text model: seed {TEXT_SEED}, "
        f"scale {scale * 3 // 4})")
    with reporter.stage("generate"):
        write_marketplace(generate_marketplace(seed=TRAIN_SEED, scale=scale), train_dir)
        write_marketplace(generate_marketplace(seed=TONIGHT_SEED, scale=scale // 2), tonight_dir)
        write_marketplace(generate_marketplace(seed=TEXT_SEED, scale=scale * 3 // 4), text_dir)

    config = load_config(config_path, {"train.input_dir": str(train_dir)})
    key = resolve_pii_key(config.pii.mode, config.pii.key_env)
    tracking_uri = configure_tracking(config.mlflow.tracking_uri)
    if config.text_model.uri is not None:
        text_config = load_text_config(text_config_path, {"mlflow.tracking_uri": config.mlflow.tracking_uri})
        say(f"[bold]2/6[/] fine-tuning the review text model on {escape(str(text_dir))}'s labelled reviews "
            f"(encoder + TF-IDF + stylometry)")
        with reporter.stage("train text model"):
            text_result = train_text(text_config, read_table(text_dir))
        config = config.model_copy(update={"text_model": config.text_model.model_copy(
            update={"uri": text_result.model_uri})})
        say(f"     registered {text_result.model_name} v{text_result.model_version}; held-out "
            + ", ".join(f"{k}={v:.3f}" for k, v in text_result.metrics.items() if k.startswith("test_")
                        and k.count("_") == 1))
    else:
        say("[bold]2/6[/] text model off (text_model.uri: null): the graph model reads frozen embeddings")
    say(f"[bold]3/6[/] training the graph model on {escape(str(train_dir))} (tracking store {escape(tracking_uri)})")
    with reporter.stage("train", total=config.train.epochs):
        result = train(config, ingest(train_dir, key), progress=lambda epoch, metrics: reporter.advance(1))
    say(f"     MLflow run {result.run_id}; registered {result.model_name} v{result.model_version} "
        f"@{config.mlflow.alias}; validation " + ", ".join(f"{k}={v:.3f}" for k, v in result.metrics.items()))
    champion = alias_version(config.mlflow.registered_model, CHAMPION)
    if champion != result.model_version:
        say(f"     @{CHAMPION} is still v{champion}: compare and promote with `fraudlens promote --eval "
            f"{escape(str(tonight_dir))} --config {escape(str(config_path))}`")

    model_uri = f"models:/{config.mlflow.registered_model}@{config.mlflow.alias}"
    say(f"[bold]4/6[/] scoring tonight's marketplace {escape(str(tonight_dir))} with {model_uri}")
    settings = {"config_file": str(config_path), "pii_mode": config.pii.mode, "pii_key_env": config.pii.key_env,
                "embedding_cache": config.encoder.cache_dir}
    with reporter.stage("score"):
        scored = score_input(model_uri, tonight_dir, scores_dir, key, config.encoder.cache_dir,
                             config.mlflow.tracking_uri, settings=settings, encoder_runtime=config.encoder.runtime(),
                             scoring=config.scoring, reporter=reporter)

    say("[bold]5/6[/] checking the scores against the synthetic ground truth")
    truth = pd.read_parquet(tonight_dir / "truth" / "truth.parquet")
    with reporter.stage("evaluate"):
        metrics = evaluate_scores(scores_dir, truth)
        atomic_write_json(metrics, workdir / "metrics.json")

    say("[bold]6/6[/] writing the run report (PR/ROC curves from tonight's ground truth)")
    with reporter.stage("report"):
        report = write_report(scores_dir, labels=truth[truth["entity_type"].isin(["review", "order"])],
                              reviews=read_review_texts(tonight_dir))
    elapsed = time.perf_counter() - started
    say(
        f"\n[bold green]demo finished in {elapsed:.0f} s[/]\n"
        f"  review scores   {escape(str(scored.outputs['review']))}\n"
        f"  order scores    {escape(str(scored.outputs['order']))}\n"
        f"  quarantine      {escape(str(scored.outputs['quarantine']))}\n"
        f"  manifest        {escape(str(scores_dir / 'manifest.json'))}\n"
        f"  report          {escape(str(report))}  (open it in a browser)\n"
        f"  held-out AUROC  reviews {metrics.get('review_auroc', float('nan')):.3f}, "
        f"orders {metrics.get('order_auroc', float('nan')):.3f}  ({escape(str(workdir / 'metrics.json'))})\n"
        f"  MLflow run      {result.run_id} in {escape(tracking_uri)}\n"
        f"  MLflow UI       mlflow ui --backend-store-uri {escape(tracking_uri)}  (then open http://127.0.0.1:5000)"
    )
    return {"metrics": metrics, "train": result, "score": scored, "report": report, "wall_s": elapsed}
