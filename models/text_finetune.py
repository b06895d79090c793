"""Fine-tuning the BERT encoder as a binary review classifier, and serving it.

The encoder (default MiniLM-L6, any Hugging Face model directory by config) is fine-tuned end to
end with a small projection head on its mean-pooled, L2-normalised sentence embedding - exactly
what ``TextEncoder`` computes, so at inference the fine-tuned backbone runs through
``TextEncoder`` (cache, dedupe, length-sorted batches, its precision) and only the head is
run here.

Training precision (``FineTuneSettings.precision``): ``auto`` trains in bf16 where the hardware
has native bf16 (``resolve_precision``), fp32 elsewhere. bf16 runs forward and backward through
a bf16 copy of the backbone, weights and activations alike; the fp32 master weights take its
gradients, the optimiser steps them, and the copy is refreshed from them. The optimiser state,
the head, the loss, early stopping and the saved weights stay fp32. ``torch.autocast`` was
measured slower than fp32 here: its per-op casts of activations took more time than its bf16
matrix products saved.

A fine-tuned encoder directory holds the transformer's ``save_pretrained`` output (so
``TextEncoder(model_dir=directory)`` loads it as a plain encoder), the head as safetensors, and
the ``component.json`` manifest, written last: its presence means the directory is complete.
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from fraudlens.errors import ConfigError
from fraudlens.models.numeric import logit_log_loss, sigmoid
from fraudlens.models.text_encoder import (
    TextEncoder,
    clean_texts,
    default_device,
    default_model_dir,
    mean_pool,
    pad_batch,
    resolve_precision,
)
from fraudlens.persistence import MANIFEST, read_component, write_component

log = logging.getLogger(__name__)

COMPONENT, FORMAT_VERSION = "fine_tuned_encoder", 3
TRAINING_PRECISIONS = ("auto", "fp32", "bf16")
HEAD_FILE = "classifier_head.safetensors"


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
    precision: str = "auto"        # TRAINING_PRECISIONS: auto = bf16 (fp32 master weights) where native, else fp32


def resolve_training_precision(precision: str, device: str, bf16_capable: bool | None = None) -> str:
    """fp32 or bf16. fp16 would need loss scaling, and bf16 is as fast wherever fp16 is."""
    if precision not in TRAINING_PRECISIONS:
        raise ConfigError(f"fine-tuning precision {precision!r}: unknown - fix: use one of "
                          f"{', '.join(TRAINING_PRECISIONS)} (int8 is an inference precision: encoder.precision)")
    if device == "cuda" and precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return resolve_precision(precision, device, bf16_capable)


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
    out = {"loss": logit_log_loss(y, logits), "accuracy": float(np.mean((logits > 0) == (y > 0.5)))}
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
    Runs on CUDA when available (``settings.device`` overrides), at ``settings.precision``.
    """
    from transformers import AutoModel, AutoTokenizer

    settings = settings or FineTuneSettings()
    model_dir = Path(model_dir) if model_dir else default_model_dir()
    out_dir = Path(out_dir)
    device = torch.device(settings.device or default_device())
    precision = resolve_training_precision(settings.precision, device.type)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    texts = clean_texts(texts)
    y = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    has_val = val_texts is not None and len(val_texts) > 0
    val_texts = clean_texts(val_texts) if val_texts is not None else []
    val_y = np.asarray(val_labels if val_labels is not None else [], dtype=np.float32)

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    backbone = AutoModel.from_pretrained(model_dir, local_files_only=True)
    head = ProjectionHead(int(backbone.config.hidden_size), settings.proj_dim, settings.dropout)
    _freeze(backbone, settings)
    backbone.to(device)
    head.to(device)
    compute, masters = backbone, []
    if precision == "bf16":
        compute = copy.deepcopy(backbone).to(torch.bfloat16)
        masters = [(m, c) for m, c in zip(backbone.parameters(), compute.parameters()) if m.requires_grad]
    pad_id = tokenizer.pad_token_id or 0
    token_types = "token_type_ids" in tokenizer.model_input_names

    def tokenize(batch_texts: list[str]) -> list[list[int]]:
        if not batch_texts:
            return []
        return tokenizer(batch_texts, truncation=True, max_length=settings.max_length)["input_ids"]

    train_ids, val_ids = tokenize(texts), tokenize(val_texts)
    lengths = [len(ids) for ids in train_ids]

    def forward(batch_ids: list[list[int]]) -> torch.Tensor:
        batch = {k: v.to(device) for k, v in pad_batch(batch_ids, pad_id, token_types).items()}
        hidden = compute(**batch).last_hidden_state
        # Pooling and head in fp32, as TextEncoder serves them.
        return head(mean_pool(hidden.float(), batch["attention_mask"]))[0]

    def evaluate() -> dict[str, float]:
        compute.eval()
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
        compute.train()
        head.train()
        started, running, seen = time.perf_counter(), 0.0, 0
        for batch_idx in length_bucketed_batches(lengths, settings.batch_size, rng):
            logits = forward([train_ids[i] for i in batch_idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[batch_idx].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            for master, half in masters:
                master.grad, half.grad = (None if half.grad is None else half.grad.float()), None
            torch.nn.utils.clip_grad_norm_([p for g in optimiser.param_groups for p in g["params"]], 1.0)
            optimiser.step()
            scheduler.step()
            with torch.no_grad():
                for master, half in masters:
                    half.copy_(master)
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
    meta = {"max_length": settings.max_length, "proj_dim": settings.proj_dim, "dropout": settings.dropout,
            "base_model": str(model_dir), "settings": asdict(settings), "best_epoch": best_epoch,
            "history": history, "device": str(device), "precision": precision, "train_texts": len(texts),
            "val_texts": len(val_texts)}
    encoder = FineTunedEncoder(out_dir, head.to("cpu").eval(), meta)
    encoder.save(out_dir)
    return encoder


class FineTunedEncoder:
    """A fine-tuned encoder (``fine_tune`` output) used for inference through TextEncoder.

    ``precision``: the transformer's at inference (``TextEncoder``); the combined text model
    passes the precision its stacker was fitted on. ``cache_dir``, ``batch_size`` and ``threads``
    change speed only.
    """

    def __init__(self, directory: str | Path, head: ProjectionHead, meta: dict, *, precision: str = "auto",
                 cache_dir: str | Path | None = None, batch_size: int = 256, threads: int | None = None):
        self.directory = Path(directory)
        self.head = head
        self.meta = meta
        self.max_length = int(meta["max_length"])
        self.precision = precision
        self._encoder_settings = {"batch_size": batch_size, "cache_dir": cache_dir, "threads": threads,
                                  "precision": precision}
        self._encoder: TextEncoder | None = None

    @classmethod
    def load(cls, directory: str | Path, *, precision: str = "auto", cache_dir: str | Path | None = None,
             batch_size: int = 256, threads: int | None = None) -> "FineTunedEncoder":
        from safetensors.torch import load_file

        meta = read_component(directory, COMPONENT, FORMAT_VERSION)
        state = load_file(str(Path(directory) / HEAD_FILE))
        head = ProjectionHead(int(state["proj.weight"].shape[1]), int(meta["proj_dim"]), float(meta["dropout"]))
        head.load_state_dict(state)
        return cls(directory, head.eval(), meta, precision=precision, cache_dir=cache_dir, batch_size=batch_size,
                   threads=threads)

    def save(self, directory: str | Path) -> Path:
        """The transformer's ``save_pretrained`` files (copied from where they are), the head, and
        the manifest last."""
        from safetensors.torch import save_file

        directory = Path(directory)
        if directory.resolve() != self.directory.resolve():
            shutil.copytree(self.directory, directory, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(MANIFEST, HEAD_FILE))
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                  str(directory / HEAD_FILE))
        return write_component(directory, COMPONENT, FORMAT_VERSION, self.meta)

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
        return sigmoid(self.features(texts)[0])
