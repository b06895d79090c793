"""Training the relational GNN with the degree-capped sampler, and the boosted-tree head on its embeddings.

- Inputs: label-free graph features are standardised over all nodes (no labels involved) and
  fed to every node; entity nodes get their type and log degree. Label features go to the
  head only (models/relational_gnn.py says why).
- Imbalance: BCE with pos_weight = negatives / positives of the training rows.
- Model selection: after every epoch, exact layer-wise full-graph inference scores the
  validation rows; the epoch with the best validation AUPRC is kept (patience stops training).
- ``boosted_head``: XGBoost on [node features, GNN embedding] (the NVIDIA fraud blueprint's
  "GNN embeddings + gradient-boosted trees").
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score

from fraudlens.models.relational_gnn import RelationalGNN, layerwise_embed
from fraudlens.models.sampler import EntityGraph, sample_k_hop
from fraudlens.models.xgbgraph import XGBGraph

# Standardised inputs are clipped: heavy tails (a merchant with 10^4 orders) would dominate.
CLIP = 5.0


@dataclass
class GNNConfig:
    hidden: int = 64
    layers: int = 2
    caps: tuple[int, ...] = (16, 16)  # in-edges kept per node at each hop of the sampler
    batch_size: int = 2048
    max_epochs: int = 25
    patience: int = 6
    lr: float = 5e-3
    weight_decay: float = 1e-5
    dropout: float = 0.2
    seed: int = 0


@dataclass
class GraphInputs:
    entity: EntityGraph
    x: torch.Tensor  # all nodes: standardised graph features (zeros for entities) + type + log degree
    label_x: torch.Tensor  # scored nodes: standardised label features


@dataclass
class TrainedGNN:
    model: RelationalGNN
    best_epoch: int
    best_valid_auprc: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _standardise(values: np.ndarray) -> np.ndarray:
    mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    z = (values - mean) / np.where(sd > 0, sd, 1.0)
    return np.clip(np.nan_to_num(z, nan=0.0), -CLIP, CLIP)


def graph_inputs(entity: EntityGraph, graph_x: pd.DataFrame, label_x: pd.DataFrame) -> GraphInputs:
    """Node input matrix for the entity graph; rows of graph_x / label_x are the scored nodes in order."""
    n, total = entity.num_scored, entity.graph.num_nodes
    scored = _standardise(graph_x.to_numpy(np.float64))
    missing = np.isnan(graph_x.to_numpy(np.float64)).mean(axis=1, keepdims=True)
    types = int(entity.node_type.max()) + 1
    x = np.zeros((total, scored.shape[1] + 1 + types + 1), dtype=np.float32)
    x[:n, :scored.shape[1]] = scored
    x[:n, scored.shape[1]] = missing[:, 0]
    x[np.arange(total), scored.shape[1] + 1 + entity.node_type] = 1.0
    x[:, -1] = np.log1p(entity.graph.in_degree()) / 5
    labels = _standardise(label_x.to_numpy(np.float64)).astype(np.float32)
    return GraphInputs(entity=entity, x=torch.from_numpy(x), label_x=torch.from_numpy(labels))


def gnn_embed(model: RelationalGNN, inputs: GraphInputs) -> torch.Tensor:
    """Embeddings of the scored nodes (exact, layer-wise over the full graph)."""
    return layerwise_embed(model, inputs.x, inputs.entity.graph)[:inputs.entity.num_scored]


@torch.no_grad()
def gnn_predict(model: RelationalGNN, inputs: GraphInputs) -> tuple[np.ndarray, np.ndarray]:
    """(fraud probability, embedding) per scored node."""
    embedding = gnn_embed(model, inputs)
    model.eval()
    probability = torch.sigmoid(model.score(embedding, inputs.label_x)).numpy()
    return probability, embedding.numpy()


def train_gnn(inputs: GraphInputs, y: np.ndarray, fit_idx: np.ndarray, valid_idx: np.ndarray,
              config: GNNConfig = GNNConfig(), log=None) -> TrainedGNN:
    """Mini-batch training on sampled subgraphs; y is indexed like the scored nodes (NaN = unknown)."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    graph = inputs.entity.graph
    model = RelationalGNN(inputs.x.shape[1], inputs.label_x.shape[1], graph.num_relations, config.hidden,
                          config.layers, config.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    y_fit = np.asarray(y, dtype=np.float64)[fit_idx]
    positives = max(y_fit.sum(), 1.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y_fit) - positives) / positives))
    caps = list(config.caps)[:config.layers] + [config.caps[-1]] * max(0, config.layers - len(config.caps))
    best = (-1.0, 0, copy.deepcopy(model.state_dict()))
    history = []
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = rng.permutation(len(fit_idx))
        losses = []
        for a in range(0, len(order), config.batch_size):
            batch = order[a:a + config.batch_size]
            seeds = np.asarray(fit_idx)[batch]
            sub = sample_k_hop(graph, seeds, caps, rng)
            logits = model(inputs.x[torch.from_numpy(sub.nodes)], torch.from_numpy(sub.src), torch.from_numpy(sub.dst),
                           torch.from_numpy(sub.rel), inputs.label_x[torch.from_numpy(seeds)],
                           torch.arange(sub.num_seeds))
            loss = loss_fn(logits, torch.from_numpy(y_fit[batch]).float())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        probability, _ = gnn_predict(model, inputs)
        auprc = float(average_precision_score(np.asarray(y)[valid_idx], probability[valid_idx]))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "valid_auprc": auprc})
        if log:
            log(history[-1])
        if auprc > best[0]:
            best = (auprc, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best[1] >= config.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    return TrainedGNN(model=model, best_epoch=best[1], best_valid_auprc=best[0], history=history,
                      seconds=time.perf_counter() - started)


def boosted_head(features: pd.DataFrame, embedding: np.ndarray, y: np.ndarray, fit_idx: np.ndarray,
                 valid_idx: np.ndarray, threads: int = 1, seed: int = 0) -> tuple[XGBGraph, pd.DataFrame]:
    """XGBoost on node features + GNN embedding; returns the model and the combined table (all nodes)."""
    combined = pd.concat([features.reset_index(drop=True),
                          pd.DataFrame(embedding, columns=[f"gnn_{i}" for i in range(embedding.shape[1])])], axis=1)
    y = np.asarray(y, dtype=np.float64)
    head = XGBGraph(threads=threads, seed=seed).fit(combined.iloc[fit_idx], y[fit_idx],
                                                    combined.iloc[valid_idx], y[valid_idx])
    return head, combined
