"""The status page in headless Chromium (Debian's chromium + chromium-driver): health, and today's spend for admins."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import STARTUP_TIMEOUT_S, GatewayProcess, gateway_binary
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DEMO_TOKEN = "your-token"
BACKENDS = ["openai_official", "anthropic_claude", "google_gemini", "problematic_backend"]
SCREENSHOTS = Path(os.environ.get("SWITCHYARD_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture()
def own_gateway() -> Iterator[str]:
    """A demo of its own: this test disables a backend, which others must not see."""
    process = GatewayProcess(gateway_binary())
    try:
        yield process.wait_for_url(STARTUP_TIMEOUT_S)
    finally:
        process.stop()


@pytest.fixture()
def browser() -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--window-size=1400,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='sy-chrome-')}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(browser: webdriver.Chrome, url: str, token: str) -> WebDriverWait:
    browser.get(f"{url}/status")
    wait = WebDriverWait(browser, 30)
    box = wait.until(lambda d: d.find_element(By.ID, "token") if d.find_element(By.ID, "login").is_displayed() else None)
    box.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    return wait


def chat(url: str, backend: str) -> None:
    resp = requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
                         json={"model": "gpt-4o", "backend": backend, "messages": [{"role": "user", "content": "hi"}]},
                         timeout=30)
    assert resp.status_code == 200, resp.text


def spend(driver: webdriver.Chrome, kind: str) -> dict[str, tuple[int, float]]:
    """The page's spend table for `kind` (model or user): requests and cost by name.

    Read in one script: the page redraws its tables every poll, and rows found
    one call and read the next can be gone by then (a stale element)."""
    rows = driver.execute_script(
        """return Array.from(document.querySelectorAll(`table[data-spend="${arguments[0]}"] tr[data-key]`))
               .map(tr => [tr.dataset.key, tr.dataset.requests, tr.lastElementChild.textContent]);""",
        kind,
    )
    return {key: (int(requests), float(cost)) for key, requests, cost in rows}


def row_state(driver: webdriver.Chrome, backend: str) -> str | None:
    rows = driver.find_elements(By.CSS_SELECTOR, f'table[data-model="gpt-4o"] tr[data-backend="{backend}"]')
    return rows[0].get_attribute("data-state") if rows else None


def circuit_open(url: str) -> bool:
    entries = requests.get(f"{url}/admin/backends", headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
                           timeout=10).json()["data"]
    return any(e["backend"] == "problematic_backend" and e["state"] == "open" for e in entries)


def test_status_page_shows_backends_and_a_disabled_one_going_down(own_gateway: str, browser) -> None:
    browser.get(f"{own_gateway}/status")
    wait = WebDriverWait(browser, 20)
    token_box = wait.until(lambda d: d.find_element(By.ID, "token") if d.find_element(By.ID, "login").is_displayed() else None)
    token_box.send_keys(DEMO_TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(lambda d: all(row_state(d, b) for b in BACKENDS))
    assert row_state(browser, "google_gemini") == "healthy"
    # A failed request: while its circuit is still closed the page says
    # failing, not healthy (the demo's probes open it about 30 s in).
    requests.post(f"{own_gateway}/v1/chat/completions",
                  headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
                  json={"model": "gpt-4o", "backend": "problematic_backend",
                        "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    WebDriverWait(browser, 5).until(
        lambda d: row_state(d, "problematic_backend") == ("open" if circuit_open(own_gateway) else "failing"))
    browser.save_screenshot(str(SCREENSHOTS / "switchyard-status-before.png"))

    resp = requests.post(f"{own_gateway}/admin/backends/google_gemini/disable",
                         headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    wait.until(lambda d: row_state(d, "google_gemini") == "disabled")
    assert row_state(browser, "openai_official") == "healthy"
    assert "not healthy" in browser.find_element(By.ID, "meta").text
    browser.save_screenshot(str(SCREENSHOTS / "switchyard-status-after.png"))


def test_status_page_rejects_a_non_admin_token(own_gateway: str, browser) -> None:
    browser.get(f"{own_gateway}/status")
    wait = WebDriverWait(browser, 20)
    box = wait.until(lambda d: d.find_element(By.ID, "token") if d.find_element(By.ID, "login").is_displayed() else None)
    box.send_keys("not-a-token")
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(lambda d: "admin token is needed" in d.find_element(By.ID, "meta").text)
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-backend]")
    assert not browser.find_elements(By.CSS_SELECTOR, "table[data-spend]")


def test_status_page_shows_todays_spend_per_model_and_user(own_gateway: str, browser) -> None:
    chat(own_gateway, "openai_official")
    chat(own_gateway, "google_gemini")
    wait = log_in(browser, own_gateway, DEMO_TOKEN)
    # The ledger writes rows in batches beside the requests; the page polls every 5 s.
    wait.until(lambda d: spend(d, "model").get("gpt-4o", (0, 0))[0] == 2)
    _, cost = spend(browser, "model")["gpt-4o"]
    assert cost > 0, "the demo's upstream models are in the shipped price table"
    assert spend(browser, "user") == {"demo": (2, cost)}
    assert "UTC" in browser.find_element(By.ID, "spend-title").text
    chat(own_gateway, "anthropic_claude")
    wait.until(lambda d: spend(d, "user").get("demo", (0, 0))[0] == 3)
    browser.save_screenshot(str(SCREENSHOTS / "switchyard-status-spend.png"))
