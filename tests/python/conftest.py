"""Fixtures for the example-script tests: a real `switchyard demo` gateway.

The gateway binary is taken from $SWITCHYARD_BIN, else target/debug/switchyard
in the repository (build it first with `cargo build`).  It is started once per
session on a free port (`--listen 127.0.0.1:0`); the URL is read from the
"listening on http://127.0.0.1:PORT" line it prints.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
STARTUP_TIMEOUT_S = 30
LISTENING = re.compile(r"listening on (http://[^\s/]+:\d+)")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def gateway_binary() -> Path:
    configured = os.environ.get("SWITCHYARD_BIN")
    return Path(configured) if configured else REPO_ROOT / "target" / "debug" / "switchyard"


class GatewayProcess:
    """A running gateway (`switchyard demo`, or `args`) whose output is drained by a thread.

    Draining matters: a child whose pipe fills up blocks on its next log
    write, which would look like a hung gateway halfway through the tests.
    """

    def __init__(self, binary: Path, args: list[str] | None = None) -> None:
        env = dict(os.environ, NO_COLOR="1")
        self.proc = subprocess.Popen(
            [str(binary), *(args or ["demo", "--listen", "127.0.0.1:0"])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        self.url: str | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=500)
        self._announced = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="gateway-output", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Keep reading output; note the URL; wake the waiter on EOF too."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            match = LISTENING.search(ANSI_ESCAPE.sub("", line))
            if self.url is None and match:
                self.url = match.group(1)
                self._announced.set()
        self._announced.set()

    def wait_for_url(self, timeout: float) -> str:
        self._announced.wait(timeout)
        if self.url is None:
            code = self.proc.poll()
            state = f"it exited with status {code}" if code is not None else f"nothing within {timeout}s"
            raise RuntimeError(
                f"gateway never printed 'listening on http://...' ({state}); output:\n{self.log()}"
            )
        return self.url

    def log(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayProcess]:
    binary = gateway_binary()
    if not binary.is_file():
        pytest.fail(f"gateway binary not found at {binary}: run `cargo build` or set SWITCHYARD_BIN")
    try:
        process = GatewayProcess(binary)
    except OSError as exc:
        pytest.fail(f"cannot start the gateway {binary}: {exc}")
    try:
        process.wait_for_url(STARTUP_TIMEOUT_S)
    except RuntimeError as exc:
        process.stop()
        pytest.fail(str(exc))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def gateway_url(gateway: GatewayProcess) -> str:
    assert gateway.url is not None
    return gateway.url


def script_env(**extra: str) -> dict[str, str]:
    """Environment for the example scripts: UTF-8 output, no inherited overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "ALERT_"))}
    env.update(PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_script(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


@pytest.fixture
def checker(gateway_url: str):
    """Run backend_health_checker.py against the test gateway."""

    def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
        argv = [sys.executable, str(EXAMPLES / "backend_health_checker.py"), "--url", gateway_url]
        if token is not None:
            argv += ["--token", token]
        return run_script(argv + list(args), script_env())

    return run
