"""Training bookkeeping: the label split (stratified, stable across retrains with more labels) and
the GNN's batch size per epoch."""

import numpy as np
import pandas as pd

from fraudlens.training.train import _stable_split


def _task(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return pd.Index([f"o{i}" for i in range(n)]), (rng.random(n) < 0.15).astype(np.float32)


def test_split_is_stratified_and_seeded():
    ids, y = _task(3000)
    part = _stable_split(ids, y, 0.2, seed=0)
    for cls in (0, 1):
        counts = np.bincount(part[y == cls], minlength=3)
        n = (y == cls).sum()
        assert abs(counts[1] - 0.1 * n) <= 1 and abs(counts[2] - 0.1 * n) <= 1, (cls, counts)
    np.testing.assert_array_equal(_stable_split(ids, y, 0.2, seed=0), part)
    assert (_stable_split(ids, y, 0.2, seed=1) != part).mean() > 0.2


def test_more_labels_move_only_earlier_labels_near_a_boundary():
    ids, y = _task(3000)
    k = 100  # analyst labels added to 2,900
    before = _stable_split(ids[:-k], y[:-k], 0.2, seed=0)
    after = _stable_split(ids, y, 0.2, seed=0)[:-k]
    moved = int((after != before).sum())
    # Two boundaries per class, each shifted by at most the class's new labels (plus rounding).
    added = [int((y[-k:] == cls).sum()) for cls in (0, 1)]
    assert moved <= sum(2 * (a + 2) for a in added), moved
    assert moved < 0.05 * len(before)


def test_tiny_classes_stay_in_training():
    ids = pd.Index([f"r{i}" for i in range(23)])
    y = np.r_[np.ones(3), np.zeros(20)].astype(np.float32)
    part = _stable_split(ids, y, 0.2, seed=0)
    assert (part[y == 1] == 0).all() and {1, 2} <= set(part[y == 0])


def test_small_label_sets_still_get_several_steps_an_epoch():
    from fraudlens.training.train import MIN_STEPS_PER_EPOCH, epoch_batch_size
    assert epoch_batch_size(100_000, 2048) == 2048  # large sets keep the configured batch
    assert -(-2000 // epoch_batch_size(2000, 2048)) >= MIN_STEPS_PER_EPOCH
    assert epoch_batch_size(40, 2048) == 32  # never tiny batches
    assert epoch_batch_size(10, 8) == 8
