#!/usr/bin/env python3
"""Check, monitor and benchmark the backends behind a Switchyard gateway.

Every probe is an ordinary chat completion pinned to one backend with the
gateway's ``"backend"`` body field, so it exercises the same path as real
traffic (auth, routing, upstream call, response translation) instead of a
synthetic ping endpoint that could be green while real requests fail.

Subcommands:
    check      probe each backend once and print a report (exit 1 if any failed)
    monitor    repeat the check every --interval seconds and report changes
    benchmark  probe each backend --rounds times and print latency statistics

Only needs ``requests``.  Exit codes: 0 all healthy, 1 some backend unhealthy,
2 the gateway itself could not be used (unreachable, bad token, unknown model).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

import requests

EXIT_OK = 0
EXIT_UNHEALTHY = 1
EXIT_GATEWAY = 2

DEFAULT_URL = "http://localhost:3000"
DEFAULT_TOKEN = "your-token"
DEFAULT_MODEL = "gpt-4o"
MAX_WORKERS = 16
ERROR_SNIPPET = 200


class GatewayError(Exception):
    """The gateway itself could not be used; checking backends is pointless."""


@dataclass
class Gateway:
    """Where and as whom to talk to the gateway (the token is never printed)."""

    url: str
    token: str
    model: str
    timeout: float

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def display_url(self) -> str:
        """The URL without any user:password part, safe to print."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class CheckResult:
    """Outcome of one pinned probe; field names are the --json schema."""

    backend: str
    healthy: bool
    status: int | None
    latency_s: float | None
    ttft_s: float | None
    error: str | None
    served_by: str | None


# --------------------------------------------------------------------------
# Talking to the gateway
# --------------------------------------------------------------------------


def error_message(response: requests.Response) -> str:
    """Best human-readable reason from an error response.

    The gateway answers errors in OpenAI format; anything else (a proxy's HTML
    page, say) is cut short so one bad backend cannot flood the report.
    """
    try:
        message = response.json()["error"]["message"]
        if isinstance(message, str) and message:
            return message
    except (ValueError, KeyError, TypeError):
        pass
    text = " ".join(response.text.split())
    return text[:ERROR_SNIPPET] or (response.reason or "no error body")


def fetch_backends(gw: Gateway) -> list[str]:
    """Ask the gateway which backends this token may pin for the model.

    Raises GatewayError for anything that is not a usable list, because then
    the problem is the gateway, the token or the model name, not a backend.
    """
    url = f"{gw.url.rstrip('/')}/v1/models/{quote(gw.model, safe='')}"
    try:
        response = requests.get(url, headers=gw.headers(), timeout=gw.timeout)
    except requests.RequestException as exc:
        raise GatewayError(
            f"cannot reach the gateway at {gw.display_url()}: {describe_exception(exc)}"
        ) from exc
    if response.status_code in (401, 403):
        raise GatewayError(
            f"the gateway rejected the token (HTTP {response.status_code}: {error_message(response)}); "
            "check --token or SWITCHYARD_TOKEN"
        )
    if response.status_code == 404:
        raise GatewayError(
            f"model {gw.model!r} is not known to the gateway (HTTP 404: {error_message(response)})"
        )
    if response.status_code != 200:
        raise GatewayError(
            f"listing backends failed (HTTP {response.status_code}: {error_message(response)})"
        )
    return parse_backend_list(response, gw.model)


def parse_backend_list(response: requests.Response, model: str) -> list[str]:
    """Extract and sanity-check the ``backends`` field of a model object."""
    try:
        backends = response.json().get("backends")
    except (ValueError, AttributeError) as exc:
        raise GatewayError("the model endpoint did not return a JSON object") from exc
    if not isinstance(backends, list) or not all(isinstance(b, str) for b in backends):
        raise GatewayError("the model endpoint returned no 'backends' list; pass --backends explicitly")
    if not backends:
        raise GatewayError(f"no backend may be pinned for model {model!r} with this token")
    return backends


def describe_exception(exc: BaseException) -> str:
    """Short reason for a transport failure (requests' own text is very long)."""
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection error"
    return type(exc).__name__


def probe_payload(gw: Gateway, backend: str, streaming: bool) -> dict:
    """The smallest request that still proves the backend generates tokens."""
    payload = {
        "model": gw.model,
        "messages": [{"role": "user", "content": "ping"}],
        "backend": backend,
        "max_tokens": 1,
    }
    if streaming:
        payload["stream"] = True
    return payload


