"""Review text classifier: a fine-tuned BERT encoder stacked with lexical and stylometric models.

Three base models, each blind to what the others see:

- **encoder**: the BERT encoder (default MiniLM-L6, any Hugging Face model directory by config)
  fine-tuned end to end with a small projection head on its mean-pooled, L2-normalised
  sentence embedding - exactly what ``TextEncoder`` computes, so at inference the fine-tuned
  backbone runs through ``TextEncoder`` (cache, dedupe, length-sorted batches, optional int8);
- **lexical**: word 1-2-gram and character 2-5-gram TF-IDF (hashed: the model is numbers only,
  no vocabulary to pickle) with logistic regression, regularisation chosen by inner CV;
- **style**: ``models.stylometry`` features (length, truncation, punctuation and case rates,
  repetition inside a review and across the batch, rating-sentiment mismatch), standardised,
  with logistic regression.

A logistic-regression stacker combines their logits. It is trained only on out-of-sample
predictions: out-of-fold (inner K-fold) for the lexical and style models, and for the encoder
its predictions on a stacking hold-out that fine-tuning never saw (fine-tuning K times is too
slow on a CPU). It is fitted in two stages (``fit_stack``): lexical + style on every training
text, then that combination against the encoder on the hold-out. Nothing is pickled: ``save``
writes safetensors, npz and JSON.

``CombinedTextModel.transform`` gives a compact review embedding (the encoder's projection plus
the base and stacked logits) for the graph model's review nodes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from scipy import sparse

from fraudlens.models.stylometry import (
    NUM_PERM,
    PER_TEXT_FEATURES,
    STYLE_FEATURES,
    assemble_style_features,
    duplicate_counts_from,
    per_text_style,
    stylometric_features,
    text_fingerprints,
)
from fraudlens.models.text_encoder import EmbeddingCache, TextEncoder, default_model_dir, normalise_text, text_keys

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
LOGIT_CLIP = 15.0
HEAD_FILE = "classifier_head.safetensors"
HEAD_META = "classifier.json"
TRAINING_KEYS = "training_text_keys.npy"
# Per-text rows (``CombinedTextModel.per_text_rows``): lexical and NB-lexical logits (0 without
# an NB channel), the text-only style features, the 64-bit token-sequence hash as two float32
# cells, the MinHash as NUM_PERM cells.
PER_TEXT_LAYOUT = f"v2;lexical;nb;{','.join(PER_TEXT_FEATURES)};token_hash64;minhash{NUM_PERM}x32"
_LOGIT_COLUMNS = 2
_STYLE_COLUMNS = slice(_LOGIT_COLUMNS, _LOGIT_COLUMNS + len(PER_TEXT_FEATURES))
_HASH_COLUMNS = slice(_STYLE_COLUMNS.stop, _STYLE_COLUMNS.stop + 2)
_SIGNATURE_COLUMNS = slice(_HASH_COLUMNS.stop, _HASH_COLUMNS.stop + NUM_PERM)
PER_TEXT_WIDTH = _SIGNATURE_COLUMNS.stop
PER_TEXT_CHUNK = 8192  # texts per cache shard: a killed run keeps what it finished


# --------------------------------------------------------------------------------------------
# Fine-tuning the encoder
# --------------------------------------------------------------------------------------------

@dataclass
class FineTuneSettings:
    """Fine-tuning hyper-parameters. Defaults fit a few thousand reviews on a 2-core CPU in minutes."""

    max_length: int = 128          # tokens; also the TextEncoder max_length at inference
    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 1e-4    # encoder layers
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1   # linear warm-up, then linear decay to 0
    patience: int = 2              # epochs without validation-loss gain before stopping
    train_layers: int | None = None  # top transformer layers updated (None: all); lower ones stay frozen
    freeze_embeddings: bool = True
    proj_dim: int = 8              # size of the projection = the encoder part of transform()
    dropout: float = 0.1
    seed: int = 0
    threads: int | None = None     # torch CPU threads during fine-tuning (None: torch's default)
    eval_batch_size: int = 64
    device: str | None = None      # None: "cuda" when available, else "cpu"


class ProjectionHead(torch.nn.Module):
    """pooled (L2-normalised) -> tanh(proj) (the embedding) -> logit."""

    def __init__(self, dim: int, proj_dim: int = 8, dropout: float = 0.1):
        super().__init__()
        self.scale = math.sqrt(dim)  # unit-norm inputs have ~1/sqrt(dim) components; bring them to ~1
        self.dropout = torch.nn.Dropout(dropout)
        self.proj = torch.nn.Linear(dim, proj_dim)
        self.out = torch.nn.Linear(proj_dim, 1)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.tanh(self.proj(self.dropout(pooled * self.scale)))
        return self.out(z).squeeze(-1), z


def _transformer_layers(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The stack of transformer blocks (BERT/RoBERTa/XLM-R: encoder.layer, DistilBERT: transformer.layer)."""
    wanted = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "n_layers", None)
    best = None
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == wanted:
            if best is None or sum(p.numel() for p in module.parameters()) > sum(p.numel() for p in best.parameters()):
                best = module
    return best


def _freeze(model: torch.nn.Module, settings: FineTuneSettings) -> None:
    for p in model.parameters():
        p.requires_grad_(True)
    layers = _transformer_layers(model)
    partial = settings.train_layers is not None and layers is not None and settings.train_layers < len(layers)
    if settings.freeze_embeddings or partial:
        embeddings = getattr(model, "embeddings", None) or model.get_input_embeddings()
        embeddings.requires_grad_(False)
    if partial:
        for block in layers[:len(layers) - max(settings.train_layers, 0)]:
            block.requires_grad_(False)


