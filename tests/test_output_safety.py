"""Every CSV fraudlens writes is safe to open in a spreadsheet."""

import csv

import pandas as pd
import pytest

from fraudlens.inference.outputs import atomic_write_csv, neutralise_formulas
from fraudlens.marketplace.synthetic import generate_marketplace, write_marketplace

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_neutralise_prefixes_only_formula_like_cells():
    frame = pd.DataFrame({"text": ["=1+1", "+cmd", "-2", "@SUM(A1)", "fine", "a=b", None], "n": range(7)})
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:6] == ["'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "fine", "a=b"]
    assert pd.isna(out["text"].iloc[6]) and out["n"].tolist() == list(range(7))


def test_atomic_csv_cells_never_start_a_formula(tmp_path):
    frame = pd.DataFrame({"id": ["=HYPERLINK(\"http://x\",\"y\")", "r2"], "text": ["<script>alert(1)</script>", "-x"]})
    path = atomic_write_csv(frame, tmp_path / "out.csv")
    with open(path, newline="") as fh:
        cells = [cell for row in list(csv.reader(fh))[1:] for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    assert "<script>alert(1)</script>" in cells  # stored as data, never altered or interpreted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_csv_marketplaces_hold_no_formula_cells(tmp_path, seed):
    write_marketplace(generate_marketplace(seed=seed, scale=300), tmp_path, fmt="csv")
    for path in tmp_path.rglob("*.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            cells = [cell for row in list(csv.reader(fh))[1:] for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)], path
