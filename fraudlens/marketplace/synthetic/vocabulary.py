"""The world's fixed vocabulary: time units, product categories, countries, and the integer codes
internal tables use for statuses, fraud kinds and ways of writing a review.

Internal tables hold integer codes and integer seconds from the window start, so that generation
stays vectorised; assembly turns both into their public form.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600

# name: (share of products, median price, log-sd of price)
CATEGORIES: dict[str, tuple[float, float, float]] = {
    "electronics": (0.12, 80.0, 0.9),
    "books": (0.11, 14.0, 0.5),
    "beauty": (0.10, 18.0, 0.6),
    "home": (0.12, 35.0, 0.8),
    "toys": (0.08, 22.0, 0.7),
    "clothing": (0.12, 30.0, 0.6),
    "sports": (0.07, 40.0, 0.8),
    "grocery": (0.07, 9.0, 0.5),
    "pet_supplies": (0.05, 20.0, 0.7),
    "office": (0.05, 15.0, 0.7),
    "garden": (0.05, 35.0, 0.8),
    "digital": (0.06, 8.0, 0.6),
}
CATEGORY_NAMES = tuple(CATEGORIES)
ELECTRONICS = CATEGORY_NAMES.index("electronics")

LANGUAGES = ("en", "de", "es", "fr")
CURRENCIES = ("USD", "EUR", "GBP")
USD_TO = np.array([1.0, 0.92, 0.79])  # prices are in USD; amounts are in the buyer's currency

# code, share, currency, review language, IPv4 first octets, cities
COUNTRIES = (
    ("US", 0.33, "USD", "en", (23, 50, 68, 73, 98, 174), ("Austin", "Columbus", "Denver", "Portland", "Raleigh")),
    ("GB", 0.10, "GBP", "en", (51, 81, 86, 109), ("London", "Leeds", "Bristol", "Manchester")),
    ("DE", 0.10, "EUR", "de", (46, 79, 84, 91), ("Berlin", "Hamburg", "Cologne", "Munich")),
    ("FR", 0.07, "EUR", "fr", (78, 82, 90, 176), ("Paris", "Lyon", "Lille", "Nantes")),
    ("ES", 0.06, "EUR", "es", (80, 83, 88, 95), ("Madrid", "Seville", "Valencia", "Bilbao")),
    ("IT", 0.04, "EUR", "en", (2, 79, 93, 151), ("Rome", "Milan", "Turin", "Naples")),
    ("NL", 0.03, "EUR", "en", (31, 77, 145, 213), ("Amsterdam", "Utrecht", "Rotterdam", "Eindhoven")),
    ("CA", 0.06, "USD", "en", (24, 70, 99, 142), ("Toronto", "Calgary", "Ottawa", "Halifax")),
    ("MX", 0.04, "USD", "es", (187, 189, 201), ("Monterrey", "Guadalajara", "Puebla")),
    ("IN", 0.05, "USD", "en", (49, 106, 117, 122), ("Pune", "Chennai", "Jaipur", "Kochi")),
    ("AU", 0.04, "USD", "en", (1, 101, 120, 203), ("Perth", "Brisbane", "Adelaide", "Hobart")),
    ("IE", 0.02, "EUR", "en", (37, 86, 109), ("Dublin", "Cork", "Galway")),
    ("AT", 0.02, "EUR", "de", (62, 80, 91), ("Vienna", "Graz", "Linz")),
    ("BE", 0.02, "EUR", "fr", (81, 91, 109), ("Brussels", "Liege", "Namur")),
    ("PL", 0.02, "EUR", "en", (31, 83, 178), ("Warsaw", "Krakow", "Gdansk")),
)
COUNTRY_CODES = tuple(c[0] for c in COUNTRIES)
COUNTRY_SHARES = np.array([c[1] for c in COUNTRIES]) / sum(c[1] for c in COUNTRIES)
COUNTRY_CURRENCY = np.array([CURRENCIES.index(c[2]) for c in COUNTRIES])
COUNTRY_LANGUAGE = np.array([LANGUAGES.index(c[3]) for c in COUNTRIES])
NATIVE_LANGUAGE_SHARE = 0.75  # the rest of a German/French/Spanish-speaking country reviews in English

STATUSES = ("placed", "shipped", "delivered", "cancelled", "refunded", "chargeback")
PLACED, SHIPPED, DELIVERED, CANCELLED, REFUNDED, CHARGEBACK = range(len(STATUSES))

FRAUD_KINDS = ("none", "review_ring", "ai_review", "card_testing", "stolen_card", "refund_abuse")
CLEAN, RING, AI, CARD_TESTING, STOLEN_CARD, REFUND_ABUSE = range(len(FRAUD_KINDS))
# How a review's text is written: ordinary words, a ring's script, a long LLM text, a short LLM
# text with a mild criticism, the rings' phrase pool used by a real fan (no shared scripts), and an
# honest review polished by a writing assistant.
TEXT_CLEAN, TEXT_RING, TEXT_AI, TEXT_AI_SHORT, TEXT_HYPE, TEXT_POLISHED = range(6)
NO_GROUP = -1
