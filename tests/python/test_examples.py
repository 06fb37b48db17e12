"""End-to-end tests of the operator scripts in examples/ against `switchyard demo`.

The demo serves model gpt-4o for token `your-token` with the healthy
backends openai_official, anthropic_claude and google_gemini, and
problematic_backend, which fails every request pinned to it.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from conftest import EXAMPLES, run_script, script_env

HEALTHY = ["openai_official", "anthropic_claude", "google_gemini"]
BROKEN = "problematic_backend"
ALL_BACKENDS = [*HEALTHY, BROKEN]
DEMO_TOKEN = "your-token"


def assert_no_token(result: subprocess.CompletedProcess, token: str = DEMO_TOKEN) -> None:
    assert token not in result.stdout + result.stderr, "the token must never be printed"


# --------------------------------------------------------------------------
# backend_health_checker.py check
# --------------------------------------------------------------------------


def test_check_all_backends_flags_the_problematic_one(checker):
    result = checker("check")

    assert result.returncode == 1, result.stdout + result.stderr
    for backend in HEALTHY:
        assert re.search(rf"^✅ {backend}: healthy \(\d+\.\d{{3}}s\)$", result.stdout, re.MULTILINE), (
            result.stdout
        )
    assert re.search(rf"^❌ {BROKEN}: unhealthy \(HTTP 5\d\d: .+\)$", result.stdout, re.MULTILINE), (
        result.stdout
    )
    assert "Summary: 3 healthy, 1 unhealthy" in result.stdout
    assert "Model: gpt-4o" in result.stdout
    assert_no_token(result)


def test_check_json_reports_each_backend(checker, gateway_url):
    result = checker("check", "--json")

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "gpt-4o"
    assert report["url"] == gateway_url
    assert report["checked_at"]
    assert (report["healthy"], report["unhealthy"]) == (3, 1)
    by_name = {entry["backend"]: entry for entry in report["backends"]}
    assert sorted(by_name) == sorted(ALL_BACKENDS)
    for name, entry in by_name.items():
        assert entry["healthy"] is (name != BROKEN)
        assert entry["served_by"] == name
        assert entry["ttft_s"] is None
    for name in HEALTHY:
        assert by_name[name]["status"] == 200
        assert by_name[name]["error"] is None
        assert by_name[name]["latency_s"] > 0
    assert 500 <= by_name[BROKEN]["status"] < 600
    assert by_name[BROKEN]["error"].startswith(f"HTTP {by_name[BROKEN]['status']}: ")


def test_check_selected_backends_all_healthy(checker):
    result = checker("check", "--backends", "openai_official", "anthropic_claude")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "✅ openai_official: healthy" in result.stdout
    assert "✅ anthropic_claude: healthy" in result.stdout
    assert "google_gemini" not in result.stdout
    assert "Summary: 2 healthy, 0 unhealthy" in result.stdout


def test_check_streaming_measures_time_to_first_token(checker):
    result = checker("check", "--backends", "openai_official", "anthropic_claude", "--streaming", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    entries = json.loads(result.stdout)["backends"]
    assert [e["backend"] for e in entries] == ["openai_official", "anthropic_claude"]
    for entry in entries:
        assert entry["healthy"] is True
        assert isinstance(entry["ttft_s"], float) and entry["ttft_s"] > 0
        assert entry["served_by"] == entry["backend"]


def test_check_streaming_human_report(checker):
    result = checker("check", "--streaming")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Mode: streaming" in result.stdout
    for backend in HEALTHY:
        assert re.search(rf"^✅ {backend}: healthy \(.*TTFT \d+\.\d+s\)$", result.stdout, re.MULTILINE), (
            result.stdout
        )
    assert f"❌ {BROKEN}: unhealthy (HTTP 5" in result.stdout


def test_check_serial(checker):
    result = checker("check", "--serial", "--backends", "openai_official", "google_gemini")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.index("openai_official: healthy") < result.stdout.index("google_gemini: healthy")


def test_check_with_bad_token_is_a_usage_error(checker):
    secret = "wrong-token-4711"
    result = checker("check", token=secret)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "token" in result.stderr.lower()
    assert "401" in result.stderr
    assert_no_token(result, secret)


def test_check_unknown_model_is_a_usage_error(checker):
    result = checker("--model", "no-such-model", "check")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "no-such-model" in result.stderr


# --------------------------------------------------------------------------
# monitor and benchmark
# --------------------------------------------------------------------------


def test_monitor_prints_one_report_per_round(checker):
    result = checker("monitor", "--interval", "0.2", "--count", "2")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("🏥 Backend health report") == 2
    assert "check #1" in result.stdout and "check #2" in result.stdout
    assert result.stdout.count(f"❌ {BROKEN}: unhealthy") == 2


def test_benchmark_table(checker):
    result = checker("benchmark", "--rounds", "3", "--backends", "openai_official")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 round(s) per backend" in result.stdout
    assert re.search(r"^backend\s+success\s+avg\s+min\s+max\s+p50$", result.stdout, re.MULTILINE), (
        result.stdout
    )
    assert re.search(r"^openai_official\s+100%(\s+\d+\.\d{3}s){4}$", result.stdout, re.MULTILINE), (
        result.stdout
    )


def test_benchmark_streaming_json(checker):
    result = checker(
        "benchmark", "--rounds", "2", "--streaming", "--json", "--backends", "anthropic_claude", BROKEN
    )

    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)["backends"]}
    good, bad = rows["anthropic_claude"], rows[BROKEN]
    assert (good["successes"], good["success_rate"]) == (2, 1.0)
    assert 0 < good["ttft_p50_s"] <= good["max_s"]
    assert good["min_s"] <= good["p50_s"] <= good["max_s"]
    assert (bad["successes"], bad["avg_s"]) == (0, None)
    assert bad["errors"] and bad["errors"][0].startswith("HTTP 5")


# --------------------------------------------------------------------------
# Shell scripts
# --------------------------------------------------------------------------


def test_health_check_sh(gateway_url):
    result = run_script(
        ["bash", str(EXAMPLES / "health_check.sh"), *ALL_BACKENDS], script_env(SWITCHYARD_URL=gateway_url)
    )

    assert result.returncode == 1, result.stdout + result.stderr
    for backend in HEALTHY:
        assert re.search(rf"^✅ {backend}: healthy \(\d+\.\d+s\)$", result.stdout, re.MULTILINE), (
            result.stdout
        )
    assert re.search(rf"^❌ {BROKEN}: unhealthy \(HTTP 5\d\d", result.stdout, re.MULTILINE), result.stdout
    assert "Summary: 3 healthy, 1 unhealthy" in result.stdout
    assert_no_token(result)


def test_health_check_sh_default_backends_are_healthy(gateway_url):
    result = run_script(["bash", str(EXAMPLES / "health_check.sh")], script_env(SWITCHYARD_URL=gateway_url))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Summary: 3 healthy, 0 unhealthy" in result.stdout


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[HTTPServer]:
    """A local stand-in for a Slack incoming webhook that records what it got."""
    server = HTTPServer(("127.0.0.1", 0), _WebhookHandler)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_alert_check_sh_posts_one_alert(gateway_url, webhook):
    hook_url = f"http://127.0.0.1:{webhook.server_port}/services/T000/B000/XXXX"
    env = script_env(SWITCHYARD_URL=gateway_url, ALERT_WEBHOOK_URL=hook_url)
    result = run_script(["bash", str(EXAMPLES / "alert_check.sh"), *ALL_BACKENDS], env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert len(webhook.received) == 1, webhook.received
    text = webhook.received[0]["text"]
    assert re.fullmatch(rf"🚨 Backend Alert: {BROKEN} is unhealthy \(HTTP 5\d\d\)", text), text
    assert "T000/B000/XXXX" not in result.stdout + result.stderr


def test_alert_check_sh_without_webhook_url():
    result = run_script(["bash", str(EXAMPLES / "alert_check.sh")], script_env())

    assert result.returncode == 2
    assert "ALERT_WEBHOOK_URL" in result.stderr


# --------------------------------------------------------------------------
# prometheus_exporter.py
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def wait_for_metrics(url: str, expected: list[str], proc: subprocess.Popen, timeout: float = 30) -> str:
    """Poll /metrics until every expected line is there (bounded)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exporter exited with {proc.returncode}"
        try:
            text = requests.get(url, timeout=5).text
        except requests.RequestException:
            text = ""
        if all(line in text.splitlines() for line in expected):
            return text
        time.sleep(0.2)
    raise AssertionError(f"metrics never showed {expected}; last scrape:\n{text}")


