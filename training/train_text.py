"""Training the review text model (fine-tuned encoder + lexical + stylometric, stacked), tracked in MLflow.

``train_text(config, table)`` splits the labelled reviews into train/test (stratified, seeded),
fits ``CombinedTextModel`` on the train part, evaluates on the test part, logs config, params,
metrics, fine-tuning curves, confusion matrix / ROC / PR figures and the dataset, and registers
the model as a pyfunc (``text`` + optional ``rating`` -> ``fraud_score``) under
``mlflow.registered_model`` with alias ``mlflow.alias``.

``train_text_command`` is the ``fraudlens train-text --config configs/text.yaml --input FILE`` command.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fraudlens.config import read_yaml
from fraudlens.errors import ConfigError, FraudLensError, TableError
from fraudlens.models.stylometry import STYLE_FEATURES
from fraudlens.models.text_classifier import CombinedSettings, CombinedTextModel, FineTuneSettings

log = logging.getLogger(__name__)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextDataConfig(_Strict):
    text_column: str = "text"
    label_column: str = "label"
    rating_column: str | None = Field("rating", description="Star rating column; null or absent = no ratings.")
    positive_labels: list[str] = Field(["1", "true", "cg", "fake", "fraud"],
                                       description="Label values meaning fake/AI-written (compared as lower-case text).")
    negative_labels: list[str] = Field(["0", "false", "or", "genuine", "real"],
                                       description="Label values meaning genuine; any other value is an error.")
    test_fraction: float = Field(0.2, ge=0, lt=1, description="Stratified held-out part for the logged metrics; 0 = none.")


class TextEncoderConfig(_Strict):
    model_dir: str | None = Field(None, description="Hugging Face model directory to fine-tune; null = MiniLM-L6.")
    max_length: int = Field(128, ge=8, le=512, description="Tokens per review, in fine-tuning and at inference.")
    batch_size: int = Field(64, ge=1, description="Inference batch size.")
    cache_dir: str | None = Field(None, description="Embedding cache for the fine-tuned encoder; null = none.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (fine-tuning and inference); null = default.")
    quantize: bool = Field(False, description="Score with the int8 dynamically quantised encoder.")


class FineTuneConfig(_Strict):
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    head_learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_fraction: float = Field(0.1, ge=0, lt=1)
    patience: int = Field(2, ge=1, description="Epochs without validation-loss gain before stopping.")
    train_layers: int | None = Field(None, ge=0, description="Top transformer layers fine-tuned; null = all.")
    freeze_embeddings: bool = True
    proj_dim: int = Field(8, ge=1, le=64, description="Encoder part of the text embedding given to the graph model.")
    dropout: float = Field(0.1, ge=0, lt=1)
    device: Literal["cpu", "cuda"] | None = Field(None, description="null = cuda when available, else cpu.")


class StackingConfig(_Strict):
    use_encoder: bool = Field(True, description="false = lexical + stylometric only (no BERT).")
    stack_fraction: float = Field(0.2, gt=0, lt=1, description="Training part kept from fine-tuning to fit the stacker.")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="Of the rest: early stopping of fine-tuning.")
    inner_folds: int = Field(5, ge=2, description="Out-of-fold predictions of the lexical and stylometric models.")
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)
    nb_char_ngrams: tuple[int, int] | None = Field((2, 5), description="Character n-grams of the NB-LR channel "
                                                   "(naive-Bayes-weighted, boosted stacker only); null = off.")
    lexical_C_grid: list[float] = [2.0, 8.0, 32.0, 128.0, 512.0]
    style_C_grid: list[float] = [0.01, 0.1, 1.0, 10.0, 100.0]
    exclude_style_features: list[str] = Field([], description="Stylometric features left out, e.g. the artefact detectors.")
    stack_C: float = Field(1.0, gt=0)
    stacker: Literal["boosted", "linear"] = Field("boosted", description="boosted: gradient-boosted trees over the "
                                                  "stylometric features and the lexical/style logits; linear: one "
                                                  "logistic regression over the logits.")


class TextMLflowConfig(_Strict):
    tracking_uri: str | None = Field(None, description="Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.")
    experiment: str = "fraudlens-text"
    registered_model: str = "fraudlens-text"
    alias: str = "champion"


class TextModelConfig(_Strict):
    seed: int = 0
    data: TextDataConfig = TextDataConfig()
    encoder: TextEncoderConfig = TextEncoderConfig()
    finetune: FineTuneConfig = FineTuneConfig()
    stacking: StackingConfig = StackingConfig()
    mlflow: TextMLflowConfig = TextMLflowConfig()

    def combined_settings(self) -> CombinedSettings:
        unknown = set(self.stacking.exclude_style_features) - set(STYLE_FEATURES)
        if unknown:
            raise ConfigError(f"stacking.exclude_style_features: unknown {sorted(unknown)} - fix: use names from "
                              f"models.stylometry.STYLE_FEATURES")
        ft = self.finetune
        return CombinedSettings(
            model_dir=self.encoder.model_dir,
            finetune=FineTuneSettings(
                max_length=self.encoder.max_length, epochs=ft.epochs, batch_size=ft.batch_size,
                learning_rate=ft.learning_rate, head_learning_rate=ft.head_learning_rate,
                weight_decay=ft.weight_decay, warmup_fraction=ft.warmup_fraction, patience=ft.patience,
                train_layers=ft.train_layers, freeze_embeddings=ft.freeze_embeddings, proj_dim=ft.proj_dim,
                dropout=ft.dropout, seed=self.seed, threads=self.encoder.threads, device=ft.device),
            use_encoder=self.stacking.use_encoder, stack_fraction=self.stacking.stack_fraction,
            val_fraction=self.stacking.val_fraction, inner_folds=self.stacking.inner_folds,
            word_ngrams=tuple(self.stacking.word_ngrams),
            char_ngrams=tuple(self.stacking.char_ngrams) if self.stacking.char_ngrams else None,
            nb_char_ngrams=tuple(self.stacking.nb_char_ngrams) if self.stacking.nb_char_ngrams else None,
            lexical_C_grid=tuple(self.stacking.lexical_C_grid), style_C_grid=tuple(self.stacking.style_C_grid),
            style_features=tuple(f for f in STYLE_FEATURES if f not in self.stacking.exclude_style_features),
            stack_C=self.stacking.stack_C, stacker=self.stacking.stacker, seed=self.seed)

    def new_model(self) -> CombinedTextModel:
        return CombinedTextModel(self.combined_settings(), quantize=self.encoder.quantize,
                                 cache_dir=self.encoder.cache_dir, batch_size=self.encoder.batch_size,
                                 threads=self.encoder.threads)


def load_text_config(path: Path | str | None = None, overrides: dict | None = None) -> TextModelConfig:
    """Reads and validates a text-model YAML config (None: all defaults); ``overrides``: {"section.key": value}."""
    raw = read_yaml(path, "configs/text.yaml", overrides)
    try:
        return TextModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path or 'text config'}: invalid config ({problems}) - fix: see training/train_text.py "
                          "(TextModelConfig) for the schema")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def labelled_marketplace_reviews(input_dir: Path) -> pd.DataFrame:
    """text, rating, label of the labelled reviews of a marketplace directory (reviews + labels
    tables under the input contract), read through the same ingest as scoring."""
    import secrets

    from fraudlens.marketplace.ingest import ingest

    # Only text, ratings and labels are kept: identifiers are hashed with a throwaway key.
    tables = ingest(input_dir, secrets.token_bytes(32)).tables
    if "reviews" not in tables or "labels" not in tables:
        raise TableError(input_dir, "needs a reviews and a labels table to train a text model",
                         "add labels.csv/.parquet (entity_type review, entity_id, is_fraud), or pass a single file")
    labels = tables["labels"]
    labels = labels[labels["entity_type"] == "review"].set_index("entity_id")["is_fraud"]
    reviews = tables["reviews"][tables["reviews"]["review_id"].isin(labels.index)]
    return pd.DataFrame({"text": reviews["text"].fillna("").astype(str).to_numpy(),
                         "rating": reviews["rating"].astype("float64").to_numpy(),
                         "label": reviews["review_id"].map(labels).astype(int).to_numpy()})


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet file of labelled reviews, or a marketplace directory with a labels table."""
    path = Path(path)
    if path.is_dir():
        return labelled_marketplace_reviews(path)
    if not path.is_file():
        raise TableError(path, "no such file", "pass --input a CSV or Parquet file of reviews with text and label columns")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem with the file
        raise TableError(path, f"could not be read ({type(exc).__name__}: {exc})", "check the file is valid CSV/Parquet")
    raise TableError(path, f"unsupported file type {path.suffix!r}", "use a .csv or .parquet file")


