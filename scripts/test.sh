#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real HTTP over loopback
# against mock upstreams; the Claude Code and Codex CLIs where they are
# installed, which .ci/run makes sure of), then
# the Python tests (official `openai` and `anthropic` packages, the operator
# scripts in examples/) against the real `switchyard` and `mock-upstream`
# binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import pytest, openai, anthropic, requests, prometheus_client, selenium" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

# Every test talks to loopback; an egress proxy set for this shell (the
# gateway and the Python clients both follow one) must not come between.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

cargo build --bins -p switchyard -p mock-upstream
cargo test --workspace
SWITCHYARD_BIN="$PWD/target/debug/switchyard" python3 -m pytest tests/python -q
