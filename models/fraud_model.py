"""The trained fraudlens model: feature scaling + text encoder + GNN + tree head, saved as one directory.

Training and scoring both go through ``build_model_inputs`` (and ``with_label_features``) so
that preprocessing can never drift between the two.

Features of a scored node (review, order): the behavioural features of marketplace/features.py,
the graph features of marketplace/graph_features.py (prefix ``g_``: behaviour, per-relation
1-hop and whole-projection 1-/2-hop neighbour means, the platform's signals), both label-free
and read by the GNN and the trees; and the label features ("linked to known fraud", prefix
``lab_``), which only the trees and the GNN's heads read (models/gnn.py says why). At training
they come out-of-fold from the labels the model may see; at scoring from every label known
before the run.

With a review text model (``models.text_classifier.CombinedTextModel``), its fine-tuned encoder
replaces the frozen one (the texts are encoded once, for both), and its compact embedding
(encoder projection, base-model and stacked logits) joins the review-node features.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

import fraudlens
from fraudlens.marketplace.features import node_features
from fraudlens.marketplace.graph import SCORED_NODE_TYPES, MarketplaceGraph, build_graph
from fraudlens.marketplace.graph_features import (
    NodeFrame,
    label_features,
    label_prior,
    labels_by_id,
    scored_node_frames,
    structural_features,
)
from fraudlens.marketplace.labels import resolve_labels
from fraudlens.models.gnn import HeteroFraudGNN, mean_adjacency
from fraudlens.models.numeric import row_slices, sigmoid
from fraudlens.models.text_encoder import TextEncoder
from fraudlens.models.text_model import CombinedTextModel
from fraudlens.models.tree_head import TreeHead
from fraudlens.output_contract import TEXT_PROBABILITY
from fraudlens.persistence import read_component, write_component
from fraudlens.progress import Progress, StageTimer

FEATURE_CLIP = 5.0
TRANSFORM_ROWS = 65_536
TEXT_MODEL_DIR = "text_model"
TREE_HEAD_DIR = "tree_head"
GRAPH_PREFIX = "g_"
# The saved graph model's format: bump on any change to what save() writes or load() reads.
COMPONENT, FORMAT_VERSION = "fraudlens_graph_model", 4


@dataclass
class FeatureScaler:
    """Standardisation fitted on the training graph and reused unchanged at scoring time."""

    columns: dict[str, list[str]]
    means: dict[str, list[float]]
    stds: dict[str, list[float]]

    @classmethod
    def fit(cls, features: dict[str, pd.DataFrame]) -> "FeatureScaler":
        return cls(
            columns={nt: list(f.columns) for nt, f in features.items()},
            means={nt: f.mean().fillna(0).tolist() for nt, f in features.items()},
            stds={nt: f.std(ddof=0).fillna(1).replace(0, 1).tolist() for nt, f in features.items()},
        )

    def transform(self, features: dict[str, pd.DataFrame],
                  rows: dict[str, np.ndarray | slice] | None = None) -> dict[str, torch.Tensor]:
        """Standardised, clipped; a missing value (a node without neighbours) becomes the mean.

        ``rows`` (per node type, positions or a slice) transforms those rows only, for the types given.
        Rows are scaled a slice at a time into one float32 array: at a million orders, scaling
        all of them at once held four copies of a 1.7 GB matrix.
        """
        out = {}
        for nt, columns in self.columns.items():
            if rows is not None and nt not in rows:
                continue
            frame = features[nt] if rows is None else features[nt].iloc[rows[nt]]
            means, stds = np.float32(self.means[nt]), np.float32(self.stds[nt])
            scaled = np.empty((len(frame), len(columns)), dtype=np.float32)
            for part in row_slices(len(frame), TRANSFORM_ROWS):
                values = frame.iloc[part].reindex(columns=columns, fill_value=0.0).to_numpy(dtype=np.float32)
                scaled[part] = np.nan_to_num(np.clip((values - means) / stds, -FEATURE_CLIP, FEATURE_CLIP), nan=0.0)
            out[nt] = torch.from_numpy(scaled)
        return out


@dataclass
class ModelInputs:
    graph: MarketplaceGraph
    features: dict[str, pd.DataFrame]
    review_text: torch.Tensor
    # Per review (graph order): near-duplicate count among the run's reviews, when the text
    # model computed it (the reasons reuse it instead of counting again).
    near_duplicates: np.ndarray | None = None
    # True when review_text already went through the GNN's text projection ([reviews, text_dim]).
    text_projected: bool = False
    # Every node's state before each GNN layer, kept by FraudLensModel.logits for attributions.
    layer_states: list | None = None
    # The scored node types present, as graph_features reads them (for the label features).
    node_frames: dict[str, NodeFrame] | None = None
    # Per scored node type, "linked to known fraud" features (with_label_features); None: none.
    label_features: dict[str, pd.DataFrame] | None = None
    # Per scored node type, the smoothing prior of the label shares (graph_features.label_prior),
    # and the seed of the label folds (graph_features.label_folds).
    label_prior: dict[str, float] | None = None
    label_fold_seed: int = 0

    def tree_features(self, node_type: str) -> pd.DataFrame:
        """What the tree head reads: every feature of the node, label features included."""
        if self.label_features is None:
            return self.features[node_type]
        return pd.concat([self.features[node_type], self.label_features[node_type]], axis=1)

    @cached_property
    def adjacency(self) -> dict:
        return mean_adjacency(self.graph.data)

    @property
    def data(self) -> HeteroData:
        return self.graph.data


def build_model_inputs(tables: dict[str, pd.DataFrame], encoder: TextEncoder,
                       text_model: CombinedTextModel | None = None, reporter: Progress | None = None,
                       text_projection: torch.nn.Linear | None = None) -> ModelInputs:
    """``encoder`` must be ``text_model``'s fine-tuned encoder when a text model is given;
    ``reporter`` times (and shows) the stages. ``text_projection`` (a trained GNN's, at scoring
    time) makes ``review_text`` the projected text instead of the encoder's embeddings."""
    reporter = reporter or StageTimer()
    with reporter.stage("graph"):
        graph = build_graph(tables)
    with reporter.stage("features"):
        features = node_features(tables, graph.ids)
        frames = scored_node_frames(tables)
        for nt, frame in frames.items():
            block = structural_features(frame).add_prefix(GRAPH_PREFIX)
            features[nt] = features[nt].join(block.set_axis(frame.ids).reindex(graph.ids[nt]))
    reviews = tables.get("reviews")
    near_duplicates = None
    if reviews is not None and len(reviews):
        ordered = reviews.set_index("review_id").reindex(graph.ids["review"])
        texts = ordered["text"].fillna("").tolist()
        with reporter.stage("embed texts", total=len(set(texts))):
            unique_embeddings, rows = encoder.encode_unique(texts, on_progress=reporter.advance)
        if encoder.cache is not None:
            encoder.cache.unload()  # ~1 GB at 1M reviews, not needed again in this run
        if text_model is not None:
            ratings = ordered["rating"].astype("float64").fillna(3).to_numpy()
            with reporter.stage("text model"):
                rows_cache = encoder.cache.sibling(text_model.per_text_fingerprint) if encoder.cache else None
                text_scores = text_model.scores(texts, ratings, embeddings=unique_embeddings, cache=rows_cache,
                                                embedding_rows=rows)
            near_duplicates = text_scores["near_duplicates"]
            features["review"] = features["review"].join(pd.DataFrame(
                text_model.compact(text_scores), columns=text_model.feature_names, index=features["review"].index))
        if text_projection is not None:
            # Project each distinct text once; one [reviews, 384] matrix would be 1.5 GB at 1M reviews.
            with torch.inference_mode():
                review_text = text_projection(torch.from_numpy(unique_embeddings))[torch.from_numpy(rows)]
        else:
            review_text = torch.from_numpy(unique_embeddings[rows])
    else:
        review_text = torch.zeros((0, encoder.dim if text_projection is None else text_projection.out_features))
    return ModelInputs(graph=graph, features=features, review_text=review_text, near_duplicates=near_duplicates,
                       text_projected=text_projection is not None, node_frames=frames)


