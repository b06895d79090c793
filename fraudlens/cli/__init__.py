"""fraudlens command line: a thin layer over the library functions."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from fraudlens.errors import FraudLensError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="fraudlens: find fake reviews and fraudulent orders on a marketplace.")
console = Console(stderr=True)
_state = {"debug": False, "quiet": False}


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
         quiet: bool = typer.Option(False, "--quiet", help="Only warnings and errors.")) -> None:
    _state["debug"] = debug
    _state["quiet"] = quiet
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("transformers", "mlflow", "alembic", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # Set before transformers is imported (only commands that encode import it), so that
    # `fraudlens --help` and `fraudlens validate` load no torch.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # imported already (library use, tests): the variables came too late
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="Only warnings and errors (same as fraudlens --quiet).")


def _reporter(quiet: bool):
    """One Reporter per command: live progress on a terminal, plain log lines otherwise."""
    from fraudlens.cli.reporter import Reporter

    if quiet:
        _state["quiet"] = True
        logging.getLogger().setLevel(logging.WARNING)
    return Reporter(quiet=_state["quiet"], console=console)


def _fail(exc: BaseException) -> None:
    if _state["debug"]:
        traceback.print_exception(exc)
    if isinstance(exc, FraudLensError):
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (run with --debug for details)",
                      highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _run(fn):
    try:
        return fn()
    except typer.Exit:
        raise
    except Exception as exc:  # the one place exceptions become a single line
        _fail(exc)


@app.command()
def generate(out: Path = typer.Option(..., help="Directory to write the marketplace tables into."),
             seed: int = typer.Option(0, help="Random seed: same seed, same marketplace."),
             scale: int = typer.Option(2000, min=50, help="About this many reviews and this many orders."),
             fmt: str = typer.Option("parquet", "--format", help="parquet or csv.")) -> None:
    """Write a synthetic marketplace with injected, partly labelled fraud."""
    def run():
        from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace

        tables = generate_marketplace(seed=seed, scale=scale)
        paths = write_marketplace(tables, out, fmt=fmt)
        for name, path in paths.items():
            console.print(f"  {name:<9} {len(tables[name]):>9,} rows  {path}")
    _run(run)


@app.command()
def validate(input: Path = typer.Option(..., "--input", help="Directory of input tables."),
             pii_mode: str = typer.Option("demo", help="demo or production (production requires FRAUDLENS_PII_KEY).")) -> None:
    """Check input tables against the contract without scoring."""
    def run():
        from fraudlens.marketplace.ingest import ingest
        from fraudlens.marketplace.pii import resolve_pii_key

        result = ingest(input, resolve_pii_key(pii_mode))
        for name, report in result.reports.items():
            console.print(f"{name:<9} read {report.rows_read:>9,}  accepted {report.rows_accepted:>9,}  "
                          f"quarantined {report.rows_quarantined:>7,} {report.quarantined_by_reason or ''}"
                          f"{'  flagged ' + str(report.flagged_by_reason) if report.flagged_by_reason else ''}",
                          highlight=False, soft_wrap=True)
        for row in result.quarantine.head(20).itertuples():
            console.print(f"  {row.file} row {row.row} column {row.column}: {row.reason} - {row.message}",
                          highlight=False, soft_wrap=True)
        if len(result.quarantine) > 20:
            console.print(f"  ... and {len(result.quarantine) - 20:,} more quarantined rows")
        if len(result.quarantine):
            raise typer.Exit(1)
    _run(run)


@app.command()
def train(config: Path = typer.Option(..., help="YAML config, e.g. configs/demo.yaml."),
          input: Optional[Path] = typer.Option(None, "--input", help="Overrides train.input_dir."),
          result_json: Optional[Path] = typer.Option(None, help="Also write run id, version and metrics here."),
          labels: list[Path] = typer.Option([], "--labels", exists=True, dir_okay=False,
                                            help="Extra labels table (parquet/csv, the contract's labels columns), "
                                                 "e.g. `fraudlens labels export`; repeatable. One label per entity: "
                                                 "the latest labeled_at wins (docs/data-contract.md)."),
          quiet: bool = QUIET_OPTION) -> None:
    """Train the graph model, log it to MLflow and register it (alias from the config)."""
    reporter = _reporter(quiet)

    def run():
        from fraudlens.config import load_config
        from fraudlens.inference.outputs import atomic_write_json
        from fraudlens.marketplace.ingest import ingest
        from fraudlens.marketplace.labels import with_extra_labels
        from fraudlens.marketplace.pii import resolve_pii_key
        from fraudlens.training.train import train as train_model

        cfg = load_config(config, {"train.input_dir": str(input)} if input else None)
        started = time.perf_counter()
        with reporter.stage("ingest"):
            key = resolve_pii_key(cfg.pii.mode, cfg.pii.key_env)
            ingested = with_extra_labels(ingest(Path(cfg.train.input_dir), key), labels, key)

        def progress(epoch: int, metrics: dict) -> None:
            shown = "  ".join(f"{k}={v:.3f}" for k, v in metrics.items() if "auprc" in k or k == "train_loss")
            reporter.advance(1, note=shown)

        # Embedding, then epochs: the bar counts epochs (early stopping may end it before the total).
        with reporter.stage("train", total=cfg.train.epochs):
            result = train_model(cfg, ingested, progress=progress)
        summary = {"run_id": result.run_id, "model_name": result.model_name, "model_version": result.model_version,
                   "alias": cfg.mlflow.alias, "epochs_run": result.epochs_run, "metrics": result.metrics,
                   "wall_s": round(time.perf_counter() - started, 1)}
        if result_json:
            atomic_write_json(summary, result_json)
        reporter.info(f"trained in {summary['wall_s']} s ({result.epochs_run} epochs): MLflow run {result.run_id}, "
                      f"registered {result.model_name} v{result.model_version} as @{cfg.mlflow.alias}")
        reporter.info("  " + "  ".join(f"{k}={v:.3f}" for k, v in result.metrics.items()))
    _run(run)


def _register_train_text() -> None:
    from fraudlens.cli.train_text import train_text_command

    app.command("train-text")(train_text_command)


_register_train_text()


@app.command()
def score(model: Optional[str] = typer.Option(None, help="MLflow model URI; default: the config's "
                                              "mlflow.registered_model@alias (models:/fraudlens@champion)."),
          input: Path = typer.Option(..., "--input", help="Directory of input tables to score."),
          out: Path = typer.Option(..., help="Output directory for scores, quarantine and manifest."),
          config: Optional[Path] = typer.Option(None, help="YAML config for PII mode and encoder cache."),
          state: Optional[Path] = typer.Option(None, "--state", file_okay=False,
                                               help="State directory of incremental runs: tonight attaches to the "
                                                    "history kept there, which is updated when the run completes."),
          full: bool = typer.Option(False, "--full", help="With --state: re-score every review and order of the "
                                                          "history, not only tonight's and their neighbours."),
          previous: Optional[Path] = typer.Option(None, "--previous", exists=True, file_okay=False,
                                                  help="An earlier run's output directory: the report adds drift."),
          labels: Optional[Path] = typer.Option(None, "--labels", exists=True, dir_okay=False,
                                                help="Labels (entity_type, entity_id, is_fraud; parquet or csv): "
                                                     "the report adds PR/ROC curves."),
          no_report: bool = typer.Option(False, "--no-report", help="Do not write report.html (exit 1 if writing "
                                                                     "it fails; the scores stand)."),
          quiet: bool = QUIET_OPTION,
          ) -> None:
    """Score reviews and orders in batch; writes Parquet atomically, a run manifest and report.html."""
    reporter = _reporter(quiet)

    def run():
        if full and state is None:
            raise FraudLensError("--full re-scores the history of a state directory - fix: add --state DIR, or drop "
                                 "--full (without a state every input row is scored anyway)")
        started = time.perf_counter()
        with reporter.stage("start (imports, config)"):
            from fraudlens.config import EncoderConfig, MLflowConfig, PIIConfig, load_config
            from fraudlens.inference.batch import score_input
            from fraudlens.marketplace.pii import resolve_pii_key

            cfg = load_config(config) if config else None
            pii = cfg.pii if cfg else PIIConfig()
            encoder = cfg.encoder if cfg else EncoderConfig()
            registry = cfg.mlflow if cfg else MLflowConfig()
            model_uri = model or f"models:/{registry.registered_model}@{registry.alias}"
            key = resolve_pii_key(pii.mode, pii.key_env)
        settings = {"config_file": str(config) if config else None, "pii_mode": pii.mode,
                    "pii_key_env": pii.key_env, "embedding_cache": encoder.cache_dir}
        result = score_input(model_uri, input, out, key, encoder.cache_dir,
                             tracking_uri=cfg.mlflow.tracking_uri if cfg else None, settings=settings,
                             encoder_runtime=encoder.runtime(), scoring=cfg.scoring if cfg else None,
                             state_dir=state, full=full, reporter=reporter)
        report_path, report_error = None, None
        if not no_report:
            # The scores are already safely written: a failed report is a warning, not a failed run.
            try:
                with reporter.stage("report"):
                    report_path = _write_run_report(out, input, previous, labels)
            except Exception as exc:  # noqa: BLE001 - reported in one line below
                if _state["debug"]:
                    traceback.print_exception(exc)
                report_error = f"{type(exc).__name__}: {exc}"
        _print_score_summary(reporter, result, report_path, report_error, time.perf_counter() - started)
        if report_error:
            raise typer.Exit(1)
    _run(run)


def _read_table(path: Path):
    import pandas as pd

    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"entity_id": str})


def _write_run_report(out: Path, input: Path, previous: Optional[Path], labels: Optional[Path]) -> Path:
    from fraudlens.inference.report import read_review_texts, write_report

    return write_report(out, previous_dir=previous, labels=_read_table(labels) if labels else None,
                        reviews=read_review_texts(input))


def _print_score_summary(reporter, result, report_path, report_error, wall_s: float) -> None:
    """The one screen a trust analyst reads after a nightly run."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from fraudlens.inference.run_summary import summarise_run

    if report_error:
        console.print(f"[bold yellow]warning:[/] report.html not written: {escape(report_error)}", highlight=False,
                      soft_wrap=True)
    if reporter.quiet:
        return
    run = summarise_run(result.out_dir)
    manifest = result.manifest
    reporter.print(f"\n[bold]scored run {escape(str(manifest['run_id']))}[/] with "
                   f"{escape(str(manifest['model']['resolved']))} in {wall_s:.1f} s")
    counts = Table("table", box=None, pad_edge=False)
    for header in ("rows in", "scored / used", "quarantined", "flagged"):
        counts.add_column(header, justify="right")
    from fraudlens.output_contract import MANIFEST_FILE, TABLE_ENTITIES

    for name, entry in manifest["inputs"].items():
        kept = entry.get("rows_scored", entry.get("rows_accepted"))
        flagged = run.flagged.get(TABLE_ENTITIES.get(name, ""), None)
        counts.add_row(name, f"{entry['rows_read']:,}", f"{kept:,}", f"{entry['rows_quarantined']:,}",
                       "" if flagged is None else f"{flagged:,}")
    reporter.print(counts)
    reporter.print(Text("flagged = " + "; ".join(f"{e}: {rule}" for e, rule in run.flag_rules.items())))
    if run.decisions:
        reporter.print(Text("decisions: " + "; ".join(
            f"{e}: " + ", ".join(f"{k} {v:,}" for k, v in d.items()) for e, d in run.decisions.items())))
    if run.rings is not None and len(run.rings):
        columns = [c for c in ("ring_id", "ring_score", "n_accounts", "n_reviews", "n_orders") if c in run.rings.columns]
        rings = Table(*columns, title=f"top rings ({len(run.rings):,} in all)", title_justify="left", box=None,
                      pad_edge=False)
        for ring in run.rings.head(5).to_dict("records"):
            rings.add_row(*[Text(f"{ring[c]:.3f}" if isinstance(ring[c], float) else str(ring[c])) for c in columns])
        reporter.print(rings)
    paths = Table("output", "path", box=None, pad_edge=False)
    for name, path in result.outputs.items():
        if not name.endswith("_csv"):
            paths.add_row(name, Text(str(path)))
    paths.add_row("manifest", Text(str(result.out_dir / MANIFEST_FILE)))
    if report_path:
        paths.add_row("report", Text(str(report_path)))
    reporter.print(paths)
    reporter.print("stage times: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in
                                               reporter.timings.items()))


