"""Real-data quality of the review text models: Salminen et al. (2022) computer-generated reviews.

Protocol (../shared/data/README.md): 5-fold stratified CV on reviews_dev.csv, seed 0; accuracy,
macro-F1 and AUROC per model, mean over the folds (sd alongside). Everything a model learns or
tunes - vocabulary/idf, regularisation, fine-tuning and its early stopping, the stacker - comes
from the training folds only.

Models: tfidf_lr (word 1-2-gram TF-IDF + LR, the README's anchor), frozen_encoder_lr (MiniLM-L6
sentence embeddings + LR), finetuned_encoder (the fine-tuned encoder's own head), combined (the
stacked model of models/text_model.py, config configs/text.yaml). Extras: the combined
model scored with the int8 encoder, and ablations (no artefact features, no encoder, each
channel alone, the truncation rule alone).

    python benchmarks/text_quality.py [--data PATH] [--threads 1] [--jobs 2]

Writes benchmarks/results/text_quality.json, the "Quality" block of docs/benchmarks.md, and one
MLflow run per model in experiment fraudlens-text-benchmark ($MLFLOW_TRACKING_URI, default
sqlite:///mlflow.db). Per-fold predictions are kept under --work-dir, so an interrupted run
resumes at the next fold; the fine-tuned encoders are kept there too, keyed by what fine-tuning
depends on only, so a change to the features or the stack re-runs without fine-tuning again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.doc_blocks import update_doc  # noqa: E402
from fraudlens.models.numeric import sigmoid  # noqa: E402
from fraudlens.models.stylometry import ARTEFACT_FEATURES, LAYOUT_FEATURES  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "salminen" / "reviews_dev.csv"
# Source files whose code decides the cached per-fold results (an edit there re-computes them).
MODEL_CODE = ("models/text_model.py", "models/text_finetune.py", "models/text_channels.py", "models/text_stacker.py",
              "models/numeric.py", "models/stylometry.py", "models/text_encoder.py", "benchmarks/text_quality.py")
MAIN_MODELS = ("tfidf_lr", "frozen_encoder_lr", "finetuned_encoder", "combined")
PROTOCOL = "5-fold stratified CV, seed 0"
log = logging.getLogger("text_quality")


def metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = (probability >= 0.5).astype(int)
    return {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(f1_score(y, predicted, average="macro")),
            "auroc": float(roc_auc_score(y, probability))}


def frozen_embeddings(texts: list[str], max_length: int, cache_dir: Path) -> np.ndarray:
    from fraudlens.models.text_encoder import TextEncoder

    encoder = TextEncoder(max_length=max_length, cache_dir=cache_dir)
    return encoder.encode(texts)


def run_fold(fold: int, train: np.ndarray, test: np.ndarray, texts: list[str], ratings: np.ndarray, y: np.ndarray,
             frozen: np.ndarray, config, encoder_dir: Path | None = None) -> dict[str, np.ndarray | dict]:
    """Test-fold probabilities of every model (and timings) for one outer fold. ``encoder_dir``:
    where this fold's fine-tuned encoder is kept (reused when it is already there)."""
    from fraudlens.models.stylometry import STYLE_FEATURES, stylometric_features
    from fraudlens.models.text_channels import LexicalModel, StyleModel, logistic_model, select_and_oof
    from fraudlens.models.text_finetune import FineTunedEncoder
    from fraudlens.models.text_model import CombinedSettings, CombinedTextModel
    from fraudlens.models.text_stacker import LOGIT_CLIP, BoostedStage, fit_boosted_stack, fit_stack

    s = CombinedSettings.from_config(config)
    tr_texts, te_texts = [texts[i] for i in train], [texts[i] for i in test]
    out: dict = {"timing": {}}
    clock = time.perf_counter()

    word = LexicalModel(s.word_ngrams, None, C_grid=s.lexical_C_grid, folds=s.inner_folds, seed=s.seed)
    word.fit_oof(tr_texts, y[train])
    out["tfidf_lr"] = sigmoid(word.decision_function(te_texts))
    out["timing"]["tfidf_lr_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    C, _ = select_and_oof(frozen[train], y[train], (0.1, 1.0, 10.0, 100.0), s.inner_folds, s.seed)
    out["frozen_encoder_lr"] = logistic_model(C, False).fit(frozen[train], y[train]).predict_proba(frozen[test])[:, 1]
    out["timing"]["frozen_encoder_lr_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    model = CombinedTextModel.from_config(config)
    model.fit(tr_texts, ratings[train], y[train],
              progress=lambda stage, info: log.info("fold %d %s %s", fold, stage,
                                                    {k: v for k, v in info.items() if not isinstance(v, (list, dict))}),
              encoder_dir=encoder_dir)
    out["timing"]["combined_fit_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    scores = model.scores(te_texts, ratings[test])
    out["timing"]["combined_score_s"] = time.perf_counter() - clock
    out["combined"] = sigmoid(scores["combined"])
    out["finetuned_encoder"] = sigmoid(scores["encoder"])
    out["lexical_word_char_lr"] = sigmoid(scores["lexical"])
    out["stylometric_lr"] = sigmoid(scores["style"])
    if "nb" in scores:
        out["nb_char_lr"] = sigmoid(scores["nb"])
    out["report"] = model.report

    # int8: the same fitted model, its encoder dynamically quantised at scoring time.
    clock = time.perf_counter()
    shipped_encoder = model.encoder
    model.encoder = FineTunedEncoder.load(shipped_encoder.directory, precision="int8", threads=config.encoder.threads)
    out["combined_int8"] = model.predict_proba(te_texts, ratings[test])
    out["finetuned_encoder_int8"] = model.encoder.predict_proba(te_texts)
    model.encoder = shipped_encoder
    out["timing"]["combined_int8_score_s"] = time.perf_counter() - clock

    # Ablations re-use the fitted channels; only the style model and the stacker are refitted.
    hold = model.oof_["holdout_index"]
    enc_hold, lex_oof = model.oof_["encoder"], model.oof_["lexical"]
    tr_frame = stylometric_features(tr_texts, ratings[train])
    te_frame = stylometric_features(te_texts, ratings[test])
    no_artefacts = StyleModel([f for f in s.style_features if f not in ARTEFACT_FEATURES], s.style_C_grid,
                              s.inner_folds, s.seed)
    style_oof = no_artefacts.fit_oof(tr_frame, y[train])

    def stacked(style_oof_, style_test, with_encoder=True):
        coef, intercept, _ = fit_stack(lex_oof, style_oof_, y[train], hold if with_encoder else None,
                                       enc_hold if with_encoder else None, s.stack_C)
        columns = [scores["lexical"], style_test] + ([scores["encoder"]] if with_encoder else [])
        return sigmoid(np.clip(np.column_stack(columns), -LOGIT_CLIP, LOGIT_CLIP) @ coef + intercept)

    # The linear stack is the boosted stage's baseline; the artefact ablation is run on it.
    out["combined_linear_stack"] = stacked(model.oof_["style"], scores["style"])
    out["combined_without_artefact_features"] = stacked(style_oof, no_artefacts.decision_function(te_frame))
    out["combined_without_encoder"] = (sigmoid(scores["boosted"]) if "boosted" in scores
                                       else stacked(model.oof_["style"], scores["style"], with_encoder=False))
    out["stack_holdout"] = {"index": train[hold].tolist(), "encoder_logit": enc_hold.tolist()}

    def boosted_without(dropped: tuple[str, ...] = (), nb: bool = True) -> np.ndarray:
        """The shipped model (style model, boosted stage, encoder stack) refitted without the
        ``dropped`` style features, or without the NB-LR logit."""
        features = [f for f in s.style_features if f not in dropped]
        style = StyleModel(features, s.style_C_grid, s.inner_folds, s.seed)
        style_train = style.fit_oof(tr_frame, y[train])
        stage = BoostedStage(features, s.inner_folds, s.seed)
        lexical = [lex_oof] + ([model.oof_["nb"]] if nb else [])
        oof = stage.fit_oof(tr_frame, np.column_stack(lexical), style_train, y[train])
        coef, intercept, _ = fit_boosted_stack(oof, y[train], hold, enc_hold, s.stack_C)
        lexical_test = [scores["lexical"]] + ([scores["nb"]] if nb else [])
        columns = [stage.decision_function(te_frame, np.column_stack(lexical_test), style.decision_function(te_frame)),
                   scores["encoder"]]
        return sigmoid(np.clip(np.column_stack(columns), -LOGIT_CLIP, LOGIT_CLIP) @ coef + intercept)

    if "nb" in scores and "encoder" in scores:
        out["combined_without_nb"] = boosted_without(nb=False)
        out["combined_without_layout_features"] = boosted_without(LAYOUT_FEATURES)
        out["combined_without_any_artefact_feature"] = boosted_without(ARTEFACT_FEATURES)
    out["stylometric_lr_without_artefact_features"] = sigmoid(no_artefacts.decision_function(te_frame))
    truncation = StyleModel(["ends_mid_sentence"], (1.0,), s.inner_folds, s.seed, representations=("raw",))
    truncation.fit_oof(tr_frame, y[train])
    out["truncation_feature_only"] = sigmoid(truncation.decision_function(te_frame))
    assert set(STYLE_FEATURES) >= set(s.style_features)
    return out


def fold_job(job: tuple) -> dict:
    """One outer fold as a JSON-ready record (runs in a worker process with ``--jobs``)."""
    fold, train, test, texts, ratings, y, frozen, config, threads, encoder_dir = job
    quiet_logging()
    if threads:
        import torch

        torch.set_num_threads(threads)
    clock = time.perf_counter()
    out = run_fold(fold, train, test, texts, ratings, y, frozen, config, encoder_dir)
    record = {"test_index": test.tolist(), "timing": out.pop("timing"), "report": out.pop("report"),
              "stack_holdout": out.pop("stack_holdout", None),
              "probabilities": {k: np.asarray(v, dtype=float).tolist() for k, v in out.items()}}
    record["timing"]["fold_s"] = time.perf_counter() - clock
    return record


def quiet_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "mlflow", "alembic", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def source_digest(modules: tuple[str, ...]) -> str:
    """Hash of the source files whose code decides a cached result: an edit there re-computes it."""
    return hashlib.sha256(b"".join((ROOT / m).read_bytes() for m in modules)).hexdigest()[:12]


def encoder_code_digest() -> str:
    """Hash of the code a fine-tuned encoder depends on (not the stack's or the features'; the
    settings' values are part of the key already)."""
    import inspect

    from fraudlens.models import text_finetune as tf

    parts = [inspect.getsource(obj) for obj in (tf.ProjectionHead, tf._freeze, tf.length_bucketed_batches, tf.fine_tune)]
    return hashlib.sha256((ROOT / "models" / "text_encoder.py").read_bytes() + "".join(parts).encode()).hexdigest()[:12]


def markdown(result: dict, command: str) -> str:
    def row(name, m, sd=None):
        cell = lambda k: f"{m[k]:.4f}" + (f" ± {sd[k]:.4f}" if sd else "")  # noqa: E731
        return f"| {name} | {cell('accuracy')} | {cell('macro_f1')} | {cell('auroc')} |"

    lines = [
        "### Quality on real data (Salminen computer-generated reviews)",
        "",
        f"`{result['dataset']}` ({result['rows']} reviews, balanced CG/OR), protocol: {result['protocol']}; "
        "mean ± sd over the folds. All tuning (idf, regularisation, fine-tuning and early stopping, the stacker) "
        "happens inside the training folds.",
        "",
        "| model | accuracy | macro-F1 | AUROC |",
        "|---|---|---|---|",
    ]
    for name in MAIN_MODELS:
        lines.append(row(f"**{name}**" if name == "combined" else name, result["models"][name], result["fold_sd"][name]))
    lines += ["", "Same folds, extra rows (int8 scoring and ablations):", "",
              "| model | accuracy | macro-F1 | AUROC |", "|---|---|---|---|"]
    for name, m in result["extra"].items():
        lines.append(row(name, m, result["fold_sd"][name]))
    int8 = result["int8"]
    lines += [
        "",
        f"- **int8**: the combined model scored with the dynamically quantised encoder changes accuracy by "
        f"{int8['combined_accuracy_delta'] * 100:+.2f} points (fine-tuned encoder alone: "
        f"{int8['finetuned_encoder_accuracy_delta'] * 100:+.2f}).",
        f"- **Artefacts**: the truncation feature alone scores {result['extra']['truncation_feature_only']['accuracy']:.1%}. "
        f"Without the artefact features ({', '.join(ARTEFACT_FEATURES)}) the linear stack "
        f"scores {result['extra']['combined_without_artefact_features']['accuracy']:.2%}: they contribute "
        f"{result['artefact_contribution']['accuracy_delta'] * 100:+.2f} accuracy points. (The character n-grams "
        "of the lexical channel still see punctuation, so this is a lower bound on what artefacts give.)",
        *([f"- **Without artefact features, the shipped model** (style model, boosted stage and encoder stack "
           f"refitted without them) scores {result['extra']['combined_without_any_artefact_feature']['accuracy']:.2%}; "
           f"without only the whitespace-layout features ({', '.join(LAYOUT_FEATURES)}) "
           f"{result['extra']['combined_without_layout_features']['accuracy']:.2%}."]
          if "combined_without_layout_features" in result["extra"] else []),
        *([f"- **NB-LR channel**: without it (the same boosted stage and encoder stack, refitted) the combined "
           f"model scores {result['extra']['combined_without_nb']['accuracy']:.2%}; with it "
           f"{result['models']['combined']['accuracy']:.2%}; alone {result['extra']['nb_char_lr']['accuracy']:.2%}."]
          if "combined_without_nb" in result["extra"] else []),
        f"- Combined stacker weights (mean over folds): {result['stack_weights_mean']}.",
        f"- Wall time {result['wall_time_s'] / 60:.1f} min on {result['machine']} (torch threads: {result['threads']}, "
        f"folds at once: {result['jobs']}; load average {result['load_average_start']:.1f} at start); fine-tuned "
        f"encoders {'reused from an earlier run' if result['encoders_reused'] else 'trained in this run'}.",
        "",
        "```bash",
        command,
        "```",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="reviews_dev.csv of the Salminen set")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "text.yaml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is faster on shared cores)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="outer folds run at once, one process each (use with --threads 1; memory ~2 GiB each)")
    parser.add_argument("--limit", type=int, default=None, help="use a stratified sample of this many rows (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "text_quality.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".fraudlens" / "bench" / "text_quality")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (YAML syntax), e.g. --set finetune.epochs=1")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args(argv)
    quiet_logging()

    if not args.data.is_file():
        print(f"error: {args.data} not found - the Salminen data set is not here; pass --data PATH/TO/reviews_dev.csv "
              "(see ../shared/data/README.md)", file=sys.stderr)
        return 2
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from fraudlens.models.text_model import CombinedSettings
    from fraudlens.text_config import load_text_config

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    import yaml

    overrides = {"seed": args.seed}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.strip()] = yaml.safe_load(value)
    if args.threads:
        overrides["encoder.threads"] = args.threads
        import torch

        torch.set_num_threads(args.threads)
    config = load_text_config(args.config, overrides)
    data = pd.read_csv(args.data)
    if args.limit:
        data, _ = train_test_split(data, train_size=args.limit, random_state=args.seed, stratify=data["label"])
        data = data.reset_index(drop=True)
    texts = data["text"].fillna("").astype(str).tolist()
    ratings = pd.to_numeric(data["rating"], errors="coerce").to_numpy(np.float64)
    y = (data["label"].astype(str).str.upper() == "CG").astype(int).to_numpy()
    dataset = "salminen_dev" if not args.limit else f"salminen_dev[{args.limit}]"

    clock = time.perf_counter()
    frozen = frozen_embeddings(texts, config.encoder.max_length, ROOT / ".fraudlens" / "cache" / "embeddings")
    frozen_s = time.perf_counter() - clock
    log.info("frozen embeddings: %.0f s", frozen_s)

    split = {"n": len(texts), "folds": args.folds, "data": hashlib.sha256("\x00".join(texts).encode()).hexdigest()}
    work = args.work_dir / digest({"config": config.model_dump(mode="json"), **split, "code": source_digest(MODEL_CODE)})
    # Fine-tuned encoders depend on the split and the fine-tune settings only, so a change to the
    # stack or the features re-fits in minutes instead of re-tuning for most of an hour.
    settings = CombinedSettings.from_config(config)
    encoders = args.work_dir / "encoders" / digest({
        **split, "finetune": asdict(settings.finetune), "model_dir": settings.model_dir, "seed": settings.seed,
        "stack_fraction": settings.stack_fraction, "val_fraction": settings.val_fraction,
        "code": encoder_code_digest()})
    work.mkdir(parents=True, exist_ok=True)
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(texts, y))
    records: dict[int, dict] = {}
    jobs = []
    for fold, (train, test) in enumerate(folds):
        path = work / f"fold-{fold}.json"
        if path.exists():
            log.info("fold %d: reusing %s", fold, path)
            records[fold] = json.loads(path.read_text())
        else:
            jobs.append((fold, train, test, texts, ratings, y, frozen, config, args.threads, encoders / f"fold-{fold}"))

    def finished(fold: int, record: dict) -> None:
        (work / f"fold-{fold}.json").write_text(json.dumps(record))
        records[fold] = record
        test = np.asarray(record["test_index"])
        log.info("fold %d done in %.0f s: %s", fold, record["timing"]["fold_s"],
                 {k: round(metrics(y[test], np.asarray(v))["accuracy"], 4) for k, v in record["probabilities"].items()})

    if args.jobs > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: the parent has already started torch's thread pool, which does not survive fork
        with ProcessPoolExecutor(min(args.jobs, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(fold_job, job): job[0] for job in jobs}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    else:
        for job in jobs:
            finished(job[0], fold_job(job))
    per_fold = [records[fold] for fold in range(len(folds))]

    names = list(per_fold[0]["probabilities"])
    fold_metrics = {n: [metrics(y[np.asarray(f["test_index"])], np.asarray(f["probabilities"][n])) for f in per_fold]
                    for n in names}
    mean = {n: {k: float(np.mean([m[k] for m in ms])) for k in ms[0]} for n, ms in fold_metrics.items()}
    sd = {n: {k: float(np.std([m[k] for m in ms], ddof=1)) if len(ms) > 1 else 0.0 for k in ms[0]}
          for n, ms in fold_metrics.items()}
    weights = [f["report"]["stack_weights"] for f in per_fold]
    wall = time.perf_counter() - started
    command = "python benchmarks/text_quality.py" + "".join(
        f" {a}" for a in map(shlex.quote, (argv if argv is not None else sys.argv[1:])))
    result = {
        "dataset": dataset,
        "protocol": PROTOCOL if args.folds == 5 and args.seed == 0 else f"{args.folds}-fold stratified CV, seed {args.seed}",
        "rows": len(texts),
        "models": {n: mean[n] for n in MAIN_MODELS},
        "extra": {n: mean[n] for n in names if n not in MAIN_MODELS},
        "fold_sd": sd,
        "per_fold": fold_metrics,
        "int8": {
            "combined_int8": mean["combined_int8"],
            "combined_accuracy_delta": mean["combined_int8"]["accuracy"] - mean["combined"]["accuracy"],
            "finetuned_encoder_accuracy_delta": (mean["finetuned_encoder_int8"]["accuracy"]
                                                 - mean["finetuned_encoder"]["accuracy"]),
        },
        "artefact_contribution": {
            "truncation_feature_only_accuracy": mean["truncation_feature_only"]["accuracy"],
            "accuracy_delta": (mean["combined_linear_stack"]["accuracy"]
                               - mean["combined_without_artefact_features"]["accuracy"]),
            "note": "combined_linear_stack minus combined_without_artefact_features (the same linear stack without "
                    f"{', '.join(ARTEFACT_FEATURES)})",
        },
        "stack_weights_mean": {k: round(float(np.mean([w[k] for w in weights])), 3) for k in weights[0]},
        "finetune_best_epochs": [f["report"]["finetune_best_epoch"] for f in per_fold],
        "timing_s": {"frozen_embeddings": frozen_s,
                     **{k: float(np.sum([f["timing"][k] for f in per_fold])) for k in per_fold[0]["timing"]}},
        "wall_time_s": wall,
        "threads": args.threads or "torch default",
        "jobs": args.jobs,
        "encoders_reused": all(f["report"].get("finetune_reused", False) for f in per_fold),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
        "command": command,
        "config": config.model_dump(mode="json"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    update_doc(args.doc, "text-quality", markdown(result, command), "Text model")
    log.info("wrote %s and %s in %.1f min", args.out, args.doc, wall / 60)
    if not args.no_mlflow:
        log_to_mlflow(result, fold_metrics, args)
    print(json.dumps({"models": result["models"], "int8": result["int8"]}, indent=1))
    return 0


def log_to_mlflow(result: dict, fold_metrics: dict, args) -> None:
    import mlflow

    from fraudlens.tracking import configure_tracking

    configure_tracking(None)
    mlflow.set_experiment("fraudlens-text-benchmark")
    for name, folds in fold_metrics.items():
        with mlflow.start_run(run_name=name):
            mlflow.set_tags({"benchmark": "text_quality", "dataset": result["dataset"], "main_model": name in MAIN_MODELS})
            mlflow.log_params({"model": name, "protocol": result["protocol"], "data": str(args.data),
                               "rows": result["rows"], "threads": result["threads"]})
            mean = result["models"].get(name) or result["extra"][name]
            mlflow.log_metrics(mean)
            mlflow.log_metrics({f"{k}_sd": v for k, v in result["fold_sd"][name].items()})
            for fold, m in enumerate(folds):
                mlflow.log_metrics({f"fold_{k}": v for k, v in m.items()}, step=fold)
            if name == "combined":
                mlflow.log_dict(result, "text_quality.json")


if __name__ == "__main__":
    sys.exit(main())
