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
ambiguous in both directions, each by a documented, seeded share (see "Ambiguity" below):
genuine fans gush in the rings' phrases, honest reviewers polish their text with an assistant,
products go viral, households and offices share devices, IPs and cards and review the same
products, customers buy in bulk, return a lot, or buy a laptop abroad; while careful rings use
bought aged accounts, natural words and brushed purchases, AI reviews come short, critical and
personal, card testers spoof devices or take over old accounts, and refund abusers act alone.
The labels are a partial *and slightly wrong* view of the truth (LABEL_NOISE_SHARE).
Internally all times are integer seconds from the window start and all categorical values are
integer codes; both become their public form only when the tables are assembled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

INPUT_TABLES = ("reviews", "orders", "products", "accounts", "labels")
DAY = 86_400
HOUR = 3_600
STR = pa.large_string()  # what pandas' str dtype stores; one type avoids casts in every kernel

# ---------------------------------------------------------------------------------------------
# Vocabulary of the world: categories, countries, statuses, fraud kinds
# ---------------------------------------------------------------------------------------------

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
HOSTING_OCTETS = (5, 45, 104, 185, 193)  # VPN / data-centre ranges fraudsters route through

STATUSES = ("placed", "shipped", "delivered", "cancelled", "refunded", "chargeback")
PLACED, SHIPPED, DELIVERED, CANCELLED, REFUNDED, CHARGEBACK = range(len(STATUSES))

FRAUD_KINDS = ("none", "review_ring", "ai_review", "card_testing", "stolen_card", "refund_abuse")
CLEAN, RING, AI, CARD_TESTING, STOLEN_CARD, REFUND_ABUSE = range(len(FRAUD_KINDS))
# How a review's text is written: ordinary words, a ring's script, a long LLM text, a short LLM
# text with a mild criticism, the rings' phrase pool used by a real fan (no shared scripts), and an
# honest review polished by a writing assistant.
TEXT_CLEAN, TEXT_RING, TEXT_AI, TEXT_AI_SHORT, TEXT_HYPE, TEXT_POLISHED = range(6)
NO_GROUP = -1

# Share of all reviews / orders that each fraud kind makes up.
RING_REVIEW_SHARE = 0.065
AI_REVIEW_SHARE = 0.035
STOLEN_CARD_ORDER_SHARE = 0.012
REFUND_ABUSE_ORDER_SHARE = 0.015
# Card testing tops order fraud up to this share, whatever the other kinds added (about 3.3 %):
# orders created only to make a fake review "verified" (brushing) add about 2 %.
ORDER_FRAUD_SHARE = 0.08
# Ordinary orders generated up front; fraud injection adds more clean ones (fraud accounts'
# purchase histories, sale-day orders, refund abusers' kept purchases), about 8 % of scale.
CLEAN_ORDER_SHARE = 0.84
BACKING_ORDER_LEAD = (6 * DAY, 9 * DAY)  # before the review: long enough to have been delivered
UNVERIFIED_REVIEW_SHARE = 0.55  # clean reviews without a purchase, per unit of scale
VERIFIED_REVIEW_SHARE = 0.7  # of reviewers' delivered orders (refunded ones get reviewed a bit more often)
NON_REVIEWER_SHARE = 0.3  # of clean accounts: never write a review, however much they buy

RATING_SHARES = np.array([0.10, 0.08, 0.12, 0.25, 0.45])  # 1..5 stars
REFUNDED_RATING_SHARES = np.array([0.50, 0.25, 0.13, 0.07, 0.05])
# Orders by hour of day: quiet at night, lunch and evening peaks.
HOUR_WEIGHTS = np.array([2, 1, 1, 1, 1, 1, 2, 4, 5, 6, 6, 7, 8, 7, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4], float)

LABEL_SHARE_FRAUD = 0.6
LABEL_SHARE_CLEAN = 0.3
LABELLED_GROUP_SHARE = 0.5
# Moderators and chargeback processes make mistakes: this share of the labels table is wrong
# (flipped). The truth table is never noisy.
LABEL_NOISE_SHARE = 0.025

# ---------------------------------------------------------------------------------------------
# Ambiguity. Real fraud is never cleanly separable: ordinary customers sometimes look like
# fraudsters, and careful fraudsters look like ordinary customers. Each share is seeded like
# everything else, so it is part of the deterministic world.
# ---------------------------------------------------------------------------------------------

# Clean that looks fake: text.
HYPE_TEXT_SHARE = 0.12  # of clean 5-star reviews: short shouty praise from the rings' own phrase pool
POLISHED_TEXT_SHARE = 0.08  # of clean English 3-5 star reviews: long, generic, AI-assisted but honest
# Clean that looks fake: who reviews, and when.
HOUSEHOLD_ACCOUNT_SHARE = 0.15  # of clean accounts: households/offices sharing IPs, devices, cards
HOUSEHOLD_REVIEW_SHARE = 0.03  # per unit of scale: household members reviewing the same product
NON_SHOPPER_SHARE = 0.15  # of clean accounts (half of household members): review here, buy elsewhere
REVIEW_ONLY_SHARE = 0.3  # of unverified clean reviews: written by such non-shoppers
CLEAN_BURST_REVIEW_SHARE = 0.05  # per unit of scale: viral products / sale days, mostly 5 stars in 48 h
CLEAN_BURST_HYPE_SHARE = 0.3  # of clean-burst 5-star reviews written in hype phrasing
CLEAN_BURST_NEWCOMER_SHARE = 0.35  # of clean-burst reviewers who signed up for the sale (10-30 days old)
# Clean that looks fake: orders.
BULK_ORDER_SHARE = 0.05  # of clean orders: sessions of many small orders (gift cards, stocking up)
BULK_DECLINED_SHARE = 0.1  # of bulk orders (2.5x for brand-new accounts): declined by the bank, cancelled
BIG_TICKET_SHARE = 0.012  # of clean orders: expensive electronics on a new device/IP/card/address
SERIAL_RETURNER_SHARE = 0.03  # of clean accounts: return 20-60% of their orders (sizes, colours)
RETURNER_HOUSEHOLD_SHARE = 0.35  # of (non-office) households: every member is such a returner
CLEAN_REFUND_SHARE, CLEAN_CANCEL_SHARE, CLEAN_CHARGEBACK_SHARE = 0.05, 0.015, 0.008  # everyone else

# Fraud that looks clean: reviews.
CAREFUL_RING_SHARE = 0.4  # of rings: bought aged accounts, own devices, brushing orders, slower bursts
RING_NATURAL_TEXT_SHARE = (0.3, 0.7)  # of ring reviews in ordinary customers' words: (plain, careful) rings
AI_SHORT_SHARE = 0.45  # of AI reviews: short, 3-4 stars, with a mild criticism
AI_DETAIL_SHARE = 0.5  # of AI reviews: mix in specific, clean-style personal details
# Fraud accounts with a purchase history of ordinary (clean) orders, mean orders per account: a
# bought aged account comes with its former owner's; fresh ring accounts are warmed up with a
# purchase or two; AI "sleeper" accounts shop now and then to look real.
HISTORY_ORDERS = {"aged_ring": 1.5, "fresh_ring": 0.5, "sleeper": 2.0}
RING_CAMOUFLAGE_PER_ACCOUNT = 0.3  # mean ordinary-looking (but fake) reviews per ring account, off-campaign
# Fraud that looks clean: orders.
ANTI_DETECT_CREW_SHARE = 0.5  # of card-testing crews: a fresh device, card and IP per order
AGED_TESTER_SHARE = 0.3  # of card-testing accounts: old accounts (not sign-ups of the last days) ...
TAKEOVER_SHARE = 0.7  # ... most of them taken over from real customers (victims: clean in the truth)
MID_PRICED_TEST_SHARE = 0.25  # of card-testing orders: a 10-60 item rather than a tiny one
REFUND_SOLO_SHARE = 0.4  # of refund-abuse cases: a lone abuser with no shared address

# ---------------------------------------------------------------------------------------------
# Identifier vocabulary
# ---------------------------------------------------------------------------------------------

FIRST_NAMES = (
    "james", "mary", "john", "linda", "david", "sarah", "michael", "emma", "daniel", "olivia", "lukas",
    "anna", "leon", "sofia", "lucas", "chloe", "hugo", "ines", "marco", "giulia", "pablo", "lucia", "jan",
    "eva", "noah", "mia", "liam", "ava", "arjun", "priya", "rahul", "ananya", "jack", "grace", "tom",
    "lily", "max", "lea", "pierre", "camille", "carlos", "elena", "sam", "nina", "oscar", "zoe",
)
LAST_NAMES = (
    "smith", "johnson", "brown", "miller", "wilson", "taylor", "clark", "lewis", "walker", "young",
    "mueller", "schmidt", "schneider", "fischer", "weber", "martin", "bernard", "dubois", "moreau",
    "garcia", "lopez", "martinez", "sanchez", "rossi", "russo", "bianchi", "jansen", "devries", "kowalski",
    "nowak", "sharma", "patel", "singh", "kumar", "murphy", "kelly", "obrien", "wright", "hill", "green",
)
EMAIL_DOMAINS = (
    ("gmail.com",) * 6 + ("yahoo.com", "outlook.com", "outlook.com", "hotmail.com", "icloud.com",
                          "proton.me", "aol.com", "gmx.de", "web.de", "orange.fr", "free.fr",
                          "yahoo.es", "libero.it", "btinternet.com", "live.co.uk")
)
DISPOSABLE_DOMAINS = ("mailinator.com", "tempmail.net", "guerrillamail.com", "10minutemail.com",
                      "trashmail.io", "yopmail.com", "dropmail.me")
STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Lake", "Hill", "Park", "Main", "Church", "Mill", "River",
    "Station", "Garden", "Highland", "Sunset", "Willow", "Meadow", "Forest", "Bridge", "King", "Queen",
    "Victoria", "Harbour", "Orchard", "Chestnut", "Spring", "Valley", "Ridge", "Walnut", "Birch", "Market",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Blvd", "Way", "Dr", "Ct", "Pl")
HEX = b"0123456789abcdef"
BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = b"0123456789abcdefghijklmnopqrstuvwxyz"

# ---------------------------------------------------------------------------------------------
# Review text vocabulary. Pools keyed by sentiment are (negative, mixed, positive).
# ---------------------------------------------------------------------------------------------

NEGATIVE, MIXED, POSITIVE = range(3)

ASPECT_NOUNS = {
    "electronics": ("battery", "screen", "sound", "charger", "cable", "power button", "bluetooth connection",
                    "build", "display", "speaker", "remote", "app"),
    "books": ("plot", "ending", "writing", "main character", "pacing", "cover", "translation", "dialogue",
              "print", "story"),
    "beauty": ("scent", "texture", "packaging", "formula", "color", "bottle", "applicator", "finish",
               "smell", "consistency"),
    "home": ("fabric", "handle", "lid", "finish", "color", "size", "material", "stitching", "assembly",
             "design"),
    "toys": ("paint", "plastic", "box", "instruction booklet", "size", "color", "sound", "wheel",
             "battery compartment", "remote control"),
    "clothing": ("fabric", "fit", "stitching", "color", "zipper", "sizing", "material", "collar",
                 "waistband", "hood"),
    "sports": ("grip", "strap", "weight", "material", "handle", "padding", "frame", "buckle", "size",
               "durability"),
    "grocery": ("taste", "flavor", "packaging", "texture", "smell", "freshness", "portion size", "sweetness",
                "aroma", "bag"),
    "pet_supplies": ("material", "size", "smell", "strap", "bowl", "texture", "clasp", "stitching", "padding",
                     "flavor"),
    "office": ("ink", "paper", "clip", "binding", "pen", "cover", "hinge", "spring", "size", "finish"),
    "garden": ("hose", "nozzle", "blade", "handle", "frame", "soil", "seed packet", "cover", "material",
               "tap connector"),
    "digital": ("download", "code", "activation", "license", "interface", "app", "account setup",
                "redemption", "file", "support team"),
}
GENERIC_ASPECTS = ("price", "quality", "packaging", "delivery", "customer service", "value")
PRODUCT_NOUNS = {
    "electronics": ("device", "gadget", "speaker", "charger", "headset"),
    "books": ("book", "novel", "title"),
    "beauty": ("cream", "serum", "lotion", "product"),
    "home": ("lamp", "organizer", "set", "product"),
    "toys": ("toy", "game", "puzzle", "set"),
    "clothing": ("jacket", "shirt", "sweater", "item"),
    "sports": ("mat", "water bottle", "gear", "equipment"),
    "grocery": ("coffee", "snack", "tea", "product"),
    "pet_supplies": ("leash", "pet bed", "pet toy", "pet food"),
    "office": ("notebook", "pen set", "organizer", "desk lamp"),
    "garden": ("hose", "tool set", "planter", "product"),
    "digital": ("gift card", "subscription", "software", "app"),
}
CATEGORY_PHRASES = {
    "electronics": ("a reliable gadget", "dependable electronics"),
    "books": ("a captivating read", "a thoughtful and engaging book"),
    "beauty": ("a high-quality beauty product", "an effective skincare solution"),
    "home": ("a practical addition to their home", "quality home essentials"),
    "toys": ("a fun and engaging toy", "a gift that children will love"),
    "clothing": ("comfortable and stylish clothing", "a versatile wardrobe staple"),
    "sports": ("reliable sports gear", "equipment that supports an active lifestyle"),
    "grocery": ("a delicious and wholesome treat", "quality pantry staples"),
    "pet_supplies": ("a product their pet will love", "quality pet supplies"),
    "office": ("dependable office supplies", "a tool that boosts productivity"),
    "garden": ("reliable garden tools", "a practical gardening solution"),
    "digital": ("a seamless digital experience", "a convenient digital product"),
}

