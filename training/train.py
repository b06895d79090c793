"""Training the graph model on a labelled marketplace, tracked and registered in MLflow."""

from __future__ import annotations

import copy
import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import fraudlens
from fraudlens.config import FraudLensConfig
from fraudlens.errors import ConfigError
from fraudlens.marketplace.graph import SCORED_NODE_TYPES
from fraudlens.marketplace.ingest import IngestResult
from fraudlens.marketplace.labels import label_counts_by_source, resolve_labels
from fraudlens.models import pyfunc as pyfunc_module
from fraudlens.models.fraud_model import (
    FeatureScaler,
    FraudLensModel,
    ModelInputs,
    architecture_for,
    build_model_inputs,
    fit_platt,
    platt_probability,
    with_label_features,
)
from fraudlens.models.pyfunc import SELLER_REVIEWS_EXAMPLE, SELLER_REVIEWS_SIGNATURE
from fraudlens.models.sampler import HeteroSampler
from fraudlens.models.text_encoder import TextEncoder
from fraudlens.models.text_model import CombinedTextModel
from fraudlens.models.tree_head import TreeHead
from fraudlens.tracking import configure_tracking, flatten_params, log_and_register
from fraudlens.training.run_card import Validation, attach_model_card, log_run_evidence, model_card

log = logging.getLogger(__name__)


@dataclass
class LabelSplit:
    """Node indices and labels of the labelled review/order nodes: ``train`` fits the GNN and the
    trees, ``stop`` stops both early, ``val`` (never in the label features' pool) picks the blend
    weight and fits the calibration, so it is scored like rows the model has never seen."""

    train_idx: dict[str, torch.Tensor]
    train_y: dict[str, torch.Tensor]
    val_idx: dict[str, torch.Tensor]
    val_y: dict[str, torch.Tensor]
    stop_idx: dict[str, torch.Tensor] = field(default_factory=dict)
    stop_y: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    metrics: dict[str, float]
    epochs_run: int
    model: FraudLensModel
    # The label split and the training inputs (label features from the training pool), for
    # callers that evaluate the validation rows as the model saw them (benchmarks/graph_quality.py).
    split: LabelSplit | None = None
    inputs: ModelInputs | None = None


def _entity_order(ids: pd.Index, seed: int) -> np.ndarray:
    """A seeded pseudo-random key per entity id, from the id alone (blake2b of seed and id)."""
    return np.array([int.from_bytes(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(), "big")
                     for i in ids], dtype=np.uint64)


