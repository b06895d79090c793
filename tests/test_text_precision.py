"""Encoder precision: what ``auto`` resolves to, bf16 agreement with fp32, caches per precision,
precision saved with the text model, fine-tuning in bf16. Real MiniLM weights."""

import logging

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fraudlens.config import load_config
from fraudlens.errors import ConfigError
from fraudlens.models import text_encoder
from fraudlens.models.text_encoder import TextEncoder, cpu_has_bf16, model_fingerprint, resolve_precision
from fraudlens.models.text_finetune import FineTuneSettings, fine_tune, resolve_training_precision
from fraudlens.models.text_model import CombinedSettings, CombinedTextModel
from fraudlens.text_config import load_text_config

TEXTS = ["The kettle broke after two days.", "My kettle stopped working within a week, very disappointed.",
         "Fast shipping, the novel's plot was gripping.", "", "ok",
         "I bought this for my daughter and she loves it; the colours are bright and the pages are thick " * 4]


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def bf16_cpu(monkeypatch):
    """This CPU counts as having native bf16 (bf16 still runs where it has not, emulated and slower)."""
    monkeypatch.setattr(text_encoder, "cpu_has_bf16", lambda flags=None: True)


@pytest.fixture
def no_bf16_cpu(monkeypatch):
    monkeypatch.setattr(text_encoder, "cpu_has_bf16", lambda flags=None: False)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_auto_is_bf16_where_the_cpu_has_it_and_fp32_where_not():
    assert resolve_precision("auto", "cpu", bf16_capable=True) == "bf16"
    assert resolve_precision("auto", "cpu", bf16_capable=False) == "fp32"
    assert resolve_training_precision("auto", "cpu", bf16_capable=True) == "bf16"
    assert resolve_training_precision("auto", "cpu", bf16_capable=False) == "fp32"


def test_cpu_detection_reads_the_native_bf16_flags():
    assert cpu_has_bf16(frozenset({"avx512f", "avx512_bf16"}))
    assert cpu_has_bf16(frozenset({"amx_tile", "amx_bf16"}))
    assert not cpu_has_bf16(frozenset({"avx2", "avx512f", "avx512bw"}))  # oneDNN emulates bf16 there: slower
    assert not cpu_has_bf16(frozenset())


