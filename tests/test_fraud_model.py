import numpy as np
import pandas as pd
import pytest
import torch

from fraudlens.marketplace.ingest import ingest
from fraudlens.models.fraud_model import FeatureScaler, FraudLensModel, architecture_for, build_model_inputs
from fraudlens.models.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return TextEncoder(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def model_and_tables(small_input, encoder):
    tables = ingest(small_input, b"k").tables
    inputs = build_model_inputs(tables, encoder)
    torch.manual_seed(0)
    arch = architecture_for(inputs, hidden=16, layers=2, dropout=0.1, text_dim=8)
    model = FraudLensModel(FraudLensModel.new_gnn(arch), FeatureScaler.fit(inputs.features), arch,
                           encoder.model_dir, {"max_length": 128})
    model._encoder, model._encoder_key = encoder, (None, ())
    return model, tables, inputs


def test_gnn_gives_one_logit_per_review_and_order(model_and_tables):
    model, _, inputs = model_and_tables
    logits = model.logits(inputs)
    assert logits["review"].shape == (4,) and logits["order"].shape == (3,)
    assert torch.isfinite(logits["review"]).all() and torch.isfinite(logits["order"]).all()


def test_neighbourhood_changes_the_score(model_and_tables):
    """Message passing is real: the same review scores differently when its author's other activity changes."""
    model, tables, _ = model_and_tables
    before = model.score(tables)["review"].set_index("review_id")["score"]
    orders = tables["orders"].copy()
    orders.loc[orders["account_id"] == "a1", "status"] = "chargeback"
    after = model.score({**tables, "orders": orders})["review"].set_index("review_id")["score"]
    assert after["r1"] != pytest.approx(before["r1"], abs=1e-9)


def test_scores_for_reviews_only_input(model_and_tables):
    model, tables, _ = model_and_tables
    scores = model.score({"reviews": tables["reviews"]})
    assert set(scores) == {"review"} and scores["review"]["score"].between(0, 1).all()


def test_save_load_round_trip_scores_identically(model_and_tables, tmp_path):
    model, tables, _ = model_and_tables
    model.save(tmp_path / "bundle")
    loaded = FraudLensModel.load(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "encoder" / "config.json").exists()
    for node_type, frame in model.score(tables).items():
        pd.testing.assert_frame_equal(frame, loaded.score(tables)[node_type])


def test_scaler_keeps_training_statistics(model_and_tables):
    model, _, inputs = model_and_tables
    shifted = {nt: f + 100.0 for nt, f in inputs.features.items()}
    x = model.scaler.transform(shifted)["review"].numpy()
    present = ~np.isnan(shifted["review"].to_numpy(dtype=np.float64))
    assert np.allclose(x[present], 5.0)  # far outside training range: clipped, not re-standardised
    assert np.allclose(x[~present], 0.0)  # a missing graph feature (no neighbours) reads as the mean


def test_platt_calibration_maps_overconfident_logits_to_observed_rates():
    from fraudlens.models.fraud_model import fit_platt, platt_probability

    rng = np.random.default_rng(0)
    y = rng.random(4000) < 0.2
    # An overconfident model: right ranking, logits 5x too large.
    logits = 5 * (np.where(y, 1.0, -1.0) + rng.normal(0, 1.2, 4000))
    slope, intercept = fit_platt(logits, y.astype(int))
    assert 0 < slope < 1
    raw_brier = np.mean((platt_probability(logits) - y) ** 2)
    calibrated = platt_probability(logits, slope, intercept)
    assert np.mean((calibrated - y) ** 2) < raw_brier
    assert abs(calibrated.mean() - y.mean()) < 0.02
    assert fit_platt(logits, np.zeros(4000)) == (1.0, 0.0)


def test_a_model_with_label_features_reads_the_labels_of_the_scored_input(small_input, encoder, tmp_path):
    from fraudlens.models.fraud_model import with_label_features

    tables = ingest(small_input, b"k").tables
    inputs = with_label_features(build_model_inputs(tables, encoder), tables["labels"])
    assert {"lab_share_account", "lab_known_seller"} <= set(inputs.label_features["order"].columns)
    torch.manual_seed(0)
    arch = architecture_for(inputs, hidden=16, layers=2, dropout=0.1, text_dim=8)
    assert arch["label_dims"]["order"] == inputs.label_features["order"].shape[1]
    model = FraudLensModel(FraudLensModel.new_gnn(arch), FeatureScaler.fit(inputs.features), arch,
                           encoder.model_dir, {"max_length": 128},
                           label_scaler=FeatureScaler.fit(inputs.label_features))
    model._encoder, model._encoder_key = encoder, (None, ())
    model.save(tmp_path / "bundle")
    loaded = FraudLensModel.load(tmp_path / "bundle")
    for node_type, frame in model.score(tables).items():
        pd.testing.assert_frame_equal(frame, loaded.score(tables)[node_type])
    # The scores move with the labels known to the run, and not without them.
    unlabelled = {k: v for k, v in tables.items() if k != "labels"}
    assert not np.allclose(model.score(tables)["order"]["score"], model.score(unlabelled)["order"]["score"])
