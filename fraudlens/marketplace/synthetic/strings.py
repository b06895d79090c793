"""Vectorised string building with pyarrow kernels, so that a million texts, emails or ids are
built a column at a time, never a row at a time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.vocabulary import CATEGORY_NAMES

STR = pa.large_string()  # what pandas' str dtype stores; one type avoids casts in every kernel


def string_array(values: Sequence[str | None]) -> pa.Array:
    return pa.array(list(values), STR)


def join(parts: Sequence[pa.Array | str], separator: str = " ") -> pa.Array:
    """Joins per row, treating null parts as absent (pyarrow's own "skip" mode drops rows)."""
    parts = [pa.scalar(p, STR) if isinstance(p, str) else p for p in parts]
    joined = pc.binary_join_element_wise(*parts, pa.scalar(separator, STR), null_handling="replace",
                                         null_replacement="")
    if not separator.strip():
        joined = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s{2,}", " "))
    return joined


def number_strings(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, np.int64)), STR)


def random_codes(rng: np.random.Generator, n: int, width: int, alphabet: bytes) -> pa.Array:
    letters = np.frombuffer(alphabet, np.uint8)[rng.integers(0, len(alphabet), (n, width))]
    return pa.array(np.ascontiguousarray(letters).view(f"S{width}").ravel()).cast(STR)


def keep_where(rng: np.random.Generator, values: pa.Array, share: float | np.ndarray) -> pa.Array:
    """Nulls out each row except with probability ``share``."""
    keep = rng.random(len(values)) < share
    return pc.if_else(pa.array(keep), values, pa.scalar(None, STR))


def as_column(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Arrow strings as a pandas str column (no index, so assignment cannot misalign)."""
    return values.to_pandas().array


def as_arrow(series: pd.Series) -> pa.Array:
    values = pa.array(series)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def codes_to_strings(names: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return as_column(string_array(names).take(pa.array(codes)))


class Pools:
    """Several pools of templates flattened so one vectorised draw picks from a different pool
    per row. A template may hold one ``{slot}``, filled per row at render time."""

    _SLOT = re.compile(r"\{(\w+)\}")

    def __init__(self, pools: Sequence[Sequence[str | None]]):
        flat = [template for pool in pools for template in pool]
        self.sizes = np.array([len(pool) for pool in pools])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        prefixes, slots, suffixes = [], [], []
        for template in flat:
            match = self._SLOT.search(template) if template is not None else None
            prefixes.append(template if match is None else template[:match.start()])
            slots.append(None if match is None else match.group(1))
            suffixes.append("" if match is None else template[match.end():])
        self.slot_names = sorted({s for s in slots if s is not None})
        self.slot_of = np.array([len(self.slot_names) if s is None else self.slot_names.index(s) for s in slots])
        self.prefixes, self.suffixes = string_array(prefixes), string_array(suffixes)

    @classmethod
    def single(cls, pool: Sequence[str | None]) -> Pools:
        return cls([pool])

    def draw(self, rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys)
        return self.offsets[keys] + (rng.random(len(keys)) * self.sizes[keys]).astype(np.int64)

    def render(self, picks: np.ndarray, **fillers: pa.Array) -> pa.Array:
        prefixes = self.prefixes.take(pa.array(picks))
        if not self.slot_names:
            return prefixes
        slot_values = [fillers[name] for name in self.slot_names] + [pa.scalar("", STR)]
        filler = pc.choose(pa.array(self.slot_of[picks]), *slot_values)
        return join([prefixes, filler, self.suffixes.take(pa.array(picks))], "")

    def sample(self, rng: np.random.Generator, keys: np.ndarray | int, n: int | None = None,
               **fillers: pa.Array) -> pa.Array:
        keys = np.full(n, keys) if n is not None else keys
        return self.render(self.draw(rng, keys), **fillers)


def pools_by_category(table: dict[str, Sequence[str]]) -> Pools:
    return Pools([table[name] for name in CATEGORY_NAMES])