OPENERS = (
    ("Really disappointed.", "Not happy with this one.", "Do not buy this.", "What a letdown.",
     "I wanted to like this, but no.", "Save your money.", "Terrible experience overall.",
     "Very poor quality for the price.", "This was a mistake.", "Not as described at all.", "Ugh.",
     "Honestly regret buying it.", "Returned it after a week.", "Worst purchase I've made this year.",
     "Cheaply made and it shows.", "Not what I expected.", "Sadly this did not work out.",
     "Two words: never again.", "I had high hopes for this.", "Quite disappointing, to be honest."),
    ("It's okay.", "Mixed feelings about this.", "Decent, but not great.", "Does the job, mostly.",
     "Average at best.", "Not bad, not amazing.", "Some good points, some bad.",
     "It's fine for the price I guess.", "Middle of the road.", "Works, with a few caveats.",
     "I'm on the fence about this one.", "Three stars feels right.", "Expected a bit more.",
     "Pretty average.", "It's alright."),
    ("Really happy with this.", "Love it!", "Great purchase.", "Exactly what I needed.", "Very pleased.",
     "Excellent quality.", "Better than expected.", "This exceeded my expectations.", "Couldn't be happier.",
     "So glad I bought this.", "Fantastic.", "Works perfectly.", "Solid product.", "Five stars from me.",
     "Pleasantly surprised.", "Would recommend.", "My second one, still great.", "Really good value.",
     "Does exactly what it says.", "Very impressed so far."),
)
ASPECT_ADJECTIVES = (
    ("flimsy", "cheap", "disappointing", "awful", "poor", "useless", "broken", "uncomfortable", "weak",
     "terrible", "way too small", "unreliable", "scratched", "faulty", "noisy", "overpriced", "a joke",
     "mediocre at best", "worse than advertised", "badly made"),
    ("okay", "fine", "average", "acceptable", "decent enough", "alright", "so-so", "passable",
     "nothing special", "as expected", "a bit inconsistent", "hit and miss"),
    ("great", "excellent", "solid", "amazing", "sturdy", "perfect", "well made", "fantastic", "really nice",
     "top notch", "superb", "comfortable", "reliable", "beautiful", "impressive", "spot on",
     "better than expected", "lovely", "brilliant", "very good"),
)
ASPECT_LEADS = ("The", "The", "The", "Honestly the", "I think the", "For me the")
FOLLOW_UP_LEADS = ("The", "Also the", "And the", "Plus the")
CONTRAST_LEADS = ("But the", "However, the", "On the other hand the", "Only complaint is that the")
LINK_VERBS = ("is", "is", "is", "feels", "seems", "looks", "turned out")
ADVERBS = (None, None, None, None, None, "really", "very", "pretty", "quite", "super", "surprisingly",
           "extremely", "honestly")
RELATIVES = ("wife", "husband", "son", "daughter", "mom", "dad", "sister", "brother", "partner", "grandma",
             "best friend", "roommate", "nephew", "niece", "colleague", "girlfriend", "boyfriend")
USE_CONTEXTS = ("at home", "on weekends", "for work", "with the kids", "while travelling", "every morning",
                "in the evenings", "at the office", "on my commute", "outdoors")
TIME_UNITS = ("days", "weeks", "weeks", "months")
DETAILS = (
    "I have been using it for {duration} now.", "Had it for about {duration}.",
    "Used it daily for {duration}.", "Bought it for my {relative}.", "Got this as a gift for my {relative}.",
    "My {relative} uses it every day.", "Arrived in {days} days.", "Delivery took {days} days.",
    "Shipping was quick.", "Came well packaged.", "The box was a bit damaged but the item was fine.",
    "Ordered it on a whim.", "This is my second order.", "I compared a few options before picking this one.",
    "Mostly using it {use}.", "I use it {use}.", "Picked it up during a sale.",
    "Read the reviews before buying.",
)
EXPERIENCES = (
    ("It stopped working after {duration}.", "Broke within {days} days.", "Customer service never replied.",
     "Had to return it.", "The photos are misleading.", "Mine arrived with a missing part.",
     "Smells like chemicals.", "Not compatible with what the listing said.", "Requested a refund.",
     "The seller was unhelpful.", "It started falling apart after {duration}.",
     "My {relative} couldn't get it to work either."),
    ("It works but feels a little overpriced.", "Took some getting used to.",
     "Would be five stars if it were cheaper.", "Fine for occasional use.", "Not sure it will last long.",
     "Instructions could be clearer.", "Smaller than I thought.", "It's what you'd expect for the money.",
     "After {duration} it still works, barely.", "My {relative} likes it more than I do."),
    ("Still going strong after {duration}.", "Works exactly as described.", "Already ordered another one.",
     "My {relative} loves it too.", "Way better than my old one.", "Great value for the money.",
     "Setup took just a few minutes.", "Matches the photos perfectly.",
     "Quality is better than I expected at this price.", "No complaints at all.",
     "Use it {use} and it never lets me down."),
)
CLOSERS = (
    ("Would not recommend.", "Returning it.", "Avoid.", "Not worth the money.", "One star is generous.",
     "Buy something else.", "Very disappointed.", "Won't be ordering again.", "Stay away.",
     "Complete waste of money."),
    ("Might buy again if on sale.", "It's okay for now.", "Three stars.", "Could be better.",
     "Not sure I'd buy again.", "Average product.", "Wouldn't go out of my way to recommend it.",
     "Fine I guess."),
    ("Would buy again.", "Highly recommend.", "Definitely recommend it.", "Worth every penny.", "Five stars.",
     "Will order again.", "Great value.", "Recommended!", "Happy customer.", "Totally worth it."),
)
SHORT_REVIEWS = (
    ("bad", "broke fast", "waste of money", "doesn't work", "poor quality", "returned it", "terrible",
     "not as described", "meh", "very bad", "stopped working", "Disappointed."),
    ("ok", "it's ok", "average", "fine", "okay I guess", "decent", "not bad", "meh, it's fine",
     "does the job", "so so"),
    ("good value", "great", "love it", "Love it!", "Highly recommend!", "Great product", "excellent",
     "perfect", "works great", "Best purchase ever", "Five stars", "Amazing!", "very good", "nice",
     "as described", "good", "Great value, fast shipping."),
)
TYPOS = (("the ", "teh "), ("definitely", "definately"), ("received", "recieved"), ("really", "realy"),
         ("quality", "qualty"), ("would", "woud"), ("recommend", "reccomend"), ("because", "becuase"),
         ("It's", "Its"), ("I ", "i "), ("ing ", "in "), ("a bit", "abit"), ("very", "vrey"))

# Non-English clean reviews: a smaller vocabulary, keyed by (language, sentiment).
FOREIGN = {
    "de": {
        "openers": (("Leider enttäuschend.", "Nicht zu empfehlen.", "Sehr schlechte Qualität.",
                     "Hat nach einer Woche nicht mehr funktioniert.", "Totaler Reinfall.",
                     "Schade, ich hatte mehr erwartet."),
                    ("Ganz okay.", "Geht so.", "Für den Preis in Ordnung.",
                     "Nicht schlecht, aber auch nicht super.", "Erfüllt seinen Zweck."),
                    ("Super Produkt!", "Sehr zufrieden.", "Absolut empfehlenswert.", "Tolle Qualität.",
                     "Genau das, was ich gesucht habe.", "Besser als erwartet.")),
        "nouns": ("Die Qualität", "Die Verarbeitung", "Die Lieferung", "Die Verpackung", "Der Preis",
                  "Das Material", "Die Größe", "Die Farbe"),
        "adjectives": (("schlecht", "enttäuschend", "billig", "mangelhaft", "nicht gut"),
                       ("okay", "in Ordnung", "durchschnittlich", "akzeptabel"),
                       ("super", "sehr gut", "hervorragend", "top", "einwandfrei", "klasse")),
        "verb": "ist",
        "closers": (("Geht zurück.", "Finger weg!", "Nie wieder.", "Nicht kaufen."),
                    ("Kann man kaufen.", "Für den Preis okay.", "Drei Sterne."),
                    ("Klare Kaufempfehlung!", "Gerne wieder.", "Würde ich wieder kaufen.", "Fünf Sterne.")),
        "short": (("schlecht", "Schrott", "nicht gut"), ("ok", "geht so", "passt"),
                  ("super", "top", "sehr gut", "Alles bestens!")),
    },
    "es": {
        "openers": (("Muy decepcionado.", "No lo recomiendo.", "Mala calidad.", "Dejó de funcionar a la semana.",
                     "Una pérdida de dinero."),
                    ("Está bien.", "Normalito.", "Cumple, sin más.", "Ni bueno ni malo."),
                    ("¡Me encanta!", "Muy contento con la compra.", "Excelente calidad.",
                     "Justo lo que buscaba.", "Mejor de lo esperado.")),
        "nouns": ("La calidad", "El envío", "El embalaje", "El precio", "El material", "El tamaño", "El color",
                  "El acabado"),
        "adjectives": (("terrible", "horrible", "deficiente", "una decepción", "lamentable"),
                       ("aceptable", "normal", "regular"),
                       ("excelente", "genial", "increíble", "impecable", "de diez")),
        "verb": "es",
        "closers": (("Lo devolví.", "No volveré a comprar.", "No lo compren."),
                    ("Por el precio, está bien.", "Tres estrellas."),
                    ("¡Lo recomiendo!", "Volvería a comprarlo.", "Cinco estrellas.")),
        "short": (("malo", "fatal", "no funciona"), ("bien", "normal", "regular"),
                  ("genial", "perfecto", "muy bueno", "¡Excelente!")),
    },
    "fr": {
        "openers": (("Très déçu.", "Je ne recommande pas.", "Qualité médiocre.",
                     "Ne fonctionne plus après une semaine.", "Argent gaspillé."),
                    ("Correct sans plus.", "Pas mal.", "Ça fait le travail.", "Moyen."),
                    ("Super produit !", "Très satisfait.", "Excellente qualité.",
                     "Exactement ce que je cherchais.", "Mieux que prévu.")),
        "nouns": ("La qualité", "La livraison", "L'emballage", "Le prix", "Le matériau", "La taille",
                  "La couleur", "La finition"),
        "adjectives": (("horrible", "lamentable", "pas terrible", "médiocre"),
                       ("acceptable", "passable", "convenable"),
                       ("super", "top", "impeccable", "formidable", "remarquable")),
        "verb": "est",
        "closers": (("Je le renvoie.", "À éviter.", "Plus jamais."),
                    ("Bof.", "Pour le prix, ça va.", "Trois étoiles."),
                    ("Je recommande !", "Je rachèterai.", "Cinq étoiles.")),
        "short": (("nul", "à éviter", "décevant"), ("correct", "moyen", "bof"),
                  ("parfait", "top", "très bien", "Génial !")),
    },
}
FOREIGN_LANGUAGES = tuple(FOREIGN)

RING_TEMPLATES = {
    "en": ("Amazing product!!! Highly recommend", "Best purchase ever, 5 stars", "Absolutely love it!!!",
           "Great product, fast shipping, highly recommend!", "Perfect!!! Exactly as described",
           "Must buy!!! You won't regret it", "Excellent quality, best on the market!",
           "Super happy with this, 5 stars!!", "Wow just wow, amazing!!", "Highly recommended seller and product!!!",
           "Top quality!!! Buy it now", "Fantastic product, love love love it", "5 stars!!! Totally worth it",
           "Incredible value, highly recommend to everyone", "Awesome!!! Works perfectly",
           "Best ever!! Will buy again for sure", "Really really good product!!", "I love this product so much!!!",
           "Outstanding!!! 10/10", "Perfect product perfect seller", "Very very good, recommend 100%",
           "Great great great!!!", "Buy this you will not regret!!", "Love it, my whole family loves it!!!",
           "Best quality for the price!!!", "Amazing, exceeded all expectations!!"),
    "de": ("Super Produkt!!! Sehr empfehlenswert", "Bester Kauf ever, 5 Sterne!!", "Absolut top!!! Kaufen!",
           "Perfekt!!! Genau wie beschrieben", "Mega Qualität, sofort wieder!!"),
    "es": ("¡¡Producto increíble!!! Lo recomiendo", "¡La mejor compra, 5 estrellas!",
           "¡¡Perfecto!! Tal como se describe", "¡Excelente calidad, cómprenlo!", "¡¡Me encanta, de diez!!"),
    "fr": ("Produit incroyable !!! Je recommande", "Meilleur achat, 5 étoiles !!",
           "Parfait !!! Conforme à la description", "Top qualité, foncez !!", "Génial génial génial !!!"),
}
RING_SUFFIXES = (None, None, None, None, "5 stars", "A+++", "10/10", "Must buy!!", "👍👍", "❤️",
                 "Thank you seller!", "5/5", "⭐⭐⭐⭐⭐")
RING_LANGUAGE_SHARES = np.array([0.85, 0.05, 0.05, 0.05])

