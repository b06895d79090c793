"""Evaluation figures of a binary classifier: labels and {name: P(positive)} -> matplotlib figures.

Model-agnostic, so every trainer logs the same figures: the text trainer passes its channels,
the graph trainer its scorers.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def evaluation_figures(y: np.ndarray, probabilities: Mapping[str, np.ndarray], primary: str, *,
                       threshold: float = 0.5, class_names: tuple[str, str] = ("genuine", "fake"),
                       subject: str = "held-out rows") -> dict[str, object]:
    """{"confusion_matrix.png": of ``probabilities[primary]`` at ``threshold``, "roc_curve.png"
    and "pr_curve.png": one curve per name}. The caller closes the figures (``plt.close``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    figures = {}
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(y, (probabilities[primary] >= threshold).astype(int),
                                            display_labels=list(class_names), ax=ax, colorbar=False)
    ax.set_title(f"{primary} (threshold {threshold:g})")
    figures["confusion_matrix.png"] = fig
    for name, display, title in (("roc_curve.png", RocCurveDisplay, "ROC"),
                                 ("pr_curve.png", PrecisionRecallDisplay, "precision-recall")):
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for label, probability in probabilities.items():
            display.from_predictions(y, probability, name=label, ax=ax)
        ax.set_title(f"{title} on the {subject}")
        figures[name] = fig
    return figures
