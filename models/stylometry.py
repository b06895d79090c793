"""Stylometric features of review texts: cheap, language-light signals a text model can stack.

Per text: length, sentence structure, truncation (text stopping mid-sentence), punctuation,
case and digit rates, repetition inside the review (repeated word n-grams), a small sentiment
lexicon and its mismatch with the star rating. Per batch: how many other reviews in the same
batch are exact or near duplicates (MinHash over word 3-grams with LSH banding), as a rate per
1,000 other reviews, so these two columns depend on what is scored together - score a
marketplace's reviews (or a seller's file) in one call, not one review at a time.

Three columns are artefact detectors rather than style: ``ends_mid_sentence`` (generated texts cut
at a token budget stop mid-sentence), ``ends_with_whitespace`` (the budget ran out on a space or
newline token: a cut the mid-sentence test cannot see once the text is stripped) and
``missing_space_after_punct`` ("colors.Very good" - sentences glued together). They are real
signals on machine-generated text, but a model that leans on them learns the generator's
packaging, not its prose; ``ARTEFACT_FEATURES`` names them so benchmarks can report what they
contribute.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import zlib
from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd

STYLE_FEATURES: tuple[str, ...] = (
    "log_chars", "log_words", "mean_word_len", "log_sentences", "mean_sentence_words", "sd_sentence_words",
    "ends_mid_sentence", "ends_with_whitespace", "missing_space_after_punct", "space_before_punct_rate",
    "punct_rate", "exclaim_rate", "question_rate", "upper_rate", "allcaps_word_rate", "digit_rate", "newline_rate",
    "type_token_ratio", "repeated_bigram_frac", "repeated_trigram_frac", "log_max_trigram_repeat", "first_person_rate",
    "sentiment", "rating_norm", "rating_missing", "rating_sentiment_gap", "rating_sentiment_mismatch",
    "log_exact_dup_per_1k", "log_near_dup_per_1k",
)
ARTEFACT_FEATURES: tuple[str, ...] = ("ends_mid_sentence", "ends_with_whitespace", "missing_space_after_punct")
# Whitespace layout: invisible to the TF-IDF analyzer (it collapses whitespace) and to the BERT
# tokenizer, so only these columns carry it.
LAYOUT_FEATURES: tuple[str, ...] = ("ends_with_whitespace", "space_before_punct_rate")
BATCH_FEATURES: tuple[str, ...] = ("log_exact_dup_per_1k", "log_near_dup_per_1k")
# The columns that are a function of the text alone (cacheable per text).
PER_TEXT_FEATURES: tuple[str, ...] = tuple(c for c in STYLE_FEATURES
                                           if c not in BATCH_FEATURES and not c.startswith("rating"))

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…。！？]+")
_GLUED = re.compile(r"[a-z][.!?][A-Z]")
# "nice !", "fits , great": a typing habit of people (and of French typography); detokenised
# generator output never has it. TF-IDF and the BERT tokenizer both discard the space.
_SPACE_BEFORE_PUNCT = re.compile(r"[^\S\n][,.!?;:]")
_FINAL_PUNCT = set(".!?…。！？")
_CLOSERS = set("\"'”’)]}»*~")
_EMOTICON_END = re.compile(r"(?:[:;=8][-']?[)(DPpO/\\|\]\[]|<3|\^\^|xD|XD)$")

# A deliberately small, generic English sentiment lexicon (no tuning to any data set).
POSITIVE_WORDS = frozenset("""
good great excellent amazing awesome love loved loves lovely perfect perfectly best better nice
fantastic wonderful happy pleased recommend recommended recommending satisfied comfortable easy
beautiful beautifully sturdy durable favorite favourite fun enjoy enjoyed enjoying enjoyable fine
works worked solid superb outstanding brilliant impressed impressive glad helpful useful reliable
quality value worth cute pretty gorgeous fast quick smooth exactly well positive terrific super
delighted incredible fabulous adorable handy convenient effective affordable bargain
""".split())
NEGATIVE_WORDS = frozenset("""
bad poor terrible awful horrible worst worse hate hated hates disappointed disappointing
disappointment broke broken break breaks useless waste wasted junk cheap cheaply flimsy returned
return returning refund defective fail failed fails failure problem problems issue issues
unfortunately annoying uncomfortable difficult hard boring mediocre crap garbage trash fake wrong
damaged missing leak leaked leaks stopped ripped torn smell smells smelly sticky unhappy avoid
overpriced misleading faulty weak lousy pathetic dead cracked scratched slow noisy painful
""".split())
_NEGATORS = frozenset("not no never nothing nor neither hardly barely without cannot cant dont doesnt didnt isnt "
                      "wasnt wont wouldnt shouldnt couldnt aint arent werent haven't hasn't don't doesn't didn't "
                      "isn't wasn't won't wouldn't shouldn't couldn't can't aren't weren't".split())
_FIRST_PERSON = frozenset("i me my mine myself i'm i've i'd i'll we us our ours".split())


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def ends_mid_sentence(text: str) -> bool:
    """True when a non-empty text stops without sentence-final punctuation (after closing quotes/brackets)."""
    stripped = text.rstrip()
    if not stripped:
        return False
    if _EMOTICON_END.search(stripped):
        return False
    core = stripped.rstrip("".join(_CLOSERS)) or stripped
    last = core[-1]
    if last in _FINAL_PUNCT:
        return False
    # A review that ends in an emoji or other symbol has ended on purpose.
    return not unicodedata.category(last).startswith("S")


def sentiment_score(tokens: Sequence[str]) -> float:
    """(positive - negative) / (positive + negative + 1), a negator within 3 words flips a hit."""
    pos = neg = 0
    for i, token in enumerate(tokens):
        polarity = 1 if token in POSITIVE_WORDS else -1 if token in NEGATIVE_WORDS else 0
        if polarity == 0:
            continue
        if any(t in _NEGATORS for t in tokens[max(0, i - 3):i]):
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
    return (pos - neg) / (pos + neg + 1.0)


def _repetition(tokens: list[str], n: int) -> tuple[float, int]:
    """(fraction of n-gram occurrences whose n-gram occurs more than once, max count of one n-gram)."""
    if len(tokens) < n:
        return 0.0, 0
    grams = Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    repeated = sum(c for c in grams.values() if c > 1)
    return repeated / total, max(grams.values())


_LETTER, _UPPER, _DIGIT, _PUNCT = 1, 2, 4, 8
_TABLE_SIZE = 0x30000
_char_table: np.ndarray | None = None


def _char_classes(text: str) -> np.ndarray:
    """Per-character class bits (letter, upper, digit, punctuation) via a lookup table."""
    global _char_table
    if _char_table is None:
        table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
        for cp in range(_TABLE_SIZE):
            category = unicodedata.category(chr(cp))
            table[cp] = ((_LETTER if category[0] == "L" else 0) | (_UPPER if category == "Lu" else 0)
                         | (_DIGIT if category == "Nd" else 0) | (_PUNCT if category[0] == "P" else 0))
        _char_table = table
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _char_table[np.minimum(codes, _TABLE_SIZE - 1)]


def _text_features(text: str) -> dict[str, float]:
    tokens = words(text)
    n_chars = len(text)
    n_words = len(tokens)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    sentence_words = [len(_WORD.findall(s)) for s in sentences] or [0]
    classes = _char_classes(text)
    letters = int(np.count_nonzero(classes & _LETTER))
    punct = int(np.count_nonzero(classes & _PUNCT))
    rep2, _ = _repetition(tokens, 2)
    rep3, max3 = _repetition(tokens, 3)
    denominator = max(n_chars, 1)
    return {
        "log_chars": math.log1p(n_chars),
        "log_words": math.log1p(n_words),
        "mean_word_len": float(np.mean([len(t) for t in tokens])) if tokens else 0.0,
        "log_sentences": math.log1p(len(sentences)),
        "mean_sentence_words": float(np.mean(sentence_words)),
        "sd_sentence_words": float(np.std(sentence_words)),
        "ends_mid_sentence": float(ends_mid_sentence(text)),
        "ends_with_whitespace": float(bool(text.strip()) and text[-1].isspace()),
        "missing_space_after_punct": len(_GLUED.findall(text)) / max(len(sentences), 1),
        "space_before_punct_rate": len(_SPACE_BEFORE_PUNCT.findall(text)) / max(len(sentences), 1),
        "punct_rate": punct / denominator,
        "exclaim_rate": 100.0 * text.count("!") / denominator,
        "question_rate": 100.0 * text.count("?") / denominator,
        "upper_rate": int(np.count_nonzero(classes & _UPPER)) / max(letters, 1),
        "allcaps_word_rate": sum(len(w) >= 2 and w.isupper() for w in _WORD.findall(text)) / max(n_words, 1),
        "digit_rate": int(np.count_nonzero(classes & _DIGIT)) / denominator,
        "newline_rate": text.count("\n") / max(len(sentences), 1),
        "type_token_ratio": len(set(tokens)) / n_words if n_words else 0.0,
        "repeated_bigram_frac": rep2,
        "repeated_trigram_frac": rep3,
        "log_max_trigram_repeat": math.log1p(max3),
        "first_person_rate": sum(t in _FIRST_PERSON for t in tokens) / max(n_words, 1),
        "sentiment": sentiment_score(tokens),
    }


def _normalised_tokens(texts: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(words(t)) for t in texts]


def _shingle_hashes(tokens: tuple[str, ...], k: int = 3) -> np.ndarray:
    if len(tokens) < k:
        grams = [" ".join(tokens)] if tokens else []
    else:
        grams = [" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    return np.unique(np.fromiter((zlib.crc32(g.encode("utf-8", "replace")) for g in grams), dtype=np.uint64,
                                 count=len(grams)))


NUM_PERM = 64
EMPTY_SIGNATURE = np.uint32(0xFFFFFFFF)
PAIR_CHUNK = 1 << 19  # candidate pairs compared at a time in duplicate_counts_from


def text_fingerprints(texts: Sequence[str], num_perm: int = NUM_PERM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """What duplicate counting needs of each text, computable one text at a time (and cacheable):
    (hash of its lower-cased word sequence, uint64 [n]; MinHash signature of its word 3-gram set,
    uint32 [n, num_perm], all EMPTY_SIGNATURE for a text without words)."""
    n = len(texts)
    token_seqs = _normalised_tokens(texts)
    uniques: dict[tuple[str, ...], int] = {}
    group = np.fromiter((uniques.setdefault(t, len(uniques)) for t in token_seqs), dtype=np.int64, count=n)
    unique_tokens = list(uniques)
    prime = np.uint64((1 << 61) - 1)
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 29, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 61, size=num_perm, dtype=np.uint64)
    signatures = np.full((len(unique_tokens), num_perm), EMPTY_SIGNATURE, dtype=np.uint32)
    for row, tokens in enumerate(unique_tokens):
        hashes = _shingle_hashes(tokens)
        if len(hashes):
            # The low 32 bits of each 61-bit minimum: equality is all that is ever asked of them.
            signatures[row] = ((a[:, None] * hashes[None, :] + b[:, None]) % prime).min(axis=1) & np.uint64(0xFFFFFFFF)
    token_hash = np.fromiter((int.from_bytes(hashlib.blake2b("\x1f".join(t).encode("utf-8", "replace"),
                                                            digest_size=8).digest(), "little")
                              for t in unique_tokens), dtype=np.uint64, count=len(unique_tokens))
    return token_hash[group], signatures[group]


def duplicate_counts(texts: Sequence[str], threshold: float = 0.5, num_perm: int = NUM_PERM, bands: int = 16,
                     seed: int = 0, max_bucket: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(exact, near) duplicate counts per text within ``texts`` (the text itself not counted).

    Exact: same lower-cased word sequence. Near: estimated Jaccard similarity of word 3-gram sets
    >= ``threshold`` (MinHash, ``num_perm`` permutations, LSH with ``bands`` bands), exact copies
    included. Empty texts count as duplicates of nothing. See ``duplicate_counts_from``.
    """
    if len(texts) == 0:
        return np.zeros(0), np.zeros(0)
    return duplicate_counts_from(*text_fingerprints(texts, num_perm, seed), threshold, bands, max_bucket)