# --------------------------------------------------------------------------
# Probing one backend
# --------------------------------------------------------------------------


def check_backend(
    gw: Gateway, backend: str, streaming: bool = False, until_done: bool = False
) -> CheckResult:
    """Probe one backend and never raise: every failure becomes a result.

    A streamed probe normally stops at the first real token (that is all a
    health check needs); until_done reads on to [DONE], so latency_s is the
    whole stream's duration and a failure after the first token counts.
    """
    url = f"{gw.url.rstrip('/')}/v1/chat/completions"
    start = time.monotonic()
    try:
        with requests.post(
            url,
            headers=gw.headers(),
            json=probe_payload(gw, backend, streaming),
            timeout=gw.timeout,
            stream=streaming,
        ) as response:
            return judge_response(gw, backend, response, start, streaming=streaming, until_done=until_done)
    except requests.RequestException as exc:
        return failed(backend, None, describe_exception(exc), start)


def judge_response(
    gw: Gateway, backend: str, response: requests.Response, start: float, *, streaming: bool, until_done: bool
) -> CheckResult:
    """Turn an HTTP response into a verdict (healthy = 200 + real content)."""
    served_by = response.headers.get("x-switchyard-backend")
    if response.status_code != 200:
        reason = f"HTTP {response.status_code}: {error_message(response)}"
        return failed(backend, response.status_code, reason, start, served_by)
    if streaming:
        ttft, problem = read_stream(response, start, start + gw.timeout, until_done)
    else:
        ttft, problem = None, body_problem(response)
    if problem is None and served_by is not None and served_by != backend:
        problem = f"pinned to {backend} but served by {served_by}"
    if problem is not None:
        return failed(backend, 200, problem, start, served_by)
    return CheckResult(backend, True, 200, elapsed(start), ttft, None, served_by)


def failed(
    backend: str, status: int | None, reason: str, start: float, served_by: str | None = None
) -> CheckResult:
    """An unhealthy result; latency is still recorded, it helps tell timeouts apart."""
    return CheckResult(backend, False, status, elapsed(start), None, reason, served_by)


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 6)


def has_real_content(part: object) -> bool:
    """True for a message/delta that carries generated text or tool calls.

    The first streamed chunk often only announces the role with an empty
    content; it proves nothing about the backend, so it does not count.
    """
    if not isinstance(part, dict):
        return False
    content = part.get("content")
    return (isinstance(content, str) and content != "") or bool(part.get("tool_calls"))


def first_choice(payload: object, key: str) -> object:
    """payload.choices[0][key], or None for anything malformed."""
    try:
        return payload["choices"][0][key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None


def body_problem(response: requests.Response) -> str | None:
    """Why a 200 non-streaming body is not a real completion, or None if it is."""
    try:
        payload = response.json()
    except ValueError:
        return "invalid JSON in response"
    if has_real_content(first_choice(payload, "message")):
        return None
    return "no content"


# --------------------------------------------------------------------------
# Server-sent events
# --------------------------------------------------------------------------


def sse_events(lines: Iterable[str]) -> Iterator[str]:
    """Yield the data of each SSE event (multi-line data joined by newlines).

    Comments (``:``) and fields other than ``data`` are ignored, as the SSE
    spec says; a final event without its blank line is still delivered.
    """
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


def classify_event(data: str) -> tuple[str, object]:
    """("done", None), ("error", message) or ("chunk", parsed JSON) for one event."""
    if data.strip() == "[DONE]":
        return "done", None
    try:
        chunk = json.loads(data)
    except ValueError:
        return "error", "invalid JSON chunk"
    if isinstance(chunk, dict) and "error" in chunk:
        return "error", stream_error_message(chunk["error"])
    return "chunk", chunk


def stream_error_message(error: object) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)[:ERROR_SNIPPET]


def stream_verdict(events: Iterable[str]) -> tuple[bool, str | None]:
    """Consume events until the first real token; return (got_token, problem)."""
    for data in events:
        kind, value = classify_event(data)
        if kind == "done":
            return False, "no content"
        if kind == "error":
            return False, f"stream error: {value}"
        if has_real_content(first_choice(value, "delta")):
            return True, None
    return False, "stream ended without content or [DONE]"


def stream_tail_problem(events: Iterable[str]) -> str | None:
    """After the first token: why the rest of the stream failed, or None."""
    for data in events:
        kind, value = classify_event(data)
        if kind == "done":
            return None
        if kind == "error":
            return f"stream error: {value}"
    return "stream ended without [DONE]"