@app.command()
def promote(model: str = typer.Option("fraudlens", help="Registered model whose @challenger may replace @champion."),
            eval: Optional[Path] = typer.Option(None, "--eval", file_okay=False,
                                                help="Labelled directory to compare on (every label in it)."),
            input: Optional[Path] = typer.Option(None, "--input", file_okay=False,
                                                 help="Input tables; compares on the labels known after the "
                                                      "challenger's training cutoff."),
            state: Optional[Path] = typer.Option(None, "--state", file_okay=False,
                                                 help="Nightly state; compares on its labels known after the "
                                                      "challenger's training cutoff."),
            rule: str = typer.Option("auprc-better", help="auprc-better, auroc-better or no-worse "
                                                         "(docs/research.md)."),
            force: bool = typer.Option(False, "--force", help="Promote even when the rule does not hold."),
            reason: Optional[str] = typer.Option(None, "--reason", help="Why --force (recorded on the version)."),
            config: Optional[Path] = typer.Option(None, help="YAML config: PII mode, tracking URI, review budget."),
            resamples: int = typer.Option(1000, min=100, help="Paired bootstrap resamples."),
            quiet: bool = QUIET_OPTION) -> None:
    """Compare @champion and @challenger on the same labelled rows; move @champion only when the
    challenger is measurably better (exit 3 when refused)."""
    reporter = _reporter(quiet)

    def run():
        from fraudlens.config import EncoderConfig, MLflowConfig, PIIConfig, ScoringConfig, load_config
        from fraudlens.inference.promotion import evaluation_set
        from fraudlens.inference.promotion import promote as promote_model
        from fraudlens.marketplace.pii import resolve_pii_key
        from fraudlens.tracking import configure_tracking

        cfg = load_config(config) if config else None
        configure_tracking((cfg.mlflow if cfg else MLflowConfig()).tracking_uri)
        pii = cfg.pii if cfg else PIIConfig()
        with reporter.stage("evaluation set"):
            tables, labels, where = evaluation_set(model, resolve_pii_key(pii.mode, pii.key_env), eval, input, state)
        with reporter.stage("score champion and challenger"):
            result = promote_model(model, tables, labels, where, cfg.scoring if cfg else ScoringConfig(), rule,
                                   force, reason, resamples, cache_dir=(cfg.encoder if cfg else EncoderConfig()).cache_dir)
        verdict = ("promoted (forced: " + str(reason) + ")" if result.forced else "promoted") if result.promoted \
            else "refused: champion unchanged"
        reporter.print(f"{model}: challenger v{result.challenger} vs champion v{result.champion} on {where}")
        for line in result.lines:
            reporter.print("  " + line)
        reporter.print(f"rule {rule}: {verdict}" + (f" (MLflow run {result.run_id})" if result.run_id else ""))
        if not result.promoted and result.comparison is not None:
            raise typer.Exit(3)
    _run(run)


