#!/usr/bin/env python3
"""Export the health of Switchyard backends as Prometheus gauges.

Every --interval seconds each backend gets one tiny chat completion pinned
to it with the gateway's ``"backend"`` field, and two gauges are set:

    backend_health{backend,model}                 1 if it answered HTTP 200, else 0
    backend_response_time_seconds{backend,model}  how long it took (0 if no answer)

The metrics are served on http://0.0.0.0:PORT/metrics for Prometheus to
scrape.  Without --backends the list is asked from GET /v1/models/{model}
on every round, so backends added to the gateway show up by themselves.
Needs ``requests`` and ``prometheus_client``; runs until stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

import requests
from prometheus_client import Gauge, start_http_server

backend_health_gauge = Gauge("backend_health", "Backend health status", ["backend", "model"])
backend_response_time_gauge = Gauge(
    "backend_response_time_seconds", "Backend response time", ["backend", "model"]
)


class FatalConfigError(Exception):
    """The gateway refused the token or the model: retrying will not help."""


@dataclass
class Config:
    url: str
    token: str
    model: str
    timeout: float
    backends: list[str] | None

    def headers(self) -> dict:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}


def log(message: str) -> None:
    """Diagnostics go to stderr, where a service manager collects them."""
    print(f"prometheus_exporter: {message}", file=sys.stderr, flush=True)


def list_backends(cfg: Config) -> list[str]:
    """The backends the gateway lets this token pin for the model.

    Raises FatalConfigError on 401/403/404 (wrong token or model: an operator
    must fix it), requests.RequestException or ValueError for passing trouble.
    """
    url = f"{cfg.url.rstrip('/')}/v1/models/{quote(cfg.model, safe='')}"
    response = requests.get(url, headers=cfg.headers(), timeout=cfg.timeout)
    if response.status_code in (401, 403):
        raise FatalConfigError(f"the gateway rejected the token (HTTP {response.status_code})")
    if response.status_code == 404:
        raise FatalConfigError(f"model {cfg.model!r} is unknown to the gateway (HTTP 404)")
    response.raise_for_status()
    backends = response.json().get("backends")
    if not isinstance(backends, list):
        raise ValueError("the model object has no 'backends' list")
    return [b for b in backends if isinstance(b, str)]


def probe(cfg: Config, backend: str) -> tuple[int, float]:
    """(health, seconds) for one backend; never raises, a failure is health 0."""
    start_time = time.time()
    try:
        response = requests.post(
            f"{cfg.url.rstrip('/')}/v1/chat/completions",
            headers=cfg.headers(),
            json={
                "model": cfg.model,
                "messages": [{"role": "user", "content": "ping"}],
                "backend": backend,
                "max_tokens": 1,
            },
            timeout=cfg.timeout,
        )
    except requests.RequestException as exc:
        log(f"{backend}: no answer ({type(exc).__name__})")
        return 0, 0.0
    return (1 if response.status_code == 200 else 0), time.time() - start_time


def collect_metrics(cfg: Config, backends: list[str]) -> None:
    """Probe each backend in turn and update its two gauges."""
    for backend in backends:
        health_status, response_time = probe(cfg, backend)
        backend_health_gauge.labels(backend=backend, model=cfg.model).set(health_status)
        backend_response_time_gauge.labels(backend=backend, model=cfg.model).set(response_time)


def forget(backends: set[str], model: str) -> None:
    """Drop series of backends the gateway no longer lists, so they do not linger."""
    for backend in backends:
        backend_health_gauge.remove(backend, model)
        backend_response_time_gauge.remove(backend, model)


def current_backends(cfg: Config, previous: list[str]) -> list[str]:
    """The list to probe this round; on a passing failure keep the last one.

    A gateway that is restarting should not make the exporter exit or wipe
    its series; a FatalConfigError is left to propagate.
    """
    if cfg.backends:
        return cfg.backends
    try:
        return list_backends(cfg)
    except (requests.RequestException, ValueError) as exc:
        log(f"cannot list backends ({type(exc).__name__}); keeping the previous list")
        return previous


def run(cfg: Config, port: int, interval: float) -> None:
    """Serve /metrics and refresh the gauges every interval seconds, forever."""
    start_http_server(port)
    log(f"serving metrics on port {port}, checking every {interval:g}s")
    backends: list[str] = []
    while True:
        started = time.monotonic()
        latest = current_backends(cfg, backends)
        forget(set(backends) - set(latest), cfg.model)
        backends = latest
        collect_metrics(cfg, backends)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:3000", help="gateway base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("SWITCHYARD_TOKEN", "your-token"),
        help="bearer token (default: $SWITCHYARD_TOKEN, else the demo token)",
    )
    parser.add_argument("--model", default="gpt-4o", help="model to probe (default gpt-4o)")
    parser.add_argument("--port", type=int, default=8000, help="port to serve /metrics on (default 8000)")
    parser.add_argument(
        "--interval", type=positive_float, default=60.0, help="seconds between rounds (default 60)"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=30.0, help="per-request timeout in seconds (default 30)"
    )
    parser.add_argument(
        "--backends", nargs="+", metavar="BACKEND", help="backends to probe (default: ask the gateway)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config(args.url, args.token, args.model, args.timeout, args.backends)
    try:
        run(cfg, args.port, args.interval)
    except FatalConfigError as exc:
        log(f"error: {exc}")
        return 2
    except OSError as exc:
        log(f"error: cannot serve metrics on port {args.port}: {exc}")
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