def read_stream(
    response: requests.Response, start: float, deadline: float, until_done: bool
) -> tuple[float | None, str | None]:
    """Read the stream up to the first real token (or to the end); return (ttft, problem).

    requests' timeout only bounds each read, so a backend trickling
    keep-alives could stall forever; the deadline bounds the whole stream.
    """
    events = sse_events(decoded_lines(response, deadline))
    try:
        got_token, problem = stream_verdict(events)
        if not got_token:
            return None, problem
        ttft = elapsed(start)
        return ttft, (stream_tail_problem(events) if until_done else None)
    except TimeoutError:
        return None, "timeout"
    except requests.RequestException as exc:
        return None, f"stream error: {describe_exception(exc)}"


def decoded_lines(response: requests.Response, deadline: float) -> Iterator[str]:
    """Stream lines as text, raising TimeoutError once the deadline passes.

    The read size matters for the time to first token: a chunked body is
    handed over chunk by chunk as it arrives (None), but a plain body read in
    blocks would wait for a full block or the end of the stream, so it is
    read byte by byte (probe streams are tiny).
    """
    chunked = getattr(response.raw, "chunked", False)
    for raw in response.iter_lines(chunk_size=None if chunked else 1):
        if time.monotonic() > deadline:
            raise TimeoutError
        yield raw.decode("utf-8", errors="replace").rstrip("\r")


# --------------------------------------------------------------------------
# Checking many backends
# --------------------------------------------------------------------------


