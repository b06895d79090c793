"""Review texts, rendered per way of writing: ordinary customers' English and foreign reviews with
their moods and typos, ring shouts that copy a few shared scripts, and fluent, generic LLM text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.marketplace.synthetic.phrases import (
    ADVERBS,
    AI_ASPECTS,
    AI_BODIES,
    AI_BODY_SENTENCES,
    AI_CLOSERS,
    AI_CRITICISMS,
    AI_DETAIL_SHARE_POLISHED,
    AI_OPENERS,
    ASPECT_ADJECTIVES,
    ASPECT_LEADS,
    ASPECT_NOUNS,
    CATEGORY_PHRASES,
    CLOSERS,
    CONTRAST_LEADS,
    DETAILS,
    EXPERIENCES,
    FOLLOW_UP_LEADS,
    FOREIGN,
    FOREIGN_LANGUAGES,
    GENERIC_ASPECTS,
    LINK_VERBS,
    MIXED,
    NEGATIVE,
    OPENERS,
    POSITIVE,
    PRODUCT_NOUNS,
    RELATIVES,
    RING_SUFFIXES,
    RING_TEMPLATES,
    SHORT_REVIEWS,
    TIME_UNITS,
    TYPOS,
    USE_CONTEXTS,
)
from fraudlens.marketplace.synthetic.shares import AI_DETAIL_SHARE
from fraudlens.marketplace.synthetic.strings import STR, Pools, join, keep_where, number_strings, pools_by_category
from fraudlens.marketplace.synthetic.vocabulary import LANGUAGES, TEXT_AI, TEXT_AI_SHORT, TEXT_CLEAN, TEXT_HYPE, TEXT_POLISHED, TEXT_RING

_OPENERS = Pools(OPENERS)
_ADJECTIVES = Pools(ASPECT_ADJECTIVES)
_MULTIWORD_ADJECTIVE = np.array([" " in a for pool in ASPECT_ADJECTIVES for a in pool])
_ASPECT_NOUNS = pools_by_category(ASPECT_NOUNS)
_GENERIC_ASPECTS = Pools.single(GENERIC_ASPECTS)
_ASPECT_LEADS = Pools.single(ASPECT_LEADS)
_CONTRAST_LEADS = Pools.single(CONTRAST_LEADS)
_FOLLOW_UP_LEADS = Pools.single(FOLLOW_UP_LEADS)
_LINK_VERBS = Pools.single(LINK_VERBS)
_ADVERBS = Pools.single(ADVERBS)
_RELATIVES = Pools.single(RELATIVES)
_USE_CONTEXTS = Pools.single(USE_CONTEXTS)
_TIME_UNITS = Pools.single(TIME_UNITS)
_DETAILS = Pools.single(DETAILS)
_EXPERIENCES = Pools(EXPERIENCES)
_CLOSERS = Pools(CLOSERS)
_SHORT_REVIEWS = Pools(SHORT_REVIEWS)
_FOREIGN = {part: Pools([FOREIGN[lang][part][s] for lang in FOREIGN_LANGUAGES for s in range(3)])
            for part in ("openers", "adjectives", "closers", "short")}
_FOREIGN_NOUNS = Pools([FOREIGN[lang]["nouns"] for lang in FOREIGN_LANGUAGES])
_FOREIGN_VERBS = Pools([[FOREIGN[lang]["verb"]] for lang in FOREIGN_LANGUAGES])
_RING_TEMPLATES = Pools([RING_TEMPLATES[lang] for lang in LANGUAGES])
_RING_SUFFIXES = Pools.single(RING_SUFFIXES)
_AI_OPENERS = Pools.single(AI_OPENERS)
_AI_BODIES = Pools.single(AI_BODIES)
_AI_ASPECTS = Pools.single(AI_ASPECTS)
_AI_CLOSERS = Pools.single(AI_CLOSERS)
_AI_CRITICISMS = Pools.single(AI_CRITICISMS)
_PRODUCT_NOUNS = pools_by_category(PRODUCT_NOUNS)
_CATEGORY_PHRASES = pools_by_category(CATEGORY_PHRASES)

SHORT, MEDIUM, LONG = range(3)
# Probability that each sentence slot appears, by review length (rows) and slot (columns):
# opener, first aspect, detail, second aspect, experience, another detail, a third aspect, closer.
# About half the long reviews are detailed ones, as long as an LLM's.
SLOT_SHARES = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.75, 0.8, 0.35, 0.15, 0.25, 0.0, 0.0, 0.45],
    [0.95, 1.0, 0.85, 0.75, 0.8, 0.5, 0.4, 0.85],
])
LENGTH_SHARES = np.array([[0.12, 0.58, 0.30], [0.12, 0.6, 0.28], [0.2, 0.55, 0.25]])  # by sentiment


def _sentiment(rating: np.ndarray) -> np.ndarray:
    return np.select([rating <= 2, rating == 3], [NEGATIVE, MIXED], POSITIVE)


def _aspect_sentences(rng: np.random.Generator, category: np.ndarray, tone: np.ndarray, lead: Pools) -> pa.Array:
    """'The battery is really solid.': a category-specific (or generic) noun judged in ``tone``."""
    n = len(category)
    noun = pc.if_else(pa.array(rng.random(n) < 0.25), _GENERIC_ASPECTS.sample(rng, 0, n),
                      _ASPECT_NOUNS.sample(rng, category))
    adjective_pick = _ADJECTIVES.draw(rng, tone)
    # "very a joke" reads wrong: multi-word judgements take no adverb.
    adverb = pc.if_else(pa.array(_MULTIWORD_ADJECTIVE[adjective_pick]), pa.scalar(None, STR),
                        _ADVERBS.sample(rng, 0, n))
    sentence = join([lead.sample(rng, 0, n), noun, _LINK_VERBS.sample(rng, 0, n), adverb,
                     _ADJECTIVES.render(adjective_pick)])
    return join([sentence, "."], "")


def _detail_fillers(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    return {
        "duration": join([number_strings(rng.integers(2, 12, n)), _TIME_UNITS.sample(rng, 0, n)]),
        "days": number_strings(rng.integers(2, 15, n)),
        "relative": _RELATIVES.sample(rng, 0, n),
        "use": _USE_CONTEXTS.sample(rng, 0, n),
    }


def _english_texts(rng: np.random.Generator, rating: np.ndarray, category: np.ndarray) -> pa.Array:
    n = len(rating)
    sentiment = _sentiment(rating)
    length = np.minimum((rng.random(n)[:, None] > np.cumsum(LENGTH_SHARES[sentiment], axis=1)).sum(axis=1), LONG)
    shares = SLOT_SHARES[length]
    # Mixed reviews praise one thing and criticise another; others stay on one side.
    first_tone = np.where(sentiment == MIXED, np.where(rng.random(n) < 0.5, POSITIVE, MIXED), sentiment)
    second_tone = np.where(sentiment == MIXED, NEGATIVE, sentiment)
    sentences = [
        _OPENERS.sample(rng, sentiment),
        _aspect_sentences(rng, category, first_tone, _ASPECT_LEADS),
        _DETAILS.sample(rng, 0, n, **_detail_fillers(rng, n)),
        pc.if_else(pa.array(sentiment == MIXED), _aspect_sentences(rng, category, second_tone, _CONTRAST_LEADS),
                   _aspect_sentences(rng, category, second_tone, _FOLLOW_UP_LEADS)),
        _EXPERIENCES.sample(rng, sentiment, **_detail_fillers(rng, n)),
        _DETAILS.sample(rng, 0, n, **_detail_fillers(rng, n)),
        _aspect_sentences(rng, category, sentiment, _FOLLOW_UP_LEADS),
        _CLOSERS.sample(rng, sentiment),
    ]
    body = join([keep_where(rng, s, shares[:, i]) for i, s in enumerate(sentences)])
    short = _SHORT_REVIEWS.sample(rng, sentiment)
    use_short = pa.array(length == SHORT)
    text = pc.if_else(pc.or_(use_short, pc.equal(body, "")), short, body)
    return _casual_style(rng, text, sentiment)


def _casual_style(rng: np.random.Generator, text: pa.Array, sentiment: np.ndarray) -> pa.Array:
    """Real reviews are messy: some are all lowercase, some shout, some have typos."""
    n = len(text)
    excited = (sentiment == POSITIVE) & (rng.random(n) < 0.2)
    text = pc.if_else(pa.array(excited), pc.replace_substring(text, ".", "!"), text)
    typo = np.where(rng.random(n) < 0.08, rng.integers(0, len(TYPOS), n), -1)
    for i, (right, wrong) in enumerate(TYPOS):
        if (typo == i).any():
            text = pc.if_else(pa.array(typo == i), pc.replace_substring(text, right, wrong, max_replacements=1), text)
    return pc.if_else(pa.array(rng.random(n) < 0.08), pc.utf8_lower(text), text)


def _foreign_texts(rng: np.random.Generator, rating: np.ndarray, language: np.ndarray) -> pa.Array:
    """German, Spanish and French reviews: opener, one judged aspect, closer, or a short one."""
    n = len(rating)
    sentiment = _sentiment(rating)
    lang = language - 1  # index into FOREIGN_LANGUAGES
    keyed = lang * 3 + sentiment
    aspect = join([join([_FOREIGN_NOUNS.sample(rng, lang), _FOREIGN_VERBS.sample(rng, lang),
                         _FOREIGN["adjectives"].sample(rng, keyed)]), "."], "")
    body = join([keep_where(rng, _FOREIGN["openers"].sample(rng, keyed), 0.85), keep_where(rng, aspect, 0.7),
                 keep_where(rng, _FOREIGN["closers"].sample(rng, keyed), 0.6)])
    is_short = pa.array(rng.random(n) < 0.2)
    text = pc.if_else(pc.or_(is_short, pc.equal(body, "")), _FOREIGN["short"].sample(rng, keyed), body)
    return pc.if_else(pa.array(rng.random(n) < 0.08), pc.utf8_lower(text), text)


def _clean_texts(rng: np.random.Generator, rating: np.ndarray, category: np.ndarray, language: np.ndarray
                 ) -> pa.Array:
    english = language == 0
    return _interleave(english, _english_texts(rng, rating[english], category[english]),
                       _foreign_texts(rng, rating[~english], language[~english]))


def _interleave(first_rows: np.ndarray, first: pa.Array, second: pa.Array) -> pa.Array:
    """Rows where ``first_rows`` is true come from ``first`` in order, the others from ``second``."""
    position = np.empty(len(first_rows), np.int64)
    position[first_rows] = np.arange(len(first))
    position[~first_rows] = len(first) + np.arange(len(second))
    return pa.concat_arrays([first, second]).take(pa.array(position))


def _ring_variants(rng: np.random.Generator, language: np.ndarray) -> pa.Array:
    n = len(language)
    text = join([_RING_TEMPLATES.sample(rng, language), _RING_SUFFIXES.sample(rng, 0, n)])
    text = pc.if_else(pa.array(rng.random(n) < 0.25), pc.replace_substring(text, "!", "!!"), text)
    case = rng.random(n)
    return pc.if_else(pa.array(case < 0.1), pc.utf8_upper(text),
                      pc.if_else(pa.array(case > 0.85), pc.utf8_lower(text), text))


def _ring_texts(rng: np.random.Generator, group: np.ndarray, language: np.ndarray) -> pa.Array:
    """Template-like shouts; about 40% copy one of the ring's three scripts word for word."""
    rings, first_row, ring_of_row = np.unique(group, return_index=True, return_inverse=True)
    scripts = _ring_variants(rng, np.repeat(language[first_row], 3))
    copied = scripts.take(pa.array(ring_of_row * 3 + rng.integers(0, 3, len(group))))
    return pc.if_else(pa.array(rng.random(len(group)) < 0.4), copied, _ring_variants(rng, language))


