"""The web app in a real browser: Debian's Chromium driven by Selenium 4 (through
/usr/bin/chromedriver, no Selenium Manager download) against a real uvicorn server on
127.0.0.1, with a real text model registered in a temporary MLflow store.

Slow (a tiny text model is fine-tuned and registered first)."""

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from fraudlens.web.app import create_app
from fraudlens.web.server import serve_in_thread
from fraudlens.workspace import queries
from fraudlens.workspace.accounts import create_analyst, create_seller
from fraudlens.workspace.db import open_engine
from fraudlens.workspace.decisions import export_labels
from fraudlens.workspace.synth import synthetic_workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PLANTED = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromedriver() -> Path:
    if os.environ.get("FRAUDLENS_SKIP_BROWSER"):
        pytest.skip("FRAUDLENS_SKIP_BROWSER is set")
    if not (CHROMEDRIVER.exists() and Path("/usr/bin/chromium").exists()):
        result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install_chromium.sh")], capture_output=True,
                                text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail("Chromium/chromedriver missing and scripts/install_chromium.sh failed (needs root or "
                        "passwordless sudo and Debian's apt); set FRAUDLENS_SKIP_BROWSER=1 to skip.\n" + result.stderr)
    try:
        import selenium  # noqa: F401
    except ImportError:
        subprocess.run([os.sys.executable, "-m", "pip", "install", "-q", "selenium>=4.20"], check=True, timeout=600)
    return CHROMEDRIVER


def synthetic_reviews(n: int, seed: int) -> pd.DataFrame:
    """Genuine reviews talk about the product; fake ones are generic praise (as in test_text_classifier)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    genuine = "kettle handle lid boils water cord plug base steel minutes morning tea filter leaks returned".split()
    fake = "amazing awesome perfect best ever highly recommend everyone love wonderful incredible product".split()
    rows = []
    for i in range(n):
        own, other = (fake, genuine) if i % 2 else (genuine, fake)
        tokens = list(rng.choice(own, 6)) + list(rng.choice(other, 2))
        rng.shuffle(tokens)
        rows.append({"text": " ".join(tokens).capitalize() + ".", "rating": 5 if i % 2 else int(rng.integers(1, 6)),
                     "label": "CG" if i % 2 else "OR"})
    return pd.DataFrame(rows)


def register_tiny_text_model(tmp_path: Path, monkeypatch) -> str:
    """Fine-tunes and registers a tiny real text model as fraudlens-text@champion; returns the store URI."""
    from fraudlens.text_config import load_text_config
    from fraudlens.training.train_text import train_text

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_text_config(None, {
        "mlflow.tracking_uri": uri, "encoder.max_length": 32, "encoder.threads": 1, "finetune.epochs": 1,
        "finetune.train_layers": 1, "stacking.inner_folds": 3, "stacking.lexical_C_grid": [8.0],
        "stacking.style_C_grid": [1.0], "data.test_fraction": 0.3})
    train_text(config, synthetic_reviews(120, seed=1))
    return uri


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromedriver):
    root = tmp_path_factory.mktemp("browser")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    tracking = register_tiny_text_model(root, mp)
    state = root / "workspace"
    synthetic_workspace(state, n_reviews=400, n_orders=200, n_sellers=2, products_per_seller=3)
    engine = open_engine(state)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE entities SET text = ? WHERE entity_id = (SELECT e.entity_id FROM entities e JOIN "
                             "products p ON p.product_id = e.product_id WHERE p.seller_id = 'S1' AND e.entity_type = "
                             "'review' AND e.decision = 'flag' ORDER BY e.score DESC LIMIT 1)", (PLANTED,))
    _, seller_token, _ = create_seller(engine, "S1")
    _, analyst_token = create_analyst(engine, "alice")
    app = create_app(state, text_model_uri="models:/fraudlens-text@champion", tracking_uri=tracking)
    with serve_in_thread(app) as url:
        yield {"url": url, "engine": engine, "state": state, "root": root, "seller": seller_token,
               "analyst": analyst_token}
    mp.undo()


@pytest.fixture(scope="module")
def browser(chromedriver):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(chromedriver)), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def sign_in(browser, site, token):
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(site["url"] + "/login")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_until(browser, lambda d: not d.current_url.endswith("/login"))


def wait_until(browser, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(condition)


def test_seller_and_analyst_in_a_real_browser(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    engine = site["engine"]
    sign_in(browser, site, site["seller"])
    assert browser.current_url.endswith("/seller")
    flagged_table = browser.find_element(By.ID, "flagged").text
    top = queries.seller_reviews(engine, "S1", flagged_only=True, page_size=1).rows[0]
    assert top["review_id"] in flagged_table and top["reasons"][0]["text"] in flagged_table
    assert browser.find_element(By.ID, "products").text.count("P1-") == 3
    # The planted markup is text on the review page, and never ran.
    browser.find_element(By.LINK_TEXT, top["review_id"]).click()
    wait_until(browser, lambda d: "/seller/reviews/" in d.current_url)
    assert browser.find_element(By.CSS_SELECTOR, "blockquote.text").text == PLANTED
    assert browser.title != "pwned" and "pwned" not in browser.execute_script("return document.title")
    # Upload a CSV and see it scored by the registered text model.
    upload = tmp_path / "my_reviews.csv"
    pd.DataFrame({"text": ["Amazing awesome perfect best ever highly recommend", "Kettle lid leaks after two weeks",
                           "Amazing awesome perfect best ever highly recommend", "<script>alert(1)</script>"],
                  "rating": [5, 2, 5, 3]}).to_csv(upload, index=False)
    browser.get(site["url"] + "/seller/screen")
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_until(browser, lambda d: "/seller/uploads/" in d.current_url, timeout=300)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Text model: models:/fraudlens-text@champion" in body and "No text model" not in body
    results = browser.find_element(By.ID, "results").text
    assert "Kettle lid leaks" in results and "<script>alert(1)</script>" in results
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 4
    # Another seller's product by URL: not found.
    browser.get(site["url"] + "/seller/products/P2-1")
    assert "Not found" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(site["url"] + "/queue")
    assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
    # The analyst confirms the top case; the labels export holds it.
    sign_in(browser, site, site["analyst"])
    assert browser.current_url.endswith("/queue")
    case = queries.queue(engine, page_size=1).rows[0]
    browser.find_element(By.CSS_SELECTOR, "#queue tbody tr:first-child td:first-child a").click()
    wait_until(browser, lambda d: "/cases/" in d.current_url)
    assert case["entity_id"] in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_elements(By.CSS_SELECTOR, "svg.ring circle")
    browser.find_element(By.ID, "note").send_keys("checked by hand")
    browser.find_element(By.ID, "confirm-fraud").click()
    wait_until(browser, lambda d: "done=1" in d.current_url)
    assert browser.find_element(By.ID, "decided").is_displayed()
    assert "fraud" in browser.find_element(By.ID, "analyst-label").text
    out = tmp_path / "labels.csv"
    export_labels(engine, out)
    labels = pd.read_csv(out)
    row = labels[(labels["entity_type"] == case["entity_type"]) & (labels["entity_id"] == case["entity_id"])]
    assert row["is_fraud"].tolist() == [1] and row["source"].tolist() == ["analyst:alice"]


def test_screenshot_script_runs(tmp_path, chromedriver):
    """scripts/screenshots.py makes the docs' screenshots; here into a temporary directory."""
    if shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists():
        pytest.skip("no chromium")
    result = subprocess.run([os.sys.executable, str(REPO_ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path),
                             "--synthetic"], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("web-seller.png", "web-queue.png"):
        assert (tmp_path / name).stat().st_size > 10_000