def duplicate_counts_from(token_hash: np.ndarray, signatures: np.ndarray, threshold: float = 0.5, bands: int = 16,
                          max_bucket: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``duplicate_counts`` from ``text_fingerprints``: numpy only, no per-text Python.

    Identical texts are collapsed first, so a campaign of thousands of copies costs one row.
    Pairs are checked only within LSH buckets of at most ``max_bucket`` distinct texts, so the
    cost stays linear: templated campaigns put thousands of distinct near-copies in one bucket,
    and checking every pair of them needed 24 GB for 100k synthetic reviews. A text in a larger
    bucket counts as near-duplicates the texts of that bucket that also agree with it on the
    next band (two bands: 8 of the 64 hashes): an estimate, where the count is already large.
    """
    from scipy import sparse

    n = len(token_hash)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    _, first, group = np.unique(token_hash, return_index=True, return_inverse=True)
    group = group.ravel()
    signatures = signatures[first]
    num_perm = signatures.shape[1]
    weight = np.bincount(group).astype(np.float64)
    empty = (signatures == EMPTY_SIGNATURE).all(axis=1)
    exact = weight - 1.0
    exact[empty] = 0.0

    near = exact.copy()
    live = np.flatnonzero(~empty)
    if len(live) > 1:
        rows_per_band = num_perm // bands
        buckets = []
        for band in range(bands):
            block = np.ascontiguousarray(signatures[live, band * rows_per_band:(band + 1) * rows_per_band])
            _, bucket = np.unique(block.view(np.dtype((np.void, block.dtype.itemsize * rows_per_band))).ravel(),
                                  return_inverse=True)
            buckets.append(bucket.ravel().astype(np.int64))
        columns, member_rows, offset = [], [], 0
        crowd = np.zeros(len(live))
        live_weight = weight[live]
        for band, bucket in enumerate(buckets):
            oversized = np.bincount(bucket)[bucket] > max_bucket
            if oversized.any():
                # Texts agreeing on two whole bands (8 of 64 hashes) are near-copies with high
                # probability: count those instead of checking every pair of the crowd.
                after = buckets[(band + 1) % bands]
                stricter = bucket * (int(after.max()) + 1) + after
                _, sub = np.unique(stricter[oversized], return_inverse=True)
                copies = np.bincount(sub, weights=live_weight[oversized])[sub]
                crowd[oversized] = np.maximum(crowd[oversized], copies - live_weight[oversized])
            columns.append(bucket[~oversized] + offset)
            member_rows.append(np.flatnonzero(~oversized))
            offset += int(bucket.max()) + 1
        near[live] = np.maximum(near[live], crowd)
        cols = np.concatenate(columns)
        rows = np.concatenate(member_rows)
        membership = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)),
                                       shape=(len(live), offset))
        candidates = sparse.triu(membership @ membership.T, k=1).tocoo()
        first_rows, second_rows = candidates.row, candidates.col
        del candidates, membership
        # Pairs are checked a slice at a time: at 1M reviews there are tens of millions of
        # candidate pairs, and comparing all their signatures at once took 6 GB.
        for start in range(0, len(first_rows), PAIR_CHUNK):
            i, j = first_rows[start:start + PAIR_CHUNK], second_rows[start:start + PAIR_CHUNK]
            agreement = (signatures[live[i]] == signatures[live[j]]).mean(axis=1)
            keep = agreement >= threshold
            i, j = live[i[keep]], live[j[keep]]
            np.add.at(near, i, weight[j])
            np.add.at(near, j, weight[i])
    return exact[group], near[group]


def per_text_style(texts: Sequence[str]) -> np.ndarray:
    """float64 [n, len(PER_TEXT_FEATURES)]: the style features that depend on the text alone.

    Values are rounded to float32: the scorer caches these rows as float32, and a model trained on
    the unrounded values would see another number at scoring time wherever a value sits on a bin
    edge of the style model (1/3 is both a common rate and a common quantile).
    """
    rows = [_text_features(t) for t in texts]
    return pd.DataFrame(rows, columns=list(PER_TEXT_FEATURES), dtype=np.float64).to_numpy().reshape(
        len(texts), len(PER_TEXT_FEATURES)).astype(np.float32).astype(np.float64)


def assemble_style_features(per_text: np.ndarray, ratings: Sequence[float] | None, exact: np.ndarray,
                            near: np.ndarray) -> pd.DataFrame:
    """``STYLE_FEATURES`` from the per-text block, the ratings and the batch's duplicate counts."""
    n = len(per_text)
    frame = pd.DataFrame(np.asarray(per_text, dtype=np.float64), columns=list(PER_TEXT_FEATURES))
    if ratings is None:
        rating = np.full(n, np.nan)
    else:
        rating = pd.to_numeric(pd.Series(list(ratings), dtype="object"), errors="coerce").to_numpy(np.float64)
        if len(rating) != n:
            raise ValueError(f"{len(rating)} ratings for {n} texts")
    missing = ~np.isfinite(rating)
    rating_norm = np.where(missing, 0.0, (np.clip(np.nan_to_num(rating, nan=3.0), 1, 5) - 3.0) / 2.0)
    frame["rating_norm"] = rating_norm
    frame["rating_missing"] = missing.astype(np.float64)
    gap = np.where(missing, 0.0, rating_norm - frame["sentiment"].to_numpy())
    frame["rating_sentiment_gap"] = gap
    frame["rating_sentiment_mismatch"] = np.abs(gap)
    # Per 1,000 other reviews in the batch: a count grows with the batch, a rate does not, so a
    # model trained on one batch size transfers to another.
    per_1k = 1000.0 / max(n - 1, 1)
    frame["log_exact_dup_per_1k"] = np.log1p(np.asarray(exact, dtype=np.float64) * per_1k)
    frame["log_near_dup_per_1k"] = np.log1p(np.asarray(near, dtype=np.float64) * per_1k)
    return frame[list(STYLE_FEATURES)].astype(np.float64)


def stylometric_features(texts: Sequence[str], ratings: Sequence[float] | None = None,
                         batch_features: bool = True) -> pd.DataFrame:
    """One row per text, columns ``STYLE_FEATURES`` (float64).

    ``ratings``: star ratings 1-5 (missing/None/NaN allowed; then ``rating_missing`` = 1 and the
    rating columns are neutral). ``batch_features=False`` zeroes the batch-dependent duplicate
    counts, making every row a function of its own text and rating only.
    """
    texts = ["" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t) for t in texts]
    if batch_features and len(texts):
        exact, near = duplicate_counts(texts)
    else:
        exact = near = np.zeros(len(texts))
    return assemble_style_features(per_text_style(texts), ratings, exact, near)
