"""How often things happen: the share of each fraud kind, the mix of clean behaviour, and the
ambiguity that keeps fraud from being cleanly separable.
"""

from __future__ import annotations

import numpy as np

from fraudlens.marketplace.synthetic.vocabulary import DAY

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
