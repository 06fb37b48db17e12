"""Fixtures for the Python tests: a real `switchyard demo` gateway, and a
real `switchyard serve` in front of `mock-upstream` processes.

The gateway binary is taken from $SWITCHYARD_BIN, else target/debug/switchyard
in the repository; the mock from $MOCK_UPSTREAM_BIN, else
target/debug/mock-upstream (build both first with
`cargo build --bins -p switchyard -p mock-upstream`).  Each is started once
per session on a free port; its URL is read from the
"listening on http://127.0.0.1:PORT" line it prints.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
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


def mock_binary() -> Path:
    configured = os.environ.get("MOCK_UPSTREAM_BIN")
    return Path(configured) if configured else REPO_ROOT / "target" / "debug" / "mock-upstream"


class GatewayProcess:
    """A running gateway (or mock) whose output is drained by a thread.

    Draining matters: a child whose pipe fills up blocks on its next log
    write, which would look like a hung gateway halfway through the tests.
    """

    def __init__(self, binary: Path, args: Sequence[str] | None = None) -> None:
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


def start_process(binary: Path, args: Sequence[str] | None = None) -> GatewayProcess:
    """Starts `binary` and waits for its listening line (fails the test run if it never comes)."""
    if not binary.is_file():
        pytest.fail(f"binary not found at {binary}: run `cargo build --bins -p switchyard -p mock-upstream`")
    try:
        process = GatewayProcess(binary, args)
    except OSError as exc:
        pytest.fail(f"cannot start {binary}: {exc}")
    try:
        process.wait_for_url(STARTUP_TIMEOUT_S)
    except RuntimeError as exc:
        process.stop()
        pytest.fail(str(exc))
    return process


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayProcess]:
    process = start_process(gateway_binary())
    try:
        yield process
    finally:
        process.stop()


class Mocks:
    """`mock-upstream` processes by name, each recording what it receives."""

    def __init__(self) -> None:
        self.procs: dict[str, GatewayProcess] = {}

    def start(self, name: str, fault: str | None = None) -> str:
        args = ["--listen", "127.0.0.1:0", "--name", name, "--record"]
        if fault:
            args += ["--fault", fault]
        self.procs[name] = start_process(mock_binary(), args)
        return self.url(name)

    def url(self, name: str) -> str:
        url = self.procs[name].url
        assert url is not None
        return url

    def requests(self, name: str) -> list[dict]:
        """Every request mock `name` received, oldest first."""
        import requests

        resp = requests.get(f"{self.url(name)}/mock/requests", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Mocks]]:
    """`switchyard serve` with a config naming mocks started for it.

    Models: `limited` (two OpenAI backends answering 429, Retry-After 7 and
    3), `slow` (one that never answers within its 300 ms), `claude`
    (Anthropic, claude-sonnet-4-5) and `gemini` (gemini-3-flash-preview).
    User token: `translate-token`.
    """
    mocks = Mocks()
    try:
        mocks.start("limited_a", "status=429;retry_after=7")
        mocks.start("limited_b", "status=429;retry_after=3")
        mocks.start("slow", "delay=10s")
        mocks.start("claude")
        mocks.start("gemini")
        config = tmp_path_factory.mktemp("served") / "config.toml"
        config.write_text(served_config(mocks), encoding="utf-8")
        gateway = start_process(gateway_binary(), ["serve", "--config", str(config)])
    except BaseException:
        mocks.stop()
        raise
    try:
        assert gateway.url is not None
        yield gateway.url, mocks
    finally:
        gateway.stop()
        mocks.stop()


def served_config(mocks: Mocks) -> str:
    providers = [
        ("limited_a", "openai", "/v1", ""),
        ("limited_b", "openai", "/v1", ""),
        ("slow", "openai", "/v1", 'request_timeout = "300ms"'),
        ("claude", "anthropic", "", ""),
        ("gemini", "gemini", "", ""),
    ]
    # No active checks: the tests count what each mock received.
    text = '[server]\nlisten = "127.0.0.1:0"\n\n[health.probe]\nkind = "none"\n\n'
    for name, kind, path, extra in providers:
        text += (
            f'[providers.{name}]\nbackend_type = "{kind}"\nbase_url = "{mocks.url(name)}{path}"\n'
            f'api_key = "key-{name}"\n{extra}\n\n'
        )
    models = {
        "limited": [("limited_a", "gpt-4o"), ("limited_b", "gpt-4o")],
        "slow": [("slow", "gpt-4o")],
        "claude": [("claude", "claude-sonnet-4-5")],
        "gemini": [("gemini", "gemini-3-flash-preview")],
    }
    for model, backends in models.items():
        text += f'[models.{model}]\nstrategy = "failover"\n'
        for provider, upstream in backends:
            text += f'[[models.{model}.backends]]\nprovider = "{provider}"\nmodel = "{upstream}"\n'
        text += "\n"
    return text + '[users.translator]\ntoken = "translate-token"\n'



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
