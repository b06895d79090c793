"""Deterministic synthetic marketplace with injected, partly labelled fraud.

``generate_marketplace(seed, scale)`` builds reviews, orders, products, accounts, labels and
the full ground truth; ``write_marketplace`` writes them in the layout ingest reads.

Clean behaviour is generated in bulk with vectorised numpy, and review text with vectorised
pyarrow string kernels, so a million-row marketplace takes minutes, not hours. Fraud is
injected per ring / crew / campaign (a Python loop per group, never per row):

- review_ring   bursts of short 5-star reviews from accounts sharing devices and IPs;
- ai_review     long, fluent, generic LLM-style reviews from ring and ordinary-looking accounts;
- card_testing  crews of brand-new accounts placing many tiny orders on shared cards;
- stolen_card   expensive electronics on fresh devices/IPs/cards/addresses, mostly chargebacks;
- refund_abuse  groups of accounts sharing shipping addresses whose orders are mostly refunded.

Every signal also occurs in clean data, so no single column gives fraud away, and the world is
ambiguous in both directions, each by a documented, seeded share (see ``shares``):
genuine fans gush in the rings' phrases, honest reviewers polish their text with an assistant,
products go viral, households and offices share devices, IPs and cards and review the same
products, customers buy in bulk, return a lot, or buy a laptop abroad; while careful rings use
bought aged accounts, natural words and brushed purchases, AI reviews come short, critical and
personal, card testers spoof devices or take over old accounts, and refund abusers act alone.
The labels are a partial *and slightly wrong* view of the truth (``labels.LABEL_NOISE_SHARE``).

The modules, in the order generation uses them:

- ``vocabulary``  time units, categories, countries and the integer codes of internal tables;
- ``shares``      how often each fraud kind, clean habit and ambiguity occurs;
- ``strings``     vectorised pyarrow string building and template pools;
- ``world``       the time window, the product catalogue and the world under construction;
- ``identities``  emails, devices, IPs, cards, addresses and the clean accounts owning them;
- ``behaviour``   clean orders and reviews, including the genuine activity that looks like fraud;
- ``campaigns``   the five kinds of injected fraud;
- ``phrases``     the words review texts are made of; ``text`` renders them;
- ``assembly``    public tables: time order, public ids, texts; ``labels`` adds truth and labels;
- ``generator``   ``generate_marketplace``, the whole sequence; ``files`` writes and reads it.

Everything draws from one seeded generator in a fixed order, so the same seed and scale give
byte-identical tables.
"""

from fraudlens.marketplace.synthetic.files import INPUT_TABLES, read_marketplace, write_marketplace
from fraudlens.marketplace.synthetic.generator import generate_marketplace

__all__ = ["INPUT_TABLES", "generate_marketplace", "read_marketplace", "write_marketplace"]
