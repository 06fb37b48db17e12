"""The official `openai` Python package against the real gateway demo."""

from __future__ import annotations

import pytest
from openai import APIStatusError, AuthenticationError, BadRequestError, NotFoundError, OpenAI

DEMO_TOKEN = "your-token"


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key=DEMO_TOKEN, max_retries=0, timeout=30)


def test_non_streaming_completion(client: OpenAI) -> None:
    resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content.startswith("Hello from ")
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0


def test_streaming_completion_with_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Count to 5"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"backend": "openai_official"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Hello from openai_official.")
    assert text.rstrip().endswith("Count to 5")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_streaming_without_usage_shows_no_usage_chunk(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(stream)
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_unpinned_requests_survive_the_problematic_backend(client: OpenAI) -> None:
    for _ in range(12):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hello"}]
        )
        assert raw.headers["x-switchyard-backend"] != "problematic_backend"
        assert raw.parse().choices[0].message.content


def test_models_list(client: OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["gpt-4o"]
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(NotFoundError):
        client.models.retrieve("gpt-5-nope")


def test_errors_map_to_sdk_exceptions(client: OpenAI, gateway_url: str) -> None:
    with pytest.raises(NotFoundError) as nf:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert nf.value.code == "model_not_found"
    with pytest.raises(BadRequestError) as bad:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_body={"backend": "nope"}
        )
    assert bad.value.code == "backend_not_found"
    assert bad.value.param == "backend"
    with pytest.raises(APIStatusError) as failed:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"backend": "problematic_backend"},
        )
    assert failed.value.status_code == 502
    stranger = OpenAI(base_url=f"{gateway_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        stranger.models.list()
