import numpy as np
import pytest

from fraudlens.models.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return TextEncoder(cache_dir=tmp_path_factory.mktemp("cache"), batch_size=4)


def test_embeddings_are_normalised_and_meaningful(encoder):
    texts = ["The kettle broke after two days.", "My kettle stopped working within a week.",
             "Fast shipping, the novel's plot was gripping."]
    emb = encoder.encode(texts)
    assert emb.shape == (3, encoder.dim) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_batching_and_order_do_not_change_results(precision):
    """Padding a text into a batch must not change its embedding: exactly (1e-5) in fp32; in bf16
    the padded matrix products round differently on some CPUs (AVX512-BF16 without AMX: ~3e-4),
    so there the check is on the direction."""
    encoder = TextEncoder(precision=precision, batch_size=4)
    texts = ["short", "a somewhat longer review text about a toaster", "", "mid length text"]
    one_by_one = np.stack([encoder._encode_uncached([t])[0] for t in texts])
    batched = encoder._encode_uncached(texts)
    if encoder.precision == "fp32":
        assert np.allclose(batched, one_by_one, atol=1e-5)
    else:
        assert (np.sum(batched * one_by_one, axis=1) > 0.9999).all()


def test_awkward_text_never_crashes(encoder):
    texts = ["", "   ", "很好的产品，物流很快", "🔥🔥🔥 best!!!", "منتج رائع جدا", "x" * 5000, "<script>alert(1)</script>"]
    emb = encoder.encode(texts)
    assert emb.shape == (len(texts), encoder.dim) and np.isfinite(emb).all()


def test_cache_serves_seen_texts_across_instances(tmp_path):
    first = TextEncoder(cache_dir=tmp_path)
    texts = ["cached once", "cached twice", "cached once"]
    cold = first.encode(texts)
    assert first.stats == {"encoded": 2, "cache_hits": 0}
    second = TextEncoder(cache_dir=tmp_path)
    warm = second.encode(texts + ["new text"])
    assert second.stats == {"encoded": 1, "cache_hits": 2}
    assert np.array_equal(warm[:3], cold)


def test_cache_is_keyed_by_model_settings(tmp_path):
    a = TextEncoder(cache_dir=tmp_path, max_length=128)
    b = TextEncoder(cache_dir=tmp_path, max_length=16)
    assert a.fingerprint != b.fingerprint
    a.encode(["some text"])
    b.encode(["some text"])
    assert b.stats["cache_hits"] == 0


def test_half_written_and_damaged_shards_are_ignored_not_fatal(tmp_path):
    """A SIGKILL during a shard write leaves a partial file; the next run must still start."""
    first = TextEncoder(cache_dir=tmp_path, checkpoint_every=2)
    texts = ["one review", "another review", "a third one"]
    expected = first.encode(texts)
    shard_dir = next(tmp_path.iterdir())
    (shard_dir / ".partial-shard-000009.npz").write_bytes(b"PK\x03\x04 truncated")
    last_shard = sorted(shard_dir.glob("shard-*.npz"))[-1]
    last_shard.write_bytes(last_shard.read_bytes()[:40])

    second = TextEncoder(cache_dir=tmp_path, checkpoint_every=2)
    np.testing.assert_allclose(second.encode(texts), expected, atol=1e-5)
    assert second.stats["cache_hits"] < len(texts), "texts of the damaged shard are encoded again"


def test_composed_and_decomposed_accents_are_one_text(encoder):
    composed, decomposed = "Très bien, café parfait", "Tre\u0300s bien, cafe\u0301 parfait"
    assert composed != decomposed
    first, second = encoder.encode([composed, decomposed])
    np.testing.assert_array_equal(first, second)


def test_length_batches_keep_to_the_row_and_token_budgets():
    from fraudlens.models.text_encoder import length_batches

    lengths = [3, 3, 4, 10, 10, 10, 50, 200]
    batches = length_batches(lengths, batch_size=4, batch_tokens=32)
    assert [lengths[b] for b in batches] == [[3, 3, 4], [10, 10, 10], [50], [200]]
    assert all(b.stop - b.start <= 4 for b in batches)
    assert sum(b.stop - b.start for b in batches) == len(lengths)  # every text once, in order
    assert [b.stop - b.start for b in length_batches(lengths, batch_size=3, batch_tokens=None)] == [3, 3, 2]


def test_token_budget_batches_give_the_embeddings_of_single_texts(encoder):
    texts = ["short", "a somewhat longer review text about a toaster", "", "mid length text", "ok ok"]
    budgeted = TextEncoder(batch_size=256, batch_tokens=16, precision=encoder.precision)
    one_by_one = np.stack([encoder._encode_uncached([t])[0] for t in texts])
    np.testing.assert_allclose(budgeted._encode_uncached(texts), one_by_one, atol=1e-4)


def test_texts_are_tokenised_a_slice_at_a_time_into_the_same_ids(encoder, monkeypatch):
    from fraudlens.models import text_encoder

    texts = [f"review number {i} " + "great product " * (i % 7) for i in range(23)] + ["", "ünïcode ✓"]
    whole = encoder.tokenizer(texts, truncation=True, max_length=encoder.max_length)["input_ids"]
    monkeypatch.setattr(text_encoder, "TOKENIZE_SLICE", 4)  # slices end mid-list, and one is short
    sliced = encoder.token_ids(texts)
    assert [row.tolist() for row in sliced] == whole and all(row.dtype == np.int32 for row in sliced)