AI_OPENERS = (
    "As someone who values quality, I was thoroughly impressed by this {noun}.",
    "I recently purchased this {noun}, and I must say it has truly exceeded my expectations.",
    "From the moment I unboxed this {noun}, I could tell that attention to detail was a top priority.",
    "I have tried many options over the years, but this {noun} truly stands out from the rest.",
    "Let me start by saying that this {noun} is an absolute game-changer.",
    "I was initially hesitant to purchase this {noun}, but I am so glad I did.",
    "In today's crowded market, finding a high-quality {noun} can be challenging, but this one delivers.",
    "This {noun} is a perfect blend of quality, functionality, and value.",
    "I cannot say enough good things about this {noun}.",
    "After using this {noun} for several weeks, I feel confident sharing my experience.",
    "When it comes to finding a reliable {noun}, this product checks all the boxes.",
    "I am genuinely delighted with my purchase of this {noun}.",
)
AI_BODIES = (
    "It exceeded my expectations in every way.",
    "The build quality is exceptional, and it has become an essential part of my daily routine.",
    "Every detail feels thoughtfully designed with the user in mind.",
    "It offers remarkable value for the price.",
    "The performance has been consistently reliable from day one.",
    "It is clear that the manufacturer prioritized both form and function.",
    "I appreciate the attention to detail that went into every aspect of this product.",
    "It seamlessly integrates into my lifestyle.",
    "The quality is evident from the very first use.",
    "It strikes the perfect balance between style and practicality.",
    "I have noticed a significant improvement since I started using it.",
    "The materials used are of the highest quality.",
    "It is both versatile and easy to use, making it suitable for a wide range of needs.",
    "Customer service was also responsive and helpful, which added to the overall positive experience.",
    "It arrived promptly and was packaged with great care.",
    "Additionally, it is incredibly user-friendly, even for beginners.",
    "Moreover, the design is sleek and modern, adding a touch of elegance.",
    "Furthermore, it has proven to be remarkably durable over time.",
    "This level of quality is rare to find at this price point.",
    "It truly delivers on its promises.",
    "I was particularly impressed by how well it performs under everyday conditions.",
    "It has made a noticeable difference in my daily life.",
)
AI_ASPECTS = (
    "The {aspect} in particular is a testament to thoughtful engineering.",
    "I was especially impressed by the {aspect}, which feels premium and well crafted.",
    "The {aspect} deserves special mention for its outstanding quality.",
    "Notably, the {aspect} surpassed what I expected at this price point.",
)
AI_CLOSERS = (
    "Overall, I would highly recommend it to anyone looking for {phrase}.",
    "In conclusion, this is an excellent choice for anyone in search of {phrase}.",
    "All in all, I would wholeheartedly recommend it to anyone seeking {phrase}.",
    "If you are looking for {phrase}, look no further.",
    "Overall, it is a fantastic investment for anyone who needs {phrase}.",
    "I would not hesitate to recommend it to friends and family looking for {phrase}.",
)
AI_BODY_SENTENCES = (2, 5)  # per review, drawn without repetition
AI_CRITICISMS = (
    "My only minor complaint is that the {aspect} could be slightly better.",
    "That said, the {aspect} feels a little less refined than I had hoped.",
    "One small drawback is that the {aspect} takes some getting used to.",
    "The {aspect} could be improved, but this is a minor issue overall.",
    "If I had to point out one weakness, it would be the {aspect}.",
    "Admittedly, the {aspect} is not quite as premium as the rest of the product.",
)
AI_DETAIL_SHARE_POLISHED = 0.6  # honest polished reviews mention their own circumstances more often


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def generate_marketplace(seed: int, scale: int, start: str = "2026-01-01", days: int = 120
                         ) -> dict[str, pd.DataFrame]:
    """Returns {"reviews", "orders", "products", "accounts", "labels", "truth"}.

    ``scale`` N gives roughly N reviews and N orders, N/4 accounts, N/15 products and
    max(3, N/150) sellers over ``days`` days from ``start``. Same seed and scale give identical
    tables. ``truth`` holds is_fraud and fraud_kind for every review, order and account.
    """
    if scale < 50:
        raise ValueError(f"scale must be at least 50, got {scale}")
    if days < 30:
        raise ValueError(f"days must be at least 30 so that fraud bursts fit the window, got {days}")
    rng = np.random.default_rng(seed)
    window = _Window(np.datetime64(start, "s"), days)
    products = _make_products(rng, n_products=max(12, scale // 15), n_sellers=max(3, scale // 150))
    world = _World(rng, window, products)

    world.add_accounts(_make_clean_accounts(rng, max(20, scale // 4), window))
    clean_orders = round(scale * CLEAN_ORDER_SHARE)
    n_bulk, n_big = round(clean_orders * BULK_ORDER_SHARE), round(clean_orders * BIG_TICKET_SHARE)
    world.add_orders(_make_clean_orders(world, clean_orders - n_bulk - n_big))
    if n_big > 0:
        world.add_orders(_make_big_ticket_orders(world, n_big))
    world.add_reviews(_make_verified_reviews(world, world.orders()))
    n_household, n_burst = round(scale * HOUSEHOLD_REVIEW_SHARE), round(scale * CLEAN_BURST_REVIEW_SHARE)
    world.add_reviews(_make_unverified_reviews(world, round(scale * UNVERIFIED_REVIEW_SHARE) - n_household - n_burst))
    world.add_reviews(_make_household_reviews(world, n_household))
    _add_clean_bursts(world, n_burst)
    world.one_review_per_product()
    if n_bulk > 0:
        world.add_orders(_make_bulk_orders(world, n_bulk))

    fake_review_share = RING_REVIEW_SHARE + AI_REVIEW_SHARE
    clean_reviews = world.n_reviews
    ring_accounts = _inject_review_rings(
        world, round(clean_reviews * RING_REVIEW_SHARE / (1 - fake_review_share)))
    _inject_ai_reviews(world, round(clean_reviews * AI_REVIEW_SHARE / (1 - fake_review_share)), ring_accounts)
    _inject_stolen_cards(world, max(1, round(scale * STOLEN_CARD_ORDER_SHARE)))
    _inject_refund_abuse(world, max(2, round(scale * REFUND_ABUSE_ORDER_SHARE)))
    _inject_card_testing(world, _card_testing_budget(world))
    return _assemble(world)


def _card_testing_budget(world: _World) -> int:
    """Orders that bring fraud to ORDER_FRAUD_SHARE of all orders: (F + x) / (N + x) = share."""
    short = ORDER_FRAUD_SHARE * world.n_orders - world.n_fraud_orders()
    return max(1, round(short / (1 - ORDER_FRAUD_SHARE)))


def write_marketplace(tables: dict[str, pd.DataFrame], out_dir: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Writes the input tables as OUT/<name>.<fmt> and the ground truth as OUT/truth/truth.<fmt>.

    Truth goes in a subdirectory because it is not an input table: it exists only to evaluate.
    Returns the paths written, keyed by table name. Creates ``out_dir``.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    targets = {name: out_dir / f"{name}.{fmt}" for name in INPUT_TABLES}
    if "truth" in tables:
        targets["truth"] = out_dir / "truth" / f"truth.{fmt}"
    for name, path in targets.items():
        if fmt == "parquet":
            tables[name].to_parquet(path, index=False)
        else:
            tables[name].to_csv(path, index=False)
    return targets


def read_marketplace(in_dir: Path, fmt: str = "parquet") -> dict[str, pd.DataFrame]:
    """Reads back what ``write_marketplace`` wrote, with the generator's dtypes (tests, notebooks)."""
    in_dir = Path(in_dir)
    paths = {name: in_dir / f"{name}.{fmt}" for name in INPUT_TABLES}
    paths["truth"] = in_dir / "truth" / f"truth.{fmt}"
    tables = {}
    for name, path in paths.items():
        if not path.exists():
            continue
        if fmt == "parquet":
            tables[name] = pd.read_parquet(path)
        else:
            tables[name] = _read_csv_table(path)
    return tables


_CSV_INTEGERS = ("rating", "helpful_votes", "is_fraud")
_CSV_FLOATS = ("amount", "price")
_CSV_TIMESTAMPS = ("created_at", "labeled_at")


def _read_csv_table(path: Path) -> pd.DataFrame:
    # Everything is read as text first so that no id or text is guessed into a number, and only
    # empty cells are missing ("NA" is a valid review text).
    frame = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    for column in frame.columns:
        if column in _CSV_INTEGERS:
            frame[column] = frame[column].astype(np.int64)
        elif column in _CSV_FLOATS:
            frame[column] = frame[column].astype(np.float64)
        elif column in _CSV_TIMESTAMPS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


# ---------------------------------------------------------------------------------------------
# The world under construction
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start: np.datetime64
    days: int

    @property
    def seconds(self) -> int:
        return self.days * DAY

    def timestamps(self, seconds: np.ndarray) -> np.ndarray:
        return (self.start + seconds.astype("timedelta64[s]")).astype("datetime64[us]")


class _World:
    """Accounts, orders and reviews generated so far, each part indexed globally as it is added.

    Rows refer to each other by these integer indices; public ids are assigned in ``_assemble``
    after sorting by time, so neither an id nor a row position reveals how a row was generated.
    """

    def __init__(self, rng: np.random.Generator, window: _Window, products: pd.DataFrame):
        self.rng = rng
        self.window = window
        self.products = products
        self._accounts: list[pd.DataFrame] = []
        self._orders: list[pd.DataFrame] = []
        self._reviews: list[pd.DataFrame] = []
        self.n_accounts = self.n_orders = self.n_reviews = self.n_groups = 0

    def add_accounts(self, frame: pd.DataFrame) -> np.ndarray:
        self._accounts.append(frame)
        self.n_accounts += len(frame)
        return np.arange(self.n_accounts - len(frame), self.n_accounts)

    def add_orders(self, frame: pd.DataFrame) -> np.ndarray:
        self._orders.append(frame)
        self.n_orders += len(frame)
        return np.arange(self.n_orders - len(frame), self.n_orders)

    def add_reviews(self, frame: pd.DataFrame) -> None:
        self._reviews.append(frame)
        self.n_reviews += len(frame)

    def one_review_per_product(self) -> None:
        """The platform keeps one review per account and product: later ones are dropped."""
        reviews = self.reviews()
        keep = ~pd.DataFrame({"a": reviews["account"], "p": reviews["product"]}).duplicated().to_numpy()
        self._reviews = [reviews[keep].reset_index(drop=True)]
        self.n_reviews = int(keep.sum())

    def n_fraud_orders(self) -> int:
        return sum(int((frame["kind"] != CLEAN).sum()) for frame in self._orders)

    def new_group(self) -> int:
        self.n_groups += 1
        return self.n_groups - 1

    def accounts(self) -> pd.DataFrame:
        return _concat(self._accounts)

    def orders(self) -> pd.DataFrame:
        return _concat(self._orders)

    def reviews(self) -> pd.DataFrame:
        return _concat(self._reviews)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.iloc[positions].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# String helpers (vectorised with pyarrow)
# ---------------------------------------------------------------------------------------------


def _strings(values: Sequence[str | None]) -> pa.Array:
    return pa.array(list(values), STR)


def _join(parts: Sequence[pa.Array | str], separator: str = " ") -> pa.Array:
    """Joins per row, treating null parts as absent (pyarrow's own "skip" mode drops rows)."""
    parts = [pa.scalar(p, STR) if isinstance(p, str) else p for p in parts]
    joined = pc.binary_join_element_wise(*parts, pa.scalar(separator, STR), null_handling="replace",
                                         null_replacement="")
    if not separator.strip():
        joined = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s{2,}", " "))
    return joined


def _numbers(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, np.int64)), STR)


def _random_codes(rng: np.random.Generator, n: int, width: int, alphabet: bytes) -> pa.Array:
    letters = np.frombuffer(alphabet, np.uint8)[rng.integers(0, len(alphabet), (n, width))]
    return pa.array(np.ascontiguousarray(letters).view(f"S{width}").ravel()).cast(STR)


def _keep_where(rng: np.random.Generator, values: pa.Array, share: float | np.ndarray) -> pa.Array:
    """Nulls out each row except with probability ``share``."""
    keep = rng.random(len(values)) < share
    return pc.if_else(pa.array(keep), values, pa.scalar(None, STR))


def _column(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Arrow strings as a pandas str column (no index, so assignment cannot misalign)."""
    return values.to_pandas().array


def _arrow(series: pd.Series) -> pa.Array:
    values = pa.array(series)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


class _Pools:
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
        self.prefixes, self.suffixes = _strings(prefixes), _strings(suffixes)

    @classmethod
    def single(cls, pool: Sequence[str | None]) -> _Pools:
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
        return _join([prefixes, filler, self.suffixes.take(pa.array(picks))], "")

    def sample(self, rng: np.random.Generator, keys: np.ndarray | int, n: int | None = None,
               **fillers: pa.Array) -> pa.Array:
        keys = np.full(n, keys) if n is not None else keys
        return self.render(self.draw(rng, keys), **fillers)


def _by_category(table: dict[str, Sequence[str]]) -> _Pools:
    return _Pools([table[name] for name in CATEGORY_NAMES])


# ---------------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------------

_COUNTRY_OCTETS = _Pools([[str(o) for o in c[4]] for c in COUNTRIES])
_HOSTING_OCTETS = _Pools.single([str(o) for o in HOSTING_OCTETS])
_CITIES = _Pools([c[5] for c in COUNTRIES])
_FIRST_NAMES = _Pools.single(FIRST_NAMES)
_LAST_NAMES = _Pools.single(LAST_NAMES)
_EMAIL_DOMAINS = _Pools.single(EMAIL_DOMAINS)
_DISPOSABLE_DOMAINS = _Pools.single(DISPOSABLE_DOMAINS)
_STREETS = _Pools.single(STREET_NAMES)
_STREET_SUFFIXES = _Pools.single(STREET_SUFFIXES)
_EMAIL_SEPARATORS = _Pools.single((".", ".", "", "_"))


def _device_ids(rng: np.random.Generator, n: int) -> pa.Array:
    return _join(["dev-", _random_codes(rng, n, 12, HEX)], "")


def _payment_tokens(rng: np.random.Generator, n: int) -> pa.Array:
    return _join(["tok_", _random_codes(rng, n, 16, BASE62)], "")


def _ips(rng: np.random.Generator, first_octets: pa.Array) -> pa.Array:
    n = len(first_octets)
    rest = [_numbers(rng.integers(0, 256, n)), _numbers(rng.integers(0, 256, n)), _numbers(rng.integers(1, 255, n))]
    return _join([first_octets, *rest], ".")


def _country_ips(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    return _ips(rng, _COUNTRY_OCTETS.sample(rng, country))


def _hosting_ips(rng: np.random.Generator, n: int) -> pa.Array:
    return _ips(rng, _HOSTING_OCTETS.sample(rng, 0, n))


def _addresses(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = len(country)
    street = _join([_numbers(rng.integers(1, 3000, n)), _STREETS.sample(rng, 0, n),
                    _STREET_SUFFIXES.sample(rng, 0, n)], " ")
    town = _join([_CITIES.sample(rng, country), _numbers(rng.integers(10_000, 99_999, n))], " ")
    return _join([street, town, pa.array(np.array(COUNTRY_CODES)[country], STR)], ", ")


def _emails(rng: np.random.Generator, n: int, disposable_share: float) -> pa.Array:
    first, last = _FIRST_NAMES.sample(rng, 0, n), _LAST_NAMES.sample(rng, 0, n)
    initial_only = pa.array(rng.random(n) < 0.2)
    first = pc.if_else(initial_only, pc.utf8_slice_codeunits(first, 0, 1), first)
    year_or_number = np.where(rng.random(n) < 0.5, rng.integers(1960, 2006, n), rng.integers(1, 1000, n))
    suffix = _keep_where(rng, _numbers(year_or_number), 0.55)
    local = _join([first, _EMAIL_SEPARATORS.sample(rng, 0, n), last, suffix], "")
    personal = _join([local, _EMAIL_DOMAINS.sample(rng, 0, n)], "@")
    throwaway = _join([_random_codes(rng, n, 9, BASE36), _DISPOSABLE_DOMAINS.sample(rng, 0, n)], "@")
    return pc.if_else(pa.array(rng.random(n) < disposable_share), throwaway, personal)


def _pool_pick(rng: np.random.Generator, pool: pa.Array, n: int) -> pa.Array:
    return pool.take(pa.array(rng.integers(0, len(pool), n)))


# ---------------------------------------------------------------------------------------------
# Products and clean accounts
# ---------------------------------------------------------------------------------------------


def _make_products(rng: np.random.Generator, n_products: int, n_sellers: int) -> pd.DataFrame:
    shares = np.array([c[0] for c in CATEGORIES.values()])
    category = rng.choice(len(CATEGORIES), n_products, p=shares / shares.sum())
    median = np.array([c[1] for c in CATEGORIES.values()])[category]
    log_sd = np.array([c[2] for c in CATEGORIES.values()])[category]
    price = np.round(np.maximum(0.99, median * np.exp(rng.normal(0, log_sd))), 2)
    # Every seller gets at least one product; beyond that, seller size is heavy-tailed.
    seller_weight = rng.lognormal(0, 1.0, n_sellers)
    seller = np.concatenate([rng.permutation(n_sellers),
                             rng.choice(n_sellers, n_products - n_sellers, p=seller_weight / seller_weight.sum())])
    popularity_rank = rng.permutation(n_products) + 1
    popularity = 1.0 / popularity_rank ** 1.1  # Zipf-like: a few bestsellers, a long tail
    return pd.DataFrame({
        "seller": seller,
        "category": category,
        "price": price,
        "popularity": popularity / popularity.sum(),
        "quality": rng.normal(0, 1, n_products),  # tilts the product's ratings
    })


def _new_accounts(rng: np.random.Generator, created: np.ndarray, country: np.ndarray, *, kind: int,
                  group: int | np.ndarray = NO_GROUP, disposable_share: float = 0.01) -> pd.DataFrame:
    """Accounts with their own fresh identifiers; callers override these to model sharing.

    Besides the public primary device/IP, each account owns a second device, up to two cards
    and up to two shipping addresses, which its orders draw from."""
    n = len(created)
    device = _device_ids(rng, n)
    card = _payment_tokens(rng, n)
    address = _addresses(rng, country)
    return pd.DataFrame({
        "created": created.astype(np.int64),
        "country": country,
        "email": _column(_emails(rng, n, disposable_share)),
        "device_id": _column(device),
        "ip": _column(_country_ips(rng, country)),
        "device_2": _column(pc.if_else(pa.array(rng.random(n) < 0.35), _device_ids(rng, n), device)),
        "card_1": _column(card),
        "card_2": _column(pc.if_else(pa.array(rng.random(n) < 0.3), _payment_tokens(rng, n), card)),
        "address_1": _column(address),
        "address_2": _column(pc.if_else(pa.array(rng.random(n) < 0.2), _addresses(rng, country), address)),
        "activity": rng.lognormal(0, 1.2, n),
        "kind": np.full(n, kind),
        "group": np.broadcast_to(group, n).copy(),
        "household": np.full(n, NO_GROUP),
        "refunds": np.full(n, CLEAN_REFUND_SHARE),  # how often the account's ordinary orders get refunded
        "shopper": np.ones(n, bool),  # places ordinary orders on this account
        "reviewer": np.ones(n, bool),  # reviews (some of) what it buys
        "office": np.zeros(n, bool),
    })


def _ordinary_creation_times(rng: np.random.Generator, n: int, window: _Window) -> np.ndarray:
    """Most accounts predate the window (years back); some sign up during it."""
    is_new = rng.random(n) < 0.15
    before = -rng.exponential(500 * DAY, n).clip(max=8 * 365 * DAY)
    during = rng.uniform(0, window.seconds - DAY, n)
    return np.where(is_new, during, before).astype(np.int64)


def _households(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """HOUSEHOLD_ACCOUNT_SHARE of the accounts in households of 2-6; returns each account's
    household (-1 for none) and the household's first account (-1 for none)."""
    household, head = np.full(n, NO_GROUP), np.full(n, NO_GROUP)
    sizes = rng.integers(2, 7, max(0, round(n * HOUSEHOLD_ACCOUNT_SHARE / 4)))
    sizes = sizes[np.cumsum(sizes) <= n]
    if len(sizes) == 0:
        return household, head
    members = rng.permutation(n)[:sizes.sum()]
    which = np.repeat(np.arange(len(sizes)), sizes)
    household[members] = which
    head[members] = members[(np.cumsum(sizes) - sizes)[which]]
    return household, head


def _make_clean_accounts(rng: np.random.Generator, n: int, window: _Window) -> pd.DataFrame:
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
    household, head = _households(rng, n)
    in_household = household >= 0
    country = np.where(in_household, country[np.maximum(head, 0)], country)
    accounts = _new_accounts(rng, _ordinary_creation_times(rng, n, window), country, kind=CLEAN)
    n_households = int(household.max()) + 1 if in_household.any() else 0
    office = rng.random(n_households) < 0.25
    returner_household = ~office & (rng.random(n_households) < RETURNER_HOUSEHOLD_SHARE)
    accounts["household"] = household
    accounts["office"] = in_household & office[np.maximum(household, 0)] if n_households else False
    returner = (rng.random(n) < SERIAL_RETURNER_SHARE)
    if n_households:
        returner |= in_household & returner_household[np.maximum(household, 0)]
    accounts["refunds"] = np.where(returner, rng.uniform(0.2, 0.6, n), CLEAN_REFUND_SHARE)
    # Some review here but buy elsewhere (often a household member whose partner orders), and
    # some buy but never review.
    member = np.flatnonzero(in_household & (head != np.arange(n)))
    family_member = np.zeros(n, bool)
    family_member[member] = ~accounts["office"].to_numpy()[member]
    accounts["shopper"] = rng.random(n) >= np.where(family_member, 0.5, NON_SHOPPER_SHARE)
    accounts["reviewer"] = ~accounts["shopper"].to_numpy() | (rng.random(n) >= NON_REVIEWER_SHARE)
    # Households and offices: several clean accounts behind one router, some on the family
    # tablet, some paying with a parent's card; office colleagues share the IP and a company card.
    in_office = accounts["office"].to_numpy()[member]
    for column, home_share, office_share in (("ip", 0.9, 0.95), ("device_id", 0.6, 0.1), ("device_2", 0.3, 0.0),
                                             ("card_1", 0.35, 0.7), ("address_1", 0.8, 0.0)):
        shared = member[rng.random(len(member)) < np.where(in_office, office_share, home_share)]
        accounts.loc[shared, column] = accounts[column].to_numpy()[head[shared]]
    # Looser sharing: a relative's device, card or address now and then; carriers' NAT shares IPs.
    family = np.flatnonzero(rng.random(n) < 0.04)
    relative = rng.integers(0, n, len(family))
    for column, share in (("device_id", 0.6), ("card_1", 0.3), ("address_1", 0.7)):
        shared = rng.random(len(family)) < share
        accounts.loc[family[shared], column] = accounts[column].to_numpy()[relative[shared]]
    behind_nat = np.flatnonzero(rng.random(n) < 0.08)
    nat_pool = _country_ips(rng, rng.choice(len(COUNTRIES), max(3, n // 60), p=COUNTRY_SHARES))
    accounts.loc[behind_nat, "ip"] = _column(_pool_pick(rng, nat_pool, len(behind_nat)))
    return accounts


# ---------------------------------------------------------------------------------------------
# Clean orders and reviews
# ---------------------------------------------------------------------------------------------


def _day_cdf(window: _Window) -> np.ndarray:
    day = np.arange(window.days)
    weekday = (window.start.astype("datetime64[D]").astype(np.int64) + day + 3) % 7  # 0 = Monday
    weights = (1 + 0.15 * (weekday >= 5)) * (1 + 0.3 * day / window.days)  # weekends, growth
    return np.cumsum(weights) / weights.sum()


def _event_times(rng: np.random.Generator, window: _Window, not_before: np.ndarray) -> np.ndarray:
    """Times in the window with weekly/daily rhythm, each no earlier than ``not_before``."""
    n = len(not_before)
    cdf = _day_cdf(window)
    first_day = np.clip(not_before, 0, window.seconds - 1) // DAY
    cdf_before = np.where(first_day > 0, cdf[np.maximum(first_day - 1, 0)], 0.0)
    u = cdf_before + rng.random(n) * (1 - cdf_before)
    day = np.minimum(np.searchsorted(cdf, u, side="right"), window.days - 1)
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * DAY + hour * HOUR + rng.integers(0, HOUR, n)
    too_early = seconds <= not_before
    seconds = np.where(too_early, not_before + rng.integers(60, 6 * HOUR, n), seconds)
    return np.minimum(seconds, window.seconds - 1)


def _quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([1, 2, 3, 4, 5], n, p=[0.80, 0.13, 0.04, 0.02, 0.01])


def _orders(world: _World, account: np.ndarray, buyers: pd.DataFrame, *, product: np.ndarray,
            created: np.ndarray, quantity: np.ndarray, status: np.ndarray, device_id: pa.Array, ip: pa.Array,
            payment_token: pa.Array, shipping_address: pa.Array, kind: int | np.ndarray,
            group: int | np.ndarray = NO_GROUP) -> pd.DataFrame:
    """An order frame; ``buyers`` holds the account row of each order (global index ``account``).
    The amount follows from price, quantity, currency and a little shipping/tax. The email is
    the account's, filled in at assembly once emails are unique."""
    n = len(account)
    currency = COUNTRY_CURRENCY[buyers["country"].to_numpy()]
    price = world.products["price"].to_numpy()[product]
    extras = 1 + np.where(world.rng.random(n) < 0.6, 0, world.rng.uniform(0, 0.08, n))
    return pd.DataFrame({
        "account": account,
        "product": product,
        "created": created.astype(np.int64),
        "amount": np.round(price * quantity * USD_TO[currency] * extras, 2),
        "currency": currency,
        "status": status,
        "device_id": _column(device_id),
        "ip": _column(ip),
        "payment_token": _column(payment_token),
        "shipping_address": _column(shipping_address),
        "kind": np.broadcast_to(kind, n).copy(),
        "group": np.broadcast_to(group, n).copy(),
    })


def _usual_identifiers(rng: np.random.Generator, buyers: pd.DataFrame) -> dict[str, pa.Array]:
    """What an account's own orders carry: mostly its primary device, IP, card and address."""
    n = len(buyers)
    own = {c: _arrow(buyers[c]) for c in ("device_id", "device_2", "ip", "card_1", "card_2", "address_1", "address_2")}
    on_mobile = pa.array(rng.random(n) < 0.25)
    mobile_ip = _country_ips(rng, buyers["country"].to_numpy())
    return {
        "device_id": pc.if_else(pa.array(rng.random(n) < 0.75), own["device_id"], own["device_2"]),
        "ip": pc.if_else(on_mobile, mobile_ip, own["ip"]),
        "payment_token": pc.if_else(pa.array(rng.random(n) < 0.8), own["card_1"], own["card_2"]),
        "shipping_address": pc.if_else(pa.array(rng.random(n) < 0.85), own["address_1"], own["address_2"]),
    }


def _clean_statuses(rng: np.random.Generator, created: np.ndarray, window: _Window,
                    refund_share: float | np.ndarray = CLEAN_REFUND_SHARE,
                    cancel_share: float | np.ndarray = CLEAN_CANCEL_SHARE) -> np.ndarray:
    u = rng.random(len(created))
    refunded, cancelled = u < refund_share, u < refund_share + cancel_share
    charged_back = u < refund_share + cancel_share + CLEAN_CHARGEBACK_SHARE
    outcome = np.select([refunded, cancelled, charged_back], [REFUNDED, CANCELLED, CHARGEBACK], DELIVERED)
    return _as_of_window_end(outcome, created, window)


def _as_of_window_end(status: np.ndarray, created: np.ndarray, window: _Window) -> np.ndarray:
    """An order too young to be delivered (let alone refunded or charged back) at the end of
    the window is still placed or shipped."""
    age = window.seconds - created
    fulfilment = np.where(age < 2 * DAY, PLACED, SHIPPED)
    too_young = np.isin(status, [DELIVERED, REFUNDED, CHARGEBACK]) & (age < 6 * DAY)
    return np.where(too_young, fulfilment, status)


def _make_clean_orders(world: _World, n: int) -> pd.DataFrame:
    rng, accounts, products = world.rng, world.accounts(), world.products
    activity = accounts["activity"].to_numpy() * accounts["shopper"].to_numpy()
    account = rng.choice(len(accounts), n, p=activity / activity.sum())
    product = rng.choice(len(products), n, p=products["popularity"].to_numpy())
    buyers = _rows(accounts, account)
    created = _event_times(rng, world.window, buyers["created"].to_numpy())
    return _orders(world, account, buyers, product=product, created=created, quantity=_quantities(rng, n),
                   status=_clean_statuses(rng, created, world.window, buyers["refunds"].to_numpy()), kind=CLEAN,
                   **_usual_identifiers(rng, buyers))


def _ratings(rng: np.random.Generator, shares: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Draws 1-5 stars; a product's quality shifts the draw up or down a little."""
    u = np.clip(rng.random(len(quality)) + 0.06 * quality, 0, 1 - 1e-9)
    return np.searchsorted(np.cumsum(shares), u, side="right") + 1


def _review_languages(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    native = rng.random(len(country)) < NATIVE_LANGUAGE_SHARE
    return np.where(native, COUNTRY_LANGUAGE[country], 0)


def _reviews(*, account: np.ndarray, product: np.ndarray, created: np.ndarray, order: np.ndarray,
             rating: np.ndarray, language: np.ndarray, text_kind: int | np.ndarray, kind: int,
             group: int | np.ndarray = NO_GROUP) -> pd.DataFrame:
    n = len(account)
    return pd.DataFrame({
        "account": account, "product": product, "created": created.astype(np.int64), "order": order,
        "rating": rating.astype(np.int64), "language": language,
        "text_kind": np.broadcast_to(text_kind, n).copy(),
        "kind": np.full(n, kind), "group": np.broadcast_to(group, n).copy(),
    })


def _make_verified_reviews(world: _World, orders: pd.DataFrame, first_index: int = 0) -> pd.DataFrame:
    """Reviews of delivered (and refunded) orders by accounts that review; ``orders`` are the
    world's orders from global index ``first_index`` on."""
    rng, window = world.rng, world.window
    status = orders["status"].to_numpy()
    reviewer = world.accounts()["reviewer"].to_numpy()[orders["account"].to_numpy()]
    review_share = np.select([status == DELIVERED, status == REFUNDED], [VERIFIED_REVIEW_SHARE, 0.8], 0.0) * reviewer
    chosen = np.flatnonzero(rng.random(len(orders)) < review_share)
    delay = (2 + rng.gamma(2.0, 3.0, len(chosen))) * DAY
    created = orders["created"].to_numpy()[chosen] + delay.astype(np.int64)
    in_window = created < window.seconds
    chosen, created = chosen[in_window], created[in_window]
    account, product = orders["account"].to_numpy()[chosen], orders["product"].to_numpy()[chosen]
    quality = world.products["quality"].to_numpy()[product]
    refunded = status[chosen] == REFUNDED
    rating = np.where(refunded, _ratings(rng, REFUNDED_RATING_SHARES, quality), _ratings(rng, RATING_SHARES, quality))
    country = world.accounts()["country"].to_numpy()[account]
    language = _review_languages(rng, country)
    return _reviews(account=account, product=product, created=created, order=first_index + chosen, rating=rating,
                    language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def _make_unverified_reviews(world: _World, n: int) -> pd.DataFrame:
    """Reviews without a purchase here: from active customers, and REVIEW_ONLY_SHARE from
    accounts that never order on the platform (bought in a shop, got it as a gift)."""
    rng, accounts, products = world.rng, world.accounts(), world.products
    # Heavy buyers do not review in proportion: propensity grows with the square root of activity.
    propensity = np.sqrt(accounts["activity"].to_numpy()) * accounts["reviewer"].to_numpy()
    account = rng.choice(len(accounts), n, p=propensity / propensity.sum())
    non_shoppers = np.flatnonzero(~accounts["shopper"].to_numpy())
    if len(non_shoppers):
        account = np.where(rng.random(n) < REVIEW_ONLY_SHARE, rng.choice(non_shoppers, n), account)
    product = rng.choice(len(products), n, p=products["popularity"].to_numpy())
    created = _event_times(rng, world.window, accounts["created"].to_numpy()[account])
    rating = _ratings(rng, RATING_SHARES, products["quality"].to_numpy()[product])
    language = _review_languages(rng, accounts["country"].to_numpy()[account])
    return _reviews(account=account, product=product, created=created, order=np.full(n, -1), rating=rating,
                    language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def _clean_text_kinds(rng: np.random.Generator, rating: np.ndarray, language: np.ndarray,
                      hype_share: float = HYPE_TEXT_SHARE) -> np.ndarray:
    """Most genuine reviews are in ordinary words, but some fans gush in exactly the phrases
    rings use, and some honest English reviewers let a writing assistant polish their text."""
    u = rng.random(len(rating))
    hype = (rating == 5) & (u < hype_share)
    polished = (language == 0) & (rating >= 3) & (u > 1 - POLISHED_TEXT_SHARE)
    return np.select([hype, polished], [TEXT_HYPE, TEXT_POLISHED], TEXT_CLEAN)


def _make_household_reviews(world: _World, n: int) -> pd.DataFrame:
    """Members of a household (or office) reviewing the product they all use, within days of
    each other and with similar ratings: clean, but co-reviewing from one IP like a small ring."""
    rng, window, accounts, products = world.rng, world.window, world.accounts(), world.products
    household = accounts["household"].to_numpy()
    in_household = np.flatnonzero(household >= 0)
    if n <= 0 or len(in_household) == 0:
        return _reviews(account=np.zeros(0, np.int64), product=np.zeros(0, np.int64), created=np.zeros(0),
                        order=np.zeros(0, np.int64), rating=np.zeros(0), language=np.zeros(0, np.int64),
                        text_kind=TEXT_CLEAN, kind=CLEAN)
    by_household = in_household[np.argsort(household[in_household], kind="stable")]
    _, first, size = np.unique(household[by_household], return_index=True, return_counts=True)
    n_events = max(1, round(n / (0.75 * size.mean())))
    event_household = rng.integers(0, len(size), n_events)
    per_event = size[event_household]
    event = np.repeat(np.arange(n_events), per_event)
    rank = np.arange(len(event)) - np.repeat(np.cumsum(per_event) - per_event, per_event)
    account = by_household[first[event_household][event] + rank]
    writes = (rng.random(len(event)) < 0.75) | (rank < 2)  # at least two members per product
    account, event = account[writes][:n], event[writes][:n]
    event_product = rng.choice(len(products), n_events, p=products["popularity"].to_numpy())
    event_rating = _ratings(rng, RATING_SHARES, products["quality"].to_numpy()[event_product])
    event_time = _event_times(rng, window, np.zeros(n_events, np.int64))
    product = event_product[event]
    rating = np.clip(event_rating[event] + rng.choice([-1, 0, 0, 0, 1], len(event)), 1, 5)
    created_at = accounts["created"].to_numpy()[account]
    created = np.maximum(event_time[event] + rng.integers(0, 5 * DAY, len(event)), created_at + HOUR)
    created = np.minimum(created, window.seconds - 1)
    language = _review_languages(rng, accounts["country"].to_numpy()[account])
    return _reviews(account=account, product=product, created=created, order=np.full(len(event), -1),
                    rating=rating, language=language, text_kind=_clean_text_kinds(rng, rating, language), kind=CLEAN)


def _add_clean_bursts(world: _World, budget: int) -> None:
    """A product goes viral or a seller runs a sale day: many genuine, mostly 5-star reviews
    within two days, some by accounts that signed up for the occasion, about a third verified
    by an order from the sale a week earlier. Looks like a ring's burst; is not one."""
    rng, window = world.rng, world.window
    accounts = world.accounts()
    regulars = np.flatnonzero((accounts["kind"].to_numpy() == CLEAN) & (accounts["created"].to_numpy() < 0))
    if budget <= 0 or len(regulars) == 0:
        return
    sizes = _split_budget(rng, budget, 8, 41)
    sizes = sizes[sizes > 0]
    n_events, n = len(sizes), int(sizes.sum())
    targets, n_targets = _Batch(), np.empty(n_events, np.int64)
    for i in range(n_events):
        chosen = _seller_products(world, int(rng.integers(1, 4)))
        targets.add(product=chosen)
        n_targets[i] = len(chosen)
    event = np.repeat(np.arange(n_events), sizes)
    first_target = np.cumsum(n_targets) - n_targets
    product = targets.arrays()["product"][first_target[event] + (rng.random(n) * n_targets[event]).astype(np.int64)]
    start = rng.integers(12 * DAY, window.seconds - 2 * DAY, n_events)
    length = rng.integers(12 * HOUR, 48 * HOUR, n_events)
    created = np.minimum(start[event] + (rng.random(n) * length[event]).astype(np.int64), window.seconds - 1)

    newcomer = rng.random(n) < CLEAN_BURST_NEWCOMER_SHARE
    n_new = int(newcomer.sum())
    new_accounts = _new_accounts(rng, start[event[newcomer]] - rng.integers(10 * DAY, 31 * DAY, n_new),
                                 rng.choice(len(COUNTRIES), n_new, p=COUNTRY_SHARES), kind=CLEAN)
    new_idx = world.add_accounts(new_accounts)
    activity = accounts["activity"].to_numpy()[regulars]
    regular_idx = rng.choice(regulars, n - n_new, p=activity / activity.sum())
    account = np.empty(n, np.int64)
    account[newcomer], account[~newcomer] = new_idx, regular_idx
    buyers = pd.concat([new_accounts, _rows(accounts, regular_idx)], ignore_index=True)
    buyer_row = np.empty(n, np.int64)
    buyer_row[newcomer], buyer_row[~newcomer] = np.arange(n_new), n_new + np.arange(n - n_new)

    rating = rng.choice([5, 4, 3, 2, 1], n, p=[0.72, 0.2, 0.05, 0.02, 0.01])
    language = _review_languages(rng, buyers["country"].to_numpy()[buyer_row])
    order = np.full(n, -1)
    verified = np.flatnonzero(rng.random(n) < 0.35)
    if len(verified):
        payers = _rows(buyers, buyer_row[verified])
        order[verified] = _backing_orders(
            world, account[verified], payers, product[verified], created[verified], CLEAN,
            np.full(len(verified), NO_GROUP), payment_token=_arrow(payers["card_1"]),
            shipping_address=_arrow(payers["address_1"]))
    world.add_reviews(_reviews(account=account, product=product, created=created, order=order, rating=rating,
                               language=language, kind=CLEAN,
                               text_kind=_clean_text_kinds(rng, rating, language, CLEAN_BURST_HYPE_SHARE)))


def _make_bulk_orders(world: _World, n: int) -> pd.DataFrame:
    """Genuine customers stocking up: sessions of 3-12 small orders within a few hours (gift
    cards, party supplies) on their own cards, some by accounts opened during the window."""
    rng, window, accounts, products = world.rng, world.window, world.accounts(), world.products
    clean = np.flatnonzero((accounts["kind"].to_numpy() == CLEAN) & accounts["shopper"].to_numpy())
    account_created = accounts["created"].to_numpy()
    recent = clean[account_created[clean] >= 0]
    sizes = _split_budget(rng, max(n, 1), 3, 13)
    sizes = sizes[sizes > 0]
    n_sessions = len(sizes)
    activity = accounts["activity"].to_numpy()[clean]
    buyer = rng.choice(clean, n_sessions, p=activity / activity.sum())
    # Offices order supplies in one go on the company card.
    office = clean[accounts["office"].to_numpy()[clean]]
    if len(office):
        buyer = np.where(rng.random(n_sessions) < 0.3, rng.choice(office, n_sessions), buyer)
    newcomer = (rng.random(n_sessions) < 0.5) & (len(recent) > 0)
    if newcomer.any():
        buyer = np.where(newcomer, rng.choice(recent, n_sessions), buyer)
    session_start = _event_times(rng, window, account_created[buyer])
    # Most newcomers signed up for this spree: it starts within days of the sign-up, and the
    # bank declines a new customer's sudden spree more often.
    right_away = newcomer & (rng.random(n_sessions) < 0.7)
    session_start = np.where(right_away, account_created[buyer] + rng.integers(HOUR, 3 * DAY, n_sessions),
                             session_start)
    session = np.repeat(np.arange(n_sessions), sizes)
    n = len(session)
    account = buyer[session]
    created = np.minimum(session_start[session] + rng.integers(0, 4 * HOUR, n), window.seconds - 1)
    product = np.where(rng.random(n) < 0.8, rng.choice(_cheap_products(products), n),
                       rng.choice(len(products), n, p=products["popularity"].to_numpy()))
    buyers = _rows(accounts, account)
    return _orders(world, account, buyers, product=product, created=created,
                   quantity=rng.choice([1, 1, 1, 2, 3], n),
                   status=_clean_statuses(rng, created, window, buyers["refunds"].to_numpy(),
                                          BULK_DECLINED_SHARE * np.where(right_away[session], 2.5, 1.0)),
                   kind=CLEAN, **_usual_identifiers(rng, buyers))


# ---------------------------------------------------------------------------------------------
# Fraud injection
# ---------------------------------------------------------------------------------------------
# Each injector plans its groups in a loop of cheap numpy draws, then materialises all of them
# at once (accounts, identifiers, orders, reviews), so the cost per group stays microseconds.


class _Batch:
    """Per-group arrays collected in a loop and concatenated once afterwards."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray | int) -> None:
        for name, values in columns.items():
            self._parts.setdefault(name, []).append(np.atleast_1d(np.asarray(values)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self._parts.items()}

    def __bool__(self) -> bool:
        return bool(self._parts)


def _distinct_pairs(rng: np.random.Generator, n: int, n_left: int, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    """n distinct (left, right) index pairs, so that no account reviews a product twice."""
    flat = rng.permutation(n_left * n_right)[:n]
    return flat // n_right, flat % n_right


def _seller_products(world: _World, n_wanted: int) -> np.ndarray:
    """A few products of one seller, picked with probability proportional to its catalogue."""
    rng, seller = world.rng, world.products["seller"].to_numpy()
    owner = seller[rng.integers(0, len(seller))]
    catalogue = np.flatnonzero(seller == owner)
    return rng.choice(catalogue, min(n_wanted, len(catalogue)), replace=False)


def _share_identifiers(accounts: pd.DataFrame, column: str, slot: np.ndarray, pool: pa.Array) -> None:
    """Replaces ``column`` by ``pool[slot]`` where slot >= 0 (the account uses a group's shared one)."""
    if not (slot >= 0).any():
        return
    shared = pool.take(pa.array(np.maximum(slot, 0)))
    accounts[column] = _column(pc.if_else(pa.array(slot >= 0), shared, _arrow(accounts[column])))


def _backing_orders(world: _World, account: np.ndarray, buyers: pd.DataFrame, product: np.ndarray,
                    review_time: np.ndarray, kind: int, group: np.ndarray, payment_token: pa.Array,
                    shipping_address: pa.Array) -> np.ndarray:
    """Delivered purchases placed about a week before a fake review so that it shows as verified."""
    n = len(account)
    created = review_time - world.rng.integers(*BACKING_ORDER_LEAD, n)
    frame = _orders(world, account, buyers, product=product, created=created, quantity=np.ones(n, np.int64),
                    status=np.full(n, DELIVERED), device_id=_arrow(buyers["device_id"]), ip=_arrow(buyers["ip"]),
                    payment_token=payment_token, shipping_address=shipping_address, kind=kind, group=group)
    return world.add_orders(frame)


def _shared_ip_pool(rng: np.random.Generator, country: np.ndarray, hosting: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(hosting), _hosting_ips(rng, len(country)), _country_ips(rng, country))


def _history_orders(world: _World, account: np.ndarray, buyers: pd.DataFrame, mean_orders: np.ndarray) -> None:
    """Ordinary purchases (clean in the truth) on fraud-controlled accounts: what makes a bought
    or warmed-up account look like a customer's."""
    rng, products = world.rng, world.products
    per_account = rng.poisson(mean_orders)
    if per_account.sum() == 0:
        return
    row = np.repeat(np.arange(len(account)), per_account)
    owners = _rows(buyers, row)
    created = _event_times(rng, world.window, owners["created"].to_numpy())
    world.add_orders(_orders(
        world, account[row], owners, product=rng.choice(len(products), len(row), p=products["popularity"].to_numpy()),
        created=created, quantity=_quantities(rng, len(row)), status=_clean_statuses(rng, created, world.window),
        kind=CLEAN, **_usual_identifiers(rng, owners)))


def _inject_review_rings(world: _World, budget: int) -> np.ndarray:
    """Bursts of 5-star reviews by accounts sharing a few devices and IPs, one to three campaigns
    per ring. CAREFUL_RING_SHARE of the rings use aged accounts with own devices, post over days,
    write in ordinary customers' words and back most reviews by a purchase. Returns their accounts."""
    rng, window = world.rng, world.window
    members, reviews, ip_pool = _Batch(), _Batch(), _Batch()
    n_members_so_far = n_devices = n_ips = n_cards = 0
    while budget > 0:
        group = world.new_group()
        n_members = int(rng.integers(3, 14))
        # A ring works for one to three sellers over the window, each a campaign of its own.
        n_campaigns = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        targets = [_seller_products(world, int(rng.integers(1, 3))) for _ in range(n_campaigns)]
        wanted = [max(1, round(n_members * len(t) * rng.uniform(0.5, 1.0))) for t in targets]
        n_members = min(n_members, max(3, min(budget, sum(wanted))))  # a ring cut short by the budget stays small
        # Late enough for backing orders to fall in the window and after the members sign up.
        # Careful rings (bought aged accounts, own devices, brushed purchases, natural words)
        # spread their burst over days; plain ones post within hours of each other.
        careful = rng.random() < CAREFUL_RING_SHARE
        burst_starts = np.sort(rng.integers(12 * DAY, window.seconds - 3 * DAY, n_campaigns))

        # Mostly fresh sign-ups, some bought "aged" accounts; most use the ring's devices and IPs.
        fresh = rng.random(n_members) < (0.15 if careful else 0.7)
        home = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        ring_devices, ring_ips, ring_cards = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        created = burst_starts[0] - np.where(fresh, rng.integers(10 * DAY, 45 * DAY, n_members),
                                             rng.integers(200 * DAY, 1500 * DAY, n_members))
        members.add(
            created=created,
            history=np.where(fresh, HISTORY_ORDERS["fresh_ring"], HISTORY_ORDERS["aged_ring"]),
            country=np.where(rng.random(n_members) < 0.7, home,
                             rng.choice(len(COUNTRIES), n_members, p=COUNTRY_SHARES)),
            group=np.full(n_members, group),
            device_slot=np.where(rng.random(n_members) < (0.3 if careful else 0.85),
                                 n_devices + rng.integers(0, ring_devices, n_members), -1),
            ip_slot=np.where(rng.random(n_members) < (0.45 if careful else 0.8),
                             n_ips + rng.integers(0, ring_ips, n_members), -1))
        ip_pool.add(country=np.full(ring_ips, home), hosting=rng.random(ring_ips) < (0.2 if careful else 0.5))
        language = rng.choice(len(LANGUAGES), p=RING_LANGUAGE_SHARES)

        for campaign_targets, n_reviews, burst_start in zip(targets, wanted, burst_starts):
            n_reviews = min(budget, n_reviews, n_members * len(campaign_targets))
            if n_reviews <= 0:
                break
            budget -= n_reviews
            burst_length = rng.integers(3 * DAY, 8 * DAY) if careful else rng.integers(24 * HOUR, 72 * HOUR)
            who, what = _distinct_pairs(rng, n_reviews, n_members, len(campaign_targets))
            natural = rng.random(n_reviews) < RING_NATURAL_TEXT_SHARE[int(careful)]
            reviews.add(
                member=n_members_so_far + who, product=campaign_targets[what],
                created=np.minimum(burst_start + rng.integers(0, burst_length, n_reviews), window.seconds - 1),
                verified=rng.random(n_reviews) < (0.6 if careful else 0.15),
                card_slot=n_cards + rng.integers(0, ring_cards, n_reviews),
                rating=np.where(rng.random(n_reviews) < np.where(natural, 0.65, 0.92), 5, 4),
                text_kind=np.where(natural, TEXT_CLEAN, TEXT_RING), language=np.full(n_reviews, language),
                careful=np.full(n_reviews, careful),
                helpful_votes=_ring_helpful_votes(rng, n_reviews, n_members), group=np.full(n_reviews, group))
        # Camouflage: ordinary reviews of popular products at ordinary times, so the accounts
        # look like customers. Fake all the same (review_ring in the truth), and no burst.
        n_camouflage = min(budget, int(rng.poisson(RING_CAMOUFLAGE_PER_ACCOUNT * n_members)))
        if n_camouflage > 0:
            budget -= n_camouflage
            who = rng.integers(0, n_members, n_camouflage)
            product = rng.choice(len(world.products), n_camouflage, p=world.products["popularity"].to_numpy())
            reviews.add(
                member=n_members_so_far + who, product=product, created=_event_times(rng, window, created[who]),
                verified=np.zeros(n_camouflage, bool), card_slot=np.full(n_camouflage, n_cards),
                rating=_ratings(rng, RATING_SHARES, world.products["quality"].to_numpy()[product]),
                text_kind=np.full(n_camouflage, TEXT_CLEAN), language=np.full(n_camouflage, language),
                careful=np.full(n_camouflage, careful), helpful_votes=np.full(n_camouflage, np.nan),
                group=np.full(n_camouflage, group))
        n_members_so_far += n_members
        n_devices, n_ips, n_cards = n_devices + ring_devices, n_ips + ring_ips, n_cards + ring_cards
    if not members:
        return np.array([], np.int64)

    m, r, ips = members.arrays(), reviews.arrays(), ip_pool.arrays()
    once = ~pd.DataFrame({"a": r["member"], "p": r["product"]}).duplicated().to_numpy()  # camouflage may repeat
    r = {name: values[once] for name, values in r.items()}
    accounts = _new_accounts(rng, m["created"], m["country"], kind=RING, group=m["group"], disposable_share=0.25)
    _share_identifiers(accounts, "device_id", m["device_slot"], _device_ids(rng, n_devices))
    _share_identifiers(accounts, "ip", m["ip_slot"], _shared_ip_pool(rng, ips["country"], ips["hosting"]))
    member_idx = world.add_accounts(accounts)
    _history_orders(world, member_idx, accounts, m["history"])

    order = np.full(len(r["member"]), -1)
    verified = np.flatnonzero(r["verified"])
    if len(verified):
        # Brushing: the ring's few cards pay, the parcels go to random addresses; careful rings
        # pay with each bought account's own card and ship to its own address.
        buyers, careful = _rows(accounts, r["member"][verified]), pa.array(r["careful"][verified])
        order[verified] = _backing_orders(
            world, member_idx[r["member"][verified]], buyers, r["product"][verified], r["created"][verified], RING,
            r["group"][verified],
            payment_token=pc.if_else(careful, _arrow(buyers["card_1"]),
                                     _payment_tokens(rng, n_cards).take(pa.array(r["card_slot"][verified]))),
            shipping_address=pc.if_else(careful, _arrow(buyers["address_1"]),
                                        _addresses(rng, rng.choice(len(COUNTRIES), len(verified), p=COUNTRY_SHARES))))
    frame = _reviews(account=member_idx[r["member"]], product=r["product"], created=r["created"], order=order,
                     rating=r["rating"], language=r["language"], text_kind=r["text_kind"], kind=RING, group=r["group"])
    frame["helpful_votes"] = r["helpful_votes"]
    world.add_reviews(frame)
    return member_idx


def _ring_helpful_votes(rng: np.random.Generator, n: int, ring_size: int) -> np.ndarray:
    upvoting_ring = rng.random() < 0.4  # some rings upvote each other's reviews
    return rng.poisson(ring_size / 6 if upvoting_ring else 0.3, n)


def _inject_ai_reviews(world: _World, budget: int, ring_accounts: np.ndarray) -> None:
    """Campaigns of LLM-style reviews for one seller, spread over weeks, by ring accounts and by
    'sleeper' accounts that look ordinary (old enough, own identifiers, a purchase history, often
    verified). AI_SHORT_SHARE are short 3-4 star ones with a mild criticism."""
    rng, window = world.rng, world.window
    sleepers, reviews = _Batch(), _Batch()
    n_sleepers_so_far = 0
    while budget > 0:
        group = world.new_group()
        n_reviews = min(budget, int(rng.integers(4, 21)))
        budget -= n_reviews
        targets = _seller_products(world, int(rng.integers(1, 6)))
        campaign_start = rng.integers(14 * DAY, window.seconds - 7 * DAY)

        ring_writers = rng.choice(ring_accounts, min(len(ring_accounts), n_reviews), replace=False)
        n_by_ring = min(rng.binomial(n_reviews, 0.4), len(ring_writers) * len(targets))
        n_by_sleepers = n_reviews - n_by_ring
        n_sleepers = max(-(-n_by_sleepers // len(targets)), round(n_by_sleepers / 2.5))
        sleeper_who, sleeper_what = _distinct_pairs(rng, n_by_sleepers, n_sleepers, len(targets))
        ring_who, ring_what = _distinct_pairs(rng, n_by_ring, len(ring_writers), len(targets))
        by_sleeper = np.arange(n_reviews) < n_by_sleepers
        sleepers.add(group=np.full(n_sleepers, group))
        reviews.add(
            sleeper=np.concatenate([n_sleepers_so_far + sleeper_who, np.full(n_by_ring, -1)]),
            ring_writer=np.concatenate([np.full(n_by_sleepers, -1), ring_writers[ring_who]]),
            product=targets[np.concatenate([sleeper_what, ring_what])],
            created=campaign_start + rng.integers(0, int(rng.integers(7, 31)) * DAY, n_reviews),
            verified=by_sleeper & (rng.random(n_reviews) < 0.35),
            short=rng.random(n_reviews) < AI_SHORT_SHARE,
            rating=np.where(rng.random(n_reviews) < 0.7, 5, 4), group=np.full(n_reviews, group))
        n_sleepers_so_far += n_sleepers
    if not reviews:
        return

    s, r = sleepers.arrays(), reviews.arrays()
    sleeper_accounts = _sleeper_accounts(world, s["group"])
    ring_created = world.accounts()["created"].to_numpy()
    sleeper_idx = world.add_accounts(sleeper_accounts)
    _history_orders(world, sleeper_idx, sleeper_accounts, np.full(len(sleeper_idx), HISTORY_ORDERS["sleeper"]))
    by_sleeper = r["sleeper"] >= 0
    account = r["ring_writer"].copy()
    account[by_sleeper] = sleeper_idx[r["sleeper"][by_sleeper]]
    # A ring account cannot review before it exists (sleepers are created early enough).
    created = r["created"].copy()
    created[~by_sleeper] = np.maximum(created[~by_sleeper], ring_created[account[~by_sleeper]] + DAY)
    created = np.minimum(created, window.seconds - 1)
    order = np.full(len(account), -1)
    verified = np.flatnonzero(r["verified"])
    if len(verified):
        buyers = _rows(sleeper_accounts, r["sleeper"][verified])
        order[verified] = _backing_orders(
            world, account[verified], buyers, r["product"][verified], created[verified], AI, r["group"][verified],
            payment_token=_arrow(buyers["card_1"]), shipping_address=_arrow(buyers["address_1"]))
    # Short ones read like a measured customer: mostly 4 stars, some 3, with a mild criticism.
    short = r["short"]
    rating = np.where(short, rng.choice([5, 4, 3], len(short), p=[0.1, 0.6, 0.3]), r["rating"])
    world.add_reviews(_reviews(account=account, product=r["product"], created=created, order=order,
                               rating=rating, language=np.zeros(len(account), np.int64),
                               text_kind=np.where(short, TEXT_AI_SHORT, TEXT_AI), kind=AI, group=r["group"]))


def _sleeper_accounts(world: _World, group: np.ndarray) -> pd.DataFrame:
    """Ordinary-looking accounts, created before any of their activity can happen."""
    rng, n = world.rng, len(group)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
    # Campaigns start on day 14 or later and backing orders precede reviews by under 9 days.
    latest = 4 * DAY - rng.integers(0, 30 * DAY, n)
    created = np.minimum(_ordinary_creation_times(rng, n, world.window), latest)
    return _new_accounts(rng, created, country, kind=AI, group=group, disposable_share=0.03)


def _cheap_products(products: pd.DataFrame) -> np.ndarray:
    price = products["price"].to_numpy()
    cheap = np.flatnonzero(price <= 10)
    return cheap if len(cheap) >= 3 else np.argsort(price, kind="stable")[:3]


CARD_TESTING_STATUS_SHARES = np.array([0.08, 0.08, 0.24, 0.32, 0.0, 0.28])  # placed..chargeback
STOLEN_CARD_STATUS_SHARES = np.array([0.03, 0.07, 0.20, 0.10, 0.05, 0.55])


def _inject_card_testing(world: _World, budget: int) -> None:
    """Crews of mostly brand-new accounts firing many small orders on a few shared (stolen) cards
    to see which ones work: a burst of hours, throwaway emails, scattered shipping addresses.
    Anti-detect crews change device, card and IP with every order; some members use old
    accounts, mostly taken over from real customers; some orders are for mid-priced items."""
    rng, window, price = world.rng, world.window, world.products["price"].to_numpy()
    cheap = _cheap_products(world.products)
    mid_priced = np.flatnonzero((price > 10) & (price <= 60))
    mid_priced = mid_priced if len(mid_priced) else cheap
    members, orders, drop_countries, ip_pool = _Batch(), _Batch(), _Batch(), _Batch()
    n_members_so_far = n_devices = n_ips = n_cards = n_drops = 0
    while budget > 0:
        group = world.new_group()
        n_members = int(rng.integers(2, 7))
        orders_per_member = rng.integers(2, 9, n_members)
        n_orders = min(budget, int(orders_per_member.sum()))
        budget -= n_orders
        burst_start = rng.integers(4 * DAY, window.seconds - DAY)
        burst_length = rng.integers(HOUR, 24 * HOUR)
        # Anti-detect crews spoof a new device fingerprint for every order, cycle through a list
        # of cards (one attempt each) and rotate residential proxies: nothing repeats but timing.
        spoofing = rng.random() < ANTI_DETECT_CREW_SHARE
        if spoofing:
            crew_devices = crew_cards = crew_ips = n_orders
        else:
            crew_devices, crew_ips, crew_cards = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        # Most members signed up days ago; some log into old accounts, bought or taken over.
        aged = rng.random(n_members) < AGED_TESTER_SHARE
        country = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        members.add(created=burst_start - np.where(aged, rng.integers(60 * DAY, 900 * DAY, n_members),
                                                   rng.integers(2 * HOUR, 3 * DAY, n_members)),
                    country=np.full(n_members, country), group=np.full(n_members, group),
                    disposable=np.where(aged, 0.1, 0.6), takeover=aged & (rng.random(n_members) < TAKEOVER_SHARE),
                    device_slot=np.where(spoofing, -1, n_devices + rng.integers(0, crew_devices, n_members)),
                    ip_slot=np.where(spoofing, -1, n_ips + rng.integers(0, crew_ips, n_members)))
        ip_pool.add(country=np.full(crew_ips, country), hosting=np.full(crew_ips, not spoofing))
        drop_countries.add(country=rng.choice(len(COUNTRIES), p=COUNTRY_SHARES))

        buyer = rng.permutation(np.repeat(np.arange(n_members), orders_per_member))[:n_orders]
        product = np.where(rng.random(n_orders) < MID_PRICED_TEST_SHARE, rng.choice(mid_priced, n_orders),
                           rng.choice(cheap, n_orders))
        orders.add(member=n_members_so_far + buyer, product=product,
                   created=np.minimum(burst_start + rng.integers(0, burst_length, n_orders), window.seconds - 1),
                   quantity=rng.choice([1, 1, 1, 2], n_orders),
                   status=rng.choice(len(STATUSES), n_orders, p=CARD_TESTING_STATUS_SHARES),
                   device_slot=n_devices + (np.arange(n_orders) if spoofing else rng.integers(0, crew_devices, n_orders)),
                   ip_slot=n_ips + (np.arange(n_orders) if spoofing else rng.integers(0, crew_ips, n_orders)),
                   card_slot=n_cards + (np.arange(n_orders) if spoofing else rng.integers(0, crew_cards, n_orders)),
                   drop_slot=np.where(rng.random(n_orders) < (0.85 if spoofing else 0.6), -1, n_drops),
                   group=np.full(n_orders, group))
        n_members_so_far += n_members
        n_devices, n_ips, n_cards, n_drops = n_devices + crew_devices, n_ips + crew_ips, n_cards + crew_cards, n_drops + 1
    if not orders:
        return

    m, o = members.arrays(), orders.arrays()
    # Taken-over accounts are real customers' (they stay clean in the truth: victims); the
    # crew's own accounts are new rows.
    existing = world.accounts()
    victims = np.flatnonzero((existing["kind"].to_numpy() == CLEAN) & (existing["created"].to_numpy() < 0))
    taken = m["takeover"] & (len(victims) > 0)
    own = ~taken
    accounts = _new_accounts(rng, m["created"][own], m["country"][own], kind=CARD_TESTING, group=m["group"][own],
                             disposable_share=m["disposable"][own])
    ips = ip_pool.arrays()
    device_pool, ip_pool = _device_ids(rng, n_devices), _shared_ip_pool(rng, ips["country"], ips["hosting"])
    _share_identifiers(accounts, "device_id", m["device_slot"][own], device_pool)
    _share_identifiers(accounts, "ip", m["ip_slot"][own], ip_pool)
    victim_idx = rng.choice(victims, int(taken.sum()), replace=int(taken.sum()) > len(victims)) if taken.any() \
        else np.zeros(0, np.int64)
    member_idx = np.empty(len(own), np.int64)
    member_idx[own], member_idx[taken] = world.add_accounts(accounts), victim_idx
    member_row = np.empty(len(own), np.int64)
    member_row[own], member_row[taken] = np.arange(int(own.sum())), own.sum() + np.arange(int(taken.sum()))
    accounts = pd.concat([accounts, _rows(existing, victim_idx)], ignore_index=True)
    n = len(o["member"])
    scattered = _addresses(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES))
    drop = _addresses(rng, drop_countries.arrays()["country"]).take(pa.array(np.maximum(o["drop_slot"], 0)))
    world.add_orders(_orders(
        world, member_idx[o["member"]], _rows(accounts, member_row[o["member"]]), product=o["product"],
        created=o["created"],
        quantity=o["quantity"], status=_as_of_window_end(o["status"], o["created"], window),
        device_id=device_pool.take(pa.array(o["device_slot"])),
        ip=ip_pool.take(pa.array(o["ip_slot"])), payment_token=_payment_tokens(rng, n_cards).take(pa.array(o["card_slot"])),
        shipping_address=pc.if_else(pa.array(o["drop_slot"] < 0), scattered, drop), kind=CARD_TESTING, group=o["group"]))


def _split_budget(rng: np.random.Generator, budget: int, low: int, high: int) -> np.ndarray:
    """Random group sizes in [low, high) adding up to exactly ``budget`` (the last one trimmed)."""
    sizes = rng.integers(low, high, max(1, budget // low + 1))
    total = np.cumsum(sizes)
    last = int(np.searchsorted(total, budget))
    sizes = sizes[:last + 1]
    sizes[-1] -= total[last] - budget
    return sizes


def _expensive_electronics(products: pd.DataFrame) -> np.ndarray:
    price = products["price"].to_numpy()
    electronics = np.flatnonzero(products["category"].to_numpy() == ELECTRONICS)
    candidates = electronics if len(electronics) >= 3 else np.arange(len(products))
    return candidates[price[candidates] >= np.quantile(price[candidates], 0.6)]


def _make_big_ticket_orders(world: _World, n: int) -> pd.DataFrame:
    """Genuine expensive electronics that look like a stolen card: bought on a new phone, on
    holiday abroad, with a just-issued card, or shipped to someone else as a gift."""
    rng, window, accounts = world.rng, world.window, world.accounts()
    shoppers = np.flatnonzero(accounts["shopper"].to_numpy())
    activity = accounts["activity"].to_numpy()[shoppers]
    account = rng.choice(shoppers, n, p=activity / activity.sum())
    buyers = _rows(accounts, account)
    created = _event_times(rng, window, buyers["created"].to_numpy())
    usual = _usual_identifiers(rng, buyers)
    country = buyers["country"].to_numpy()
    abroad = rng.random(n) < 0.3
    ip = pc.if_else(pa.array(abroad), _country_ips(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)),
                    _country_ips(rng, country))
    return _orders(world, account, buyers, product=rng.choice(_expensive_electronics(world.products), n),
                   created=created, quantity=rng.choice([1, 1, 1, 2], n),
                   status=_clean_statuses(rng, created, window, buyers["refunds"].to_numpy()), kind=CLEAN,
                   device_id=pc.if_else(pa.array(rng.random(n) < 0.6), _device_ids(rng, n), usual["device_id"]),
                   ip=ip,
                   payment_token=pc.if_else(pa.array(rng.random(n) < 0.5), _payment_tokens(rng, n),
                                            usual["payment_token"]),
                   shipping_address=pc.if_else(pa.array(rng.random(n) < 0.5),
                                               _addresses(rng, rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)),
                                               usual["shipping_address"]))


def _inject_stolen_cards(world: _World, budget: int) -> None:
    """Expensive electronics bought with a stolen card from a fresh device, foreign IP and a new
    shipping address: half by brand-new accounts, half by taken-over legitimate accounts (which
    stay clean in the truth: they are victims). One to three orders per incident, within hours."""
    rng, window = world.rng, world.window
    expensive = _expensive_electronics(world.products)
    existing = world.accounts()
    victims = np.flatnonzero((existing["kind"].to_numpy() == CLEAN) & (existing["created"].to_numpy() < 0))

    sizes = _split_budget(rng, budget, 1, 4)
    n_incidents = len(sizes)
    group = np.array([world.new_group() for _ in range(n_incidents)])
    start = rng.integers(DAY, window.seconds - HOUR, n_incidents)
    takeover = (rng.random(n_incidents) < 0.5) & (len(victims) > 0)
    n_new = int((~takeover).sum())
    new_accounts = _new_accounts(rng, start[~takeover] - rng.integers(HOUR, 2 * DAY, n_new),
                                 rng.choice(len(COUNTRIES), n_new, p=COUNTRY_SHARES), kind=STOLEN_CARD,
                                 group=group[~takeover], disposable_share=0.3)
    taken_over = rng.choice(victims, int(takeover.sum())) if takeover.any() else np.array([], np.int64)
    thieves = pd.concat([new_accounts, _rows(existing, taken_over)], ignore_index=True)
    thief_idx = np.concatenate([world.add_accounts(new_accounts), taken_over])
    thief_of_incident = np.empty(n_incidents, np.int64)
    thief_of_incident[~takeover] = np.arange(n_new)
    thief_of_incident[takeover] = n_new + np.arange(int(takeover.sum()))

    incident = np.repeat(np.arange(n_incidents), sizes)
    n = len(incident)
    per_incident = pa.array(incident)
    created = np.minimum(start[incident] + rng.integers(0, 12 * HOUR, n), window.seconds - 1)
    status = _as_of_window_end(rng.choice(len(STATUSES), n, p=STOLEN_CARD_STATUS_SHARES), created, window)
    world.add_orders(_orders(
        world, thief_idx[thief_of_incident[incident]], _rows(thieves, thief_of_incident[incident]),
        product=rng.choice(expensive, n), created=created, quantity=rng.choice([1, 1, 1, 2, 3], n), status=status,
        device_id=_device_ids(rng, n_incidents).take(per_incident),
        ip=_shared_ip_pool(rng, rng.integers(0, len(COUNTRIES), n_incidents),
                           rng.random(n_incidents) < 0.6).take(per_incident),
        payment_token=_payment_tokens(rng, n_incidents).take(per_incident),
        shipping_address=_addresses(rng, rng.integers(0, len(COUNTRIES), n_incidents)).take(per_incident),
        kind=STOLEN_CARD, group=group[incident]))


def _inject_refund_abuse(world: _World, budget: int) -> None:
    """Groups of established accounts shipping to a couple of shared addresses whose orders are
    mostly refunded, and solo abusers. Only the refunded orders are fraud; the rest are ordinary
    purchases."""
    rng, window, products = world.rng, world.window, world.products
    members, orders, address_pool = _Batch(), _Batch(), _Batch()
    n_members_so_far = n_addresses = 0
    while budget > 0:
        group = world.new_group()
        # Solo abusers ("wardrobing") share nothing: only their refund rate sets them apart.
        solo = rng.random() < REFUND_SOLO_SHARE
        n_members = 1 if solo else int(rng.integers(2, 6))
        country = rng.choice(len(COUNTRIES), p=COUNTRY_SHARES)
        group_addresses = 0 if solo else 1 if n_members < 4 else int(rng.integers(1, 3))
        created = np.minimum(_ordinary_creation_times(rng, n_members, window), window.seconds - 30 * DAY)
        # Round-robin, so that every address of the group is shared by at least two members.
        members.add(created=created, country=np.full(n_members, country), group=np.full(n_members, group),
                    address_slot=np.full(1, -1) if solo else n_addresses + np.arange(n_members) % group_addresses)
        address_pool.add(country=np.full(group_addresses, country))

        buyer = np.repeat(np.arange(n_members), rng.integers(4, 13, n_members))
        created_at = _event_times(rng, window, created[buyer])
        settled = window.seconds - created_at >= 6 * DAY
        refunded = (rng.random(len(buyer)) < rng.uniform(0.3, 0.75)) & settled
        refunded[np.flatnonzero(refunded)[budget:]] = False  # trim the last group to the budget
        budget -= int(refunded.sum())
        orders.add(member=n_members_so_far + buyer, created=created_at, refunded=refunded,
                   group=np.full(len(buyer), group))
        n_members_so_far += n_members
        n_addresses += group_addresses
        if not refunded.any():
            break  # nothing settles in time to be refunded; avoid looping forever
    if not orders:
        return

    m, o = members.arrays(), orders.arrays()
    accounts = _new_accounts(rng, m["created"], m["country"], kind=REFUND_ABUSE, group=m["group"])
    shared = _addresses(rng, address_pool.arrays()["country"])
    _share_identifiers(accounts, "address_2", m["address_slot"], shared)
    # A quarter of them send most parcels home and only some to the shared drop.
    _share_identifiers(accounts, "address_1", np.where(rng.random(len(accounts)) < 0.25, -1, m["address_slot"]),
                       shared)
    member_idx = world.add_accounts(accounts)
    buyers = _rows(accounts, o["member"])
    refunded, n = o["refunded"], len(o["member"])
    ordinary = _clean_statuses(rng, o["created"], window)
    status = np.where(refunded, REFUNDED, np.where(ordinary == REFUNDED, DELIVERED, ordinary))
    frame = _orders(
        world, member_idx[o["member"]], buyers,
        product=rng.choice(len(products), n, p=products["popularity"].to_numpy()), created=o["created"],
        quantity=_quantities(rng, n), status=status, kind=np.where(refunded, REFUND_ABUSE, CLEAN), group=o["group"],
        **_usual_identifiers(rng, buyers))
    first = world.n_orders
    world.add_orders(frame)
    # They review like customers, complaining about what they sent back (the reviews are genuine
    # in the sense of the truth table: the fraud is the refund).
    world.add_reviews(_make_verified_reviews(world, frame, first))


# ---------------------------------------------------------------------------------------------
# Review text
# ---------------------------------------------------------------------------------------------

_OPENERS = _Pools(OPENERS)
_ADJECTIVES = _Pools(ASPECT_ADJECTIVES)
_MULTIWORD_ADJECTIVE = np.array([" " in a for pool in ASPECT_ADJECTIVES for a in pool])
_ASPECT_NOUNS = _by_category(ASPECT_NOUNS)
_GENERIC_ASPECTS = _Pools.single(GENERIC_ASPECTS)
_ASPECT_LEADS = _Pools.single(ASPECT_LEADS)
_CONTRAST_LEADS = _Pools.single(CONTRAST_LEADS)
_FOLLOW_UP_LEADS = _Pools.single(FOLLOW_UP_LEADS)
_LINK_VERBS = _Pools.single(LINK_VERBS)
_ADVERBS = _Pools.single(ADVERBS)
_RELATIVES = _Pools.single(RELATIVES)
_USE_CONTEXTS = _Pools.single(USE_CONTEXTS)
_TIME_UNITS = _Pools.single(TIME_UNITS)
_DETAILS = _Pools.single(DETAILS)
_EXPERIENCES = _Pools(EXPERIENCES)
_CLOSERS = _Pools(CLOSERS)
_SHORT_REVIEWS = _Pools(SHORT_REVIEWS)
_FOREIGN = {part: _Pools([FOREIGN[lang][part][s] for lang in FOREIGN_LANGUAGES for s in range(3)])
            for part in ("openers", "adjectives", "closers", "short")}
_FOREIGN_NOUNS = _Pools([FOREIGN[lang]["nouns"] for lang in FOREIGN_LANGUAGES])
_FOREIGN_VERBS = _Pools([[FOREIGN[lang]["verb"]] for lang in FOREIGN_LANGUAGES])
_RING_TEMPLATES = _Pools([RING_TEMPLATES[lang] for lang in LANGUAGES])
_RING_SUFFIXES = _Pools.single(RING_SUFFIXES)
_AI_OPENERS = _Pools.single(AI_OPENERS)
_AI_BODIES = _Pools.single(AI_BODIES)
_AI_ASPECTS = _Pools.single(AI_ASPECTS)
_AI_CLOSERS = _Pools.single(AI_CLOSERS)
_AI_CRITICISMS = _Pools.single(AI_CRITICISMS)
_PRODUCT_NOUNS = _by_category(PRODUCT_NOUNS)
_CATEGORY_PHRASES = _by_category(CATEGORY_PHRASES)

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


def _aspect_sentences(rng: np.random.Generator, category: np.ndarray, tone: np.ndarray, lead: _Pools) -> pa.Array:
    """'The battery is really solid.': a category-specific (or generic) noun judged in ``tone``."""
    n = len(category)
    noun = pc.if_else(pa.array(rng.random(n) < 0.25), _GENERIC_ASPECTS.sample(rng, 0, n),
                      _ASPECT_NOUNS.sample(rng, category))
    adjective_pick = _ADJECTIVES.draw(rng, tone)
    # "very a joke" reads wrong: multi-word judgements take no adverb.
    adverb = pc.if_else(pa.array(_MULTIWORD_ADJECTIVE[adjective_pick]), pa.scalar(None, STR),
                        _ADVERBS.sample(rng, 0, n))
    sentence = _join([lead.sample(rng, 0, n), noun, _LINK_VERBS.sample(rng, 0, n), adverb,
                      _ADJECTIVES.render(adjective_pick)])
    return _join([sentence, "."], "")


def _detail_fillers(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    return {
        "duration": _join([_numbers(rng.integers(2, 12, n)), _TIME_UNITS.sample(rng, 0, n)]),
        "days": _numbers(rng.integers(2, 15, n)),
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
    body = _join([_keep_where(rng, s, shares[:, i]) for i, s in enumerate(sentences)])
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
    aspect = _join([_join([_FOREIGN_NOUNS.sample(rng, lang), _FOREIGN_VERBS.sample(rng, lang),
                           _FOREIGN["adjectives"].sample(rng, keyed)]), "."], "")
    body = _join([_keep_where(rng, _FOREIGN["openers"].sample(rng, keyed), 0.85), _keep_where(rng, aspect, 0.7),
                  _keep_where(rng, _FOREIGN["closers"].sample(rng, keyed), 0.6)])
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
    text = _join([_RING_TEMPLATES.sample(rng, language), _RING_SUFFIXES.sample(rng, 0, n)])
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
    bodies = [_keep_where(rng, _AI_BODIES.render(body_order[:, j]), (j < n_bodies).astype(float))
              for j in range(most)]
    aspect = _keep_where(rng, _AI_ASPECTS.sample(rng, 0, n, aspect=_ASPECT_NOUNS.sample(rng, category)),
                         np.where(short, 0.1, 0.5))
    criticism_share = np.select([rating <= 3, rating == 4], [1.0, np.where(short, 0.9, 0.35)], np.where(short, 0.3, 0.0))
    criticism = _keep_where(rng, _AI_CRITICISMS.sample(rng, 0, n, aspect=_ASPECT_NOUNS.sample(rng, category)),
                            criticism_share)
    # A short review has room for a detail or a criticism, rarely both.
    has_detail = rng.random(n) < np.where(short, detail_share * 0.4, detail_share)
    detail = _keep_where(rng, _DETAILS.sample(rng, 0, n, **_detail_fillers(rng, n)), has_detail.astype(float))
    experience = _keep_where(rng, _EXPERIENCES.sample(rng, _sentiment(rating), **_detail_fillers(rng, n)),
                             has_detail * np.where(short, 0.0, 0.5))
    closer = _keep_where(rng, _AI_CLOSERS.sample(rng, 0, n, phrase=_CATEGORY_PHRASES.sample(rng, category)),
                         np.where(rating <= 3, 0.3, np.where(short, 0.4, 1.0)))
    return _join([opener, detail, bodies[0], aspect, *bodies[1:], experience, criticism, closer])


def _review_texts(rng: np.random.Generator, reviews: pd.DataFrame, products: pd.DataFrame) -> pa.Array:
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


def _helpful_votes(rng: np.random.Generator, text: pa.Array, created: np.ndarray, window: _Window) -> np.ndarray:
    """Long and older reviews collect more votes; most get none."""
    words = pc.count_substring(text, " ").to_numpy(zero_copy_only=False) + 1
    exposure = 0.1 + (window.seconds - created) / window.seconds
    votes = np.floor(rng.pareto(1.4, len(words)) * (0.3 + words / 30) * exposure)
    return np.minimum(votes, 5_000).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Assembly: sort by time, assign public ids, labels and truth
# ---------------------------------------------------------------------------------------------


def _ids(prefix: str, n: int) -> pa.Array:
    width = max(6, len(str(max(n - 1, 0))))
    return _join([prefix, pc.utf8_lpad(_numbers(np.arange(n)), width, "0")], "")


def _time_order(created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by time (ties by generation order) and, for each old index, its new position."""
    order = np.argsort(created, kind="stable")
    new_position = np.empty_like(order)
    new_position[order] = np.arange(len(order))
    return order, new_position


def _unique_emails(emails: pa.Array) -> pa.Array:
    """A platform allows one account per email: a name-based address drawn twice gets the
    account's row number appended, as people do when their first choice is taken."""
    while True:
        taken = pd.Series(emails.to_pandas()).duplicated().to_numpy()
        if not taken.any():
            return emails
        local_and_domain = pc.split_pattern(emails, "@", max_splits=1)
        numbered = _join([pc.list_element(local_and_domain, 0), _numbers(np.arange(len(emails))), "@",
                          pc.list_element(local_and_domain, 1)], "")
        emails = pc.if_else(pa.array(taken), numbered, emails)


def _codes_to_strings(names: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return _column(_strings(names).take(pa.array(codes)))


def _assemble(world: _World) -> dict[str, pd.DataFrame]:
    rng, window, products = world.rng, world.window, world.products
    accounts, orders, reviews = world.accounts(), world.orders(), world.reviews()

    account_order, account_position = _time_order(accounts["created"].to_numpy())
    order_order, order_position = _time_order(orders["created"].to_numpy())
    review_order, _ = _time_order(reviews["created"].to_numpy())
    accounts = accounts.iloc[account_order].reset_index(drop=True)
    orders = orders.iloc[order_order].reset_index(drop=True)
    reviews = reviews.iloc[review_order].reset_index(drop=True)
    account_ids, order_ids = _ids("a", len(accounts)), _ids("o", len(orders))
    product_ids, seller_ids = _ids("p", len(products)), _ids("s", int(products["seller"].max()) + 1)

    product_seller = products["seller"].to_numpy()
    public_products = pd.DataFrame({
        "product_id": _column(product_ids),
        "seller_id": _column(seller_ids.take(pa.array(product_seller))),
        "category": _codes_to_strings(CATEGORY_NAMES, products["category"].to_numpy()),
        "price": products["price"].to_numpy(),
    })
    emails = _unique_emails(_arrow(accounts["email"]))
    public_accounts = pd.DataFrame({
        "account_id": _column(account_ids),
        "created_at": window.timestamps(accounts["created"].to_numpy()),
        "country": _codes_to_strings(COUNTRY_CODES, accounts["country"].to_numpy()),
        "email": _column(emails),
        "device_id": accounts["device_id"].array,
        "ip": accounts["ip"].array,
    })
    order_product = orders["product"].to_numpy()
    public_orders = pd.DataFrame({
        "order_id": _column(order_ids),
        "account_id": _column(account_ids.take(pa.array(account_position[orders["account"].to_numpy()]))),
        "product_id": _column(product_ids.take(pa.array(order_product))),
        "seller_id": _column(seller_ids.take(pa.array(product_seller[order_product]))),
        "amount": orders["amount"].to_numpy(),
        "currency": _codes_to_strings(CURRENCIES, orders["currency"].to_numpy()),
        "created_at": window.timestamps(orders["created"].to_numpy()),
        "status": _codes_to_strings(STATUSES, orders["status"].to_numpy()),
        **{c: orders[c].array for c in ("device_id", "ip", "payment_token", "shipping_address")},
        "email": _column(emails.take(pa.array(account_position[orders["account"].to_numpy()]))),
    })

    text = _review_texts(rng, reviews, products)
    review_order_idx = reviews["order"].to_numpy()
    verified = review_order_idx >= 0
    review_order_ids = order_ids.take(pa.array(np.where(verified, order_position[review_order_idx], 0)))
    votes = _helpful_votes(rng, text, reviews["created"].to_numpy(), window)
    if "helpful_votes" in reviews:  # ring reviews carry their own (upvoted) counts
        ring_votes = reviews["helpful_votes"].to_numpy()
        votes = np.where(np.isnan(ring_votes), votes, ring_votes).astype(np.int64)
    public_reviews = pd.DataFrame({
        "review_id": _column(_ids("r", len(reviews))),
        "account_id": _column(account_ids.take(pa.array(account_position[reviews["account"].to_numpy()]))),
        "product_id": _column(product_ids.take(pa.array(reviews["product"].to_numpy()))),
        "text": _column(text),
        "rating": reviews["rating"].to_numpy(),
        "created_at": window.timestamps(reviews["created"].to_numpy()),
        "order_id": _column(pc.if_else(pa.array(verified), review_order_ids, pa.scalar(None, STR))),
        "helpful_votes": votes,
        "language": _codes_to_strings(LANGUAGES, reviews["language"].to_numpy()),
    })

    truth = _truth(public_reviews, public_orders, public_accounts, reviews, orders, accounts)
    last_activity = _last_activity(accounts, orders, reviews, account_position)
    labels = _labels(rng, window, public_reviews, public_orders, public_accounts, reviews, orders, accounts,
                     last_activity)
    return {"reviews": public_reviews, "orders": public_orders, "products": public_products,
            "accounts": public_accounts, "labels": labels, "truth": truth}


def _truth(public_reviews: pd.DataFrame, public_orders: pd.DataFrame, public_accounts: pd.DataFrame,
           reviews: pd.DataFrame, orders: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for entity, public, internal, id_column in (("review", public_reviews, reviews, "review_id"),
                                                 ("order", public_orders, orders, "order_id"),
                                                 ("account", public_accounts, accounts, "account_id")):
        kind = internal["kind"].to_numpy()
        parts.append(pd.DataFrame({
            "entity_type": _column(_strings([entity] * len(public))),
            "entity_id": public[id_column].array,
            "is_fraud": (kind != CLEAN).astype(np.int64),
            "fraud_kind": _codes_to_strings(FRAUD_KINDS, kind),
        }))
    return pd.concat(parts, ignore_index=True)


def _last_activity(accounts: pd.DataFrame, orders: pd.DataFrame, reviews: pd.DataFrame,
                   account_position: np.ndarray) -> np.ndarray:
    latest = accounts["created"].to_numpy().copy()
    for events in (orders, reviews):
        np.maximum.at(latest, account_position[events["account"].to_numpy()], events["created"].to_numpy())
    return latest


def _labels(rng: np.random.Generator, window: _Window, public_reviews: pd.DataFrame, public_orders: pd.DataFrame,
            public_accounts: pd.DataFrame, reviews: pd.DataFrame, orders: pd.DataFrame, accounts: pd.DataFrame,
            last_activity: np.ndarray) -> pd.DataFrame:
    """What the platform knows: a random part of the truth, each label from a plausible source.

    LABEL_NOISE_SHARE of the labels are wrong: a moderator approves a fake review or removes a
    real one, a genuine customer's dispute is booked as fraud, a fraud case is closed as clean.
    A chargeback is the source only of a label that (rightly or wrongly) says fraud."""
    sources = ("moderation", "chargeback", "manual_review")
    parts = []

    def add(entity: str, ids: pd.Series, chosen: np.ndarray, is_fraud: np.ndarray, source: np.ndarray,
            labeled: np.ndarray) -> None:
        parts.append(pd.DataFrame({
            "entity_type": _column(_strings([entity] * int(chosen.sum()))),
            "entity_id": ids.array[chosen],
            "is_fraud": is_fraud[chosen].astype(np.int64),
            "source": _codes_to_strings(sources, source[chosen]),
            "labeled_at": window.timestamps(labeled[chosen]),
        }))

    def sampled(is_fraud: np.ndarray) -> np.ndarray:
        return rng.random(len(is_fraud)) < np.where(is_fraud, LABEL_SHARE_FRAUD, LABEL_SHARE_CLEAN)

    def noisy(is_fraud: np.ndarray) -> np.ndarray:
        return is_fraud ^ (rng.random(len(is_fraud)) < LABEL_NOISE_SHARE)

    review_fraud = reviews["kind"].to_numpy() != CLEAN
    review_source = np.where(rng.random(len(reviews)) < 0.8, 0, 2)
    review_labeled = reviews["created"].to_numpy() + rng.integers(HOUR, 10 * DAY, len(reviews))
    add("review", public_reviews["review_id"], sampled(review_fraud), noisy(review_fraud), review_source,
        review_labeled)

    order_fraud = orders["kind"].to_numpy() != CLEAN
    order_label = noisy(order_fraud)
    disputed = order_label & (orders["status"].to_numpy() == CHARGEBACK)
    order_source = np.where(disputed, 1, 2)
    order_labeled = orders["created"].to_numpy() + np.where(disputed, rng.integers(20 * DAY, 60 * DAY, len(orders)),
                                                            rng.integers(DAY, 30 * DAY, len(orders)))
    add("order", public_orders["order_id"], sampled(order_fraud), order_label, order_source, order_labeled)

    # Accounts: whole fraud groups get caught (or not) together; clean accounts are sampled.
    account_fraud = accounts["kind"].to_numpy() != CLEAN
    group = accounts["group"].to_numpy()
    caught_group = rng.random(max(int(group.max()) + 1, 1)) < LABELLED_GROUP_SHARE
    chosen = np.where(account_fraud, caught_group[np.maximum(group, 0)],
                      rng.random(len(accounts)) < LABEL_SHARE_CLEAN)
    account_labeled = last_activity + rng.integers(DAY, 20 * DAY, len(accounts))
    add("account", public_accounts["account_id"], chosen, noisy(account_fraud), np.full(len(accounts), 2),
        account_labeled)
    return pd.concat(parts, ignore_index=True)
