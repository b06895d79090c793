"""Typed configuration of the review text model (``fraudlens train-text``): configs/text.yaml
validated by this pydantic schema. A leaf like ``fraudlens.config``: it imports no model code."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fraudlens.config import PRECISION_HELP, EncoderPrecision, MLflowConfig, StrictModel, read_yaml, validate_config


class TextDataConfig(StrictModel):
    text_column: str = "text"
    label_column: str = "label"
    rating_column: str | None = Field("rating", description="Star rating column; null or absent = no ratings.")
    positive_labels: list[str] = Field(["1", "true", "cg", "fake", "fraud"],
                                       description="Label values meaning fake/AI-written (compared as lower-case text).")
    negative_labels: list[str] = Field(["0", "false", "or", "genuine", "real"],
                                       description="Label values meaning genuine; any other value is an error.")
    test_fraction: float = Field(0.2, ge=0, lt=1, description="Stratified held-out part for the logged metrics; 0 = none.")
    refit_all: bool = Field(True, description="After measuring on the held-out part, fit again on every labelled "
                            "row with the same settings and register that model (it saw every label); the run logs "
                            "both. false: register the model that was measured.")


class TextEncoderConfig(StrictModel):
    model_dir: str | None = Field(None, description="Hugging Face model directory to fine-tune; null = MiniLM-L6.")
    max_length: int = Field(128, ge=8, le=512, description="Tokens per review, in fine-tuning and at inference.")
    batch_size: int = Field(256, ge=1, description="Most texts per inference batch (and at most 8192 padded tokens).")
    cache_dir: str | None = Field(None, description="Embedding cache of the fine-tuned encoder while this run trains "
                                  "and evaluates; null = none. Not saved with the model: it changes speed, not "
                                  "scores, so a scorer passes its own (CombinedTextModel.load(dir, cache_dir=...)).")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (fine-tuning and inference); null = default.")
    precision: EncoderPrecision = Field("auto", description=PRECISION_HELP + " Saved with the model as it resolved "
                                        "when training: the stacker is fitted on that precision's encoder logits "
                                        "and the loaded model scores with it too.")

    @model_validator(mode="before")
    @classmethod
    def _quantize_was_replaced(cls, raw):
        if isinstance(raw, dict) and "quantize" in raw:
            raise ValueError("encoder.quantize was replaced by encoder.precision - fix: write precision: int8 for "
                             "quantize: true, or precision: auto (bf16 where the CPU has it, else fp32)")
        return raw


class FineTuneConfig(StrictModel):
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
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 (fp32 master "
                                                       "weights) on a GPU or a CPU with native bf16, else fp32.")


class StackingConfig(StrictModel):
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


class TextMLflowConfig(MLflowConfig):
    """The graph model's MLflow settings (challenger first) under the text model's names."""

    experiment: str = "fraudlens-text"
    registered_model: str = "fraudlens-text"


class TextModelConfig(StrictModel):
    """The model it describes: ``CombinedTextModel.from_config`` (models/text_model.py)."""

    seed: int = 0
    data: TextDataConfig = TextDataConfig()
    encoder: TextEncoderConfig = TextEncoderConfig()
    finetune: FineTuneConfig = FineTuneConfig()
    stacking: StackingConfig = StackingConfig()
    mlflow: TextMLflowConfig = TextMLflowConfig()


def load_text_config(path: Path | str | None = None, overrides: dict | None = None) -> TextModelConfig:
    """Reads and validates a text-model YAML config (None: all defaults); ``overrides``: {"section.key": value}."""
    return validate_config(TextModelConfig, read_yaml(path, "configs/text.yaml", overrides), path or "text config",
                           "fraudlens/text_config.py (TextModelConfig)")
