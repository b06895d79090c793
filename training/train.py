"""Training the graph model on a labelled marketplace, tracked and registered in MLflow."""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import fraudlens
from fraudlens.config import FraudLensConfig
from fraudlens.errors import ConfigError
from fraudlens.marketplace.graph import SCORED_NODE_TYPES
from fraudlens.marketplace.ingest import IngestResult
from fraudlens.models import pyfunc as pyfunc_module
from fraudlens.models.fraud_model import (
    FeatureScaler,
    FraudLensModel,
    ModelInputs,
    architecture_for,
    build_model_inputs,
    fit_platt,
    platt_probability,
)
from fraudlens.models.pyfunc import SELLER_REVIEWS_EXAMPLE, SELLER_REVIEWS_SIGNATURE
from fraudlens.models.text_classifier import CombinedTextModel
from fraudlens.models.text_encoder import TextEncoder
from fraudlens.models.tree_head import TreeHead
from fraudlens.tracking import configure_tracking, flatten_params, log_and_register

log = logging.getLogger(__name__)


@dataclass
class LabelSplit:
    """Node indices and labels of the labelled review/order nodes, split train/validation."""

    train_idx: dict[str, torch.Tensor]
    train_y: dict[str, torch.Tensor]
    val_idx: dict[str, torch.Tensor]
    val_y: dict[str, torch.Tensor]


@dataclass
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    metrics: dict[str, float]
    epochs_run: int
    model: FraudLensModel


def split_labels(ingested: IngestResult, inputs: ModelInputs, val_fraction: float, seed: int) -> LabelSplit:
    labels = ingested.tables.get("labels")
    split = LabelSplit({}, {}, {}, {})
    for node_type in SCORED_NODE_TYPES:
        rows = labels[labels["entity_type"] == node_type] if labels is not None else None
        idx = inputs.graph.node_index(node_type, rows["entity_id"]) if rows is not None else np.array([], int)
        y = rows["is_fraud"].to_numpy(dtype=np.float32) if rows is not None else np.array([], np.float32)
        known = idx >= 0
        idx, y = idx[known], y[known]
        stratify = y if len(np.unique(y)) == 2 and min(np.bincount(y.astype(int))) >= 2 else None
        if len(idx) >= 4:
            tr, va, ytr, yva = train_test_split(idx, y, test_size=val_fraction, random_state=seed, stratify=stratify)
        else:
            tr, va, ytr, yva = idx, idx[:0], y, y[:0]
        split.train_idx[node_type], split.train_y[node_type] = torch.as_tensor(tr), torch.as_tensor(ytr)
        split.val_idx[node_type], split.val_y[node_type] = torch.as_tensor(va), torch.as_tensor(yva)
    return split


def ranking_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {}
    return {"auroc": float(roc_auc_score(y, scores)), "auprc": float(average_precision_score(y, scores))}


def _loss(logits: dict[str, torch.Tensor], idx: dict, y: dict, pos_weight: dict) -> torch.Tensor:
    losses = [
        torch.nn.functional.binary_cross_entropy_with_logits(logits[nt][idx[nt]], y[nt], pos_weight=pos_weight[nt])
        for nt in SCORED_NODE_TYPES if len(idx[nt])
    ]
    return torch.stack(losses).sum()


def _validation_metrics(logits: dict[str, torch.Tensor], split: LabelSplit) -> dict[str, float]:
    metrics = {}
    for nt in SCORED_NODE_TYPES:
        if len(split.val_idx[nt]):
            scores = torch.sigmoid(logits[nt][split.val_idx[nt]]).numpy()
            for name, value in ranking_metrics(split.val_y[nt].numpy(), scores).items():
                metrics[f"val_{nt}_{name}"] = value
    return metrics