def _collate(token_ids: Sequence[Sequence[int]], pad_id: int, token_types: bool) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest text of the batch (same layout as TextEncoder._embed_batch)."""
    width = max(max(len(ids) for ids in token_ids), 1)
    input_ids = torch.full((len(token_ids), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(token_ids), width), dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, :len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        attention[row, :len(ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention}
    if token_types:
        batch["token_type_ids"] = torch.zeros_like(input_ids)
    return batch


def _mean_pool(hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    mask = attention.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                            pool: int = 50) -> list[np.ndarray]:
    """Random batches of similar length: shuffle, sort within pools of ``pool`` batches, shuffle batches."""
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    for start in range(0, len(order), batch_size * pool):
        chunk = order[start:start + batch_size * pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _binary_metrics(y: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=np.float64)
    loss = float(np.mean(np.logaddexp(0, logits) - y * logits))
    out = {"loss": loss, "accuracy": float(np.mean((logits > 0) == (y > 0.5)))}
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, logits))
    return out


def fine_tune(texts: Sequence[str], labels: Sequence[int], val_texts: Sequence[str] | None = None,
              val_labels: Sequence[int] | None = None, *, out_dir: str | Path, model_dir: str | Path | None = None,
              settings: FineTuneSettings | None = None,
              progress: Callable[[int, dict], None] | None = None) -> "FineTunedEncoder":
    """Fine-tunes ``model_dir`` (default MiniLM-L6) as a binary classifier and saves it to ``out_dir``.

    Mean pooling + L2 norm + ``ProjectionHead``, BCE loss, AdamW (encoder ``learning_rate``, head
    ``head_learning_rate``), warm-up + linear decay, length-bucketed batches with dynamic padding.
    With validation texts it evaluates after every epoch and keeps the epoch with the lowest
    validation loss, stopping after ``patience`` epochs without gain. ``out_dir`` is written with
    ``save_pretrained``, so ``TextEncoder(model_dir=out_dir)`` loads the fine-tuned encoder.
    Runs on CUDA when available (``settings.device`` overrides).
    """
    from transformers import AutoModel, AutoTokenizer

    settings = settings or FineTuneSettings()
    model_dir = Path(model_dir) if model_dir else default_model_dir()
    out_dir = Path(out_dir)
    device = torch.device(settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    texts = _clean_texts(texts)
    y = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    has_val = val_texts is not None and len(val_texts) > 0
    val_texts = _clean_texts(val_texts) if val_texts is not None else []
    val_y = np.asarray(val_labels if val_labels is not None else [], dtype=np.float32)

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    backbone = AutoModel.from_pretrained(model_dir, local_files_only=True)
    head = ProjectionHead(int(backbone.config.hidden_size), settings.proj_dim, settings.dropout)
    _freeze(backbone, settings)
    backbone.to(device)
    head.to(device)
    pad_id = tokenizer.pad_token_id or 0
    token_types = "token_type_ids" in tokenizer.model_input_names

    def tokenize(batch_texts: list[str]) -> list[list[int]]:
        if not batch_texts:
            return []
        return tokenizer(batch_texts, truncation=True, max_length=settings.max_length)["input_ids"]

    train_ids, val_ids = tokenize(texts), tokenize(val_texts)
    lengths = [len(ids) for ids in train_ids]

    def forward(batch_ids: list[list[int]]) -> torch.Tensor:
        batch = {k: v.to(device) for k, v in _collate(batch_ids, pad_id, token_types).items()}
        hidden = backbone(**batch).last_hidden_state
        return head(_mean_pool(hidden, batch["attention_mask"]))[0]

    def evaluate() -> dict[str, float]:
        backbone.eval()
        head.eval()
        order = np.argsort([len(ids) for ids in val_ids], kind="stable")
        logits = np.empty(len(val_ids), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(order), settings.eval_batch_size):
                idx = order[start:start + settings.eval_batch_size]
                logits[idx] = forward([val_ids[i] for i in idx]).float().cpu().numpy()
        return _binary_metrics(val_y, logits)

    decay, no_decay = [], []
    for name, p in backbone.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    optimiser = torch.optim.AdamW([
        {"params": decay, "lr": settings.learning_rate, "weight_decay": settings.weight_decay},
        {"params": no_decay, "lr": settings.learning_rate, "weight_decay": 0.0},
        {"params": list(head.parameters()), "lr": settings.head_learning_rate, "weight_decay": settings.weight_decay},
    ])
    steps_per_epoch = max(math.ceil(len(texts) / settings.batch_size), 1)
    total = steps_per_epoch * settings.epochs
    warmup = max(int(total * settings.warmup_fraction), 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(total - step, 0) / max(total - warmup, 1)))

    history: list[dict] = []
    best_loss, best_epoch, stale = math.inf, 0, 0
    best_state = None
    for epoch in range(1, settings.epochs + 1):
        backbone.train()
        head.train()
        started, running, seen = time.perf_counter(), 0.0, 0
        for batch_idx in length_bucketed_batches(lengths, settings.batch_size, rng):
            logits = forward([train_ids[i] for i in batch_idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[batch_idx].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in optimiser.param_groups for p in g["params"]], 1.0)
            optimiser.step()
            scheduler.step()
            running += float(loss.detach()) * len(batch_idx)
            seen += len(batch_idx)
        metrics = {"epoch": epoch, "train_loss": running / max(seen, 1),
                   "train_texts_per_s": seen / max(time.perf_counter() - started, 1e-9)}
        if has_val:
            metrics.update({f"val_{k}": v for k, v in evaluate().items()})
        history.append(metrics)
        log.info("fine-tune epoch %d: %s", epoch, {k: round(v, 4) for k, v in metrics.items()})
        if progress:
            progress(epoch, metrics)
        if not has_val:
            continue
        if metrics["val_loss"] < best_loss - 1e-4:
            best_loss, best_epoch, stale = metrics["val_loss"], epoch, 0
            best_state = (copy.deepcopy(backbone.state_dict()), copy.deepcopy(head.state_dict()))
        else:
            stale += 1
            if stale >= settings.patience:
                break
    if best_state is not None:
        backbone.load_state_dict(best_state[0])
        head.load_state_dict(best_state[1])
    else:
        best_epoch = len(history)

    out_dir.mkdir(parents=True, exist_ok=True)
    backbone.to("cpu").save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in head.to("cpu").state_dict().items()}, str(out_dir / HEAD_FILE))
    (out_dir / HEAD_META).write_text(json.dumps({
        "format_version": FORMAT_VERSION, "max_length": settings.max_length, "proj_dim": settings.proj_dim,
        "dropout": settings.dropout, "base_model": str(model_dir), "settings": asdict(settings),
        "best_epoch": best_epoch, "history": history, "device": str(device),
        "train_texts": len(texts), "val_texts": len(val_texts),
    }, indent=1))
    return FineTunedEncoder(out_dir)


class FineTunedEncoder:
    """A fine-tuned encoder directory (``fine_tune`` output) used for inference through TextEncoder."""

    def __init__(self, directory: str | Path, quantize: bool = False, cache_dir: str | Path | None = None,
                 batch_size: int = 64, threads: int | None = None):
        from safetensors.torch import load_file

        self.directory = Path(directory)
        self.meta = json.loads((self.directory / HEAD_META).read_text())
        self.max_length = int(self.meta["max_length"])
        self._encoder_settings = {"batch_size": batch_size, "cache_dir": cache_dir, "threads": threads,
                                  "quantize": quantize}
        self._encoder: TextEncoder | None = None
        state = load_file(str(self.directory / HEAD_FILE))
        self.head = ProjectionHead(int(state["proj.weight"].shape[1]), self.proj_dim, float(self.meta["dropout"]))
        self.head.load_state_dict(state)
        self.head.eval()

    @property
    def encoder(self) -> TextEncoder:
        """Loaded on first use: the graph model passes its own embeddings of these weights, so a
        text model inside it never needs a second copy of the transformer."""
        if self._encoder is None:
            self._encoder = TextEncoder(self.directory, max_length=self.max_length, **self._encoder_settings)
        return self._encoder

    @property
    def proj_dim(self) -> int:
        return int(self.meta["proj_dim"])

    @property
    def history(self) -> list[dict]:
        return list(self.meta.get("history", []))

    def features(self, texts: Sequence[str], embeddings: np.ndarray | None = None,
                 inverse: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(logits float64 [n], projection float32 [n, proj_dim]). ``embeddings``: this encoder's
        output for ``texts`` when the caller already has it (the graph model encodes once for both);
        with ``inverse``, the distinct texts' rows and each text's row index (``encode_unique``)."""
        if embeddings is None:
            embeddings, inverse = self.encoder.encode_unique(list(texts))
        with torch.inference_mode():
            logits, z = self.head(torch.from_numpy(embeddings))
        logits, z = logits.numpy().astype(np.float64), z.numpy().astype(np.float32)
        return (logits, z) if inverse is None else (logits[inverse], z[inverse])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return _sigmoid(self.features(texts)[0])

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        if directory.resolve() != self.directory.resolve():
            shutil.copytree(self.directory, directory, dirs_exist_ok=True)
        return directory