def _ai_texts(rng: np.random.Generator, category: np.ndarray, rating: np.ndarray, short: np.ndarray,
              detail_share: float) -> pa.Array:
    """Fluent, generic, repetitive: an opener, 2-4 stock sentences, maybe an aspect, a closer.

    Short ones keep a single stock sentence; below five stars a mild, equally generic criticism
    appears (always at 3 stars); ``detail_share`` of them mix in a specific personal detail the
    way a real customer writes, which is also how honest writers using an assistant read."""
    n = len(category)
    opener = _AI_OPENERS.sample(rng, 0, n, noun=_PRODUCT_NOUNS.sample(rng, category))
    most = AI_BODY_SENTENCES[1] - 1
    body_order = np.argsort(rng.random((n, len(AI_BODIES))), axis=1)[:, :most]
    n_bodies = np.where(short, 1, rng.integers(AI_BODY_SENTENCES[0], AI_BODY_SENTENCES[1], n))
    bodies = [keep_where(rng, _AI_BODIES.render(body_order[:, j]), (j < n_bodies).astype(float))
              for j in range(most)]
    aspect = keep_where(rng, _AI_ASPECTS.sample(rng, 0, n, aspect=_ASPECT_NOUNS.sample(rng, category)),
                        np.where(short, 0.1, 0.5))
    criticism_share = np.select([rating <= 3, rating == 4], [1.0, np.where(short, 0.9, 0.35)], np.where(short, 0.3, 0.0))
    criticism = keep_where(rng, _AI_CRITICISMS.sample(rng, 0, n, aspect=_ASPECT_NOUNS.sample(rng, category)),
                           criticism_share)
    # A short review has room for a detail or a criticism, rarely both.
    has_detail = rng.random(n) < np.where(short, detail_share * 0.4, detail_share)
    detail = keep_where(rng, _DETAILS.sample(rng, 0, n, **_detail_fillers(rng, n)), has_detail.astype(float))
    experience = keep_where(rng, _EXPERIENCES.sample(rng, _sentiment(rating), **_detail_fillers(rng, n)),
                            has_detail * np.where(short, 0.0, 0.5))
    closer = keep_where(rng, _AI_CLOSERS.sample(rng, 0, n, phrase=_CATEGORY_PHRASES.sample(rng, category)),
                        np.where(rating <= 3, 0.3, np.where(short, 0.4, 1.0)))
    return join([opener, detail, bodies[0], aspect, *bodies[1:], experience, criticism, closer])


