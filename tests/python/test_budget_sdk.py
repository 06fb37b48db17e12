"""A budget refusal as the official `openai` package sees it: a RateLimitError
with code `insufficient_quota`, raised at once instead of retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import STARTUP_TIMEOUT_S, GatewayProcess, gateway_binary
from openai import OpenAI, RateLimitError

TOKEN = "budget-token"

# gpt-4o is in the shipped price table: a request without max_tokens reserves
# its 16384-token answer at $10 per million, far past a one-cent budget. The
# backend is never reached, so it need not exist.
CONFIG = """
[server]
listen = "127.0.0.1:0"
[health.probe]
kind = "none"
[usage]
store = "off"
[providers.p]
base_url = "http://127.0.0.1:9"
[models.m]
[[models.m.backends]]
provider = "p"
model = "gpt-4o"
[users.u]
token = "budget-token"
[users.u.budget]
usd_per_day = 0.01
"""


@pytest.fixture()
def budget_gateway(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "switchyard.toml"
    config.write_text(CONFIG)
    process = GatewayProcess(gateway_binary(), ["serve", "--config", str(config)])
    try:
        yield process.wait_for_url(STARTUP_TIMEOUT_S)
    finally:
        process.stop()


def refusals(url: str) -> str:
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    line = next((l for l in metrics.splitlines() if l.startswith('switchyard_budget_exceeded_total{user="u"}')), "")
    return line.rsplit(" ", 1)[-1]


def test_a_budget_refusal_is_raised_at_once_not_retried(budget_gateway: str) -> None:
    seconds_to_midnight = 86_400 - time.time() % 86_400
    if seconds_to_midnight < 180:
        pytest.skip("the daily window ends within minutes: the SDK may rightly wait for it")
    client = OpenAI(base_url=f"{budget_gateway}/v1", api_key=TOKEN, max_retries=2, timeout=30)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as refused:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - started
    assert refused.value.code == "insufficient_quota"
    assert "daily budget" in refused.value.message
    headers = refused.value.response.headers
    assert abs(int(headers["retry-after"]) - seconds_to_midnight) < 5
    assert headers["x-should-retry"] == "false"
    assert refusals(budget_gateway) == "1", "the SDK sent the request once"
    assert elapsed < 2, f"no backoff before giving up: {elapsed:.2f}s"