# --------------------------------------------------------------------------------------------
# Linear models on TF-IDF and stylometric features (no pickles: coefficients are saved as numbers)
# --------------------------------------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _folds(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y.astype(int), minlength=2).min())
    if smallest < 2:
        raise ValueError("each class needs at least 2 labelled texts")
    n_folds = max(2, min(n_folds, smallest))
    return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


class _QuietLiblinear:
    """liblinear's dual solver stops at max_iter on the largest C of the grid when the n-grams
    separate the training texts perfectly; the grid is judged by out-of-fold log-loss, so the
    warning says nothing a user can act on and only clutters the demo's output."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(X, y)
        return self.model


def _logistic(C: float, sparse_input: bool):
    from sklearn.linear_model import LogisticRegression

    if sparse_input:  # many more n-gram columns than texts: the dual problem is ~20x faster here
        # A fixed random_state: otherwise liblinear seeds itself from numpy's global RNG.
        return _QuietLiblinear(LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000, random_state=0))
    return LogisticRegression(C=C, max_iter=2000)


def select_and_oof(X, y: np.ndarray, C_grid: Sequence[float], n_folds: int, seed: int) -> tuple[float, np.ndarray]:
    """Chooses C by inner-CV log-loss on (X, y) only; returns (C, out-of-fold logits at that C)."""
    sparse_input = sparse.issparse(X)
    folds = _folds(y, n_folds, seed)
    best = (math.inf, None, None)
    for C in C_grid:
        oof = np.zeros(len(y))
        for train_idx, test_idx in folds:
            oof[test_idx] = _logistic(C, sparse_input).fit(X[train_idx], y[train_idx]).decision_function(X[test_idx])
        loss = float(np.mean(np.logaddexp(0, oof) - y * oof))
        if loss < best[0]:
            best = (loss, C, oof)
    return best[1], best[2]


def _save_linear(path: Path, coef: np.ndarray, intercept: float, **arrays) -> None:
    """A hashed linear model as npz: its non-zero coefficients (most hashed columns are unused)."""
    nonzero = np.flatnonzero(coef)
    np.savez_compressed(path, coef_index=nonzero, coef_value=coef[nonzero], coef_size=len(coef),
                        intercept=intercept, **arrays)


def _load_linear(data) -> tuple[np.ndarray, float]:
    coef = np.zeros(int(data["coef_size"]), dtype=np.float64)
    coef[data["coef_index"]] = data["coef_value"]
    return coef, float(data["intercept"])


def _from_config(cls, config: dict):
    """An unfitted ``cls`` from its ``config()`` (lists back to tuples), with the chosen C."""
    config = dict(config)
    C = config.pop("C", None)
    model = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    model.C = C
    return model


class LexicalModel:
    """Word n-gram (+ char n-gram) TF-IDF with sublinear tf, hashed into fixed-size spaces, + logistic regression.

    Hashing keeps the model a vector of numbers (idf, coefficients): nothing to pickle, and
    memory does not grow with the vocabulary. Each channel is L2-normalised separately.
    """

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] | None = (2, 5),
                 word_bits: int = 20, char_bits: int = 21, C_grid: Sequence[float] = (2.0, 8.0, 32.0, 128.0, 512.0),
                 folds: int = 5, seed: int = 0):
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams) if char_ngrams else None
        self.word_bits, self.char_bits = word_bits, char_bits
        self.C_grid = tuple(C_grid)
        self.folds, self.seed = folds, seed
        self.idf: list[np.ndarray] = []
        self.coef: np.ndarray | None = None
        self.intercept = 0.0
        self.C: float | None = None

    def _vectorizers(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        out = [HashingVectorizer(analyzer="word", ngram_range=self.word_ngrams, n_features=1 << self.word_bits,
                                 alternate_sign=False, norm=None, lowercase=True, dtype=np.float64)]
        if self.char_ngrams:
            out.append(HashingVectorizer(analyzer="char", ngram_range=self.char_ngrams, n_features=1 << self.char_bits,
                                         alternate_sign=False, norm=None, lowercase=False, dtype=np.float64))
        return out

    def _counts(self, texts: Sequence[str]) -> list[sparse.csr_matrix]:
        texts = ["" if t is None else str(t) for t in texts]
        return [v.transform(texts).tocsr() for v in self._vectorizers()]

    def _tfidf(self, counts: list[sparse.csr_matrix]) -> sparse.csr_matrix:
        from sklearn.preprocessing import normalize

        blocks = []
        for block, idf in zip(counts, self.idf):
            block = block.copy()
            block.data = 1.0 + np.log(block.data)
            blocks.append(normalize(block @ sparse.diags(idf), norm="l2"))
        return sparse.hstack(blocks, format="csr")

    def fit_oof(self, texts: Sequence[str], y: np.ndarray) -> np.ndarray:
        """Fits idf and chooses C on (texts, y); returns out-of-fold logits, then refits on everything."""
        counts = self._counts(texts)
        n = counts[0].shape[0]
        self.idf = [np.log((1.0 + n) / (1.0 + np.bincount(c.indices, minlength=c.shape[1]))) + 1.0 for c in counts]
        X = self._tfidf(counts)
        present = np.unique(X.indices)  # hashed columns no training text uses: leave them out of the solver
        X = X[:, present]
        y = np.asarray(y, dtype=int)
        self.C, oof = select_and_oof(X, y, self.C_grid, self.folds, self.seed)
        fit = _logistic(self.C, True).fit(X, y)
        self.coef = np.zeros(len(np.concatenate(self.idf)), dtype=np.float64)
        self.coef[present] = fit.coef_[0]
        self.intercept = float(fit.intercept_[0])
        return oof

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return self._tfidf(self._counts(texts)) @ self.coef + self.intercept

    def save(self, path: Path) -> None:
        _save_linear(path, self.coef, self.intercept, **{f"idf{i}": idf for i, idf in enumerate(self.idf)})

    def config(self) -> dict:
        return {"word_ngrams": list(self.word_ngrams), "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
                "word_bits": self.word_bits, "char_bits": self.char_bits, "C_grid": list(self.C_grid),
                "folds": self.folds, "seed": self.seed, "C": self.C}

    @classmethod
    def load(cls, path: Path, config: dict) -> "LexicalModel":
        model = _from_config(cls, config)
        with np.load(path) as data:
            model.coef, model.intercept = _load_linear(data)
            model.idf = [data[f"idf{i}"] for i in range(2 if model.char_ngrams else 1)]
        return model


class NaiveBayesLexicalModel:
    """NB-LR (Wang & Manning 2012) over binary character n-grams: each n-gram present in a text
    is weighted by its naive-Bayes log-count ratio between the classes, then logistic regression.

    The ratio scales rare but one-sided n-grams up, which TF-IDF does not: a second lexical view
    that errs elsewhere. On Salminen (docs/benchmarks.md, ``nb_char_lr`` and
    ``combined_without_nb``) it helps the stack without an encoder; with the encoder the
    difference is within the folds' noise. N-grams in fewer than two training texts get no
    weight (the ratio of a single occurrence is noise). Hashed like ``LexicalModel``, and the
    ratio and the coefficients fold into one weight vector: nothing to pickle.
    """

    def __init__(self, char_ngrams: tuple[int, int] = (2, 5), char_bits: int = 21,
                 C_grid: Sequence[float] = (0.1, 1.0, 4.0, 16.0), folds: int = 5, seed: int = 0):
        self.char_ngrams, self.char_bits = tuple(char_ngrams), char_bits
        self.C_grid, self.folds, self.seed = tuple(C_grid), folds, seed
        self.weight: np.ndarray | None = None
        self.intercept = 0.0
        self.C: float | None = None

    def _binary(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import HashingVectorizer

        vectorizer = HashingVectorizer(analyzer="char", ngram_range=self.char_ngrams, n_features=1 << self.char_bits,
                                       alternate_sign=False, norm=None, binary=True, lowercase=True, dtype=np.float64)
        return vectorizer.transform(["" if t is None else str(t) for t in texts]).tocsr()

    @staticmethod
    def _ratio(X: sparse.csr_matrix, y: np.ndarray) -> np.ndarray:
        fake = np.asarray(X[y == 1].sum(axis=0)).ravel()
        genuine = np.asarray(X[y == 0].sum(axis=0)).ravel()
        ratio = np.log((1.0 + fake) / (1.0 + fake.sum())) - np.log((1.0 + genuine) / (1.0 + genuine.sum()))
        return np.where(fake + genuine >= 2, ratio, 0.0)

    def _fit(self, X: sparse.csr_matrix, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
        ratio = self._ratio(X, y)
        present = np.flatnonzero(ratio)
        fit = _logistic(C, True).fit(X[:, present] @ sparse.diags(ratio[present]), y)
        weight = np.zeros(X.shape[1])
        weight[present] = fit.coef_[0] * ratio[present]
        return weight, float(fit.intercept_[0])

    def fit_oof(self, texts: Sequence[str], y: np.ndarray) -> np.ndarray:
        """Chooses C by inner-CV log-loss (ratios refitted per inner fold); returns out-of-fold
        logits, then refits on everything."""
        X, y = self._binary(texts), np.asarray(y, dtype=int)
        oof = {C: np.zeros(len(y)) for C in self.C_grid}
        for train_idx, test_idx in _folds(y, self.folds, self.seed):
            for C in self.C_grid:
                weight, intercept = self._fit(X[train_idx], y[train_idx], C)
                oof[C][test_idx] = X[test_idx] @ weight + intercept
        self.C = min(self.C_grid, key=lambda C: float(np.mean(np.logaddexp(0, oof[C]) - y * oof[C])))
        self.weight, self.intercept = self._fit(X, y, self.C)
        return oof[self.C]

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return self._binary(texts) @ self.weight + self.intercept

    def save(self, path: Path) -> None:
        _save_linear(path, self.weight, self.intercept)

    def config(self) -> dict:
        return {"char_ngrams": list(self.char_ngrams), "char_bits": self.char_bits, "C_grid": list(self.C_grid),
                "folds": self.folds, "seed": self.seed, "C": self.C}

    @classmethod
    def load(cls, path: Path, config: dict) -> "NaiveBayesLexicalModel":
        model = _from_config(cls, config)
        with np.load(path) as data:
            model.weight, model.intercept = _load_linear(data)
        return model


class StyleModel:
    """Stylometric features + logistic regression.

    Two representations compete by inner-CV log-loss on the training part, together with C:
    "raw" (standardised features: linear effects only) and "binned" (standardised features plus
    one-hot quantile bins of each feature: any monotone or non-monotone shape per feature, e.g.
    very short *and* very long reviews being suspicious). Bin edges and coefficients are numbers
    in JSON; nothing is pickled.
    """

    REPRESENTATIONS = ("raw", "binned")

    def __init__(self, features: Sequence[str] = STYLE_FEATURES, C_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0),
                 folds: int = 5, seed: int = 0, bins: int = 8, representations: Sequence[str] = REPRESENTATIONS):
        self.features = tuple(features)
        self.C_grid = tuple(C_grid)
        self.folds, self.seed, self.bins = folds, seed, bins
        self.representations = tuple(representations)
        self.representation = "raw"
        self.mean = self.std = self.coef = None
        self.edges: list[np.ndarray] = []
        self.intercept = 0.0
        self.C: float | None = None

    def _matrix(self, frame, representation: str | None = None) -> np.ndarray:
        raw = frame[list(self.features)].to_numpy(np.float64)
        X = np.clip((raw - self.mean) / self.std, -10, 10)
        if (representation or self.representation) == "binned":
            onehots = []
            for column, edges in enumerate(self.edges):
                codes = np.searchsorted(edges, raw[:, column], side="right")
                onehots.append(np.eye(len(edges) + 1)[codes])
            X = np.hstack([X] + onehots)
        return X

    def fit_oof(self, frame, y: np.ndarray) -> np.ndarray:
        raw = frame[list(self.features)].to_numpy(np.float64)
        self.mean, std = raw.mean(0), raw.std(0)
        self.std = np.where(std > 1e-12, std, 1.0)
        quantiles = np.linspace(0, 1, self.bins + 1)[1:-1]
        self.edges = [np.unique(np.quantile(raw[:, c], quantiles)) for c in range(raw.shape[1])]
        y = np.asarray(y, dtype=int)
        best = (np.inf, None, None, None)
        for representation in self.representations:
            X = self._matrix(frame, representation)
            C, oof = select_and_oof(X, y, self.C_grid, self.folds, self.seed)
            loss = float(np.mean(np.logaddexp(0, oof) - y * oof))
            if loss < best[0]:
                best = (loss, representation, C, oof)
        _, self.representation, self.C, oof = best
        fit = _logistic(self.C, False).fit(self._matrix(frame), y)
        self.coef, self.intercept = fit.coef_[0].astype(np.float64), float(fit.intercept_[0])
        return oof

    def decision_function(self, frame) -> np.ndarray:
        return self._matrix(frame) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"features": list(self.features), "C_grid": list(self.C_grid), "folds": self.folds, "seed": self.seed,
                "bins": self.bins, "representations": list(self.representations),
                "representation": self.representation, "C": self.C, "mean": self.mean.tolist(),
                "std": self.std.tolist(), "edges": [e.tolist() for e in self.edges], "coef": self.coef.tolist(),
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> "StyleModel":
        model = cls(d["features"], d["C_grid"], d["folds"], d["seed"], d["bins"], d["representations"])
        model.representation, model.C, model.intercept = d["representation"], d["C"], float(d["intercept"])
        model.mean, model.std, model.coef = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "coef"))
        model.edges = [np.asarray(e, dtype=np.float64) for e in d["edges"]]
        return model


# --------------------------------------------------------------------------------------------
# The combined model
# --------------------------------------------------------------------------------------------

class BoostedStage:
    """Gradient-boosted trees over the stylometric features and the lexical and style logits.

    The linear stack treats each stylometric feature as one straight line; the interactions
    that give machine text away (truncated *and* long *and* repetitive) need trees. On Salminen
    it beats the linear stack of the same logits (docs/benchmarks.md: ``combined`` against
    ``combined_linear_stack``; ``combined_without_encoder`` is this stage alone). Trained on
    out-of-fold logits only, with its own out-of-fold margins for the encoder stage. Saved as
    xgboost JSON: nothing is pickled.
    """

    PARAMS = {"objective": "binary:logistic", "eta": 0.05, "max_depth": 4, "min_child_weight": 2.0,
              "subsample": 0.9, "colsample_bytree": 0.8, "lambda": 1.0, "tree_method": "hist", "nthread": 1}
    ROUNDS = 300

    def __init__(self, features: Sequence[str], folds: int = 5, seed: int = 0):
        self.features, self.folds, self.seed = tuple(features), folds, seed
        self.booster = None

    def _matrix(self, frame, lexical: np.ndarray, style: np.ndarray) -> np.ndarray:
        clipped = np.clip(np.column_stack([lexical, style]), -LOGIT_CLIP, LOGIT_CLIP)
        return np.hstack([frame[list(self.features)].to_numpy(np.float64), clipped])

    def _train(self, X: np.ndarray, y: np.ndarray):
        import xgboost as xgb

        return xgb.train({**self.PARAMS, "seed": self.seed}, xgb.DMatrix(X, label=y), self.ROUNDS)

    @staticmethod
    def _margin(booster, X: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        return booster.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64)

    def fit_oof(self, frame, lexical: np.ndarray, style: np.ndarray, y: np.ndarray) -> np.ndarray:
        X = self._matrix(frame, lexical, style)
        oof = np.zeros(len(y))
        for train_idx, test_idx in _folds(y, self.folds, self.seed):
            oof[test_idx] = self._margin(self._train(X[train_idx], y[train_idx]), X[test_idx])
        self.booster = self._train(X, y)
        return oof

    def decision_function(self, frame, lexical: np.ndarray, style: np.ndarray) -> np.ndarray:
        return self._margin(self.booster, self._matrix(frame, lexical, style))

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path, features: Sequence[str], folds: int, seed: int) -> "BoostedStage":
        import xgboost as xgb

        stage = cls(features, folds, seed)
        stage.booster = xgb.Booster(params={"nthread": 1}, model_file=str(path))
        return stage


@dataclass
class CombinedSettings:
    model_dir: str | None = None           # Hugging Face model directory to fine-tune (None: MiniLM-L6)
    finetune: FineTuneSettings = field(default_factory=FineTuneSettings)
    use_encoder: bool = True               # False: lexical + style only (no BERT; for quick baselines)
    stack_fraction: float = 0.2            # training part held out from fine-tuning to fit the stacker
    val_fraction: float = 0.1              # of the rest: early stopping of fine-tuning
    inner_folds: int = 5                   # out-of-fold predictions of the lexical and style models
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)
    nb_char_ngrams: tuple[int, int] | None = (2, 5)  # NB-LR channel (boosted stacker only); None: off
    lexical_C_grid: tuple[float, ...] = (2.0, 8.0, 32.0, 128.0, 512.0)
    style_C_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    style_features: tuple[str, ...] = STYLE_FEATURES
    stack_C: float = 1.0
    stacker: str = "boosted"              # "boosted" (BoostedStage) or "linear" (fit_stack's first stage)
    seed: int = 0


BOOSTED_FILE = "boosted_stage.json"
NB_FILE = "nb_lexical.npz"


class CombinedTextModel:
    """Fine-tuned encoder + lexical + stylometric models, stacked by logistic regression.

    ``fit(texts, ratings, labels)``; ``predict_proba(texts, ratings)`` -> P(fake) per text, shape
    [n]; ``transform(texts, ratings)`` -> float32 [n, proj_dim + 4] (``feature_names``). Ratings
    may be None. The duplicate-rate style features are computed over the texts passed in one call:
    score a marketplace (or a seller's file) in one call, not review by review.

    Inference settings (not part of the model): ``quantize`` (int8 encoder), ``cache_dir``
    (embedding cache), ``batch_size``, ``threads``.
    """

    def __init__(self, settings: CombinedSettings | None = None, *, quantize: bool = False,
                 cache_dir: str | Path | None = None, batch_size: int = 64, threads: int | None = None):
        self.settings = settings or CombinedSettings()
        self.quantize, self.cache_dir, self.batch_size, self.threads = quantize, cache_dir, batch_size, threads
        self.lexical: LexicalModel | None = None
        self.nb: NaiveBayesLexicalModel | None = None
        self.style: StyleModel | None = None
        self.encoder: FineTunedEncoder | None = None
        self.stack_coef: np.ndarray | None = None
        self.stack_intercept = 0.0
        self.boosted: BoostedStage | None = None
        self.report: dict = {}
        self.oof_: dict[str, np.ndarray] = {}     # fit-time out-of-sample predictions (not saved)
        # Hashes of the training texts: lets the graph model refuse labels this model has seen.
        self.training_keys = np.zeros(0, dtype="<U32")
        self._workdir: tempfile.TemporaryDirectory | None = None

    # -- fitting -----------------------------------------------------------------------------
    @property
    def uses_nb(self) -> bool:
        return self.settings.nb_char_ngrams is not None and self.settings.stacker == "boosted"

    @property
    def channels(self) -> list[str]:
        return (["lexical"] + (["nb"] if self.uses_nb else []) + ["style"]
                + (["encoder"] if self.settings.use_encoder else []))

    @property
    def proj_dim(self) -> int:
        return self.encoder.proj_dim if self.encoder is not None else 0

    @property
    def stack_inputs(self) -> list[str]:
        """The logits the final linear stack weighs (``stack_coef`` order)."""
        first = ["boosted"] if self.settings.stacker == "boosted" else ["lexical", "style"]
        return first + (["encoder"] if self.settings.use_encoder else [])

    @property
    def feature_names(self) -> list[str]:
        """Column names of ``transform``: encoder projection, base-model logits, stacked logit."""
        return ([f"text_proj_{i}" for i in range(self.proj_dim)]
                + [f"text_logit_{c}" for c in self.channels] + ["text_logit_combined"])

    def fit(self, texts: Sequence[str], ratings: Sequence[float] | None, labels: Sequence[int],
            progress: Callable[[str, dict], None] | None = None,
            encoder_dir: str | Path | None = None) -> "CombinedTextModel":
        """``encoder_dir``: where the fine-tuned encoder is kept. If it already holds one (from an
        earlier fit on the same texts, labels and fine-tune settings: the caller's key), that one
        is loaded instead of fine-tuning again; benchmarks use this to re-fit the stack alone."""
        from sklearn.model_selection import train_test_split

        s = self.settings
        texts = _clean_texts(texts)
        y = np.asarray(labels, dtype=int)
        if len(texts) != len(y):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("labels must contain both classes 0 (genuine) and 1 (fake)")
        started = time.perf_counter()
        note = progress or (lambda stage, info: None)
        self.training_keys = np.unique(text_keys(texts))

        frame = stylometric_features(texts, ratings)
        self.style = StyleModel(s.style_features, s.style_C_grid, s.inner_folds, s.seed)
        oof_style = self.style.fit_oof(frame, y)
        note("style", {"C": self.style.C})
        self.lexical = LexicalModel(s.word_ngrams, s.char_ngrams, C_grid=s.lexical_C_grid, folds=s.inner_folds,
                                    seed=s.seed)
        oof_lex = self.lexical.fit_oof(texts, y)
        note("lexical", {"C": self.lexical.C, "seconds": time.perf_counter() - started})
        self.oof_ = {"lexical": oof_lex, "style": oof_style}
        if self.uses_nb:
            self.nb = NaiveBayesLexicalModel(s.nb_char_ngrams, folds=s.inner_folds, seed=s.seed)
            self.oof_["nb"] = self.nb.fit_oof(texts, y)
            note("nb-lexical", {"C": self.nb.C, "seconds": time.perf_counter() - started})

        idx = np.arange(len(texts))
        enc_hold, reused = None, False
        if s.use_encoder:
            rest, hold = train_test_split(idx, test_size=s.stack_fraction, random_state=s.seed, stratify=y)
            tune, val = train_test_split(rest, test_size=s.val_fraction, random_state=s.seed, stratify=y[rest])
            if encoder_dir is None:
                self._workdir = tempfile.TemporaryDirectory(prefix="fraudlens-text-")
                encoder_dir = Path(self._workdir.name) / "encoder"
            encoder_dir = Path(encoder_dir)
            reused = (encoder_dir / HEAD_META).is_file()  # written last by fine_tune: the directory is complete
            if reused:
                note("fine-tune", {"reused": str(encoder_dir)})
            else:
                fine_tune([texts[i] for i in tune], y[tune], [texts[i] for i in val], y[val], out_dir=encoder_dir,
                          model_dir=s.model_dir, settings=s.finetune, progress=lambda epoch, m: note("fine-tune", m))
            self.encoder = self._load_encoder(encoder_dir)
            enc_hold, _ = self.encoder.features([texts[i] for i in hold])
            self.oof_.update({"holdout_index": hold, "encoder": enc_hold})
        else:
            hold, tune, val = idx[:0], idx[:0], idx[:0]
        if s.stacker == "boosted":
            self.boosted = BoostedStage(s.style_features, s.inner_folds, s.seed)
            oof_boosted = self.boosted.fit_oof(frame, self._lexical_logits(self.oof_), oof_style, y)
            self.oof_["boosted"] = oof_boosted
            self.stack_coef, self.stack_intercept, stages = fit_boosted_stack(oof_boosted, y, hold, enc_hold,
                                                                              s.stack_C)
        else:
            self.stack_coef, self.stack_intercept, stages = fit_stack(oof_lex, oof_style, y, hold, enc_hold, s.stack_C)
        self.report = {
            "n_train": len(texts), "n_finetune": len(tune), "n_finetune_val": len(val), "n_stack": len(hold),
            "lexical_C": self.lexical.C, "nb_C": self.nb.C if self.nb else None, "style_C": self.style.C,
            "style_representation": self.style.representation,
            "stack_weights": dict(zip(self.stack_inputs, self.stack_coef.round(4).tolist())), "stack_stages": stages,
            "stack_intercept": round(self.stack_intercept, 4),
            "finetune_best_epoch": self.encoder.meta.get("best_epoch") if self.encoder else None,
            "finetune_reused": reused,
            "finetune_history": self.encoder.history if self.encoder else [],
            "fit_seconds": round(time.perf_counter() - started, 1),
        }
        note("done", self.report)
        return self

    def _lexical_logits(self, logits: dict[str, np.ndarray]) -> np.ndarray:
        """The boosted stage's lexical input: the TF-IDF logit, and the NB-LR logit when there is one."""
        return np.column_stack([logits["lexical"]] + ([logits["nb"]] if self.uses_nb else []))

    def _load_encoder(self, directory: Path) -> FineTunedEncoder:
        return FineTunedEncoder(directory, quantize=self.quantize, cache_dir=self.cache_dir,
                                batch_size=self.batch_size, threads=self.threads)

    # -- inference ---------------------------------------------------------------------------
    def seen_in_training(self, texts: Sequence[str]) -> np.ndarray:
        """Bool per text: was this exact text (after cleaning) in the training set."""
        return np.isin(text_keys(_clean_texts(texts)), self.training_keys)

    @property
    def per_text_fingerprint(self) -> str:
        """Identifies what ``per_text_rows`` computes (the lexical models' numbers and the row
        layout), so cached rows are never served to a different model or layout."""
        nb_config = self.nb.config() if self.nb else None
        digest = hashlib.sha256(f"{PER_TEXT_LAYOUT};{json.dumps(self.lexical.config(), sort_keys=True)};"
                                f"{json.dumps(nb_config, sort_keys=True)}".encode())
        arrays = [*self.lexical.idf, self.lexical.coef, np.array([self.lexical.intercept])]
        if self.nb:
            arrays += [self.nb.weight, np.array([self.nb.intercept])]
        for array in arrays:
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        return "textrows-" + digest.hexdigest()[:16]

    def per_text_rows(self, texts: Sequence[str], cache: EmbeddingCache | None = None,
                      chunk: int = PER_TEXT_CHUNK) -> np.ndarray:
        """float32 [n, PER_TEXT_WIDTH] for ``texts``: lexical and NB logits, ``PER_TEXT_FEATURES``,
        then the duplicate-counting fingerprint (token hash, MinHash) stored bit for bit.

        Each distinct text is computed once, and with a ``cache`` (keyed by text hash, under
        ``per_text_fingerprint``) once ever: re-scoring a known text costs a lookup. Rows are
        float32 whether fresh or cached, so a warm run gives the same bytes as a cold one.
        """
        return self._per_text_rows(_clean_texts(texts), cache, chunk)

    def _per_text_rows(self, texts: list[str], cache: EmbeddingCache | None, chunk: int = PER_TEXT_CHUNK
                       ) -> np.ndarray:
        """``per_text_rows`` of texts already through ``_clean_texts``."""
        keys = text_keys(texts)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rows = np.empty((len(unique_keys), PER_TEXT_WIDTH), dtype=np.float32)
        found = np.zeros(len(unique_keys), dtype=bool)
        if cache is not None:
            found, cached = cache.lookup(unique_keys)
            if found.any():
                rows[found] = cached
        missing = np.flatnonzero(~found)
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            part_texts = [texts[first[i]] for i in part]
            token_hash, signatures = text_fingerprints(part_texts)
            block = np.empty((len(part), PER_TEXT_WIDTH), dtype=np.float32)
            block[:, 0] = self.lexical.decision_function(part_texts)
            block[:, 1] = self.nb.decision_function(part_texts) if self.nb else 0.0
            block[:, _STYLE_COLUMNS] = per_text_style(part_texts)
            block[:, _HASH_COLUMNS] = token_hash.reshape(-1, 1).view(np.float32)
            block[:, _SIGNATURE_COLUMNS] = signatures.view(np.float32)
            rows[part] = block
            if cache is not None:
                cache.store(unique_keys[part], block)
        return rows[inverse.ravel()]

    def scores(self, texts: Sequence[str], ratings: Sequence[float] | None = None,
               embeddings: np.ndarray | None = None, cache: EmbeddingCache | None = None,
               embedding_rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Everything at once: {"lexical", "style", "encoder"} logits, "projection", "combined" logit,
        and "near_duplicates" (near-duplicate count of each text among ``texts``).
        ``embeddings``: the fine-tuned encoder's pooled output for ``texts``, if already computed
        (with ``embedding_rows``: for the distinct texts, and each text's row, as ``encode_unique``);
        ``cache``: where per-text rows are kept between runs (``per_text_rows``)."""
        if self.stack_coef is None:
            raise RuntimeError("CombinedTextModel is not fitted: call fit() or load()")
        texts = _clean_texts(texts)
        if not texts:
            empty = {c: np.zeros(0) for c in self.channels + ["combined", "near_duplicates"]}
            return {**empty, "projection": np.zeros((0, self.proj_dim), dtype=np.float32)}
        rows = self._per_text_rows(texts, cache)
        exact, near = duplicate_counts_from(np.ascontiguousarray(rows[:, _HASH_COLUMNS]).view(np.uint64).ravel(),
                                            np.ascontiguousarray(rows[:, _SIGNATURE_COLUMNS]).view(np.uint32))
        style_frame = assemble_style_features(rows[:, _STYLE_COLUMNS], ratings, exact, near)
        out = {"lexical": rows[:, 0].astype(np.float64), "style": self.style.decision_function(style_frame),
               "near_duplicates": near}
        if self.nb is not None:
            out["nb"] = rows[:, 1].astype(np.float64)
        if self.boosted is not None:
            out["boosted"] = self.boosted.decision_function(style_frame, self._lexical_logits(out), out["style"])
        if self.encoder is not None:
            out["encoder"], out["projection"] = self.encoder.features(texts, embeddings, embedding_rows)
        else:
            out["projection"] = np.zeros((len(texts), 0), dtype=np.float32)
        stacked = np.column_stack([out[c] for c in self.stack_inputs])
        out["combined"] = np.clip(stacked, -LOGIT_CLIP, LOGIT_CLIP) @ self.stack_coef + self.stack_intercept
        return out

    def predict_proba(self, texts: Sequence[str], ratings: Sequence[float] | None = None) -> np.ndarray:
        """P(fake) per text, float64 [n]."""
        return _sigmoid(self.scores(texts, ratings)["combined"])

    def transform(self, texts: Sequence[str], ratings: Sequence[float] | None = None,
                  embeddings: np.ndarray | None = None, cache: EmbeddingCache | None = None) -> np.ndarray:
        """Compact review embedding, float32 [n, proj_dim + len(channels) + 1], columns ``feature_names``."""
        return self.compact(self.scores(texts, ratings, embeddings, cache))

    def compact(self, out: dict[str, np.ndarray]) -> np.ndarray:
        """``transform``'s matrix from ``scores``' output."""
        logits = np.column_stack([out[c] for c in self.channels] + [out["combined"]]).reshape(-1, len(self.channels) + 1)
        return np.hstack([out["projection"], np.clip(logits, -LOGIT_CLIP, LOGIT_CLIP)]).astype(np.float32)

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Writes model.json, lexical.npz and (with the encoder) encoder/ (save_pretrained + head)."""
        if self.stack_coef is None:
            raise RuntimeError("nothing to save: the model is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        settings = asdict(self.settings)
        self.lexical.save(directory / "lexical.npz")
        if self.nb is not None:
            self.nb.save(directory / NB_FILE)
        np.save(directory / TRAINING_KEYS, self.training_keys)
        if self.boosted is not None:
            self.boosted.save(directory / BOOSTED_FILE)
        if self.encoder is not None:
            self.encoder.save(directory / "encoder")
        (directory / "model.json").write_text(json.dumps({
            "format_version": FORMAT_VERSION, "kind": "fraudlens-combined-text-model", "settings": settings,
            "channels": self.channels, "feature_names": self.feature_names,
            "lexical": self.lexical.config(), "nb": self.nb.config() if self.nb else None,
            "style": self.style.to_dict(),
            "stack": {"coef": self.stack_coef.tolist(), "intercept": self.stack_intercept}, "report": self.report,
        }, indent=1, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, quantize: bool = False, cache_dir: str | Path | None = None,
             batch_size: int = 64, threads: int | None = None) -> "CombinedTextModel":
        directory = Path(directory)
        meta = json.loads((directory / "model.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{directory}: text model format {meta.get('format_version')}, expected {FORMAT_VERSION}")
        raw = dict(meta["settings"])
        raw.setdefault("stacker", "linear")  # saved before the boosted stage existed
        raw.setdefault("nb_char_ngrams", None)  # saved before the NB-LR channel existed
        finetune = FineTuneSettings(**raw.pop("finetune"))
        for key in ("word_ngrams", "char_ngrams", "nb_char_ngrams", "lexical_C_grid", "style_C_grid", "style_features"):
            if raw.get(key) is not None:
                raw[key] = tuple(raw[key])
        model = cls(CombinedSettings(finetune=finetune, **raw), quantize=quantize, cache_dir=cache_dir,
                    batch_size=batch_size, threads=threads)
        model.lexical = LexicalModel.load(directory / "lexical.npz", meta["lexical"])
        model.style = StyleModel.from_dict(meta["style"])
        if model.uses_nb:
            model.nb = NaiveBayesLexicalModel.load(directory / NB_FILE, meta["nb"])
        if model.settings.use_encoder:
            model.encoder = model._load_encoder(directory / "encoder")
        if model.settings.stacker == "boosted":
            model.boosted = BoostedStage.load(directory / BOOSTED_FILE, model.settings.style_features,
                                              model.settings.inner_folds, model.settings.seed)
        model.stack_coef = np.asarray(meta["stack"]["coef"], dtype=np.float64)
        model.stack_intercept = float(meta["stack"]["intercept"])
        model.report = meta.get("report", {})
        if (directory / TRAINING_KEYS).is_file():
            model.training_keys = np.load(directory / TRAINING_KEYS)
        return model


def fit_stack(lexical: np.ndarray, style: np.ndarray, y: np.ndarray, hold: np.ndarray | None = None,
              encoder_hold: np.ndarray | None = None, C: float = 1.0) -> tuple[np.ndarray, float, dict]:
    """Two-stage logistic stacking on out-of-sample logits; returns (coef, intercept, details).

    Stage 1 weighs the lexical and style logits on every training text (out-of-fold). Stage 2,
    on the hold-out texts only (the only ones with an out-of-sample encoder logit), weighs the
    stage-1 logit against the encoder logit: 3 parameters on the hold-out instead of 4, so the
    small hold-out cannot unsettle the well-estimated lexical/style balance. The two stages
    multiply out into one linear stacker over [lexical, style(, encoder)] logits.
    """
    from sklearn.linear_model import LogisticRegression

    X1 = np.clip(np.column_stack([lexical, style]), -LOGIT_CLIP, LOGIT_CLIP)
    stage1 = LogisticRegression(C=C, max_iter=1000).fit(X1, y)
    w1, b1 = stage1.coef_[0].astype(np.float64), float(stage1.intercept_[0])
    details = {"stage1": {"lexical": round(float(w1[0]), 4), "style": round(float(w1[1]), 4),
                          "intercept": round(b1, 4)}}
    if encoder_hold is None:
        return w1, b1, details
    z1 = X1[hold] @ w1 + b1
    X2 = np.column_stack([z1, np.clip(encoder_hold, -LOGIT_CLIP, LOGIT_CLIP)])
    stage2 = LogisticRegression(C=C, max_iter=1000).fit(X2, y[hold])
    (a, c), d = stage2.coef_[0].astype(np.float64), float(stage2.intercept_[0])
    details["stage2"] = {"lexical_style": round(float(a), 4), "encoder": round(float(c), 4), "intercept": round(d, 4)}
    return np.array([a * w1[0], a * w1[1], c]), float(a * b1 + d), details


def fit_boosted_stack(boosted: np.ndarray, y: np.ndarray, hold: np.ndarray, encoder_hold: np.ndarray | None,
                      C: float = 1.0) -> tuple[np.ndarray, float, dict]:
    """The boosted stage's out-of-fold margin, alone or weighed against the encoder logit on the
    hold-out (the only texts with an out-of-sample encoder logit)."""
    from sklearn.linear_model import LogisticRegression

    if encoder_hold is None:
        return np.array([1.0]), 0.0, {"stage2": None}
    X2 = np.clip(np.column_stack([boosted[hold], encoder_hold]), -LOGIT_CLIP, LOGIT_CLIP)
    stage2 = LogisticRegression(C=C, max_iter=1000).fit(X2, y[hold])
    (a, c), d = stage2.coef_[0].astype(np.float64), float(stage2.intercept_[0])
    return np.array([a, c]), d, {"stage2": {"boosted": round(float(a), 4), "encoder": round(float(c), 4),
                                            "intercept": round(d, 4)}}


def _clean_texts(texts: Sequence[str]) -> list[str]:
    """Missing texts (None, NaN, pd.NA) become empty strings; everything else NFC-normalised str()."""
    import pandas as pd

    return ["" if t is None or (not isinstance(t, str) and pd.isna(t)) else normalise_text(t) for t in texts]
