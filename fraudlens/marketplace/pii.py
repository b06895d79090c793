"""Keyed hashing of raw identifiers (emails, IPs, devices, cards, addresses) at ingest.

Raw values never go further than ingest: the graph, caches, MLflow and outputs only see
HMAC-SHA256 digests. Values are normalised first so that trivially different spellings of
the same identifier (case, surrounding/multiple whitespace) link to the same node.
"""

from __future__ import annotations

import hmac
import os
import re

import numpy as np
import pandas as pd

from fraudlens.errors import ConfigError

# Documented, deliberately public: demo and test data only. Production refuses to run without
# a real key (see resolve_pii_key).
DEMO_PII_KEY = "fraudlens-demo-key-not-secret"
_WHITESPACE = re.compile(r"\s+")


def resolve_pii_key(mode: str, key_env: str = "FRAUDLENS_PII_KEY") -> bytes:
    key = os.environ.get(key_env, "")
    if key:
        return key.encode()
    if mode == "production":
        raise ConfigError(
            f"PII hashing key missing: set the environment variable {key_env} to a secret of at "
            "least 32 characters (production mode refuses to hash identifiers with the demo key)"
        )
    return DEMO_PII_KEY.encode()


def normalise_identifier(value: str) -> str:
    return _WHITESPACE.sub(" ", value.strip().lower())


def hash_identifiers(values: pd.Series, key: bytes) -> pd.Series:
    """Replaces each non-empty value by a 24-hex-digit keyed digest; empty/missing stay missing."""
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    present = values.notna()
    if not present.any():
        return out
    # Each distinct raw value is normalised and hashed once (millions of rows, far fewer values).
    codes, raw = pd.factorize(values[present].astype(str))
    digests = []
    for value in raw:
        normalised = normalise_identifier(value)
        digests.append("h" + hmac.digest(key, normalised.encode("utf-8", "surrogatepass"), "sha256").hex()[:23]
                       if normalised else None)
    out[present] = pd.array(np.asarray(digests, dtype=object)[codes], dtype="string")
    return out