def _stable_split(ids: pd.Index, y: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Part per labelled entity: 0 train, 1 stop, 2 val. Stratified (per class, entities ordered
    by a seeded hash of their id: the first val_fraction/2 stop, the next val_fraction/2 val) and
    stable: k more labels of a class (analyst feedback) move only earlier labels within about k
    places of a part boundary in that order, where a shuffled split would move most of them, so
    two versions are validated on nearly the same rows. A class of fewer than 4 labels stays in
    training."""
    part = np.zeros(len(ids), dtype=np.int8)
    keys = _entity_order(ids, seed)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        if len(members) < 4:
            continue
        ordered = members[np.argsort(keys[members], kind="stable")]
        n_held = max(2, int(round(len(members) * val_fraction)))
        n_stop = n_held // 2
        part[ordered[:n_stop]], part[ordered[n_stop:n_held]] = 1, 2
    return part


def split_labels(ingested: IngestResult, inputs: ModelInputs, val_fraction: float, seed: int) -> LabelSplit:
    labels = ingested.tables.get("labels")
    labels = resolve_labels(labels) if labels is not None else None
    split = LabelSplit({}, {}, {}, {})
    for node_type in SCORED_NODE_TYPES:
        rows = labels[labels["entity_type"] == node_type] if labels is not None else None
        idx = inputs.graph.node_index(node_type, rows["entity_id"]) if rows is not None else np.array([], int)
        y = rows["is_fraud"].to_numpy(dtype=np.float32) if rows is not None else np.array([], np.float32)
        known = idx >= 0
        idx, y = idx[known], y[known]
        part = _stable_split(inputs.graph.ids[node_type][idx], y, val_fraction, seed)
        for target, target_y, k in ((split.train_idx, split.train_y, 0), (split.stop_idx, split.stop_y, 1),
                                    (split.val_idx, split.val_y, 2)):
            target[node_type], target_y[node_type] = torch.as_tensor(idx[part == k]), torch.as_tensor(y[part == k])
    return split


def label_pool(inputs: ModelInputs, split: LabelSplit) -> dict[str, pd.Index]:
    """The ids whose labels the training label features read: train and stop, never val."""
    return {nt: inputs.graph.ids[nt][np.r_[split.train_idx[nt].numpy(), split.stop_idx[nt].numpy()].astype(int)]
            for nt in SCORED_NODE_TYPES}


def ranking_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {}
    return {"auroc": float(roc_auc_score(y, scores)), "auprc": float(average_precision_score(y, scores))}


def _subgraph_logits(gnn, sampler: HeteroSampler, seeds: np.ndarray, x: dict, label_x: dict,
                     review_text: torch.Tensor, caps: list[int], rng: np.random.Generator) -> torch.Tensor:
    """The GNN's logit of each seed (global ids) on its sampled k-hop subgraph."""
    sub = sampler.sample(seeds, caps, rng)
    nodes = {nt: torch.from_numpy(n) for nt, n in sub.nodes.items()}
    logits = gnn({nt: x[nt][n] for nt, n in nodes.items()},
                 {et: torch.from_numpy(e) for et, e in sub.edge_index.items()},
                 review_text[nodes["review"]], {nt: label_x[nt][nodes[nt]] for nt in SCORED_NODE_TYPES})
    out = torch.zeros(len(seeds))
    for t, nt in enumerate(sampler.node_types):
        mask = sub.seed_types == t
        if nt in SCORED_NODE_TYPES and mask.any():
            out = out.index_put((torch.from_numpy(np.flatnonzero(mask)),),
                                logits[nt][torch.from_numpy(sub.seed_positions[mask])])
    return out


def _seeds(sampler: HeteroSampler, idx: dict, y: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(global ids, labels, node-type name per seed) of the labelled nodes of ``idx``."""
    ids = [sampler.global_ids(nt, idx[nt].numpy()) for nt in SCORED_NODE_TYPES]
    types = [np.full(len(idx[nt]), nt, dtype=object) for nt in SCORED_NODE_TYPES]
    return (np.concatenate(ids), np.concatenate([y[nt].numpy() for nt in SCORED_NODE_TYPES]).astype(np.float32),
            np.concatenate(types))


def _loss(logits: torch.Tensor, y: np.ndarray, types: np.ndarray, pos_weight: dict) -> torch.Tensor:
    losses = [torch.nn.functional.binary_cross_entropy_with_logits(
        logits[torch.from_numpy(types == nt)], torch.from_numpy(y[types == nt]), pos_weight=pos_weight[nt])
        for nt in SCORED_NODE_TYPES if (types == nt).any()]
    return torch.stack(losses).sum()


# An epoch makes at least this many optimiser steps: with the demo's ~2,000 labels and batches of
# 2,048 an epoch was one step and early stopping ended training after a few dozen (with 8: the
# demo's review GNN alone, held-out AUROC 0.961 -> 0.979; its orders did not gain).
MIN_STEPS_PER_EPOCH = 8
MIN_BATCH = 32


def epoch_batch_size(n_seeds: int, batch_size: int) -> int:
    """``gnn.batch_size``, smaller where the labelled set would make fewer than MIN_STEPS_PER_EPOCH
    steps an epoch (large sets keep the configured size)."""
    return max(1, min(batch_size, max(MIN_BATCH, -(-n_seeds // MIN_STEPS_PER_EPOCH))))


def fit_gnn(config: FraudLensConfig, inputs: ModelInputs, scaler: FeatureScaler, label_scaler: FeatureScaler,
            split: LabelSplit, encoder: TextEncoder, on_epoch=None, text_model: CombinedTextModel | None = None,
            ) -> tuple[FraudLensModel, int, dict[str, float]]:
    """Mini-batch training on subgraphs of the degree-capped sampler (so an epoch costs what the
    labelled nodes' neighbourhoods cost, not the graph), class-weighted loss; keeps the epoch with
    the best AUPRC on the stop labels, scored on sampled subgraphs of those nodes (the same sample
    every epoch). Then the tree head and the calibration on the full-graph scores."""
    seed = config.train.seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    arch = architecture_for(inputs, config.gnn.hidden, config.gnn.layers, config.gnn.dropout, config.gnn.text_dim)
    gnn = FraudLensModel.new_gnn(arch)
    x, label_x = scaler.transform(inputs.features), label_scaler.transform(inputs.label_features)
    sampler = HeteroSampler(inputs.data)
    fanout = list(config.gnn.fanout)
    caps = (fanout + [fanout[-1]] * config.gnn.layers)[:config.gnn.layers]
    seeds, y, types = _seeds(sampler, split.train_idx, split.train_y)
    stop_seeds, stop_y, stop_types = _seeds(sampler, split.stop_idx, split.stop_y)
    batch_size = epoch_batch_size(len(seeds), config.gnn.batch_size)
    optimiser = torch.optim.AdamW(gnn.parameters(), lr=config.train.learning_rate,
                                  weight_decay=config.train.weight_decay)
    pos_weight = {nt: torch.tensor(float((y[types == nt] == 0).sum()) / max(float((y[types == nt] == 1).sum()), 1.0))
                  for nt in SCORED_NODE_TYPES}
    best_score, best_state, best_metrics, stale, epoch = -np.inf, copy.deepcopy(gnn.state_dict()), {}, 0, 0
    for epoch in range(1, config.train.epochs + 1 if len(seeds) else 1):
        gnn.train()
        order, losses = rng.permutation(len(seeds)), []
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            logits = _subgraph_logits(gnn, sampler, seeds[batch], x, label_x, inputs.review_text, caps, rng)
            loss = _loss(logits, y[batch], types[batch], pos_weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        metrics = {"train_loss": float(np.mean(losses))}
        if len(stop_seeds):
            gnn.eval()
            with torch.inference_mode():
                stop_rng = np.random.default_rng(seed + 1)
                stop_logits = torch.cat([
                    _subgraph_logits(gnn, sampler, stop_seeds[a:a + config.gnn.batch_size], x, label_x,
                                     inputs.review_text, caps, stop_rng)
                    for a in range(0, len(stop_seeds), config.gnn.batch_size)])
                metrics["val_loss"] = _loss(stop_logits, stop_y, stop_types, pos_weight).item()
            for nt in SCORED_NODE_TYPES:
                mask = stop_types == nt
                for name, value in ranking_metrics(stop_y[mask], stop_logits[torch.from_numpy(mask)].numpy()).items():
                    metrics[f"val_{nt}_{name}"] = value
        if on_epoch:
            on_epoch(epoch, metrics)
        auprcs = [v for k, v in metrics.items() if k.endswith("_auprc")]
        # Without stop labels of both classes, fall back to loss (stop, else training).
        score = float(np.mean(auprcs)) if auprcs else -metrics.get("val_loss", metrics["train_loss"])
        if score > best_score + 1e-4:
            best_score, best_state, best_metrics, stale = score, copy.deepcopy(gnn.state_dict()), metrics, 0
        else:
            stale += 1
            if stale >= config.train.patience:
                break
    gnn.load_state_dict(best_state)
    # The resolved precision: scoring computes the embeddings this GNN was trained on.
    encoder_settings = {"max_length": encoder.max_length, "precision": encoder.precision, **config.encoder.runtime()}
    model = FraudLensModel(gnn, scaler, arch, encoder.model_dir, encoder_settings, None, text_model, None,
                           label_scaler, inputs.label_prior, inputs.label_fold_seed)
    logits = model.logits(inputs)  # exact, layer by layer over the whole graph: what scoring computes
    inputs.layer_states = None
    head_metrics = {}
    if config.gnn.tree_head:
        model.tree_head, logits, head_metrics = fit_tree_head(inputs, logits, split, seed)
    model.calibration, calibration_metrics = calibrate(logits, split)
    return model, epoch, {**best_metrics, **head_metrics, **calibration_metrics}


def fit_tree_head(inputs: ModelInputs, gnn_logits: dict[str, torch.Tensor], split: LabelSplit, seed: int
                  ) -> tuple[TreeHead, dict[str, torch.Tensor], dict[str, float]]:
    """The boosted-tree head on the training split (early stopping on the stop labels, blend
    weight on the val labels); returns it, the blended logits the calibration is fitted on, and
    its validation numbers."""
    features = {nt: inputs.tree_features(nt) for nt in SCORED_NODE_TYPES}
    part = lambda idx, y: {nt: (idx[nt].numpy(), y[nt].numpy()) for nt in SCORED_NODE_TYPES}  # noqa: E731
    head = TreeHead.fit(features, {nt: v.numpy() for nt, v in gnn_logits.items()},
                        part(split.train_idx, split.train_y), part(split.stop_idx, split.stop_y),
                        threads=torch.get_num_threads(), seed=seed, select=part(split.val_idx, split.val_y))
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
                           precision=config.encoder.precision, **config.encoder.runtime())

    if config.text_model.uri is None:
        return None, frozen()
    from fraudlens.models.text_model import load_text_model

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
    # The text model's precision, not encoder.precision: its stacker was fitted on those embeddings.
    return text_model, TextEncoder(text_model.encoder.directory, text_model.encoder.max_length,
                                   cache_dir=config.encoder.cache_dir, precision=text_model.settings.precision,
                                   **config.encoder.runtime())


def validation_scores(model: FraudLensModel, inputs: ModelInputs, ingested: IngestResult,
                      split: LabelSplit) -> dict[str, Validation]:
    """Calibrated scores of the shipped model (``score_inputs``, as scoring computes them) on the
    validation labels, per entity type."""
    scores = model.score_inputs(inputs, ingested.tables)
    return {nt: Validation(split.val_y[nt].numpy().astype(int), scores[nt]["score"].to_numpy()[split.val_idx[nt].numpy()])
            for nt in scores if len(split.val_idx[nt])}


def train(config: FraudLensConfig, ingested: IngestResult, progress=None) -> TrainResult:
    tracking_uri = configure_tracking(config.mlflow.tracking_uri)
    mlflow.set_experiment(config.mlflow.experiment)
    text_model, encoder = text_model_and_encoder(config, ingested)
    inputs = build_model_inputs(ingested.tables, encoder, text_model)
    scaler = FeatureScaler.fit(inputs.features)
    split = split_labels(ingested, inputs, config.train.val_fraction, config.train.seed)
    with_label_features(inputs, ingested.tables.get("labels"), label_pool(inputs, split), fold_seed=config.train.seed)
    label_scaler = FeatureScaler.fit(inputs.label_features)
    with mlflow.start_run() as run:
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_params(flatten_params("", config.model_dump(mode="json")))
        mlflow.log_params({
            **{f"nodes.{nt}": inputs.data[nt].num_nodes for nt in inputs.data.node_types},
            **{f"labels.train.{nt}": len(v) for nt, v in split.train_idx.items()},
            **{f"labels.val.{nt}": len(v) for nt, v in split.val_idx.items()},
            **{f"labels.source.{k}": n for k, n in label_counts_by_source(ingested.tables.get("labels")).items()},
            "encoder.fingerprint": encoder.fingerprint,
            "text_model.features": len(text_model.feature_names) if text_model else 0,
            "code_version": fraudlens.__version__,
        })

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)}, step=epoch)
            if progress:
                progress(epoch, metrics)

        model, epochs_run, best = fit_gnn(config, inputs, scaler, label_scaler, split, encoder, on_epoch, text_model)
        final = {k.replace("val_", "final_val_"): v for k, v in best.items() if k.startswith("val_") and "loss" not in k}
        mlflow.log_metrics({**final, "epochs_run": epochs_run})
        validation = validation_scores(model, inputs, ingested, split)
        log_run_evidence(ingested.tables, validation)
        with tempfile.TemporaryDirectory() as tmp:
            bundle = model.save(Path(tmp) / "bundle")
            version = log_and_register(pyfunc_module.__file__, {"bundle": str(bundle)}, config.mlflow.registered_model,
                                       config.mlflow.alias, signature=SELLER_REVIEWS_SIGNATURE,
                                       input_example=SELLER_REVIEWS_EXAMPLE)
        blend = model.tree_head.weights if model.tree_head is not None else {}
        attach_model_card(model_card(config.mlflow.registered_model, version, ingested.tables, validation, blend,
                                     config.model_dump(mode="json")), config.mlflow.registered_model, version)
    log.info("tracking store %s, run %s, model %s v%s", tracking_uri, run.info.run_id, config.mlflow.registered_model, version)
    return TrainResult(run.info.run_id, config.mlflow.registered_model, version, final, epochs_run, model, split, inputs)