def review_texts(rng: np.random.Generator, reviews: pd.DataFrame, products: pd.DataFrame) -> pa.Array:
    text_kind = reviews["text_kind"].to_numpy()
    category = products["category"].to_numpy()[reviews["product"].to_numpy()]
    rating, language, group = (reviews[c].to_numpy() for c in ("rating", "language", "group"))
    parts, rows = [], []
    for kind, make in (
            (TEXT_CLEAN, lambda m: _clean_texts(rng, rating[m], category[m], language[m])),
            (TEXT_RING, lambda m: _ring_texts(rng, group[m], language[m])),
            (TEXT_AI, lambda m: _ai_texts(rng, category[m], rating[m], np.zeros(m.sum(), bool), AI_DETAIL_SHARE)),
            (TEXT_AI_SHORT, lambda m: _ai_texts(rng, category[m], rating[m], np.ones(m.sum(), bool), AI_DETAIL_SHARE)),
            (TEXT_HYPE, lambda m: _ring_variants(rng, language[m])),
            (TEXT_POLISHED, lambda m: _ai_texts(rng, category[m], rating[m], rng.random(m.sum()) < 0.5,
                                                AI_DETAIL_SHARE_POLISHED))):
        mask = text_kind == kind
        if mask.any():
            parts.append(make(mask))
            rows.append(np.flatnonzero(mask))
    position = np.empty(len(reviews), np.int64)
    position[np.concatenate(rows)] = np.arange(len(reviews))
    return pa.concat_arrays(parts).take(pa.array(position))
