"""Training the review text model (fine-tuned encoder + lexical + stylometric, stacked), tracked in MLflow.

``train_text(config, table)`` splits the labelled reviews into train/test (stratified, seeded),
fits ``CombinedTextModel`` on the train part, evaluates on the test part, logs config, params,
metrics, fine-tuning curves, confusion matrix / ROC / PR figures and the dataset, refits on
every labelled row (``data.refit_all``, the default), and registers that model as a pyfunc (``models/text_pyfunc.py``: ``text`` + optional ``rating`` ->
``fraud_score``) under ``mlflow.registered_model`` with alias ``mlflow.alias``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.models.numeric import sigmoid
from fraudlens.models.text_model import CombinedTextModel
from fraudlens.text_config import TextModelConfig
from fraudlens.training.figures import evaluation_figures
from fraudlens.training.text_data import prepare_table

log = logging.getLogger(__name__)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def classification_metrics(y: np.ndarray, probability: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    predicted = (probability >= threshold).astype(int)
    out = {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(f1_score(y, predicted, average="macro"))}
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, probability))
        out["auprc"] = float(average_precision_score(y, probability))
    return out


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

    from fraudlens.models import text_pyfunc
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
    model = CombinedTextModel.from_config(config)
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
            probabilities = {c: sigmoid(scores[c]) for c in model.channels + ["combined"]}
            for channel, probability in probabilities.items():
                prefix = "test" if channel == "combined" else f"test_{channel}"
                metrics.update({f"{prefix}_{k}": v for k, v in classification_metrics(test_labels, probability).items()})
            mlflow.log_metrics(metrics)
            import matplotlib.pyplot as plt

            for name, figure in evaluation_figures(test_labels, probabilities, "combined",
                                                   subject="held-out reviews").items():
                mlflow.log_figure(figure, name)
                plt.close(figure)
        if config.data.refit_all and len(test_idx):
            # The held-out metrics describe this procedure; what ships is the same procedure on every label.
            model = CombinedTextModel.from_config(config)
            model.fit(data.texts, data.ratings, data.labels, progress=progress)
            mlflow.log_dict(model.report, "text_model_report_refit.json")
            mlflow.log_params({"rows.refit": len(idx), "registered": "refit on all labelled rows",
                               "refit.lexical_C": model.report["lexical_C"], "refit.style_C": model.report["style_C"],
                               "refit.finetune_best_epoch": model.report["finetune_best_epoch"]})
        else:
            mlflow.log_params({"rows.refit": 0, "registered": "the measured model"})
        with tempfile.TemporaryDirectory(prefix="fraudlens-text-") as tmp:
            bundle = model.save(Path(tmp) / "text_model")
            version = log_and_register(text_pyfunc.__file__, {"text_model": str(bundle)},
                                       config.mlflow.registered_model, config.mlflow.alias,
                                       signature=text_pyfunc.TEXT_MODEL_SIGNATURE)
    log.info("tracking store %s, run %s, model %s v%s", tracking_uri, run.info.run_id, config.mlflow.registered_model,
             version)
    return TextTrainResult(run.info.run_id, config.mlflow.registered_model, version,
                           f"models:/{config.mlflow.registered_model}/{version}", metrics, model)