def fit_gnn(config: FraudLensConfig, inputs: ModelInputs, scaler: FeatureScaler, split: LabelSplit,
            encoder: TextEncoder, on_epoch=None, text_model: CombinedTextModel | None = None,
            ) -> tuple[FraudLensModel, int, dict[str, float]]:
    """Full-graph training with class-weighted loss; keeps the epoch with the best validation AUPRC."""
    torch.manual_seed(config.train.seed)
    arch = architecture_for(inputs, config.gnn.hidden, config.gnn.layers, config.gnn.dropout, config.gnn.text_dim)
    gnn = FraudLensModel.new_gnn(arch)
    x = scaler.transform(inputs.features)
    edges = inputs.data.edge_index_dict
    optimiser = torch.optim.Adam(gnn.parameters(), lr=config.train.learning_rate, weight_decay=config.train.weight_decay)
    pos_weight = {
        nt: torch.tensor(float((y == 0).sum()) / max(float((y == 1).sum()), 1.0)) for nt, y in split.train_y.items()
    }
    best_score, best_state, best_metrics, stale, epoch = -np.inf, copy.deepcopy(gnn.state_dict()), {}, 0, 0
    for epoch in range(1, config.train.epochs + 1):
        gnn.train()
        optimiser.zero_grad()
        train_loss = _loss(gnn(x, edges, inputs.review_text), split.train_idx, split.train_y, pos_weight)
        train_loss.backward()
        optimiser.step()
        gnn.eval()
        with torch.inference_mode():
            logits = gnn(x, edges, inputs.review_text)
            has_val = any(len(v) for v in split.val_idx.values())
            val_loss = _loss(logits, split.val_idx, split.val_y, pos_weight).item() if has_val else float("nan")
        metrics = {"train_loss": train_loss.item(), "val_loss": val_loss, **_validation_metrics(logits, split)}
        if on_epoch:
            on_epoch(epoch, metrics)
        auprcs = [v for k, v in metrics.items() if k.endswith("_auprc")]
        # Without validation labels of both classes, fall back to loss (validation, else training).
        score = float(np.mean(auprcs)) if auprcs else -val_loss if np.isfinite(val_loss) else -metrics["train_loss"]
        if score > best_score + 1e-4:
            best_score, best_state, best_metrics, stale = score, copy.deepcopy(gnn.state_dict()), metrics, 0
        else:
            stale += 1
            if stale >= config.train.patience:
                break
    gnn.load_state_dict(best_state)
    gnn.eval()
    with torch.inference_mode():
        logits = gnn(x, edges, inputs.review_text)
    tree_head, head_metrics = None, {}
    if config.gnn.tree_head:
        tree_head, logits, head_metrics = fit_tree_head(inputs, logits, split, config.train.seed)
    calibration, calibration_metrics = calibrate(logits, split)
    encoder_settings = {"max_length": encoder.max_length, **config.encoder.runtime()}
    model = FraudLensModel(gnn, scaler, arch, encoder.model_dir, encoder_settings, calibration, text_model, tree_head)
    return model, epoch, {**best_metrics, **head_metrics, **calibration_metrics}


def fit_tree_head(inputs: ModelInputs, gnn_logits: dict[str, torch.Tensor], split: LabelSplit, seed: int
                  ) -> tuple[TreeHead, dict[str, torch.Tensor], dict[str, float]]:
    """The boosted-tree head on the training split (early stopping and blend weight on validation);
    returns it, the blended logits the calibration is fitted on, and its validation numbers."""
    features = {nt: inputs.features[nt] for nt in SCORED_NODE_TYPES}
    part = lambda idx, y: {nt: (idx[nt].numpy(), y[nt].numpy()) for nt in SCORED_NODE_TYPES}  # noqa: E731
    head = TreeHead.fit(features, {nt: v.numpy() for nt, v in gnn_logits.items()},
                        part(split.train_idx, split.train_y), part(split.val_idx, split.val_y),
                        threads=torch.get_num_threads(), seed=seed)
    blended = {nt: torch.from_numpy(head.blended_logits(nt, features[nt], gnn_logits[nt].numpy()))
               for nt in SCORED_NODE_TYPES}
    metrics = {f"val_{nt}_tree_head_weight": w for nt, w in head.weights.items()}
    metrics.update({f"val_{nt}_{name}": v for nt, values in head.validation.items() for name, v in values.items()})
    # The calibrated model's validation ranking, blended: what the registered model will score.
    metrics.update({f"val_{nt}_{name}": v for nt in SCORED_NODE_TYPES if len(split.val_idx[nt])
                    for name, v in ranking_metrics(split.val_y[nt].numpy(),
                                                   blended[nt][split.val_idx[nt]].numpy()).items()})
    return head, blended, metrics


def calibrate(logits: dict[str, torch.Tensor], split: LabelSplit) -> tuple[dict, dict[str, float]]:
    """Platt scaling per head on the validation split; reports Brier scores before and after."""
    calibration, metrics = {}, {}
    for nt in SCORED_NODE_TYPES:
        val_logits, y = logits[nt][split.val_idx[nt]].numpy(), split.val_y[nt].numpy()
        calibration[nt] = fit_platt(val_logits, y)
        if len(y):
            metrics[f"val_{nt}_brier_raw"] = float(np.mean((platt_probability(val_logits) - y) ** 2))
            metrics[f"val_{nt}_brier_calibrated"] = float(np.mean((platt_probability(val_logits, *calibration[nt]) - y) ** 2))
    return calibration, metrics


OVERLAP_MIN_WORDS = 6


