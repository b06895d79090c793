"""Small synthetic order graphs for the graph-feature, sampler and XGBGraph tests (no real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_orders(n: int = 600, seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Orders table in contract form and a 0/1 label per order; fraud clusters on some accounts and devices."""
    rng = np.random.default_rng(seed)
    accounts = rng.integers(0, n // 4, n)
    bad_account = rng.random(n // 4) < 0.15
    fraud = bad_account[accounts] & (rng.random(n) < 0.9)
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)],
        "account_id": [f"a{a}" for a in accounts],
        "product_id": [f"p{p}" for p in rng.integers(0, 12, n)],
        "seller_id": [f"s{s}" for s in rng.integers(0, 6, n)],
        "amount": np.where(fraud, rng.lognormal(4, 1, n), rng.lognormal(3, 1, n)),
        "currency": "USD",
        "created_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 30 * 86_400, n)), unit="s"),
        "status": "placed",
        "device_id": np.where(fraud & (rng.random(n) < 0.5), "dev-ring", [f"d{d}" for d in rng.integers(0, 40, n)]),
        "shipping_address": [f"addr{a}" for a in rng.integers(0, 25, n)],
    })
    labels = pd.Series(fraud.astype(np.int64), index=pd.Index(orders["order_id"], dtype="string"), name="is_fraud")
    return {"orders": orders}, labels


def sharing_a_group(nodes, members: np.ndarray) -> np.ndarray:
    """Nodes of a NodeFrame that share a relation's group with any node of ``members`` (a mask)."""
    near = members.copy()
    for code in nodes.codes().values():
        near |= np.isin(code, code[members & (code >= 0)]) & (code >= 0)
    return near