def test_bf16_without_native_support_runs_fp32_with_a_warning_and_int8_stays_int8(caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_precision("bf16", "cpu", bf16_capable=False) == "fp32"
    assert "no native bf16" in caplog.text
    assert resolve_precision("bf16", "cpu", bf16_capable=True) == "bf16"
    for capable in (True, False):
        assert resolve_precision("int8", "cpu", bf16_capable=capable) == "int8"
        assert resolve_precision("fp32", "cpu", bf16_capable=capable) == "fp32"


def test_unknown_precisions_are_config_errors():
    with pytest.raises(ConfigError, match="precision 'fp8'"):
        resolve_precision("fp8")
    with pytest.raises(ConfigError, match="int8 is an inference precision"):
        resolve_training_precision("int8", "cpu")
    with pytest.raises(ConfigError, match="invalid config"):
        load_config("configs/demo.yaml", {"encoder.precision": "fp8"})


def test_the_old_quantize_key_says_to_use_precision():
    with pytest.raises(ConfigError, match="encoder.quantize was replaced by encoder.precision"):
        load_text_config(None, {"encoder.quantize": True})
    assert load_text_config("configs/text.yaml").encoder.precision == "auto"


def test_bf16_embeddings_are_within_cosine_0999_of_fp32(bf16_cpu):
    fp32 = TextEncoder(precision="fp32", batch_size=4)
    bf16 = TextEncoder(precision="bf16", batch_size=4)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    assert cosine(a, b).min() > 0.999


def test_bf16_batches_agree_with_single_texts(bf16_cpu):
    encoder = TextEncoder(precision="bf16", batch_size=3)
    one_by_one = np.stack([encoder._encode_uncached([t])[0] for t in TEXTS])
    assert cosine(encoder._encode_uncached(TEXTS), one_by_one).min() > 0.9999


def test_each_precision_has_its_own_cache(tmp_path, bf16_cpu):
    model_dir = text_encoder.default_model_dir()
    prints = {p: model_fingerprint(model_dir, 128, p) for p in ("fp32", "bf16", "fp16", "int8")}
    assert len(set(prints.values())) == 4
    assert model_fingerprint(model_dir, 128, "bf16", "cuda") != prints["bf16"]

    bf16 = TextEncoder(cache_dir=tmp_path, precision="bf16")
    bf16.encode(TEXTS)
    fp32 = TextEncoder(cache_dir=tmp_path, precision="fp32")
    fp32.encode(TEXTS)
    assert fp32.stats["cache_hits"] == 0, "a bf16 row was served to fp32"
    int8 = TextEncoder(cache_dir=tmp_path, precision="int8")
    int8.encode(TEXTS)
    assert int8.stats["cache_hits"] == 0
    again = TextEncoder(cache_dir=tmp_path, precision="bf16")
    again.encode(TEXTS)
    assert again.stats == {"encoded": 0, "cache_hits": len(set(TEXTS))}


def test_a_bf16_encoder_on_a_cpu_without_bf16_runs_and_caches_as_fp32(tmp_path, no_bf16_cpu):
    fp32 = TextEncoder(cache_dir=tmp_path, precision="fp32")
    expected = fp32.encode(TEXTS)
    fallback = TextEncoder(cache_dir=tmp_path, precision="bf16")
    assert fallback.precision == "fp32" and fallback.fingerprint == fp32.fingerprint
    assert next(fallback.model.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(fallback.encode(TEXTS), expected)


def labelled_reviews(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Fakes praise in stock phrases, genuine reviews name a concrete problem or detail."""
    rng = np.random.default_rng(seed)
    fake = ["Amazing product, highly recommend it to everyone!", "Best purchase ever, five stars, love it!",
            "Absolutely perfect, exceeded all my expectations!", "Great quality, great price, buy it now!"]
    real = ["The lid cracked after a month and the seller never answered.", "Battery lasts two days, the strap "
            "is a bit stiff.", "Took three weeks to arrive; the blue is darker than in the photo.",
            "Works, but the manual is only in German and the plug is EU."]
    y = rng.integers(0, 2, n)
    texts = [f"{rng.choice(fake if label else real)} ({i})" for i, label in enumerate(y)]
    return texts, y


TINY = FineTuneSettings(max_length=32, epochs=1, batch_size=16, threads=1, seed=0, train_layers=2)


def test_a_saved_text_model_keeps_the_precision_it_was_fitted_with(tmp_path, bf16_cpu, monkeypatch, caplog):
    texts, y = labelled_reviews(120, seed=1)
    settings = CombinedSettings(finetune=TINY, lexical_C_grid=(8.0,), style_C_grid=(1.0,), inner_folds=2,
                                nb_char_ngrams=None, stacker="linear", char_ngrams=None)
    assert settings.precision == "auto"
    model = CombinedTextModel(settings, threads=1).fit(texts, None, y)
    assert model.settings.precision == "bf16" and model.settings.finetune.precision == "bf16"
    assert model.encoder.encoder.precision == "bf16" and model.encoder.meta["precision"] == "bf16"
    expected = model.scores(texts[:20])["encoder"]

    loaded = CombinedTextModel.load(model.save(tmp_path / "text_model"))
    assert loaded.settings.precision == "bf16" and loaded.encoder.encoder.precision == "bf16"
    np.testing.assert_array_equal(loaded.scores(texts[:20])["encoder"], expected)

    # Served where bf16 is not native: fp32, which agrees to well within what the stacker notices.
    monkeypatch.setattr(text_encoder, "cpu_has_bf16", lambda flags=None: False)
    with caplog.at_level(logging.WARNING):
        on_old_cpu = CombinedTextModel.load(tmp_path / "text_model")
        logits = on_old_cpu.scores(texts[:20])["encoder"]
    assert on_old_cpu.settings.precision == "bf16" and on_old_cpu.encoder.encoder.precision == "fp32"
    assert "no native bf16" in caplog.text
    np.testing.assert_allclose(logits, expected, atol=0.05)


def test_fine_tuning_in_bf16_runs_early_stops_and_keeps_fp32_master_weights(tmp_path, bf16_cpu):
    texts, y = labelled_reviews(96, seed=2)
    val_texts, val_y = labelled_reviews(32, seed=3)
    # Validation labels opposite to the training ones: validation loss rises after the first epoch.
    settings = FineTuneSettings(max_length=32, epochs=4, batch_size=16, threads=1, seed=0, train_layers=2,
                                learning_rate=5e-4, head_learning_rate=5e-3, patience=1, precision="bf16")
    tuned = fine_tune(texts, y, val_texts, 1 - val_y, out_dir=tmp_path / "enc", settings=settings)
    history = tuned.meta["history"]
    assert tuned.meta["precision"] == "bf16"
    assert len(history) < settings.epochs and tuned.meta["best_epoch"] == 1
    assert all(np.isfinite(h["train_loss"]) and h["train_texts_per_s"] > 0 for h in history)
    weights = load_file(str(tmp_path / "enc" / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.float32}
    assert np.isfinite(tuned.predict_proba(val_texts)).all()
