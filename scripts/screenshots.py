#!/usr/bin/env python
"""Screenshots of the web app for docs/: the seller page and the analyst queue, taken by
headless Chromium (Selenium, /usr/bin/chromedriver) from a real server, so they stay true.

    .venv/bin/python scripts/screenshots.py                 # the demo's run (demo/scores, demo/data/tonight)
    .venv/bin/python scripts/screenshots.py --synthetic     # a synthetic run (no demo needed)

The run is imported into a temporary workspace; nothing of yours is changed except --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--scores", type=Path, default=REPO / "demo" / "scores")
    parser.add_argument("--input", type=Path, default=REPO / "demo" / "data" / "tonight")
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic run instead of the demo's")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from sqlalchemy import text

    from fraudlens.web.app import create_app
    from fraudlens.web.server import serve_in_thread
    from fraudlens.workspace.accounts import create_analyst, create_seller
    from fraudlens.workspace.db import open_engine

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "workspace"
        if args.synthetic or not (args.scores / "manifest.json").is_file():
            from fraudlens.workspace.synth import synthetic_workspace

            if not args.synthetic:
                print(f"no run in {args.scores}: using a synthetic one", file=sys.stderr)
            synthetic_workspace(state, n_reviews=3000, n_orders=1500, n_sellers=6, products_per_seller=6)
        else:
            from fraudlens.workspace.importer import import_run

            import_run(state, args.scores, args.input)
        engine = open_engine(state)
        with engine.connect() as conn:
            seller = conn.execute(text(
                "SELECT p.seller_id FROM entities e JOIN products p ON p.product_id = e.product_id "
                "WHERE e.entity_type = 'review' AND e.decision = 'flag' GROUP BY p.seller_id "
                "ORDER BY COUNT(*) DESC, p.seller_id LIMIT 1")).scalar_one()
        _, seller_token, _ = create_seller(engine, seller)
        _, analyst_token = create_analyst(engine, "analyst")
        app = create_app(state, text_model_uri=None)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--disable-background-networking", "--window-size=1400,1400"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        args.out.mkdir(parents=True, exist_ok=True)
        try:
            with serve_in_thread(app) as url:
                for token, page, name in ((seller_token, "/seller", "web-seller.png"),
                                          (analyst_token, "/queue", "web-queue.png")):
                    driver.delete_all_cookies()
                    driver.get(url + "/login")
                    driver.find_element(By.ID, "token").send_keys(token)
                    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
                    driver.get(url + page)
                    height = driver.execute_script("return Math.min(document.body.scrollHeight, 2400)")
                    driver.set_window_size(1400, max(800, height + 40))
                    driver.save_screenshot(str(args.out / name))
                    print(args.out / name)
        finally:
            driver.quit()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
