"""Champion / challenger: compare two registered versions on the same labelled rows and move
the ``champion`` alias only when the challenger is measurably better.

Both versions score the same evaluation tables through the same scoring function as the
nightly run (``FraudLensModel.score``). Each metric's difference (challenger - champion) gets a
**paired bootstrap** interval: the evaluation rows are resampled with replacement, and both
models are measured on the same resample, so the interval reflects the models' difference on
this population rather than the noise of either alone.

Default rule (``auprc-better``), per scored entity type with labels of both classes: AUPRC
better with the interval above 0 for at least one type, for no type AUPRC worse beyond noise
(interval entirely below 0), and recall at the review budget nowhere worse beyond noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score

from fraudlens.config import ScoringConfig
from fraudlens.errors import FraudLensError
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.labels import labels_known_after, resolve_labels
from fraudlens.metrics import MetricComparison, paired_bootstrap
from fraudlens.models.fraud_model import FraudLensModel
from fraudlens.output_contract import ENTITY_ID, ENTITY_TABLES
from fraudlens.tracking import CHALLENGER, CHAMPION, TRAINING_CUTOFF_TAG, alias_version, load_python_model, set_alias, version_run_tags

RULES = {
    "auprc-better": "AUPRC better (interval above 0) on some entity type, worse beyond noise on none; recall "
                    "at budget not worse beyond noise",
    "auroc-better": "AUROC better (interval above 0) on some entity type, worse beyond noise on none; recall "
                    "at budget not worse beyond noise",
    "no-worse": "no metric worse beyond noise on any entity type",
}
MIN_POSITIVES = 5  # fewer labelled frauds than this cannot tell two models apart


@dataclass
class Comparison:
    """Per entity type: rows evaluated, positives, and each metric's comparison."""

    rows: dict[str, int] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, dict[str, MetricComparison]] = field(default_factory=dict)

    def flat(self) -> dict[str, float]:
        """MLflow metrics: {"<entity>_<metric>_<champion|challenger|diff|diff_low|diff_high>": value}."""
        out = {}
        for entity, metrics in self.metrics.items():
            for name, m in metrics.items():
                out.update({f"{entity}_{name}_champion": m.champion, f"{entity}_{name}_challenger": m.challenger,
                            f"{entity}_{name}_diff": m.difference, f"{entity}_{name}_diff_low": m.low,
                            f"{entity}_{name}_diff_high": m.high})
        return out


