"""Labels from several sources resolve to one per entity by the documented rule."""

import pandas as pd

from fraudlens.marketplace.ingest import ingest
from fraudlens.marketplace.labels import label_counts_by_source, resolve_labels, with_extra_labels
from tests.conftest import write_csv

KEY = b"k"


def frame(rows):
    out = pd.DataFrame(rows, columns=["entity_type", "entity_id", "is_fraud", "source", "labeled_at"])
    out["labeled_at"] = pd.to_datetime(out["labeled_at"])
    return out


def test_the_latest_label_wins_and_analysts_break_ties():
    labels = frame([
        ("review", "r1", 0, "moderation", "2026-01-01"),
        ("review", "r1", 1, "analyst:ann", "2026-02-01"),     # later: wins
        ("review", "r2", 1, "analyst:bob", "2026-03-01"),
        ("review", "r2", 0, "moderation", "2026-03-01"),      # same time: the analyst wins
        ("order", "o1", 1, "chargeback", None),
        ("order", "o1", 0, "analyst:ann", "2026-01-05"),      # dated beats undated
        ("order", "o2", 1, None, None),
    ])
    resolved = resolve_labels(labels).set_index(["entity_type", "entity_id"])
    assert len(resolved) == 4
    assert resolved.loc[("review", "r1"), "is_fraud"] == 1
    assert resolved.loc[("review", "r2"), "source"] == "analyst:bob"
    assert resolved.loc[("order", "o1"), "is_fraud"] == 0
    assert resolved.loc[("order", "o2"), "source"] == "input"


def test_extra_labels_are_validated_merged_and_counted_by_source(small_input, tmp_path):
    extra = write_csv(tmp_path / "extra", "labels", """
entity_type,entity_id,is_fraud,source,labeled_at
review,r1,1,analyst:ann,2026-02-01T00:00:00Z
review,r3,maybe,analyst:ann,2026-02-01T00:00:00Z
""")
    base = ingest(small_input, KEY)
    merged = with_extra_labels(base, [extra], KEY)
    labels = merged.tables["labels"].set_index(["entity_type", "entity_id"])
    assert labels.loc[("review", "r1"), "is_fraud"] == 1 and labels.loc[("review", "r1"), "source"] == "analyst:ann"
    assert ("review", "r3") not in labels.index
    bad = merged.quarantine[merged.quarantine["file"].astype(str).str.endswith("extra/labels.csv")]
    assert len(bad) == 1 and bad["column"].iloc[0] == "is_fraud"
    counts = label_counts_by_source(merged.tables["labels"])
    assert counts["review.analyst:ann"] == 1 and counts["order.chargeback"] == 1
