"""The review text model: stylometry, fine-tuning, the stacked model, persistence, MLflow training."""

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fraudlens.models.numeric import sigmoid
from fraudlens.models.stylometry import (
    ARTEFACT_FEATURES,
    LAYOUT_FEATURES,
    STYLE_FEATURES,
    duplicate_counts,
    ends_mid_sentence,
    sentiment_score,
    stylometric_features,
    words,
)
from fraudlens.models.text_channels import NaiveBayesLexicalModel
from fraudlens.models.text_encoder import TextEncoder
from fraudlens.models.text_finetune import FineTuneSettings, fine_tune, length_bucketed_batches
from fraudlens.models.text_model import FORMAT_VERSION as TEXT_FORMAT_VERSION
from fraudlens.models.text_model import CombinedSettings, CombinedTextModel
from fraudlens.persistence import MANIFEST, BundleFormatError

SALMINEN = Path(os.environ.get("FRAUDLENS_SALMINEN", Path(__file__).resolve().parents[2] / "shared" / "data" /
                               "salminen" / "reviews_dev.csv"))
AWKWARD = ["", "   ", "很好的产品，物流很快", "🔥🔥🔥 best!!!", "منتج رائع جدا", "x" * 5000, "<script>alert(1)</script>",
           "שלום עולם, מוצר מצוין"]
TINY_FINETUNE = FineTuneSettings(max_length=32, epochs=1, batch_size=16, threads=1, seed=0, train_layers=3)