def check_all(gw: Gateway, backends: list[str], streaming: bool, serial: bool) -> list[CheckResult]:
    """Probe every backend, in parallel unless asked not to; keep input order.

    Daemon threads rather than a ThreadPoolExecutor: on Ctrl-C the executor
    would hold the exit until every in-flight probe had timed out.
    """
    if serial or len(backends) <= 1:
        return [check_backend(gw, b, streaming) for b in backends]
    results: list[CheckResult | None] = [None] * len(backends)
    slots = threading.BoundedSemaphore(MAX_WORKERS)

    def probe(index: int, backend: str) -> None:
        with slots:
            results[index] = check_backend(gw, backend, streaming)

    threads = [threading.Thread(target=probe, args=(i, b), daemon=True) for i, b in enumerate(backends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        r or CheckResult(b, False, None, None, None, "probe crashed (see stderr)", None)
        for r, b in zip(results, backends, strict=True)
    ]


def resolve_backends(gw: Gateway, requested: list[str] | None) -> list[str]:
    """The backends to probe: as given (deduplicated) or as the gateway lists them."""
    if requested:
        return list(dict.fromkeys(requested))
    return fetch_backends(gw)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def report_lines(gw: Gateway, results: list[CheckResult], streaming: bool, checked_at: str) -> list[str]:
    """The human report, modelled on the shell health_check.sh output."""
    lines = [
        "🏥 Backend health report",
        "========================",
        f"Time: {checked_at}",
        f"Model: {gw.model}",
        f"URL: {gw.display_url()}",
        f"Mode: {mode(streaming)}",
        "",
    ]
    lines += [result_line(r) for r in results]
    healthy = sum(r.healthy for r in results)
    lines += ["", f"Summary: {healthy} healthy, {len(results) - healthy} unhealthy ({len(results)} checked)"]
    return lines


def mode(streaming: bool) -> str:
    return "streaming" if streaming else "non-streaming"


def result_line(r: CheckResult) -> str:
    if r.healthy:
        ttft = f", TTFT {r.ttft_s:.3f}s" if r.ttft_s is not None else ""
        return f"✅ {r.backend}: healthy ({r.latency_s:.3f}s{ttft})"
    return f"❌ {r.backend}: unhealthy ({r.error})"


def report_json(gw: Gateway, results: list[CheckResult], checked_at: str) -> dict:
    healthy = sum(r.healthy for r in results)
    return {
        "model": gw.model,
        "url": gw.display_url(),
        "checked_at": checked_at,
        "backends": [asdict(r) for r in results],
        "healthy": healthy,
        "unhealthy": len(results) - healthy,
    }


def cmd_check(gw: Gateway, args: argparse.Namespace) -> int:
    backends = resolve_backends(gw, args.backends)
    checked_at = now_iso()
    results = check_all(gw, backends, args.streaming, args.serial)
    if args.json:
        emit(json.dumps(report_json(gw, results, checked_at), indent=2))
    else:
        emit("\n".join(report_lines(gw, results, args.streaming, checked_at)))
    return exit_code_for(results)


def exit_code_for(results: list[CheckResult]) -> int:
    """1 if a backend is unhealthy, but 2 if the gateway itself is the problem.

    A 401/403 on a pinned request, or no connection to the gateway at all,
    says nothing about the backends: the operator has to fix the token or
    the URL, so it is reported like the other usage errors.
    """
    if any(r.status in (401, 403) for r in results):
        print("error: the gateway rejected the token; check --token or SWITCHYARD_TOKEN", file=sys.stderr)
        return EXIT_GATEWAY
    if results and all(r.status is None and r.error == "connection error" for r in results):
        print("error: cannot connect to the gateway; check --url", file=sys.stderr)
        return EXIT_GATEWAY
    return EXIT_OK if all(r.healthy for r in results) else EXIT_UNHEALTHY


# --------------------------------------------------------------------------
# monitor
# --------------------------------------------------------------------------


def cmd_monitor(gw: Gateway, args: argparse.Namespace) -> int:
    """Check repeatedly; Ctrl-C ends it with exit 0 (it is the normal way out)."""
    previous: dict[str, bool] = {}
    cycle = 0
    try:
        while args.count is None or cycle < args.count:
            started = time.monotonic()
            cycle += 1
            previous = monitor_cycle(gw, args, cycle, previous)
            if args.count is not None and cycle >= args.count:
                break
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        emit("\nMonitoring stopped.")
    return EXIT_OK


def monitor_cycle(
    gw: Gateway, args: argparse.Namespace, cycle: int, previous: dict[str, bool]
) -> dict[str, bool]:
    """One round of monitoring; returns the health map for the next round.

    If the gateway is unusable on the very first round the configuration is
    wrong, so that is fatal; later it is just an outage worth reporting.
    """
    try:
        backends = resolve_backends(gw, args.backends)
    except GatewayError as exc:
        if cycle == 1:
            raise
        emit(f"[{now_iso()}] ⚠️ gateway error: {exc}")
        return previous
    checked_at = now_iso()
    results = check_all(gw, backends, args.streaming, args.serial)
    emit(f"[{checked_at}] check #{cycle}")
    emit("\n".join(report_lines(gw, results, args.streaming, checked_at)))
    for line in change_lines(previous, results):
        emit(line)
    emit("")
    return {r.backend: r.healthy for r in results}


def change_lines(previous: dict[str, bool], results: list[CheckResult]) -> list[str]:
    """One line per backend whose health flipped since the previous round."""
    lines = []
    for r in results:
        before = previous.get(r.backend)
        if before is None or before == r.healthy:
            continue
        if r.healthy:
            lines.append(f"🔄 {r.backend}: unhealthy → healthy")
        else:
            lines.append(f"🔄 {r.backend}: healthy → unhealthy ({r.error})")
    return lines


# --------------------------------------------------------------------------
# benchmark
# --------------------------------------------------------------------------


def cmd_benchmark(gw: Gateway, args: argparse.Namespace) -> int:
    """Probe backends one request at a time so requests do not skew each other.

    Streamed probes are read to [DONE] here, so the latency columns are the
    whole response and the TTFT columns show how soon the first token came.
    """
    backends = resolve_backends(gw, args.backends)
    rows = []
    for backend in backends:
        results = [check_backend(gw, backend, args.streaming, until_done=True) for _ in range(args.rounds)]
        rows.append(benchmark_stats(backend, results))
    if args.json:
        emit(json.dumps(benchmark_json(gw, rows, args.rounds, args.streaming), indent=2))
    else:
        emit("\n".join(benchmark_table(gw, rows, args.rounds, args.streaming)))
    return EXIT_OK


def benchmark_json(gw: Gateway, rows: list[dict], rounds: int, streaming: bool) -> dict:
    return {
        "model": gw.model,
        "url": gw.display_url(),
        "checked_at": now_iso(),
        "rounds": rounds,
        "streaming": streaming,
        "backends": rows,
    }


def benchmark_stats(backend: str, results: list[CheckResult]) -> dict:
    """Latency statistics over the successful probes only.

    A failed request's latency (an instant 500 or a 30 s timeout) would make
    the numbers meaningless; failures show up in the success rate instead.
    """
    ok = [r for r in results if r.healthy]
    latencies = [r.latency_s for r in ok if r.latency_s is not None]
    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    return {
        "backend": backend,
        "rounds": len(results),
        "successes": len(ok),
        "success_rate": len(ok) / len(results) if results else 0.0,
        "avg_s": statistics.fmean(latencies) if latencies else None,
        "min_s": min(latencies) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "p50_s": statistics.median(latencies) if latencies else None,
        "ttft_avg_s": statistics.fmean(ttfts) if ttfts else None,
        "ttft_p50_s": statistics.median(ttfts) if ttfts else None,
        "errors": sorted({r.error for r in results if r.error}),
    }


def benchmark_table(gw: Gateway, rows: list[dict], rounds: int, streaming: bool) -> list[str]:
    """One aligned row per backend, then the distinct errors seen per backend."""
    columns = ["backend", "success", "avg", "min", "max", "p50"] + (
        ["ttft avg", "ttft p50"] if streaming else []
    )
    keys = ["avg_s", "min_s", "max_s", "p50_s"] + (["ttft_avg_s", "ttft_p50_s"] if streaming else [])
    width = max([len("backend")] + [len(r["backend"]) for r in rows])
    title = f"📊 Benchmark: model {gw.model}, {rounds} round(s) per backend, {mode(streaming)}"
    lines = [
        f"{title}, {gw.display_url()}",
        "",
        f"{columns[0]:<{width}}  {columns[1]:>8}" + "".join(f"  {c:>9}" for c in columns[2:]),
    ]
    for row in rows:
        success = f"{row['success_rate'] * 100:.0f}%"
        lines.append(
            f"{row['backend']:<{width}}  {success:>8}" + "".join(f"  {seconds(row[k]):>9}" for k in keys)
        )
    for row in rows:
        for error in row["errors"]:
            lines.append(f"  {row['backend']}: {error}")
    return lines


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_gateway_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """Gateway options, accepted before and after the subcommand.

    The copies on the subcommands use SUPPRESS so they only override the
    top-level value when actually given.
    """

    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--url", default=d(DEFAULT_URL), help=f"gateway base URL (default {DEFAULT_URL})")
    parser.add_argument(
        "--token",
        default=d(os.environ.get("SWITCHYARD_TOKEN", DEFAULT_TOKEN)),
        help="bearer token (default: $SWITCHYARD_TOKEN, else the demo token)",
    )
    parser.add_argument("--model", default=d(DEFAULT_MODEL), help=f"model to probe (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--timeout", type=positive_float, default=d(30.0), help="per-request timeout in seconds (default 30)"
    )


def add_probe_options(parser: argparse.ArgumentParser, serial: bool = True) -> None:
    parser.add_argument(
        "--backends",
        nargs="+",
        metavar="BACKEND",
        help="backend ids to probe (default: all the gateway lists for the model)",
    )
    parser.add_argument(
        "--streaming", action="store_true", help="probe with stream=true and measure time to first token"
    )
    if serial:
        parser.add_argument("--serial", action="store_true", help="probe one backend at a time")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_gateway_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{check,monitor,benchmark}")

    check = sub.add_parser("check", help="probe every backend once")
    add_probe_options(check)
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the report")

    monitor = sub.add_parser("monitor", help="repeat the check and report health changes")
    add_probe_options(monitor)
    monitor.add_argument(
        "--interval", type=non_negative_float, default=60.0, help="seconds between checks (default 60)"
    )
    monitor.add_argument(
        "--count", type=positive_int, help="stop after this many checks (default: run until Ctrl-C)"
    )

    bench = sub.add_parser("benchmark", help="measure latency over several rounds")
    add_probe_options(bench, serial=False)
    bench.add_argument("--rounds", type=positive_int, default=3, help="requests per backend (default 3)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")

    for subparser in (check, monitor, bench):
        add_gateway_options(subparser, defaults=False)
    return parser


def emit(text: str) -> None:
    """Print and flush at once, so monitor output shows up live through pipes."""
    print(text, flush=True)


COMMANDS = {"check": cmd_check, "monitor": cmd_monitor, "benchmark": cmd_benchmark}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    gw = Gateway(url=args.url, token=args.token, model=args.model, timeout=args.timeout)
    try:
        return COMMANDS[args.command](gw, args)
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_GATEWAY
    except KeyboardInterrupt:
        return EXIT_OK if args.command == "monitor" else 130


if __name__ == "__main__":
    sys.exit(main())