def test_prometheus_exporter_serves_gauges(gateway_url):
    port = free_port()
    argv = [sys.executable, str(EXAMPLES / "prometheus_exporter.py"), "--url", gateway_url]
    proc = subprocess.Popen(
        [*argv, "--port", str(port), "--interval", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=script_env(),
    )
    try:
        text = wait_for_metrics(
            f"http://127.0.0.1:{port}/metrics",
            [
                'backend_health{backend="openai_official",model="gpt-4o"} 1.0',
                f'backend_health{{backend="{BROKEN}",model="gpt-4o"}} 0.0',
            ],
            proc,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for backend in ALL_BACKENDS:
        match = re.search(
            rf'^backend_response_time_seconds{{backend="{backend}",model="gpt-4o"}} (\S+)$',
            text,
            re.MULTILINE,
        )
        assert match, text
    assert (
        float(re.search(r'backend_response_time_seconds\{backend="openai_official".*\} (\S+)', text)[1]) > 0
    )


# --------------------------------------------------------------------------
# The raw API the scripts and the usage document rely on
# --------------------------------------------------------------------------


def test_openai_sdk_can_pin_a_backend(gateway_url):
    """The `backend` field works from the official SDK through extra_body."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{gateway_url}/v1", api_key=DEMO_TOKEN, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hello"}],
        max_tokens=5,
        extra_body={"backend": "anthropic_claude"},
    )

    assert raw.headers["x-switchyard-backend"] == "anthropic_claude"
    assert raw.headers.get("x-request-id")
    assert raw.parse().choices[0].message.content


def test_model_endpoint_lists_pinnable_backends(gateway_url):
    response = requests.get(
        f"{gateway_url}/v1/models/gpt-4o", headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10
    )

    assert response.status_code == 200
    assert response.json()["id"] == "gpt-4o"
    assert sorted(response.json()["backends"]) == sorted(ALL_BACKENDS)


# The curl commands of the usage document, verbatim but for the port.
SEED_DOC_URL = "http://localhost:3000"

SEED_BASIC_REQUEST = """curl -X POST http://localhost:3000/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer your-token" \\
  -d '{
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Hello"}]
  }'
"""

SEED_PINNED_REQUEST = """curl -X POST http://localhost:3000/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer your-token" \\
  -d '{
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Hello"}],
    "backend": "openai_official"
  }'