def with_label_features(inputs: ModelInputs, labels: pd.DataFrame | None, pool: dict[str, pd.Index] | None = None,
                        as_of: pd.Timestamp | None = None, prior: dict[str, float] | None = None,
                        fold_seed: int = 0) -> ModelInputs:
    """``inputs`` with "linked to known fraud" features per scored node type: per relation, how
    many neighbours are labelled, how many fraud, the smoothed fraud share.

    Training passes ``pool``, the ids whose labels the features may read (never the rows that
    choose the blend: docs/benchmarks.md, "Label pool"); scoring reads every label of
    ``labels`` known at ``as_of`` (``labeled_at``). Either way each node sees the pool's labels
    of the other folds only (graph_features.label_features): training rows then look like the
    rows scored later, and a node never reads its own label.

    Training leaves ``prior`` out and keeps the pool's fraud share per type in
    ``inputs.label_prior``; scoring passes the model's prior and fold seed (training's seed, so
    the fold partition is sampled like the rest of a training run), so labels arriving far from
    a node leave its features alone.
    """
    out, priors = {}, {}
    for nt in ("review", "order"):
        frame = (inputs.node_frames or {}).get(nt)
        if frame is None:
            out[nt] = pd.DataFrame(index=inputs.graph.ids[nt])
            continue
        known = labels_by_id(resolve_labels(labels), nt, as_of) if labels is not None and len(labels) \
            else pd.Series([], dtype="int64")
        allowed = pool[nt] if pool is not None else known.index
        fixed = (prior or {}).get(nt)
        priors[nt] = label_prior(known, allowed) if fixed is None else fixed
        block = label_features(frame, known, allowed, seed=fold_seed, prior=fixed).astype(np.float32)
        out[nt] = block.set_axis(frame.ids).reindex(inputs.graph.ids[nt])
    inputs.label_features, inputs.label_prior, inputs.label_fold_seed = out, priors, fold_seed
    return inputs


