"""The official `openai` Python package against the real gateway demo."""

from __future__ import annotations

import json

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
    assert [m.id for m in models.data] == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
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


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("backend", ["anthropic_claude", "google_gemini", "openai_official"])
def test_tool_call_round_trip_through_each_protocol(client: OpenAI, backend: str) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(
        model="gpt-4o", messages=messages, tools=[WEATHER_TOOL], extra_body={"backend": backend}
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    second = client.chat.completions.create(
        model="gpt-4o", messages=messages, tools=[WEATHER_TOOL], extra_body={"backend": backend}
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content


@pytest.mark.parametrize("backend", ["anthropic_claude", "google_gemini"])
def test_streamed_tool_call_through_native_protocols(client: OpenAI, backend: str) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather in Paris please"}],
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"backend": backend},
    )
    name, args, finish, usage = "", "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                name += tc.function.name or ""
                args += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(args) == {"city": "Paris"}
    assert finish == "tool_calls"
    assert usage is not None and usage.prompt_tokens > 0


@pytest.mark.parametrize("backend", ["anthropic_claude", "google_gemini"])
def test_text_streaming_through_native_protocols(client: OpenAI, backend: str) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "Count to 5"}],
        stream=True,
        extra_body={"backend": backend},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(f"Hello from {backend}.")
    assert chunks[-1].choices[0].finish_reason == "stop"
