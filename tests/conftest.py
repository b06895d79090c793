import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_csv(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    path.write_text(text.lstrip())
    return path


@pytest.fixture
def small_input(tmp_path) -> Path:
    """A hand-written marketplace of every table, small enough to reason about."""
    d = tmp_path / "input"
    write_csv(d, "reviews", """
review_id,account_id,product_id,text,rating,created_at,order_id,helpful_votes,language
r1,a1,p1,Great kettle boils fast,5,2026-01-02T10:00:00Z,o1,2,en
r2,a2,p1,Amazing product!!! Highly recommend,5,2026-01-02T11:00:00Z,,0,en
r3,a3,p1,Amazing product!!! Highly recommend,5,2026-01-02T12:00:00Z,,0,en
r4,a1,p2,Broke after a week,1,2026-01-05T09:00:00Z,,1,en
""")
    write_csv(d, "orders", """
order_id,account_id,product_id,seller_id,amount,currency,created_at,status,device_id,ip,payment_token,shipping_address,email
o1,a1,p1,s1,25.0,USD,2026-01-01T08:00:00Z,delivered,DEV-1,10.0.0.1,tok_1,1 Main St,Ann@Example.com
o2,a2,p2,s1,3.0,USD,2026-01-01T09:00:00Z,chargeback,dev-9,10.0.0.9,tok_9,2 High St,b@example.com
o3,a3,p2,s1,4.0,USD,2026-01-01T09:05:00Z,chargeback,dev-9,10.0.0.9,tok_9,3 Low St,c@example.com
""")
    write_csv(d, "products", """
product_id,seller_id,category,price
p1,s1,home,25.0
p2,s1,electronics,3.5
""")
    write_csv(d, "accounts", """
account_id,created_at,country,email,device_id,ip
a1,2024-05-01,DE,ann@example.com,dev-1,10.0.0.1
a2,2025-12-30,US,b@example.com,dev-9,10.0.0.9
a3,2025-12-31,US,c@example.com,dev-9,10.0.0.9
""")
    write_csv(d, "labels", """
entity_type,entity_id,is_fraud,source
review,r2,1,moderation
review,r1,0,moderation
order,o2,true,chargeback
""")
    return d