@app.command()
def evaluate(scores: Path = typer.Option(..., help="Directory written by `fraudlens score`."),
             truth: Path = typer.Option(..., help="Ground truth Parquet (entity_type, entity_id, is_fraud)."),
             out: Optional[Path] = typer.Option(None, help="Write the metrics as JSON here.")) -> None:
    """AUROC/AUPRC of scores against ground truth (the synthetic marketplace ships it)."""
    def run():
        import pandas as pd

        from fraudlens.inference.evaluate import evaluate_scores
        from fraudlens.inference.outputs import atomic_write_json

        metrics = evaluate_scores(scores, pd.read_parquet(truth))
        if out:
            atomic_write_json(metrics, out)
        console.print(json.dumps(metrics, indent=2))
    _run(run)


@app.command()
def demo(workdir: Path = typer.Option(Path("demo"), help="Where the demo writes data and scores."),
         scale: int = typer.Option(4000, min=200, help="Size of the training marketplace."),
         config: Path = typer.Option(Path("configs/demo.yaml"), help="Training config."),
         quiet: bool = QUIET_OPTION) -> None:
    """Generate a marketplace, train, register, then score a new night's marketplace and write its report."""
    reporter = _reporter(quiet)

    def run():
        from fraudlens.cli.demo import run_demo

        run_demo(workdir, scale, config, console, reporter=reporter)
    _run(run)


# The workspace commands (serve, sellers, analysts, labels) live in their own module.
from fraudlens.cli.workspace import register as _register_workspace  # noqa: E402

_register_workspace(app)

if __name__ == "__main__":
    app()