def text_fake_probability(features: pd.DataFrame) -> np.ndarray | None:
    """The text model's P(fake) per review, when its stacked logit is among the features."""
    if "text_logit_combined" not in features:
        return None
    return sigmoid(features["text_logit_combined"].to_numpy(dtype=np.float64))


def platt_probability(logits: np.ndarray, slope: float = 1.0, intercept: float = 0.0) -> np.ndarray:
    return sigmoid(slope * np.asarray(logits, dtype=np.float64) + intercept)


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(slope * logit + intercept), fitted by logistic regression.

    The class-weighted training loss inflates raw probabilities; this maps them back to the
    frequencies seen on held-out labelled data. Identity when both classes are not present.
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(labels)) < 2:
        return 1.0, 0.0
    fit = LogisticRegression(C=1e4).fit(logits.reshape(-1, 1).astype(np.float64), labels.astype(int))
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


class FraudLensModel:
    def __init__(self, gnn: HeteroFraudGNN, scaler: FeatureScaler, architecture: dict, encoder_dir: Path,
                 encoder_settings: dict, calibration: dict[str, tuple[float, float]] | None = None,
                 text_model: CombinedTextModel | None = None, tree_head: TreeHead | None = None,
                 label_scaler: FeatureScaler | None = None, label_prior: dict[str, float] | None = None,
                 label_fold_seed: int = 0):
        self.gnn = gnn.eval()
        self.label_scaler = label_scaler
        self.label_prior, self.label_fold_seed = label_prior, label_fold_seed
        self.tree_head = tree_head
        self.text_model = text_model
        self.scaler = scaler
        self.calibration = {nt: tuple(ab) for nt, ab in (calibration or {}).items()}
        self.architecture = architecture
        self.encoder_dir = Path(encoder_dir)
        self.encoder_settings = encoder_settings
        self._encoder: TextEncoder | None = None
        self._encoder_key: tuple | None = None

    @staticmethod
    def new_gnn(architecture: dict) -> HeteroFraudGNN:
        edge_types = [tuple(et) for et in architecture["edge_types"]]
        return HeteroFraudGNN(architecture["feature_dims"], edge_types, architecture["text_dim_in"],
                              hidden=architecture["hidden"], layers=architecture["layers"],
                              dropout=architecture["dropout"], text_dim=architecture["text_dim"],
                              label_dims=architecture.get("label_dims"))

    def encoder(self, cache_dir: str | Path | None = None, **runtime) -> TextEncoder:
        """The bundled encoder; ``runtime`` overrides speed settings (batch_size, threads, checkpoint_every)."""
        wanted = (cache_dir, tuple(sorted(runtime.items())))
        if self._encoder is None or self._encoder_key != wanted:
            settings = {**self.encoder_settings, **{k: v for k, v in runtime.items() if v is not None}}
            self._encoder = TextEncoder(self.encoder_dir, cache_dir=cache_dir, **settings)
            self._encoder_key = wanted
        return self._encoder

    @torch.no_grad()
    def projected_text(self, inputs: ModelInputs) -> torch.Tensor:
        """[reviews, text_dim]: the GNN's text input, whether ``inputs`` carry it projected or raw."""
        return inputs.review_text if inputs.text_projected else self.gnn.text_proj(inputs.review_text)

    @torch.no_grad()
    def layer_states(self, inputs: ModelInputs, layers: int | None = None) -> list[dict[str, torch.Tensor]]:
        """``HeteroFraudGNN.propagate`` of ``inputs`` (``layers``: that many), with each type's
        input states computed a slice of rows at a time (``TRANSFORM_ROWS``): the scaled feature
        matrix, 1.7 GB at a million orders, is never whole."""
        text = self.projected_text(inputs)
        h0 = {}
        for nt in self.scaler.columns:
            n = len(inputs.features[nt])
            h0[nt] = torch.empty((n, self.gnn.inputs[nt].out_features))
            for rows in row_slices(n, TRANSFORM_ROWS):
                x = self.scaler.transform(inputs.features, {nt: rows})[nt]
                h0[nt][rows] = self.gnn.input_state(nt, x, text[rows] if nt == "review" else None)
        return self.gnn.propagate(h0, inputs.adjacency, layers)

    @torch.no_grad()
    def gnn_logits(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        """The GNN's review and order logits over the whole graph, layer by layer.

        The states before the last layer stay on ``inputs`` (``inputs.layer_states``) for the
        attributions of the flagged nodes, which need their neighbours' states.
        """
        states = self.layer_states(inputs, layers=max(len(self.gnn.convs) - 1, 0))
        inputs.layer_states = states

        def label_rows(node_type: str, rows: slice) -> torch.Tensor | None:
            scaled = self.label_inputs(inputs, {node_type: rows})
            return scaled.get(node_type) if scaled is not None else None

        return self.gnn.scored_logits(states, inputs.adjacency, label_rows)

    @torch.no_grad()
    def logits(self, inputs: ModelInputs) -> dict[str, torch.Tensor]:
        """Review and order logits (``gnn_logits``), blended with the tree head's when there is one
        (``models/tree_head.py``)."""
        if self.tree_head is None:
            return self.gnn_logits(inputs)
        # The trees first, before the GNN's states exist: both are big at a million nodes.
        p_trees = {nt: self.tree_head.tree_probability(nt, inputs.tree_features(nt)) for nt in SCORED_NODE_TYPES
                   if self.tree_head.weights.get(nt, 0.0) > 0}
        logits = self.gnn_logits(inputs)
        return {nt: torch.from_numpy(self.tree_head.blend(nt, p_trees.get(nt), logits[nt].numpy()))
                for nt in SCORED_NODE_TYPES}

    @torch.no_grad()
    def component_probabilities(self, inputs: ModelInputs) -> dict[str, dict[str, np.ndarray]]:
        """{node_type: {"gnn": P, "trees": P}}: the blend's two parts alone, uncalibrated (what the
        benchmark compares the blend with); "trees" only where the head has trees for the type."""
        logits = self.gnn_logits(inputs)
        out = {nt: {"gnn": sigmoid(logits[nt].numpy().astype(np.float64))} for nt in SCORED_NODE_TYPES}
        for nt in SCORED_NODE_TYPES:
            if self.tree_head is not None and nt in self.tree_head.trees:
                out[nt]["trees"] = self.tree_head.tree_probability(nt, inputs.tree_features(nt))
        return out

    def label_inputs(self, inputs: ModelInputs, rows: dict[str, np.ndarray | slice] | None = None
                     ) -> dict[str, torch.Tensor] | None:
        """The GNN heads' label features, scaled (of ``rows`` only, as FeatureScaler.transform);
        None for a model trained without them."""
        if self.label_scaler is None or inputs.label_features is None:
            return None
        return self.label_scaler.transform(inputs.label_features, rows)

    def inputs(self, tables: dict[str, pd.DataFrame], encoder: TextEncoder | None = None,
               reporter: Progress | None = None, as_of: pd.Timestamp | None = None) -> ModelInputs:
        """Graph, features and embeddings of ``tables``, prepared exactly as in training; label
        features from the labels of ``tables`` known at ``as_of`` (default: all of them)."""
        inputs = build_model_inputs(tables, encoder or self.encoder(), self.text_model, reporter, self.gnn.text_proj)
        if self.label_scaler is not None:
            with (reporter or StageTimer()).stage("label features"):
                with_label_features(inputs, tables.get("labels"), as_of=as_of, prior=self.label_prior,
                                    fold_seed=self.label_fold_seed)
        return inputs

    def score_inputs(self, inputs: ModelInputs, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """{"review": DataFrame(review_id, score[, text_fake_probability]), "order": DataFrame(order_id, score)}
        for the scored tables present."""
        logits = self.logits(inputs)
        out = {}
        for node_type in SCORED_NODE_TYPES:
            if f"{node_type}s" in tables:
                out[node_type] = pd.DataFrame({
                    f"{node_type}_id": inputs.graph.ids[node_type].astype("string"),
                    "score": self.probability(node_type, logits[node_type].numpy()),
                })
        text_probability = text_fake_probability(inputs.features["review"])
        if "review" in out and text_probability is not None:
            out["review"][TEXT_PROBABILITY] = text_probability
        return out

    def score(self, tables: dict[str, pd.DataFrame], encoder: TextEncoder | None = None) -> dict[str, pd.DataFrame]:
        return self.score_inputs(self.inputs(tables, encoder), tables)

    def probability(self, node_type: str, logits: np.ndarray) -> np.ndarray:
        return platt_probability(logits, *self.calibration.get(node_type, (1.0, 0.0)))

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.gnn.state_dict(), directory / "gnn.pt")
        write_component(directory, COMPONENT, FORMAT_VERSION, {
            "architecture": self.architecture,
            "scaler": asdict(self.scaler),
            "encoder_settings": self.encoder_settings,
            "calibration": self.calibration,
            "label_scaler": asdict(self.label_scaler) if self.label_scaler is not None else None,
            "label_prior": self.label_prior,
            "label_fold_seed": self.label_fold_seed,
            "fraudlens_version": fraudlens.__version__,
        })
        if self.text_model is not None:
            self.text_model.save(directory / TEXT_MODEL_DIR)
        if self.tree_head is not None:
            self.tree_head.save(directory / TREE_HEAD_DIR)
        if self.text_model is None or self.text_model.encoder is None:
            # The encoder travels with the model so a registered version is self-contained (a
            # text model's fine-tuned encoder, in text_model/encoder, is stored once, there).
            shutil.copytree(self.encoder_dir, directory / "encoder", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.md", ".gitattributes", "onnx", "openvino"))
        return directory

    @classmethod
    def load(cls, directory: Path) -> "FraudLensModel":
        directory = Path(directory)
        meta = read_component(directory, COMPONENT, FORMAT_VERSION)
        gnn = cls.new_gnn(meta["architecture"])
        gnn.load_state_dict(torch.load(directory / "gnn.pt", weights_only=True))
        text_model, encoder_dir = None, directory / "encoder"
        if (directory / TEXT_MODEL_DIR).is_dir():
            text_model = CombinedTextModel.load(directory / TEXT_MODEL_DIR)
            if text_model.encoder is not None:
                encoder_dir = text_model.encoder.directory
        tree_head = TreeHead.load(directory / TREE_HEAD_DIR) if (directory / TREE_HEAD_DIR).is_dir() else None
        label_scaler = FeatureScaler(**meta["label_scaler"]) if meta.get("label_scaler") else None
        return cls(gnn, FeatureScaler(**meta["scaler"]), meta["architecture"], encoder_dir,
                   meta["encoder_settings"], meta.get("calibration"), text_model, tree_head, label_scaler,
                   meta["label_prior"], meta["label_fold_seed"])


def architecture_for(inputs: ModelInputs, hidden: int, layers: int, dropout: float, text_dim: int) -> dict:
    return {
        "feature_dims": {nt: f.shape[1] for nt, f in inputs.features.items()},
        "edge_types": [list(et) for et in inputs.data.edge_types],
        "text_dim_in": int(inputs.review_text.shape[1]),
        "hidden": hidden, "layers": layers, "dropout": dropout, "text_dim": text_dim,
        "label_dims": {nt: f.shape[1] for nt, f in (inputs.label_features or {}).items()},
    }


