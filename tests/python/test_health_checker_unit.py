"""Unit tests of backend_health_checker.py's pure parts (no gateway needed)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from conftest import EXAMPLES

_spec = importlib.util.spec_from_file_location(
    "backend_health_checker", EXAMPLES / "backend_health_checker.py"
)
bhc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bhc  # dataclasses look their module up there
_spec.loader.exec_module(bhc)


def chunk(delta: dict) -> str:
    return json.dumps({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]})


def result(backend: str, healthy: bool, latency: float | None = 0.1, ttft: float | None = None, error=None):
    return bhc.CheckResult(backend, healthy, 200 if healthy else 500, latency, ttft, error, backend)


def test_sse_events_joins_data_lines_and_skips_comments():
    lines = [": keep-alive", "", "data: a", "data:b", "", "event: x", "data: [DONE]"]

    assert list(bhc.sse_events(lines)) == ["a\nb", "[DONE]"]


@pytest.mark.parametrize(
    ("events", "verdict"),
    [
        ([chunk({"role": "assistant", "content": ""}), chunk({"content": "hi"})], (True, None)),
        ([chunk({"tool_calls": [{"index": 0}]})], (True, None)),
        ([chunk({"role": "assistant", "content": ""}), "[DONE]"], (False, "no content")),
        ([json.dumps({"error": {"message": "boom"}})], (False, "stream error: boom")),
        (["not json"], (False, "stream error: invalid JSON chunk")),
        ([chunk({"content": ""})], (False, "stream ended without content or [DONE]")),
    ],
)
def test_stream_verdict(events, verdict):
    assert bhc.stream_verdict(iter(events)) == verdict


def test_stream_tail_problem_after_first_token():
    assert bhc.stream_tail_problem(iter([chunk({"content": "x"}), "[DONE]"])) is None
    assert bhc.stream_tail_problem(iter([json.dumps({"error": {"message": "cut"}})])) == "stream error: cut"
    assert bhc.stream_tail_problem(iter([])) == "stream ended without [DONE]"


@pytest.mark.parametrize(
    ("part", "real"),
    [({"content": "x"}, True), ({"content": ""}, False), ({"role": "assistant"}, False), (None, False)],
)
def test_has_real_content(part, real):
    assert bhc.has_real_content(part) is real


def test_change_lines_only_report_flips():
    previous = {"a": True, "b": False, "c": True}
    now = [
        result("a", False, error="HTTP 502: down"),
        result("b", True),
        result("c", True),
        result("d", False),
    ]

    assert bhc.change_lines(previous, now) == [
        "🔄 a: healthy → unhealthy (HTTP 502: down)",
        "🔄 b: unhealthy → healthy",
    ]


def test_benchmark_stats_ignore_failed_rounds():
    rounds = [
        result("a", True, 0.1, 0.05),
        result("a", True, 0.3, 0.07),
        result("a", False, 9.0, error="timeout"),
    ]

    stats = bhc.benchmark_stats("a", rounds)

    assert stats["successes"] == 2
    assert stats["success_rate"] == pytest.approx(2 / 3)
    assert (stats["min_s"], stats["max_s"]) == (0.1, 0.3)
    assert stats["avg_s"] == pytest.approx(0.2)
    assert stats["p50_s"] == pytest.approx(0.2)
    assert stats["ttft_p50_s"] == pytest.approx(0.06)
    assert stats["errors"] == ["timeout"]


def test_exit_codes():
    assert bhc.exit_code_for([result("a", True)]) == 0
    assert bhc.exit_code_for([result("a", True), result("b", False)]) == 1
    refused = bhc.CheckResult("a", False, 401, 0.1, None, "HTTP 401: bad key", None)
    assert bhc.exit_code_for([refused]) == 2
    unreachable = bhc.CheckResult("a", False, None, 0.1, None, "connection error", None)
    assert bhc.exit_code_for([unreachable]) == 2


def test_display_url_hides_credentials():
    gw = bhc.Gateway("https://user:secret@gw.example:8443/base", "tok", "m", 1.0)

    assert gw.display_url() == "https://gw.example:8443/base"


def test_gateway_options_work_before_and_after_the_subcommand():
    parser = bhc.build_parser()

    before = parser.parse_args(["--url", "http://a", "--timeout", "5", "check"])
    after = parser.parse_args(["check", "--url", "http://b", "--backends", "x", "y"])

    assert (before.url, before.timeout, before.backends) == ("http://a", 5.0, None)
    assert (after.url, after.timeout, after.backends) == ("http://b", 30.0, ["x", "y"])


@pytest.mark.parametrize(
    "argv",
    [
        ["monitor", "--count", "0"],
        ["monitor", "--interval", "-1"],
        ["benchmark", "--rounds", "0"],
        ["--timeout", "0", "check"],
    ],
)
def test_invalid_numbers_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bhc.build_parser().parse_args(argv)

    assert exc.value.code == 2