def labelled_scores(scores: dict[str, pd.DataFrame], labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{entity: DataFrame(id, score, is_fraud)} for the scored rows that carry a label."""
    out = {}
    for entity, frame in scores.items():
        known = labels[labels["entity_type"] == entity].drop_duplicates("entity_id", keep="last")
        merged = frame.merge(known[["entity_id", "is_fraud"]].rename(columns={"entity_id": ENTITY_ID[entity]}),
                             on=ENTITY_ID[entity])
        out[entity] = merged.assign(is_fraud=merged["is_fraud"].astype(int))
    return out


def compare(champion_scores: dict[str, pd.DataFrame], challenger_scores: dict[str, pd.DataFrame],
            labels: pd.DataFrame, scoring: ScoringConfig, resamples: int = 1000, seed: int = 0) -> Comparison:
    """Paired comparison on every entity type with at least MIN_POSITIVES frauds and legitimate rows."""
    comparison = Comparison()
    champion, challenger = labelled_scores(champion_scores, labels), labelled_scores(challenger_scores, labels)
    for entity in ENTITY_TABLES:
        if entity not in champion or entity not in challenger:
            continue
        key = ENTITY_ID[entity]
        paired = champion[entity].merge(challenger[entity][[key, "score"]], on=key, suffixes=("_a", "_b"))
        y = paired["is_fraud"].to_numpy()
        comparison.rows[entity], comparison.positives[entity] = len(y), int(y.sum())
        if y.sum() < MIN_POSITIVES or (len(y) - y.sum()) < MIN_POSITIVES:
            continue
        comparison.metrics[entity] = paired_bootstrap(y, paired["score_a"].to_numpy(), paired["score_b"].to_numpy(),
                                                      scoring, resamples, seed)
    if not comparison.metrics:
        raise FraudLensError(
            f"too few labelled rows to compare the models (labelled rows {comparison.rows}, frauds "
            f"{comparison.positives}; each entity type needs {MIN_POSITIVES} frauds and {MIN_POSITIVES} legitimate) "
            "- fix: pass --eval a directory with more labels, or wait for more labels after the challenger's cutoff")
    return comparison


def rule_verdict(comparison: Comparison, rule: str) -> tuple[bool, list[str]]:
    """(holds, one line per reason) for ``rule`` (RULES)."""
    if rule not in RULES:
        raise FraudLensError(f"unknown promotion rule {rule!r} - fix: use one of {', '.join(RULES)}")
    lines, better, worse = [], False, False
    main = {"auprc-better": "auprc", "auroc-better": "auroc"}.get(rule)
    for entity, metrics in comparison.metrics.items():
        for name, m in metrics.items():
            verdict = "better" if m.low > 0 else "worse" if m.high < 0 else "no clear difference"
            lines.append(f"{entity} {name}: champion {m.champion:.4f}, challenger {m.challenger:.4f}, difference "
                         f"{m.difference:+.4f} [{m.low:+.4f}, {m.high:+.4f}]: {verdict}")
            if m.high < 0 and (name == main or name == "recall_at_budget" or rule == "no-worse"):
                worse = True
            if name == main and m.low > 0:
                better = True
    holds = not worse and (better or rule == "no-worse")
    return holds, lines


@dataclass
class PromotionResult:
    model: str
    champion: str | None
    challenger: str
    promoted: bool
    forced: bool
    lines: list[str]
    comparison: Comparison | None
    run_id: str | None
    evaluation: str


def version_scores(version_uri: str, tables: dict[str, pd.DataFrame],
                   cache_dir: str | None = None) -> dict[str, pd.DataFrame]:
    """{entity: DataFrame(<entity>_id, score)} of a registered graph model (the nightly scoring
    function) or text model (its P(fake) of each review's text and rating)."""
    model = load_python_model(version_uri)[0].model
    if isinstance(model, FraudLensModel):
        return model.score(tables, model.encoder(cache_dir))
    reviews = tables.get("reviews")
    if reviews is None:
        raise FraudLensError(f"{version_uri} is a text model: the evaluation set needs a reviews table")
    probability = model.predict_proba(reviews["text"].fillna("").tolist(), reviews["rating"].tolist())
    return {"review": pd.DataFrame({"review_id": reviews["review_id"], "score": probability})}


def _pr_figure(comparison_scores: dict[str, tuple], versions: tuple[str, str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    figure, axes = plt.subplots(1, len(comparison_scores), figsize=(5 * len(comparison_scores), 4), squeeze=False)
    for ax, (entity, (y, champion, challenger)) in zip(axes[0], comparison_scores.items()):
        for label, scores in ((f"champion v{versions[0]}", champion), (f"challenger v{versions[1]}", challenger)):
            precision, recall, _ = precision_recall_curve(y, scores)
            ax.plot(recall, precision, label=f"{label} (AP {average_precision_score(y, scores):.3f})")
        ax.set(title=f"{entity}s: precision-recall", xlabel="recall", ylabel="precision")
        ax.legend(loc="lower left")
    figure.tight_layout()
    return figure


def promote(model: str, tables: dict[str, pd.DataFrame], labels: pd.DataFrame, evaluation: str,
            scoring: ScoringConfig, rule: str = "auprc-better", force: bool = False, reason: str | None = None,
            resamples: int = 1000, seed: int = 0, cache_dir: str | None = None) -> PromotionResult:
    """Scores ``@champion`` and ``@challenger`` of ``model`` on ``tables``, compares them on
    ``labels`` (texts embedded once through the ``cache_dir`` embedding cache), logs the comparison to MLflow (experiment ``<model>-promotion``) and moves
    ``champion`` to the challenger when ``rule`` holds or ``force`` (with ``reason``)."""
    import mlflow

    if force and not reason:
        raise FraudLensError("--force needs --reason \"...\": the override is recorded with the version")
    champion, challenger = alias_version(model, CHAMPION), alias_version(model, CHALLENGER)
    if challenger is None:
        raise FraudLensError(f"{model} has no @{CHALLENGER} version - fix: train one (`fraudlens train`)")
    if champion == challenger:
        return PromotionResult(model, champion, challenger, False, False,
                               [f"v{challenger} is already @{CHAMPION}: nothing to compare"], None, None, evaluation)
    if champion is None:
        comparison, (holds, lines) = None, (True, [f"{model} has no @{CHAMPION}: v{challenger} becomes it"])
        figure_data = {}
    else:
        champion_scores = version_scores(f"models:/{model}/{champion}", tables, cache_dir)
        challenger_scores = version_scores(f"models:/{model}/{challenger}", tables, cache_dir)
        comparison = compare(champion_scores, challenger_scores, labels, scoring, resamples, seed)
        holds, lines = rule_verdict(comparison, rule)
        a, b = labelled_scores(champion_scores, labels), labelled_scores(challenger_scores, labels)
        figure_data = {e: (a[e]["is_fraud"].to_numpy(), a[e]["score"].to_numpy(),
                           b[e].set_index(ENTITY_ID[e]).loc[a[e][ENTITY_ID[e]], "score"].to_numpy())
                       for e in comparison.metrics}
    promoted = holds or force
    mlflow.set_experiment(f"{model}-promotion")
    with mlflow.start_run(run_name=f"v{challenger} vs v{champion}") as run:
        mlflow.set_tags({"model": model, "champion_version": str(champion), "challenger_version": challenger,
                         "rule": rule, "rule_text": RULES[rule], "evaluation": evaluation,
                         "decision": "promoted" if promoted else "refused", "forced": str(force),
                         **({"force_reason": reason} if force else {})})
        if comparison is not None:
            mlflow.log_metrics(comparison.flat())
            mlflow.log_params({f"rows.{e}": n for e, n in comparison.rows.items()}
                              | {f"positives.{e}": n for e, n in comparison.positives.items()})
            mlflow.log_figure(_pr_figure(figure_data, (str(champion), challenger)), "pr_champion_vs_challenger.png")
        mlflow.log_text("\n".join(lines) + "\n", "comparison.txt")
    if promoted:
        set_alias(model, CHAMPION, challenger, {"promoted_by_run": run.info.run_id, "promotion_rule": rule,
                                                **({"forced_reason": reason} if force else {})})
    return PromotionResult(model, champion, challenger, promoted, force and not holds, lines, comparison,
                           run.info.run_id, evaluation)


def evaluation_set(model: str, pii_key: bytes, eval_dir: Path | None = None, input_dir: Path | None = None,
                   state_dir: Path | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, str]:
    """(tables to score, labels to compare on, a description) for ``fraudlens promote``.

    ``eval_dir``: a named labelled directory, every label in it. ``input_dir`` or ``state_dir``
    (the nightly history): only the labels known after the challenger's training cutoff, so
    neither model has trained on them."""
    if sum(x is not None for x in (eval_dir, input_dir, state_dir)) != 1:
        raise FraudLensError("promote needs exactly one of --eval DIR (every label in it), --input DIR or --state DIR "
                             "(labels after the challenger's training cutoff)")
    if state_dir is not None:
        from fraudlens.inference.state import load_history

        tables = load_history(state_dir).tables
        if not tables:
            raise FraudLensError(f"{state_dir}: no state here - fix: pass the --state directory of the nightly runs")
    else:
        tables = ingest(Path(eval_dir or input_dir), pii_key).tables
    labels = tables.get("labels")
    source = eval_dir or input_dir or state_dir
    if labels is None or not len(labels):
        raise FraudLensError(f"{source}: no labels table - fix: evaluate on a directory with labels")
    labels = resolve_labels(labels)
    if eval_dir is not None:
        return tables, labels, f"every label in {eval_dir}"
    challenger = alias_version(model, CHALLENGER)
    cutoff = version_run_tags(model, challenger).get(TRAINING_CUTOFF_TAG) if challenger else None
    if not cutoff:
        raise FraudLensError(f"{model} v{challenger}: its training run records no {TRAINING_CUTOFF_TAG} - fix: "
                             "pass --eval DIR with labels neither model trained on")
    cutoff = pd.Timestamp(cutoff)
    return tables, labels_known_after(labels, tables, cutoff), f"labels in {source} known after {cutoff} " \
        f"(v{challenger}'s training cutoff)"
