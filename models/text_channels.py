"""The text model's linear channels, each blind to what the others see:

- **lexical**: word 1-2-gram and character 2-5-gram TF-IDF (hashed: the model is numbers only,
  no vocabulary to pickle) with logistic regression, regularisation chosen by inner CV;
- **NB-LR**: naive-Bayes-weighted binary character n-grams with logistic regression;
- **style**: ``models.stylometry`` features (length, truncation, punctuation and case rates,
  repetition inside a review and across the batch, rating-sentiment mismatch), standardised,
  with logistic regression.

Each is fitted with ``fit_oof``, which returns its out-of-fold logits for the stacker (inner
K-fold on the training texts only) and then refits on everything. Each saves to a directory of
its own (``save(dir)`` / ``load(dir)``): coefficients as numbers, nothing pickled.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

from fraudlens.models.numeric import logit_log_loss, row_slices
from fraudlens.models.stylometry import STYLE_FEATURES
from fraudlens.persistence import read_component, write_component

FORMAT_VERSION = 1  # of every channel below
WEIGHTS_FILE = "weights.npz"
STYLE_ROWS = 65_536


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
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


def logistic_model(C: float, sparse_input: bool):
    from sklearn.linear_model import LogisticRegression

    if sparse_input:  # many more n-gram columns than texts: the dual problem is ~20x faster here
        # A fixed random_state: otherwise liblinear seeds itself from numpy's global RNG.
        return _QuietLiblinear(LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000, random_state=0))
    return LogisticRegression(C=C, max_iter=2000)


def select_and_oof(X, y: np.ndarray, C_grid: Sequence[float], n_folds: int, seed: int) -> tuple[float, np.ndarray]:
    """Chooses C by inner-CV log-loss on (X, y) only; returns (C, out-of-fold logits at that C)."""
    sparse_input = sparse.issparse(X)
    folds = stratified_folds(y, n_folds, seed)
    best = (math.inf, None, None)
    for C in C_grid:
        oof = np.zeros(len(y))
        for train_idx, test_idx in folds:
            oof[test_idx] = logistic_model(C, sparse_input).fit(X[train_idx], y[train_idx]).decision_function(X[test_idx])
        loss = logit_log_loss(y, oof)
        if loss < best[0]:
            best = (loss, C, oof)
    return best[1], best[2]


def _save_linear(directory: Path, kind: str, config: dict, coef: np.ndarray, intercept: float, **arrays) -> Path:
    """A hashed linear model: its non-zero coefficients (most hashed columns are unused) as npz,
    its settings in the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    nonzero = np.flatnonzero(coef)
    np.savez_compressed(directory / WEIGHTS_FILE, coef_index=nonzero, coef_value=coef[nonzero], coef_size=len(coef),
                        intercept=intercept, **arrays)
    return write_component(directory, kind, FORMAT_VERSION, config)


def _load_linear(cls, directory: Path, kind: str):
    """(an unfitted ``cls`` from its saved settings with the chosen C, the npz arrays, coef, intercept)."""
    config = read_component(directory, kind, FORMAT_VERSION)
    C = config.pop("C", None)
    model = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    model.C = C
    with np.load(Path(directory) / WEIGHTS_FILE) as data:
        arrays = {k: data[k] for k in data.files}
    coef = np.zeros(int(arrays["coef_size"]), dtype=np.float64)
    coef[arrays["coef_index"]] = arrays["coef_value"]
    return model, arrays, coef, float(arrays["intercept"])


