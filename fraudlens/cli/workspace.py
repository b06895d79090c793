"""CLI of the web workspace: ``fraudlens serve``, ``workspace import``, ``sellers add``,
``analysts add``, ``labels export``. Heavy imports (FastAPI, SQLAlchemy, pandas) happen inside
the command bodies so that ``fraudlens --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

STATE_OPTION = typer.Option(..., "--state", help="Workspace directory (SQLite database, session key).")


def register(app: typer.Typer) -> None:
    from fraudlens.cli import _run, console

    workspace = typer.Typer(no_args_is_help=True, help="The web workspace's data: import a scoring run.")
    sellers = typer.Typer(no_args_is_help=True, help="Seller accounts of the web workspace.")
    analysts = typer.Typer(no_args_is_help=True, help="Analyst accounts of the web workspace.")
    labels = typer.Typer(no_args_is_help=True, help="Analyst decisions as a labels table.")
    app.add_typer(workspace, name="workspace")
    app.add_typer(sellers, name="sellers")
    app.add_typer(analysts, name="analysts")
    app.add_typer(labels, name="labels")

    @workspace.command("import")
    def import_command(scores: Path = typer.Option(..., "--scores", help="Output directory of `fraudlens score`."),
                       input: Path = typer.Option(..., "--input", help="The input tables that run scored, or its "
                                                  "--state directory of incremental scoring."),
                       state: Path = STATE_OPTION,
                       pii_mode: str = typer.Option("demo", help="demo or production (as for scoring: the same "
                                                    "key gives the same hashes).")) -> None:
        """Import a scoring run (scores, rings, hashed input tables) into the workspace."""
        def run():
            from fraudlens.marketplace.pii import resolve_pii_key
            from fraudlens.workspace.importer import import_run

            info = import_run(state, scores, input, resolve_pii_key(pii_mode))
            console.print(f"imported run {info['run_id']} (model version {info['model_version']}): "
                          f"{info['n_reviews']:,} reviews, {info['n_orders']:,} orders, {info['n_rings']:,} rings "
                          f"into {state}", highlight=False, soft_wrap=True)
        _run(run)

    @sellers.command("add")
    def sellers_add(seller_id: str = typer.Argument(..., help="The seller id of the products table."),
                    state: Path = STATE_OPTION) -> None:
        """Create a seller account; prints its access token once."""
        def run():
            from fraudlens.workspace.accounts import create_seller
            from fraudlens.workspace.db import open_engine

            engine = open_engine(state)
            _, token, known = create_seller(engine, seller_id)
            if not known:
                console.print(f"[yellow]note:[/] no product of seller {seller_id!r} is in the imported run yet",
                              highlight=False)
            console.print("access token (shown once; only its hash is stored):", highlight=False)
            typer.echo(token)
        _run(run)

    @analysts.command("add")
    def analysts_add(name: str = typer.Argument(..., help="The analyst's name (shown in decisions and labels)."),
                     state: Path = STATE_OPTION) -> None:
        """Create an analyst account; prints its access token once."""
        def run():
            from fraudlens.workspace.accounts import create_analyst
            from fraudlens.workspace.db import open_engine

            _, token = create_analyst(open_engine(state), name)
            console.print("access token (shown once; only its hash is stored):", highlight=False)
            typer.echo(token)
        _run(run)

    @labels.command("export")
    def labels_export(state: Path = STATE_OPTION,
                      out: Path = typer.Option(..., "--out", help="labels.parquet or labels.csv.")) -> None:
        """Write the analysts' decisions as a labels table of the input contract."""
        def run():
            from fraudlens.workspace.db import open_engine
            from fraudlens.workspace.decisions import export_labels

            n = export_labels(open_engine(state, create=False), out)
            console.print(f"wrote {n:,} labels to {out} (checked against the labels contract)", highlight=False)
        _run(run)

    @app.command()
    def serve(state: Path = STATE_OPTION,
              host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
              port: int = typer.Option(8000, help="Port."),
              text_model: Optional[str] = typer.Option("models:/fraudlens-text@champion", "--text-model",
                                                       help="Text model for upload screening (MLflow URI or a saved "
                                                       "model directory); 'none' to screen without one."),
              tracking_uri: Optional[str] = typer.Option(None, help="MLflow tracking store (default: "
                                                         "MLFLOW_TRACKING_URI or sqlite:///mlflow.db)."),
              secure_cookies: bool = typer.Option(False, help="Mark the session cookie Secure (behind HTTPS).")) -> None:
        """Serve the seller and analyst web app (pages + JSON API) over a workspace."""
        def run():
            import uvicorn

            from fraudlens.web.app import create_app
            from fraudlens.workspace.db import open_engine

            open_engine(state, create=False).dispose()  # a clear error when nothing was imported
            uri = None if (text_model or "").lower() in ("", "none") else text_model
            app_ = create_app(state, text_model_uri=uri, tracking_uri=tracking_uri, secure_cookies=secure_cookies)
            console.print(f"fraudlens web app on http://{host}:{port}/ (workspace {state}); Ctrl-C stops it",
                          highlight=False)
            uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=False)
        _run(run)
