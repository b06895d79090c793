"""The memory-lean scoring paths give the numbers of the straightforward ones they replace."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fraudlens.inference.reasons import feature_attributions
from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace
from fraudlens.models.fraud_model import FeatureScaler, FraudLensModel, architecture_for, build_model_inputs
from fraudlens.models.text_encoder import EmbeddingCache, TextEncoder, text_keys
from fraudlens.models.text_model import CombinedSettings, CombinedTextModel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small synthetic marketplace and an untrained (random) GNN over it: every path must agree
    for any weights, not only trained ones."""
    work = tmp_path_factory.mktemp("scale")
    write_marketplace(generate_marketplace(seed=5, scale=300), work / "m")
    tables = ingest(work / "m", b"k").tables
    encoder = TextEncoder(cache_dir=work / "cache")
    full = build_model_inputs(tables, encoder)
    torch.manual_seed(0)
    arch = architecture_for(full, hidden=16, layers=2, dropout=0.0, text_dim=8)
    model = FraudLensModel(FraudLensModel.new_gnn(arch), FeatureScaler.fit(full.features), arch,
                           encoder.model_dir, {"max_length": 128})
    return model, tables, encoder, full


def test_layerwise_sparse_scoring_equals_the_heteroconv_forward(world):
    model, tables, encoder, full = world
    projected = model.inputs(tables, encoder)
    assert projected.text_projected and projected.review_text.shape[1] == model.gnn.text_proj.out_features
    lean = model.logits(projected)
    with torch.no_grad():
        reference = model.gnn(model.scaler.transform(full.features), full.data.edge_index_dict, full.review_text)
    for node_type in ("review", "order"):
        torch.testing.assert_close(lean[node_type], reference[node_type], atol=1e-5, rtol=1e-5)


def test_local_logits_equal_the_forward_and_text_attribution_is_gradient_x_embedding(world):
    model, tables, encoder, full = world
    gnn = model.gnn
    x = model.scaler.transform(full.features)
    with torch.no_grad():
        text = gnn.text_proj(full.review_text)
        reference = gnn(x, full.data.edge_index_dict, full.review_text)
    inputs = model.inputs(tables, encoder)
    states = gnn.layer_states(x, inputs.adjacency, text)
    nodes = torch.arange(0, len(reference["review"]), 7)
    local = gnn.local_logits("review", x["review"][nodes], nodes, states, inputs.adjacency, text[nodes])
    torch.testing.assert_close(local, reference["review"][nodes], atol=1e-5, rtol=1e-5)

    # text_content = gradient x input at the 384-d embedding, read at the 8-d projection
    raw = full.review_text[nodes].clone().requires_grad_(True)
    with torch.enable_grad():
        own = gnn.local_logits("review", x["review"][nodes], nodes, states, inputs.adjacency, gnn.text_proj(raw))
        (grad,) = torch.autograd.grad(own.sum(), [raw])
    expected = (grad * raw).sum(dim=1).detach().numpy()
    got = feature_attributions(model, inputs, {"review": nodes.numpy()})["review"]["text_content"].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)



def test_scores_and_attributions_do_not_depend_on_the_slice_sizes(world, monkeypatch):
    """Scaling, every layer, the heads and the attributions run a slice of rows at a time at
    scale; with slices of a few rows (many slices per node type) nothing moves."""
    import fraudlens.inference.reasons as reasons
    import fraudlens.models.fraud_model as fraud_model
    import fraudlens.models.gnn as gnn

    model, tables, encoder, _ = world
    explain = {"review": np.arange(0, 200, 3)[::-1].copy(), "order": np.arange(5, 150, 4)}
    whole_inputs = model.inputs(tables, encoder)
    whole, whole_why = model.logits(whole_inputs), feature_attributions(model, whole_inputs, explain)
    assert all(len(whole_inputs.features[nt]) > 200 for nt in ("review", "order"))
    for module, name, rows in ((gnn, "UPDATE_ROWS", 7), (fraud_model, "TRANSFORM_ROWS", 5),
                               (reasons, "ATTRIBUTION_ROWS", 4)):
        monkeypatch.setattr(module, name, rows)
    sliced_inputs = model.inputs(tables, encoder)
    sliced, sliced_why = model.logits(sliced_inputs), feature_attributions(model, sliced_inputs, explain)
    for nt in ("review", "order"):
        torch.testing.assert_close(sliced[nt], whole[nt], atol=1e-6, rtol=1e-6)
        pd.testing.assert_frame_equal(sliced_why[nt], whole_why[nt], atol=1e-6, rtol=1e-6)
        assert list(sliced_why[nt].index) == list(whole_inputs.graph.ids[nt][explain[nt]])

