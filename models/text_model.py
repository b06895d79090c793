"""The review text model: a fine-tuned BERT encoder stacked with lexical and stylometric channels.

Three kinds of base model, each blind to what the others see: the fine-tuned encoder
(``models.text_finetune``), the lexical and stylometric channels (``models.text_channels``),
combined by a stacker trained on their out-of-sample logits (``models.text_stacker``).

``CombinedTextModel.transform`` gives a compact review embedding (the encoder's projection plus
the base and stacked logits) for the graph model's review nodes.

Saved as a directory (``save(dir)`` / ``CombinedTextModel.load(dir)``): a subdirectory per
component, each with its own ``component.json``, and this model's manifest, written last, with
the settings, including the encoder's ``precision`` as it resolved on the training machine (what
``auto`` became there): the stacker weighs the encoder logits of one precision, so a loaded
model scores with the precision it was fitted with (bf16 on a CPU without bf16: fp32, see
``resolve_precision``; int8 stays int8).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fraudlens.errors import ConfigError
from fraudlens.models.numeric import sigmoid
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
from fraudlens.models.text_channels import LexicalModel, NaiveBayesLexicalModel, StyleModel
from fraudlens.models.text_encoder import EmbeddingCache, clean_texts, default_device, resolve_precision, text_keys
from fraudlens.models.text_finetune import FineTunedEncoder, FineTuneSettings, fine_tune, resolve_training_precision
from fraudlens.models.text_stacker import LOGIT_CLIP, BoostedStage, fit_boosted_stack, fit_stack
from fraudlens.persistence import MANIFEST, read_component, write_component
from fraudlens.text_config import TextModelConfig

COMPONENT, FORMAT_VERSION = "text_model", 3
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


@dataclass
class CombinedSettings:
    model_dir: str | None = None           # Hugging Face model directory to fine-tune (None: MiniLM-L6)
    finetune: FineTuneSettings = field(default_factory=FineTuneSettings)
    use_encoder: bool = True               # False: lexical + style only (no BERT; for quick baselines)
    precision: str = "auto"                # encoder's, in stacking and in scoring alike; fit() resolves it
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

    @classmethod
    def from_config(cls, config: TextModelConfig) -> "CombinedSettings":
        unknown = set(config.stacking.exclude_style_features) - set(STYLE_FEATURES)
        if unknown:
            raise ConfigError(f"stacking.exclude_style_features: unknown {sorted(unknown)} - fix: use names from "
                              f"models.stylometry.STYLE_FEATURES")
        ft, stacking = config.finetune, config.stacking
        return cls(
            model_dir=config.encoder.model_dir,
            finetune=FineTuneSettings(
                max_length=config.encoder.max_length, epochs=ft.epochs, batch_size=ft.batch_size,
                learning_rate=ft.learning_rate, head_learning_rate=ft.head_learning_rate,
                weight_decay=ft.weight_decay, warmup_fraction=ft.warmup_fraction, patience=ft.patience,
                train_layers=ft.train_layers, freeze_embeddings=ft.freeze_embeddings, proj_dim=ft.proj_dim,
                dropout=ft.dropout, seed=config.seed, threads=config.encoder.threads, device=ft.device,
                precision=ft.precision),
            use_encoder=stacking.use_encoder, precision=config.encoder.precision,
            stack_fraction=stacking.stack_fraction, val_fraction=stacking.val_fraction,
            inner_folds=stacking.inner_folds, word_ngrams=tuple(stacking.word_ngrams),
            char_ngrams=tuple(stacking.char_ngrams) if stacking.char_ngrams else None,
            nb_char_ngrams=tuple(stacking.nb_char_ngrams) if stacking.nb_char_ngrams else None,
            lexical_C_grid=tuple(stacking.lexical_C_grid), style_C_grid=tuple(stacking.style_C_grid),
            style_features=tuple(f for f in STYLE_FEATURES if f not in stacking.exclude_style_features),
            stack_C=stacking.stack_C, stacker=stacking.stacker, seed=config.seed)

    @classmethod
    def from_dict(cls, saved: dict) -> "CombinedSettings":
        """``asdict`` output read back from JSON (lists back to tuples)."""
        raw = dict(saved)
        finetune = FineTuneSettings(**raw.pop("finetune"))
        for key in ("word_ngrams", "char_ngrams", "nb_char_ngrams", "lexical_C_grid", "style_C_grid", "style_features"):
            if raw.get(key) is not None:
                raw[key] = tuple(raw[key])
        return cls(finetune=finetune, **raw)


class CombinedTextModel:
    """Fine-tuned encoder + lexical + stylometric models, stacked.

    ``fit(texts, ratings, labels)``; ``predict_proba(texts, ratings)`` -> P(fake) per text, shape
    [n]; ``transform(texts, ratings)`` -> float32 [n, proj_dim + 4] (``feature_names``). Ratings
    may be None. The duplicate-rate style features are computed over the texts passed in one call:
    score a marketplace (or a seller's file) in one call, not review by review.

    Runtime arguments, not part of the model (they change speed, never scores): ``cache_dir``
    (embedding cache), ``batch_size``, ``threads``. ``settings.precision`` is part of the model.
    """

    def __init__(self, settings: CombinedSettings | None = None, *, cache_dir: str | Path | None = None,
                 batch_size: int = 256, threads: int | None = None):
        self.settings = settings or CombinedSettings()
        self.cache_dir, self.batch_size, self.threads = cache_dir, batch_size, threads
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

    @classmethod
    def from_config(cls, config: TextModelConfig) -> "CombinedTextModel":
        """An unfitted model with ``config``'s settings and its runtime arguments."""
        return cls(CombinedSettings.from_config(config), cache_dir=config.encoder.cache_dir,
                   batch_size=config.encoder.batch_size, threads=config.encoder.threads)

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

        # Resolved once, here: the saved settings say what ran, not "auto".
        device = self.settings.finetune.device or default_device()
        self.settings = s = replace(
            self.settings, precision=resolve_precision(self.settings.precision, default_device()),
            finetune=replace(self.settings.finetune,
                             precision=resolve_training_precision(self.settings.finetune.precision, device)))
        texts = clean_texts(texts)
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
            reused = (encoder_dir / MANIFEST).is_file()  # written last by fine_tune: the directory is complete
            if reused:
                note("fine-tune", {"reused": str(encoder_dir)})
            else:
                fine_tune([texts[i] for i in tune], y[tune], [texts[i] for i in val], y[val], out_dir=encoder_dir,
                          model_dir=s.model_dir, settings=s.finetune, progress=lambda epoch, m: note("fine-tune", m))
            # Loaded at the precision it will serve with: the stacker learns to weigh these logits.
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
        return FineTunedEncoder.load(directory, precision=self.settings.precision, cache_dir=self.cache_dir,
                                     batch_size=self.batch_size, threads=self.threads)

    # -- inference ---------------------------------------------------------------------------
    def seen_in_training(self, texts: Sequence[str]) -> np.ndarray:
        """Bool per text: was this exact text (after cleaning) in the training set."""
        return np.isin(text_keys(clean_texts(texts)), self.training_keys)

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
        return self._per_text_rows(clean_texts(texts), cache, chunk)

    def _per_text_rows(self, texts: list[str], cache: EmbeddingCache | None, chunk: int = PER_TEXT_CHUNK
                       ) -> np.ndarray:
        """``per_text_rows`` of texts already through ``clean_texts``."""
        keys = text_keys(texts)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rows = np.empty((len(unique_keys), PER_TEXT_WIDTH), dtype=np.float32)
        found = np.zeros(len(unique_keys), dtype=bool)
        if cache is not None:
            found = cache.fill(unique_keys, rows)
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
        at ``settings.precision`` (with ``embedding_rows``: for the distinct texts, and
        each text's row, as ``encode_unique``); ``cache``: where per-text rows are kept between
        runs (``per_text_rows``)."""
        if self.stack_coef is None:
            raise RuntimeError("CombinedTextModel is not fitted: call fit() or load()")
        texts = clean_texts(texts)
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
        return sigmoid(self.scores(texts, ratings)["combined"])

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
        """lexical/, style/, nb_lexical/, boosted_stage/, encoder/ (each a component), the
        training-text hashes, then this model's manifest."""
        if self.stack_coef is None:
            raise RuntimeError("nothing to save: the model is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.lexical.save(directory / "lexical")
        self.style.save(directory / "style")
        if self.nb is not None:
            self.nb.save(directory / "nb_lexical")
        if self.boosted is not None:
            self.boosted.save(directory / "boosted_stage")
        if self.encoder is not None:
            self.encoder.save(directory / "encoder")
        np.save(directory / TRAINING_KEYS, self.training_keys)
        return write_component(directory, COMPONENT, FORMAT_VERSION, {
            "settings": asdict(self.settings), "channels": self.channels, "feature_names": self.feature_names,
            "stack": {"coef": self.stack_coef.tolist(), "intercept": self.stack_intercept}, "report": self.report})

    @classmethod
    def load(cls, directory: str | Path, *, cache_dir: str | Path | None = None, batch_size: int = 256,
             threads: int | None = None) -> "CombinedTextModel":
        """The saved model, scoring as it was fitted (``precision`` included); the keyword
        arguments are runtime ones (speed only)."""
        directory = Path(directory)
        meta = read_component(directory, COMPONENT, FORMAT_VERSION)
        model = cls(CombinedSettings.from_dict(meta["settings"]), cache_dir=cache_dir, batch_size=batch_size,
                    threads=threads)
        model.lexical = LexicalModel.load(directory / "lexical")
        model.style = StyleModel.load(directory / "style")
        if model.uses_nb:
            model.nb = NaiveBayesLexicalModel.load(directory / "nb_lexical")
        if model.settings.use_encoder:
            model.encoder = model._load_encoder(directory / "encoder")
        if model.settings.stacker == "boosted":
            model.boosted = BoostedStage.load(directory / "boosted_stage")
        model.stack_coef = np.asarray(meta["stack"]["coef"], dtype=np.float64)
        model.stack_intercept = float(meta["stack"]["intercept"])
        model.report = meta["report"]
        model.training_keys = np.load(directory / TRAINING_KEYS)
        return model


def load_text_model(uri: str) -> CombinedTextModel:
    """A trained text model from a directory it was saved to, or from an MLflow model URI."""
    path = Path(uri)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise ConfigError(f"text_model.uri {uri}: a directory without {MANIFEST} - fix: point it at a directory "
                              "written by CombinedTextModel.save or at an MLflow URI like models:/fraudlens-text@champion")
        return CombinedTextModel.load(path)
    import mlflow

    from fraudlens.tracking import load_python_model

    try:
        wrapper, _ = load_python_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"text_model.uri {uri}: cannot be loaded ({exc.message.splitlines()[0]}) - fix: train one "
                          "with `fraudlens train-text` or set text_model.uri: null") from None
    return wrapper.model