@dataclass
class LabelledTexts:
    texts: list[str]
    ratings: np.ndarray | None
    labels: np.ndarray
    frame: pd.DataFrame  # text, rating (when present), label as 0/1: what was trained on


def prepare_table(config: TextModelConfig, table: pd.DataFrame) -> LabelledTexts:
    """Maps the configured columns, turns labels into 0/1 and drops rows without a label."""
    data = config.data
    for column in (data.text_column, data.label_column):
        if column not in table.columns:
            raise TableError("input table", f"missing column {column!r} (columns: {list(table.columns)})",
                             f"add it, or set data.{'text' if column == data.text_column else 'label'}_column in the config")
    raw = table[data.label_column]
    known = raw.notna()
    keys = raw[known].map(lambda v: str(int(v)) if isinstance(v, (bool, np.bool_)) else
                          str(int(v)) if isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer()
                          else str(v)).str.strip().str.lower()
    positive = {v.lower() for v in data.positive_labels}
    negative = {v.lower() for v in data.negative_labels}
    unknown = sorted(set(keys) - positive - negative)
    if unknown:
        raise TableError("input table", f"label values {unknown[:5]} are neither positive {sorted(positive)} nor "
                         f"negative {sorted(negative)}", "set data.positive_labels / data.negative_labels in the config")
    labels = keys.isin(positive).astype(int).to_numpy()
    if len(np.unique(labels)) < 2 or np.bincount(labels).min() < 5:
        raise TableError("input table", "needs at least 5 labelled reviews of each class",
                         "add labelled fake and genuine reviews")
    kept = table[known]
    texts = ["" if not isinstance(t, str) and pd.isna(t) else str(t) for t in kept[data.text_column]]
    ratings = None
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    if data.rating_column and data.rating_column in kept.columns:
        ratings = pd.to_numeric(kept[data.rating_column], errors="coerce").to_numpy(np.float64)
        frame["rating"] = ratings
    frame["label"] = labels
    return LabelledTexts(texts, ratings, labels, frame)