def test_text_model_rows_are_cached_bit_for_bit_and_served_from_the_cache(tmp_path):
    spec = importlib.util.spec_from_file_location("tc", ROOT / "tests" / "test_text_classifier.py")
    texts_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(texts_module)
    data = texts_module.synthetic_reviews(160, seed=4)
    y = (data["label"] == "CG").astype(int).to_numpy()
    model = CombinedTextModel(CombinedSettings(use_encoder=False, inner_folds=3, seed=0)).fit(
        data["text"].tolist(), data["rating"].to_numpy(), y)
    texts = data["text"].tolist() + ["", "ein Text auf Deutsch", data["text"][0]]
    cache = EmbeddingCache(tmp_path, model.per_text_fingerprint)
    fresh = model.per_text_rows(texts)
    cold = model.per_text_rows(texts, cache)
    warm = model.per_text_rows(texts, EmbeddingCache(tmp_path, model.per_text_fingerprint))
    assert fresh.view(np.uint32).tolist() == cold.view(np.uint32).tolist() == warm.view(np.uint32).tolist()
    np.testing.assert_array_equal(model.scores(texts, cache=cache)["combined"], model.scores(texts)["combined"])

    # A planted row proves the warm path reads the cache instead of recomputing.
    planted = cold[:1].copy()
    planted[0, 0] = 123.0
    EmbeddingCache(tmp_path, model.per_text_fingerprint).store(text_keys(["a text first seen in the cache"]), planted)
    served = model.per_text_rows(["a text first seen in the cache"], EmbeddingCache(tmp_path, model.per_text_fingerprint))
    assert served[0, 0] == 123.0


def test_embedding_cache_unloads_and_reloads_on_demand(tmp_path):
    cache = EmbeddingCache(tmp_path, "fp")
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    cache.store(np.array(["a", "b", "c", "d"]), rows)
    cache.store(np.array(["e"]), np.full((1, 3), 9, dtype=np.float32))
    cache.unload()
    got = np.full((3, 3), -1, dtype=np.float32)
    found = cache.fill(np.array(["e", "x", "b"]), got)
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(got, [[9, 9, 9], [-1, -1, -1], [3, 4, 5]])



def test_embedding_cache_reads_rows_at_lookup_and_skips_a_shard_it_cannot_read(tmp_path):
    cache = EmbeddingCache(tmp_path, "fp")
    cache.store(np.array(["a"]), np.ones((1, 3), dtype=np.float32))
    np.savez(cache.dir / "shard-000001.npz", keys=np.array(["b"]))  # keys readable, rows missing
    cache.unload()
    got = np.zeros((2, 3), dtype=np.float32)
    assert cache.fill(np.array(["a", "b"]), got).tolist() == [True, False]
    np.testing.assert_array_equal(got, [[1, 1, 1], [0, 0, 0]])

def test_batch_scale_reads_stage_lines_and_states_the_targets(tmp_path):
    spec = importlib.util.spec_from_file_location("batch_scale", ROOT / "benchmarks" / "batch_scale.py")
    batch_scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(batch_scale)
    line = "2026-11-22T06:32:21Z stage attributions: done in 6.7 s, peak RSS 3.86 GiB"
    match = batch_scale.STAGE_LINE.search(line)
    assert match["name"] == "attributions" and float(match["seconds"]) == 6.7 and float(match["rss"]) == 3.86
    run = {"size": 0, "reviews": 0, "orders": 0, "cache": "warm", "wall_s": 0.0, "peak_rss_gib": 0.0,
           "stages_s": {"ingest": 1.0}, "texts_encoded": 0, "flagged": {}, "rings": 0}
    result = {"runs": [{**run, "size": 100_000, "reviews": 100_500, "orders": 110_000, "wall_s": 40.0,
                        "peak_rss_gib": 2.0},
                       {**run, "size": 1_000_000, "reviews": 1_030_000, "orders": 1_100_000, "wall_s": 400.0,
                        "peak_rss_gib": 9.0}],
              "growth_ratio_10x": 10.0, "growth_sizes": [100_000, 1_000_000], "model": "m", "config": "c",
              "machine": {"cores": 2, "arch": "x86_64", "load_average_end": 1.0}, "seed": 1}
    text = batch_scale.markdown(result)
    assert "400 s against 300 s (missed)" in text and "9.00 GiB against 8 GiB (missed)" in text
    assert "10.00x the time for 10x the entities, target <= 11x (met)" in text


def test_batch_scale_keeps_earlier_sizes_of_the_same_setup(tmp_path):
    spec = importlib.util.spec_from_file_location("batch_scale", ROOT / "benchmarks" / "batch_scale.py")
    batch_scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(batch_scale)
    setup = {"model": "m", "config": "c", "seed": 1}
    small = [{"size": 100, "cache": "cold", "wall_s": 50.0}, {"size": 100, "cache": "warm", "wall_s": 10.0}]
    large = [{"size": 1000, "cache": "warm", "wall_s": 95.0}]
    both = batch_scale.merged({**setup, "runs": large}, {**setup, "runs": small})
    assert [(r["size"], r["cache"]) for r in both["runs"]] == [(100, "cold"), (100, "warm"), (1000, "warm")]
    assert both["growth_ratio_10x"] == 9.5 and both["growth_sizes"] == [100, 1000]
    other_model = batch_scale.merged({**setup, "runs": large}, {**setup, "model": "other", "runs": small})
    assert other_model["runs"] == large and other_model["growth_ratio_10x"] is None