class LexicalModel:
    """Word n-gram (+ char n-gram) TF-IDF with sublinear tf, hashed into fixed-size spaces, + logistic regression.

    Hashing keeps the model a vector of numbers (idf, coefficients): nothing to pickle, and
    memory does not grow with the vocabulary. Each channel is L2-normalised separately.
    """

    COMPONENT = "text_lexical"

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
        fit = logistic_model(self.C, True).fit(X, y)
        self.coef = np.zeros(len(np.concatenate(self.idf)), dtype=np.float64)
        self.coef[present] = fit.coef_[0]
        self.intercept = float(fit.intercept_[0])
        return oof

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return self._tfidf(self._counts(texts)) @ self.coef + self.intercept

    def config(self) -> dict:
        return {"word_ngrams": list(self.word_ngrams), "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
                "word_bits": self.word_bits, "char_bits": self.char_bits, "C_grid": list(self.C_grid),
                "folds": self.folds, "seed": self.seed, "C": self.C}

    def save(self, directory: str | Path) -> Path:
        return _save_linear(directory, self.COMPONENT, self.config(), self.coef, self.intercept,
                            **{f"idf{i}": idf for i, idf in enumerate(self.idf)})

    @classmethod
    def load(cls, directory: str | Path) -> "LexicalModel":
        model, arrays, model.coef, model.intercept = _load_linear(cls, directory, cls.COMPONENT)
        model.idf = [arrays[f"idf{i}"] for i in range(2 if model.char_ngrams else 1)]
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

    COMPONENT = "text_nb_lexical"

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
        fit = logistic_model(C, True).fit(X[:, present] @ sparse.diags(ratio[present]), y)
        weight = np.zeros(X.shape[1])
        weight[present] = fit.coef_[0] * ratio[present]
        return weight, float(fit.intercept_[0])

    def fit_oof(self, texts: Sequence[str], y: np.ndarray) -> np.ndarray:
        """Chooses C by inner-CV log-loss (ratios refitted per inner fold); returns out-of-fold
        logits, then refits on everything."""
        X, y = self._binary(texts), np.asarray(y, dtype=int)
        oof = {C: np.zeros(len(y)) for C in self.C_grid}
        for train_idx, test_idx in stratified_folds(y, self.folds, self.seed):
            for C in self.C_grid:
                weight, intercept = self._fit(X[train_idx], y[train_idx], C)
                oof[C][test_idx] = X[test_idx] @ weight + intercept
        self.C = min(self.C_grid, key=lambda C: logit_log_loss(y, oof[C]))
        self.weight, self.intercept = self._fit(X, y, self.C)
        return oof[self.C]

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return self._binary(texts) @ self.weight + self.intercept

    def config(self) -> dict:
        return {"char_ngrams": list(self.char_ngrams), "char_bits": self.char_bits, "C_grid": list(self.C_grid),
                "folds": self.folds, "seed": self.seed, "C": self.C}

    def save(self, directory: str | Path) -> Path:
        return _save_linear(directory, self.COMPONENT, self.config(), self.weight, self.intercept)

    @classmethod
    def load(cls, directory: str | Path) -> "NaiveBayesLexicalModel":
        model, _, model.weight, model.intercept = _load_linear(cls, directory, cls.COMPONENT)
        return model


class StyleModel:
    """Stylometric features + logistic regression.

    Two representations compete by inner-CV log-loss on the training part, together with C:
    "raw" (standardised features: linear effects only) and "binned" (standardised features plus
    one-hot quantile bins of each feature: any monotone or non-monotone shape per feature, e.g.
    very short *and* very long reviews being suspicious). Bin edges and coefficients are numbers
    in the manifest; nothing is pickled.
    """

    COMPONENT = "text_style"
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
            loss = logit_log_loss(y, oof)
            if loss < best[0]:
                best = (loss, representation, C, oof)
        _, self.representation, self.C, oof = best
        fit = logistic_model(self.C, False).fit(self._matrix(frame), y)
        self.coef, self.intercept = fit.coef_[0].astype(np.float64), float(fit.intercept_[0])
        return oof

    def decision_function(self, frame) -> np.ndarray:
        # A slice of rows at a time: the binned matrix of a million reviews is ~2 GB of float64.
        parts = [self._matrix(frame.iloc[rows]) @ self.coef + self.intercept for rows in row_slices(len(frame), STYLE_ROWS)]
        return np.concatenate(parts) if parts else self._matrix(frame) @ self.coef + self.intercept

    def save(self, directory: str | Path) -> Path:
        return write_component(directory, self.COMPONENT, FORMAT_VERSION, {
            "features": list(self.features), "C_grid": list(self.C_grid), "folds": self.folds, "seed": self.seed,
            "bins": self.bins, "representations": list(self.representations),
            "representation": self.representation, "C": self.C, "mean": self.mean.tolist(),
            "std": self.std.tolist(), "edges": [e.tolist() for e in self.edges], "coef": self.coef.tolist(),
            "intercept": self.intercept})

    @classmethod
    def load(cls, directory: str | Path) -> "StyleModel":
        d = read_component(directory, cls.COMPONENT, FORMAT_VERSION)
        model = cls(d["features"], d["C_grid"], d["folds"], d["seed"], d["bins"], d["representations"])
        model.representation, model.C, model.intercept = d["representation"], d["C"], float(d["intercept"])
        model.mean, model.std, model.coef = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "coef"))
        model.edges = [np.asarray(e, dtype=np.float64) for e in d["edges"]]
        return model