"""

SEED_STREAMING_REQUEST = """curl -X POST http://localhost:3000/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer your-token" \\
  -d '{
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Count to 5"}],
    "backend": "openai_official",
    "stream": true,
    "max_tokens": 50
  }' \\
  --no-buffer
"""

SEED_DEBUG_REQUEST = """curl -v -X POST http://localhost:3000/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer your-token" \\
  -d '{
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "test"}],
    "backend": "problematic_backend",
    "max_tokens": 5
  }'
"""

SEED_COMPARE_LOOP = """for backend in openai_official anthropic_claude; do
    echo "Testing $backend:"
    curl -s -X POST http://localhost:3000/v1/chat/completions \\
      -H "Content-Type: application/json" \\
      -H "Authorization: Bearer your-token" \\
      -d "{
        \\"model\\": \\"gpt-4o\\",
        \\"messages\\": [{\\"role\\": \\"user\\", \\"content\\": \\"What is 2+2?\\"}],
        \\"backend\\": \\"$backend\\",
        \\"max_tokens\\": 10
      }" | jq '.choices[0].message.content'
    echo
done
"""


def run_seed_snippet(snippet: str, gateway_url: str) -> subprocess.CompletedProcess:
    return run_script(["bash", "-c", snippet.replace(SEED_DOC_URL, gateway_url)], script_env())


def test_seed_unpinned_requests_succeed(gateway_url):
    """Load balancing must never hand a user the broken backend's failure."""
    for _ in range(6):
        result = run_seed_snippet(SEED_BASIC_REQUEST, gateway_url)

        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["choices"][0]["message"]["content"], result.stdout


def test_seed_pinned_request(gateway_url):
    result = run_seed_snippet(SEED_PINNED_REQUEST, gateway_url)

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["choices"][0]["message"]["content"]


def test_seed_streaming_request(gateway_url):
    result = run_seed_snippet(SEED_STREAMING_REQUEST, gateway_url)

    assert result.returncode == 0, result.stderr
    data = [line[len("data: ") :] for line in result.stdout.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]", result.stdout
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_seed_debug_request_shows_the_failure(gateway_url):
    result = run_seed_snippet(SEED_DEBUG_REQUEST, gateway_url)

    assert re.search(r"^< HTTP/[\d.]+ 5\d\d", result.stderr, re.MULTILINE), result.stderr
    assert re.search(
        r"^< x-switchyard-backend: problematic_backend", result.stderr, re.MULTILINE | re.IGNORECASE
    )
    assert json.loads(result.stdout)["error"]["message"]


def test_seed_compare_loop(gateway_url):
    result = run_seed_snippet(SEED_COMPARE_LOOP, gateway_url)

    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines() if line.startswith('"')]
    assert len(answers) == 2, result.stdout