@pytest.fixture(scope="module", autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def synthetic_reviews(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Genuine reviews talk about the product; fake ones are generic praise, often cut off mid-sentence."""
    rng = np.random.default_rng(seed)
    genuine = ("kettle handle lid boils water cord plug base steel minutes morning tea filter switch light spout "
               "leaks after weeks returned warranty").split()
    fake = "amazing awesome perfect best ever highly recommend everyone love wonderful incredible product".split()
    common = "the this it is was and with a my for very really".split()
    rows = []
    for i in range(n):
        is_fake = i % 2
        own, other = (fake, genuine) if is_fake else (genuine, fake)
        tokens = list(rng.choice(own, 5)) + list(rng.choice(other, 2)) + list(rng.choice(common, 4))
        rng.shuffle(tokens)
        text = " ".join(tokens).capitalize() + ("" if is_fake and rng.random() < 0.6 else ".")
        rows.append({"text": text, "rating": int(rng.integers(4, 6)) if is_fake else int(rng.integers(1, 6)),
                     "label": "CG" if is_fake else "OR"})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Stylometry
# ------------------------------------------------------------------------------------------

def test_truncation_detector():
    assert ends_mid_sentence("I bought this for my")
    assert ends_mid_sentence("It works great, and the")
    for ended in ("Great kettle.", "Love it!", "Really?", '"Best purchase ever."', "Works fine (mostly).",
                  "Nice :)", "Great 🔥", "好。", "   trailing space.   "):
        assert not ends_mid_sentence(ended), ended
    assert not ends_mid_sentence("")


def test_stylometric_features_on_crafted_texts():
    texts = [
        "The kettle boils fast. The lid is sturdy.",
        "THIS IS THE BEST!!! BUY IT NOW!!!",
        "It works great, I wish it had more colors.Very good quality.Nice bag.I bought this for my",
        "the cat sat on the mat and the cat sat on the mat and the cat sat on the mat",
        "Excellent, I love it, great quality, highly recommend.",
        "Terrible. It broke after a day, awful, waste of money.",
    ]
    f = stylometric_features(texts, [5, 5, 4, 3, 1, 5])
    assert list(f.columns) == list(STYLE_FEATURES) and len(f) == len(texts)
    assert np.isfinite(f.to_numpy()).all()
    assert f.loc[2, "ends_mid_sentence"] == 1 and f.loc[0, "ends_mid_sentence"] == 0
    assert f.loc[2, "missing_space_after_punct"] > 0 and f.loc[0, "missing_space_after_punct"] == 0
    assert f.loc[1, "upper_rate"] > 0.9 and f.loc[1, "allcaps_word_rate"] > 0.5 and f.loc[1, "exclaim_rate"] > 10
    assert f.loc[0, "upper_rate"] < 0.1
    assert f.loc[3, "repeated_trigram_frac"] > 0.5 and f.loc[0, "repeated_trigram_frac"] == 0
    assert f.loc[3, "type_token_ratio"] < 0.5
    # Rating-sentiment mismatch: 1 star with praise, 5 stars with complaints; agreement is small.
    assert f.loc[4, "sentiment"] > 0.5 and f.loc[5, "sentiment"] < -0.5
    assert f.loc[4, "rating_sentiment_gap"] < -1 and f.loc[5, "rating_sentiment_gap"] > 1
    assert f.loc[4, "rating_sentiment_mismatch"] > f.loc[0, "rating_sentiment_mismatch"]
    assert set(ARTEFACT_FEATURES) <= set(STYLE_FEATURES)


def test_whitespace_layout_features():
    """The layout the TF-IDF analyzer and the tokenizer throw away: a text cut on a whitespace token,
    and a space typed before punctuation."""
    texts = ["They knock over furniture.\n", "A treat to give to friends. ", "Very nice !  Thin , but fine",
             "Fits well.\n\nGreat price.", "   ", "Nice: good, fine. Done!"]
    f = stylometric_features(texts, None)
    assert f["ends_with_whitespace"].tolist() == [1, 1, 0, 0, 0, 0]  # a blank text was not cut anywhere
    assert f.loc[2, "space_before_punct_rate"] > 0
    # A newline before a sentence, or a space after punctuation, is not it.
    assert (f.loc[[0, 1, 3, 4, 5], "space_before_punct_rate"] == 0).all()
    assert "ends_with_whitespace" in ARTEFACT_FEATURES and set(LAYOUT_FEATURES) <= set(STYLE_FEATURES)


def test_sentiment_negation_and_missing_ratings():
    assert sentiment_score(words("not good at all")) < 0 < sentiment_score(words("really good"))
    f = stylometric_features(["fine.", "fine."], [None, float("nan")])
    assert (f["rating_missing"] == 1).all() and (f["rating_sentiment_gap"] == 0).all()
    assert (stylometric_features(["fine."])["rating_missing"] == 1).all()


def test_duplicates_within_the_batch():
    base = "this blender is loud but it crushes ice in seconds and cleans up easily"
    texts = [base, base.upper(), base + " overall happy", "completely different review about a tent", "", ""]
    exact, near = duplicate_counts(texts)
    assert exact.tolist() == [1, 1, 0, 0, 0, 0]           # case and punctuation do not make a text new
    assert near[:3].tolist() == [2, 2, 2] and near[3:].tolist() == [0, 0, 0]
    f = stylometric_features(texts)
    assert f.loc[0, "log_near_dup_per_1k"] > 0 and f.loc[3, "log_near_dup_per_1k"] == 0
    alone = stylometric_features(texts, batch_features=False)
    assert (alone["log_near_dup_per_1k"] == 0).all()


def test_a_campaign_of_distinct_near_copies_stays_linear_and_is_counted():
    """Thousands of distinct variants of one template share LSH buckets; checking every pair of
    them once needed 24 GB for 100k reviews. Crowded buckets are now counted, not paired."""
    rng = np.random.default_rng(0)
    template = "i recently purchased this product and i must say it has truly exceeded my expectations".split()
    campaign = [" ".join(template[:12] + [f"w{i}", f"v{rng.integers(10**6)}"]) for i in range(3000)]
    genuine = [f"the {i} kettle broke after {i % 9 + 2} weeks and support never answered mail {i}" for i in range(300)]
    exact, near = duplicate_counts(campaign + genuine, max_bucket=64)
    assert exact.max() == 0
    assert np.median(near[:3000]) >= 100, "campaign members are counted as near-copies of each other"
    assert np.median(near[3000:]) < np.median(near[:3000]) / 10
    # Below the crowd size the count is the exact pairwise one.
    small = campaign[:40] + genuine[:40]
    np.testing.assert_array_equal(duplicate_counts(small, max_bucket=64)[1],
                                  duplicate_counts(small, max_bucket=10**6)[1])


def test_length_bucketed_batches_cover_everything_once():
    lengths = np.random.default_rng(0).integers(1, 100, 103)
    batches = length_bucketed_batches(lengths, 8, np.random.default_rng(1), pool=4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert max(len(b) for b in batches) == 8


# ------------------------------------------------------------------------------------------
# Fine-tuning and the combined model
# ------------------------------------------------------------------------------------------

def test_fine_tuning_changes_weights_and_saves_a_loadable_encoder(tmp_path):
    data = synthetic_reviews(64, seed=3)
    y = (data["label"] == "CG").astype(int).to_numpy()
    tuned = fine_tune(data["text"].tolist()[:48], y[:48], data["text"].tolist()[48:], y[48:], out_dir=tmp_path / "ft",
                      settings=TINY_FINETUNE)
    assert len(tuned.history) == 1 and tuned.history[0]["train_loss"] > 0
    base = TextEncoder(max_length=32)
    loaded = TextEncoder(tmp_path / "ft", max_length=32)  # save_pretrained output loads as a plain encoder
    texts = data["text"].tolist()[:4]
    assert loaded.fingerprint != base.fingerprint
    assert not np.allclose(loaded.encode(texts), base.encode(texts), atol=1e-4)
    # Only the top layers are trained: the bottom layers keep the base weights.
    tuned_state, base_state = loaded.model.state_dict(), base.model.state_dict()
    assert torch.equal(tuned_state["encoder.layer.0.attention.self.query.weight"],
                       base_state["encoder.layer.0.attention.self.query.weight"])
    assert not torch.equal(tuned_state["encoder.layer.5.attention.self.query.weight"],
                           base_state["encoder.layer.5.attention.self.query.weight"])
    logits, projection = tuned.features(texts)
    assert logits.shape == (4,) and projection.shape == (4, TINY_FINETUNE.proj_dim)


@pytest.fixture(scope="module")
def fitted():
    data = synthetic_reviews(200, seed=0)
    y = (data["label"] == "CG").astype(int).to_numpy()
    train = np.arange(200) < 140
    settings = CombinedSettings(finetune=TINY_FINETUNE, lexical_C_grid=(1.0, 8.0), style_C_grid=(1.0,), inner_folds=3)
    model = CombinedTextModel(settings, threads=1).fit(data["text"][train].tolist(), data["rating"][train].to_numpy(),
                                                       y[train])
    return model, data[~train].reset_index(drop=True), y[~train]


def test_combined_model_beats_chance_clearly(fitted):
    model, test, y = fitted
    p = model.predict_proba(test["text"].tolist(), test["rating"].tolist())
    assert p.shape == (len(test),) and ((p >= 0) & (p <= 1)).all()
    assert ((p >= 0.5) == y).mean() >= 0.85
    assert model.report["n_stack"] > 0 and set(model.report["stack_weights"]) == {"boosted", "encoder"}
    z = model.transform(test["text"].tolist(), test["rating"].tolist())
    assert z.shape == (len(test), len(model.feature_names)) == (len(test), TINY_FINETUNE.proj_dim + 5)
    assert model.channels == ["lexical", "nb", "style", "encoder"]
    assert z.dtype == np.float32 and np.isfinite(z).all()


def test_the_scorer_sees_the_style_features_training_saw(fitted):
    """Scoring goes through float32 per-text rows (cached); training computes the frame directly.
    Both must give the style model the same numbers, or values on a bin edge change bin."""
    model, test, _ = fitted
    texts = test["text"].tolist() + ["Good. Good. Good. Very good!", "It is ok , i guess .", "One two three. "]
    ratings = test["rating"].tolist() + [5, 3, None]
    scored = model.scores(texts, ratings)["style"]
    np.testing.assert_array_equal(scored, model.style.decision_function(stylometric_features(texts, ratings)))



def test_style_scores_do_not_depend_on_the_row_slices(fitted, monkeypatch):
    """StyleModel scores a slice of rows at a time (its binned matrix is ~2 GB at a million reviews)."""
    import fraudlens.models.text_channels as text_channels

    model, test, _ = fitted
    frame = stylometric_features(test["text"].tolist(), test["rating"].tolist())
    whole = model.style.decision_function(frame)
    monkeypatch.setattr(text_channels, "STYLE_ROWS", 7)
    np.testing.assert_allclose(model.style.decision_function(frame), whole, rtol=1e-12, atol=1e-12)
    assert len(frame) > 7 and model.style.decision_function(frame.iloc[:0]).shape == (0,)

def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    model, test, _ = fitted
    texts, ratings = test["text"].tolist(), test["rating"].tolist()
    model.save(tmp_path / "text_model")
    loaded = CombinedTextModel.load(tmp_path / "text_model")
    assert np.array_equal(loaded.predict_proba(texts, ratings), model.predict_proba(texts, ratings))
    assert np.array_equal(loaded.transform(texts, ratings), model.transform(texts, ratings))
    assert loaded.feature_names == model.feature_names
    # The bundled encoder is a plain save_pretrained directory.
    assert TextEncoder(tmp_path / "text_model" / "encoder", max_length=32).dim == 384
    assert loaded.encoder.encoder.precision == loaded.settings.precision == model.settings.precision != "auto"


def test_a_model_stacked_on_int8_logits_reloads_and_serves_int8(fitted, tmp_path):
    """precision is part of the model: the stacker weighs the int8 encoder's logits, so the loaded
    model must score with int8 too, not with the float weights it finds on disk."""
    fp32, test, _ = fitted
    data = synthetic_reviews(200, seed=0)
    y = (data["label"] == "CG").astype(int).to_numpy()
    train = np.arange(200) < 140
    fp32.save(tmp_path / "fp32")
    settings = dataclasses.replace(fp32.settings, precision="int8")
    int8 = CombinedTextModel(settings, threads=1).fit(data["text"][train].tolist(), data["rating"][train].to_numpy(),
                                                      y[train], encoder_dir=tmp_path / "fp32" / "encoder")
    assert int8.report["finetune_reused"] and int8.encoder.encoder.precision == "int8"
    texts, ratings = test["text"].tolist(), test["rating"].tolist()
    before = int8.scores(texts, ratings)
    assert not np.array_equal(before["encoder"], fp32.scores(texts, ratings)["encoder"])

    loaded = CombinedTextModel.load(int8.save(tmp_path / "int8"))
    assert loaded.settings.precision == "int8" and loaded.encoder.encoder.precision == "int8"
    after = loaded.scores(texts, ratings)
    np.testing.assert_array_equal(after["encoder"], before["encoder"])
    np.testing.assert_array_equal(loaded.predict_proba(texts, ratings), sigmoid(before["combined"]))


def test_a_kept_encoder_is_reused_instead_of_fine_tuned_again(tmp_path):
    data = synthetic_reviews(120, seed=4)
    y = (data["label"] == "CG").astype(int).to_numpy()
    settings = CombinedSettings(finetune=TINY_FINETUNE, lexical_C_grid=(8.0,), style_C_grid=(1.0,), inner_folds=3,
                                nb_char_ngrams=None)
    texts, ratings = data["text"].tolist(), data["rating"].to_numpy()
    stages: list[tuple[str, dict]] = []
    first = CombinedTextModel(settings, threads=1).fit(texts, ratings, y, encoder_dir=tmp_path / "enc")
    weights = (tmp_path / "enc" / "model.safetensors").read_bytes()
    second = CombinedTextModel(settings, threads=1).fit(texts, ratings, y, encoder_dir=tmp_path / "enc",
                                                        progress=lambda stage, info: stages.append((stage, info)))
    tuning = [info for stage, info in stages if stage == "fine-tune"]
    assert tuning == [{"reused": str(tmp_path / "enc")}]  # no epoch was run
    assert (tmp_path / "enc" / "model.safetensors").read_bytes() == weights
    np.testing.assert_array_equal(second.predict_proba(texts, ratings), first.predict_proba(texts, ratings))


def test_awkward_texts_do_not_crash(fitted):
    model, _, _ = fitted
    texts = AWKWARD + [None, float("nan")]
    ratings = [None, 5, 4.0, float("nan"), 1, 3, 2, 5, None, 5]
    p = model.predict_proba(texts, ratings)
    assert p.shape == (len(texts),) and np.isfinite(p).all()
    assert np.isfinite(model.transform(texts)).all()
    assert model.predict_proba([]).shape == (0,) and model.transform([]).shape == (0, len(model.feature_names))


def test_int8_encoder_has_its_own_fingerprint_and_close_embeddings(tmp_path):
    fp32 = TextEncoder(cache_dir=tmp_path, precision="fp32")
    int8 = TextEncoder(cache_dir=tmp_path, precision="int8")
    assert int8.fingerprint != fp32.fingerprint and int8.describe()["precision"] == "int8"
    assert fp32.describe()["precision"] == "fp32"
    texts = ["The kettle broke after two days.", "Fast shipping, gripping plot.", ""]
    a, b = fp32.encode(texts), int8.encode(texts)
    assert (a * b).sum(1).mean() > 0.93  # per-channel int8: ~0.97 on review texts (per-tensor: ~0.93)
    assert int8.stats["cache_hits"] == 0  # never served from the fp32 cache


# ------------------------------------------------------------------------------------------
# Training with MLflow
# ------------------------------------------------------------------------------------------

def test_config_is_strict_and_labels_are_mapped():
    from fraudlens.errors import ConfigError, TableError
    from fraudlens.text_config import load_text_config
    from fraudlens.training.text_data import prepare_table

    config = load_text_config(Path(__file__).resolve().parents[1] / "configs" / "text.yaml")
    assert config.mlflow.registered_model == "fraudlens-text" and config.mlflow.alias == "challenger"
    with pytest.raises(ConfigError):
        load_text_config(None, {"finetune.learning_rat": 1e-4})
    table = pd.DataFrame({"text": list("abcdefghijkl"), "label": ["CG", "OR"] * 6})
    assert prepare_table(config, table).labels.tolist() == [1, 0] * 6
    numeric = table.assign(label=[1.0, 0.0] * 6, rating=[5] * 12)
    prepared = prepare_table(config, numeric)
    assert prepared.labels.tolist() == [1, 0] * 6 and prepared.ratings is not None
    with pytest.raises(TableError, match="maybe"):
        prepare_table(config, table.assign(label=["CG", "maybe"] * 6))
    with pytest.raises(TableError, match="text"):
        prepare_table(config, table.rename(columns={"text": "body"}))


def test_train_text_logs_figures_dataset_and_registers_alias(tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    from fraudlens.text_config import load_text_config
    from fraudlens.training.train_text import train_text

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_text_config(None, {
        "mlflow.tracking_uri": uri, "encoder.max_length": 32, "encoder.threads": 1, "finetune.epochs": 1,
        "finetune.train_layers": 1,
        "stacking.inner_folds": 3, "stacking.lexical_C_grid": [8.0], "stacking.style_C_grid": [1.0],
        "data.test_fraction": 0.3})
    table = synthetic_reviews(120, seed=1)
    result = train_text(config, table)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("fraudlens-text", "champion")
    assert str(version.version) == result.model_version and version.run_id == result.run_id
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"confusion_matrix.png", "roc_curve.png", "pr_curve.png", "config.json"} <= artifacts
    run = client.get_run(result.run_id)
    assert run.data.metrics["test_accuracy"] >= 0.7 and "test_auroc" in run.data.metrics
    assert "finetune_val_loss" in run.data.metrics and run.data.params["finetune.epochs"] == "1"
    assert len(run.inputs.dataset_inputs) == 1
    # Measured on 70 %, shipped after a refit on every labelled row; the first version is also the champion.
    assert run.data.params["rows.train"] == "84" and run.data.params["rows.refit"] == "120"
    assert len(result.model.training_keys) == len(set(table["text"])) and "text_model_report_refit.json" in artifacts
    assert client.get_model_version_by_alias("fraudlens-text", "challenger").version == version.version
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    pyfunc = mlflow.pyfunc.load_model("models:/fraudlens-text@champion")
    scored = pyfunc.predict(pd.DataFrame({"text": ["Amazing product highly recommend", "The lid leaks."],
                                          "rating": [5.0, 2.0]}))
    assert list(scored.columns) == ["review_id", "fraud_score"] and scored["fraud_score"].between(0, 1).all()


# ------------------------------------------------------------------------------------------
# Real data (skipped where ../shared/data is absent)
# ------------------------------------------------------------------------------------------

def test_truncation_artefact_on_salminen():
    if not SALMINEN.is_file():
        pytest.skip(f"Salminen data not found at {SALMINEN} (set FRAUDLENS_SALMINEN or provide ../shared/data)")
    data = pd.read_csv(SALMINEN).sample(600, random_state=0)
    f = stylometric_features(data["text"].tolist(), data["rating"].tolist())
    rate = f["ends_mid_sentence"].groupby(data["label"].to_numpy()).mean()
    # The data README: ~64 % of the computer-generated texts stop mid-sentence, ~9 % of the originals.
    assert 0.5 < rate["CG"] < 0.8 and rate["OR"] < 0.2
    assert math.isclose(f["rating_missing"].sum(), 0)


@pytest.mark.parametrize("stacker", ["linear", "boosted"])
def test_both_stackers_learn_and_survive_save_load_without_an_encoder(stacker, tmp_path):
    data = synthetic_reviews(240, seed=3)
    y = (data["label"] == "CG").astype(int).to_numpy()
    train = np.arange(len(data)) < 180
    settings = CombinedSettings(use_encoder=False, inner_folds=3, stacker=stacker, seed=0)
    model = CombinedTextModel(settings).fit(data["text"][train].tolist(), data["rating"][train].to_numpy(), y[train])
    assert set(model.report["stack_weights"]) == ({"boosted"} if stacker == "boosted" else {"lexical", "style"})
    # The NB-LR channel feeds the boosted stage only.
    assert ("nb" in model.channels) == (stacker == "boosted") and (model.nb is not None) == (stacker == "boosted")
    test_texts, test_ratings = data["text"][~train].tolist(), data["rating"][~train].to_numpy()
    p = model.predict_proba(test_texts, test_ratings)
    assert ((p >= 0.5) == y[~train]).mean() >= 0.8
    reloaded = CombinedTextModel.load(model.save(tmp_path / stacker))
    np.testing.assert_array_equal(reloaded.predict_proba(test_texts, test_ratings), p)
    assert reloaded.seen_in_training(data["text"][train].tolist()[:5]).all()
    assert not reloaded.seen_in_training(["a text nobody ever trained on, surely"]).any()


def test_lexical_fit_does_not_depend_on_the_global_random_state():
    """liblinear draws its seed from numpy's global RNG unless given one: a benchmark fold run in
    a worker process (another global state) must still give the same model."""
    from fraudlens.models.text_channels import LexicalModel

    data = synthetic_reviews(120, seed=6)
    y = (data["label"] == "CG").astype(int).to_numpy()
    fits = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        model = LexicalModel(C_grid=(8.0,), folds=3, seed=0)
        fits.append((model.fit_oof(data["text"].tolist(), y), model.coef))
    np.testing.assert_array_equal(fits[0][0], fits[1][0])
    np.testing.assert_array_equal(fits[0][1], fits[1][1])


def test_nb_lexical_model_learns_ignores_single_ngrams_and_round_trips(tmp_path):
    data = synthetic_reviews(240, seed=5)
    y = (data["label"] == "CG").astype(int).to_numpy()
    train = np.arange(len(data)) < 180
    texts = data["text"].tolist()
    model = NaiveBayesLexicalModel((2, 4), char_bits=18, folds=3)
    oof = model.fit_oof([texts[i] for i in np.flatnonzero(train)], y[train])
    assert model.C in model.C_grid and ((oof > 0) == y[train]).mean() >= 0.8
    test = [texts[i] for i in np.flatnonzero(~train)]
    assert ((model.decision_function(test) > 0) == y[~train]).mean() >= 0.8
    # An n-gram found in a single training text gets no weight ("cd"); one found in two does ("ab").
    ratio = NaiveBayesLexicalModel._ratio(model._binary(["ab", "ab", "cd"]), np.array([1, 0, 1]))
    single = model._binary(["cd"]).indices
    assert (ratio[single] == 0).all() and (ratio[model._binary(["ab"]).indices] != 0).any()
    loaded = NaiveBayesLexicalModel.load(model.save(tmp_path / "nb"))
    np.testing.assert_array_equal(loaded.decision_function(test), model.decision_function(test))


def test_a_bundle_of_another_format_version_is_refused_with_the_fix(tmp_path):
    """A bundle another fraudlens wrote must fail loudly, naming the directory and the fix,
    instead of loading numbers this code reads differently."""
    import json

    data = synthetic_reviews(120, seed=2)
    y = (data["label"] == "CG").astype(int).to_numpy()
    settings = CombinedSettings(use_encoder=False, inner_folds=3, stacker="linear")
    model = CombinedTextModel(settings).fit(data["text"].tolist(), data["rating"].to_numpy(), y)
    directory = model.save(tmp_path / "bundle")
    np.testing.assert_array_equal(CombinedTextModel.load(directory).predict_proba(data["text"].tolist()),
                                  model.predict_proba(data["text"].tolist()))

    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["component"] == "text_model" and manifest["format_version"] == TEXT_FORMAT_VERSION
    (directory / MANIFEST).write_text(json.dumps({**manifest, "format_version": 1}))
    with pytest.raises(BundleFormatError, match=rf"bundle: text_model format version 1, this fraudlens reads "
                                                rf"version {TEXT_FORMAT_VERSION} - fix: retrain"):
        CombinedTextModel.load(directory)
    (directory / MANIFEST).write_text(json.dumps(manifest))

    # A component inside the bundle is checked too: here the lexical channel of another version.
    lexical = directory / "lexical" / MANIFEST
    lexical.write_text(json.dumps({**json.loads(lexical.read_text()), "format_version": 7}))
    with pytest.raises(BundleFormatError, match=r"lexical: text_lexical format version 7"):
        CombinedTextModel.load(directory)

    # A bundle of the format before manifests (model.json only) names what is missing.
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "model.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(BundleFormatError, match=r"v1: not a saved text_model \(no component.json\) - fix"):
        CombinedTextModel.load(tmp_path / "v1")
