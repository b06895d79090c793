"""The text model's stacker: how the channels' logits become one.

Trained only on out-of-sample predictions: out-of-fold (inner K-fold) for the lexical, NB-LR and
style channels, and for the encoder its predictions on a stacking hold-out that fine-tuning
never saw (fine-tuning K times is too slow on a CPU). Two stackers:

- **boosted** (``BoostedStage`` + ``fit_boosted_stack``): gradient-boosted trees over the
  stylometric features and the lexical and style logits, then its margin weighed against the
  encoder logit on the hold-out;
- **linear** (``fit_stack``): lexical + style on every training text, then that combination
  against the encoder on the hold-out.

Both end in one linear map over their inputs, clipped to ``LOGIT_CLIP``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from fraudlens.models.text_channels import stratified_folds
from fraudlens.persistence import read_component, write_component

LOGIT_CLIP = 15.0
BOOSTER_FILE = "booster.json"


class BoostedStage:
    """Gradient-boosted trees over the stylometric features and the lexical and style logits.

    The linear stack treats each stylometric feature as one straight line; the interactions
    that give machine text away (truncated *and* long *and* repetitive) need trees. On Salminen
    it beats the linear stack of the same logits (docs/benchmarks.md: ``combined`` against
    ``combined_linear_stack``; ``combined_without_encoder`` is this stage alone). Trained on
    out-of-fold logits only, with its own out-of-fold margins for the encoder stage. Saved as
    xgboost JSON: nothing is pickled.
    """

    COMPONENT, FORMAT_VERSION = "text_boosted_stage", 1
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
        for train_idx, test_idx in stratified_folds(y, self.folds, self.seed):
            oof[test_idx] = self._margin(self._train(X[train_idx], y[train_idx]), X[test_idx])
        self.booster = self._train(X, y)
        return oof

    def decision_function(self, frame, lexical: np.ndarray, style: np.ndarray) -> np.ndarray:
        return self._margin(self.booster, self._matrix(frame, lexical, style))

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        return write_component(directory, self.COMPONENT, self.FORMAT_VERSION,
                               {"features": list(self.features), "folds": self.folds, "seed": self.seed})

    @classmethod
    def load(cls, directory: str | Path) -> "BoostedStage":
        import xgboost as xgb

        meta = read_component(directory, cls.COMPONENT, cls.FORMAT_VERSION)
        stage = cls(meta["features"], meta["folds"], meta["seed"])
        stage.booster = xgb.Booster(params={"nthread": 1}, model_file=str(Path(directory) / BOOSTER_FILE))
        return stage


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