def labelled_review_overlap(ingested: IngestResult, text_model: CombinedTextModel) -> tuple[int, int]:
    """(labelled reviews whose text the text model was trained on, labelled reviews), counting
    reviews of at least OVERLAP_MIN_WORDS words: "great" or "Love it!" recur in any two periods."""
    labels, reviews = ingested.tables.get("labels"), ingested.tables.get("reviews")
    if labels is None or reviews is None:
        return 0, 0
    labelled = reviews[reviews["review_id"].isin(labels.loc[labels["entity_type"] == "review", "entity_id"])]
    texts = labelled["text"].fillna("").astype(str)
    texts = texts[texts.str.split().str.len() >= OVERLAP_MIN_WORDS]
    return int(text_model.seen_in_training(texts.tolist()).sum()), len(texts)


def text_model_and_encoder(config: FraudLensConfig, ingested: IngestResult
                           ) -> tuple[CombinedTextModel | None, TextEncoder]:
    """The review text model (if configured) and the encoder whose embeddings the GNN reads.

    A text model trained on the very reviews whose labels train the GNN would hand it those
    labels through its outputs, so training stops when the overlap exceeds the configured share.
    """
    def frozen() -> TextEncoder:
        return TextEncoder(config.encoder.model_dir, config.encoder.max_length, cache_dir=config.encoder.cache_dir,
                           **config.encoder.runtime())

    if config.text_model.uri is None:
        return None, frozen()
    from fraudlens.training.train_text import load_text_model

    text_model = load_text_model(config.text_model.uri)
    seen, labelled = labelled_review_overlap(ingested, text_model)
    if labelled and seen / labelled > config.text_model.max_train_overlap:
        raise ConfigError(
            f"text model {config.text_model.uri} was trained on {seen} of the {labelled} labelled reviews here "
            f"({seen / labelled:.1%} > text_model.max_train_overlap {config.text_model.max_train_overlap:.1%}): its "
            "outputs would leak their labels into the graph model - fix: train the text model on a separate "
            "labelled set (e.g. an earlier period) or set text_model.uri: null")
    if text_model.encoder is None:  # a lexical + stylometric text model: the frozen encoder stays
        return text_model, frozen()
    if config.encoder.model_dir is not None:
        raise ConfigError("encoder.model_dir and text_model.uri are both set - fix: set one; a text model's "
                          "fine-tuned encoder is the graph model's encoder")
    return text_model, TextEncoder(text_model.encoder.directory, text_model.encoder.max_length,
                                   cache_dir=config.encoder.cache_dir, **config.encoder.runtime())


def train(config: FraudLensConfig, ingested: IngestResult, progress=None) -> TrainResult:
    tracking_uri = configure_tracking(config.mlflow.tracking_uri)
    mlflow.set_experiment(config.mlflow.experiment)
    text_model, encoder = text_model_and_encoder(config, ingested)
    inputs = build_model_inputs(ingested.tables, encoder, text_model)
    scaler = FeatureScaler.fit(inputs.features)
    split = split_labels(ingested, inputs, config.train.val_fraction, config.train.seed)
    with mlflow.start_run() as run:
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_params(flatten_params("", config.model_dump(mode="json")))
        mlflow.log_params({
            **{f"nodes.{nt}": inputs.data[nt].num_nodes for nt in inputs.data.node_types},
            **{f"labels.train.{nt}": len(v) for nt, v in split.train_idx.items()},
            **{f"labels.val.{nt}": len(v) for nt, v in split.val_idx.items()},
            "encoder.fingerprint": encoder.fingerprint,
            "text_model.features": len(text_model.feature_names) if text_model else 0,
            "code_version": fraudlens.__version__,
        })

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)}, step=epoch)
            if progress:
                progress(epoch, metrics)

        model, epochs_run, best = fit_gnn(config, inputs, scaler, split, encoder, on_epoch, text_model)
        final = {k.replace("val_", "final_val_"): v for k, v in best.items() if k.startswith("val_") and "loss" not in k}
        mlflow.log_metrics({**final, "epochs_run": epochs_run})
        with tempfile.TemporaryDirectory() as tmp:
            bundle = model.save(Path(tmp) / "bundle")
            version = log_and_register(pyfunc_module.__file__, {"bundle": str(bundle)}, config.mlflow.registered_model,
                                       config.mlflow.alias, signature=SELLER_REVIEWS_SIGNATURE,
                                       input_example=SELLER_REVIEWS_EXAMPLE)
    log.info("tracking store %s, run %s, model %s v%s", tracking_uri, run.info.run_id, config.mlflow.registered_model, version)
    return TrainResult(run.info.run_id, config.mlflow.registered_model, version, final, epochs_run, model)