# --------------------------------------------------------------------------------------------
# Metrics and figures
# --------------------------------------------------------------------------------------------

def classification_metrics(y: np.ndarray, probability: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    predicted = (probability >= threshold).astype(int)
    out = {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(f1_score(y, predicted, average="macro"))}
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, probability))
        out["auprc"] = float(average_precision_score(y, probability))
    return out


def evaluation_figures(y: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, object]:
    """Confusion matrix of the combined model, ROC and PR curves of every channel (matplotlib figures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    figures = {}
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(y, (scores["combined"] >= 0.5).astype(int), display_labels=["genuine", "fake"],
                                            ax=ax, colorbar=False)
    ax.set_title("combined text model (threshold 0.5)")
    figures["confusion_matrix.png"] = fig
    for name, display in (("roc_curve.png", RocCurveDisplay), ("pr_curve.png", PrecisionRecallDisplay)):
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for channel, probability in scores.items():
            display.from_predictions(y, probability, name=channel, ax=ax)
        ax.set_title(f"{'ROC' if name.startswith('roc') else 'precision-recall'} on the held-out reviews")
        figures[name] = fig
    return figures


# --------------------------------------------------------------------------------------------
# The MLflow model
# --------------------------------------------------------------------------------------------

# Written next to the model at log time and logged as "models from code": nothing is pickled.
PYFUNC_CODE = '''"""fraudlens review text model as an MLflow pyfunc: text (+ rating) -> fraud_score."""
import mlflow.models
import mlflow.pyfunc
import pandas as pd


class FraudLensTextPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from fraudlens.models.text_classifier import CombinedTextModel

        self.model = CombinedTextModel.load(context.artifacts["text_model"])

    def predict(self, context, model_input, params=None):
        frame = pd.DataFrame(model_input)
        texts = frame["text"].tolist()
        ratings = frame["rating"].tolist() if "rating" in frame.columns else None
        ids = frame["review_id"].astype(str) if "review_id" in frame.columns else pd.Series(range(len(frame))).astype(str)
        return pd.DataFrame({"review_id": ids.to_numpy(), "fraud_score": self.model.predict_proba(texts, ratings)})


mlflow.models.set_model(FraudLensTextPyfunc())
'''


def text_model_signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "text"), ColSpec("double", "rating", required=False),
                       ColSpec("string", "review_id", required=False)]),
        outputs=Schema([ColSpec("string", "review_id"), ColSpec("double", "fraud_score")]),
    )


@dataclass
class TextTrainResult:
    run_id: str
    model_name: str
    model_version: str
    model_uri: str
    metrics: dict[str, float]
    model: CombinedTextModel


def train_text(config: TextModelConfig, table: pd.DataFrame, progress=None) -> TextTrainResult:
    """Fits, evaluates, logs and registers the text model; returns the run, version and fitted model."""
    import mlflow
    from sklearn.model_selection import train_test_split

    from fraudlens.tracking import configure_tracking, flatten_params, log_and_register

    data = prepare_table(config, table)
    idx = np.arange(len(data.labels))
    if config.data.test_fraction > 0:
        train_idx, test_idx = train_test_split(idx, test_size=config.data.test_fraction, random_state=config.seed,
                                               stratify=data.labels)
    else:
        train_idx, test_idx = idx, idx[:0]

    def subset(rows):
        return [data.texts[i] for i in rows], (None if data.ratings is None else data.ratings[rows]), data.labels[rows]

    tracking_uri = configure_tracking(config.mlflow.tracking_uri)
    mlflow.set_experiment(config.mlflow.experiment)
    model = config.new_model()
    with mlflow.start_run() as run:
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_params({k: str(v) for k, v in flatten_params("", config.model_dump(mode="json")).items()})
        mlflow.log_params({"rows.train": len(train_idx), "rows.test": len(test_idx),
                           "rows.fake": int(data.labels.sum()), "has_ratings": data.ratings is not None})
        split = np.where(np.isin(idx, test_idx), "test", "train")
        mlflow.log_input(mlflow.data.from_pandas(data.frame.assign(split=split), name="text-reviews",
                                                 targets="label"), context="training")

        def on_progress(stage: str, info: dict) -> None:
            if stage == "fine-tune":
                mlflow.log_metrics({f"finetune_{k}": float(v) for k, v in info.items() if k != "epoch"},
                                   step=int(info["epoch"]))
            if progress:
                progress(stage, info)

        texts, ratings, labels = subset(train_idx)
        model.fit(texts, ratings, labels, progress=on_progress)
        report = model.report
        mlflow.log_dict(report, "text_model_report.json")
        mlflow.log_params({"fit.lexical_C": report["lexical_C"], "fit.style_C": report["style_C"],
                           "fit.finetune_best_epoch": report["finetune_best_epoch"],
                           "fit.n_finetune": report["n_finetune"], "fit.n_stack": report["n_stack"]})
        mlflow.log_metrics({f"stack_weight_{k}": v for k, v in report["stack_weights"].items()}
                           | {"fit_seconds": report["fit_seconds"]})
        metrics: dict[str, float] = {}
        if len(test_idx):
            test_texts, test_ratings, test_labels = subset(test_idx)
            scores = model.scores(test_texts, test_ratings)
            probabilities = {c: 1.0 / (1.0 + np.exp(-np.clip(scores[c], -50, 50))) for c in model.channels + ["combined"]}
            for channel, probability in probabilities.items():
                prefix = "test" if channel == "combined" else f"test_{channel}"
                metrics.update({f"{prefix}_{k}": v for k, v in classification_metrics(test_labels, probability).items()})
            mlflow.log_metrics(metrics)
            import matplotlib.pyplot as plt

            for name, figure in evaluation_figures(test_labels, probabilities).items():
                mlflow.log_figure(figure, name)
                plt.close(figure)
        with tempfile.TemporaryDirectory(prefix="fraudlens-text-") as tmp:
            bundle = model.save(Path(tmp) / "text_model")
            code = Path(tmp) / "fraudlens_text_pyfunc.py"
            code.write_text(PYFUNC_CODE)
            version = log_and_register(code, {"text_model": str(bundle)}, config.mlflow.registered_model,
                                       config.mlflow.alias, signature=text_model_signature())
    log.info("tracking store %s, run %s, model %s v%s", tracking_uri, run.info.run_id, config.mlflow.registered_model,
             version)
    return TextTrainResult(run.info.run_id, config.mlflow.registered_model, version,
                           f"models:/{config.mlflow.registered_model}@{config.mlflow.alias}", metrics, model)


def train_text_command(
    config: Annotated[Path, typer.Option("--config", help="Text-model YAML config, e.g. configs/text.yaml.")],
    input: Annotated[Path, typer.Option("--input", help="CSV or Parquet file of reviews with text, label (and rating), "
                                                           "or a marketplace directory with reviews and labels.")],
    result_json: Annotated[Path | None, typer.Option("--result-json", help="Also write run id, model URI and "
                                                                           "held-out metrics here.")] = None,
) -> None:
    """Train the review text model on a labelled CSV/Parquet file and register it in MLflow."""
    try:
        cfg = load_text_config(config)
        table = read_table(input)
        result = train_text(cfg, table, progress=lambda stage, info: typer.echo(f"  {stage}: "
                            + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
                                        if not isinstance(v, (list, dict))), err=True))
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


def load_text_model(uri: str) -> CombinedTextModel:
    """A trained text model from a directory it was saved to, or from an MLflow model URI."""
    path = Path(uri)
    if path.is_dir():
        if not (path / "model.json").is_file():
            raise ConfigError(f"text_model.uri {uri}: a directory without model.json - fix: point it at a directory "
                              "written by CombinedTextModel.save or at an MLflow URI like models:/fraudlens-text@champion")
        return CombinedTextModel.load(path)
    import mlflow

    from fraudlens.tracking import resolve_model

    try:
        resolved = resolve_model(uri)
        wrapper = mlflow.pyfunc.load_model(resolved.uri).unwrap_python_model()
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"text_model.uri {uri}: cannot be loaded ({exc.message.splitlines()[0]}) - fix: train one "
                          "with `fraudlens train-text` or set text_model.uri: null") from None
    return wrapper.model
