"""The official `anthropic` Python package against the real gateway.

Most tests use `switchyard demo` (model gpt-4o behind an Anthropic, an
OpenAI and a Gemini mock; the `backend` body field picks one). Refusals that
need other users and a stream that breaks halfway use a gateway of their
own: `switchyard serve` in front of `mock-upstream` processes with faults.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from conftest import GatewayProcess, gateway_binary, mock_binary, start_process

DEMO_TOKEN = "your-token"
BACKENDS = ["anthropic_claude", "openai_official", "google_gemini"]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# A 1x1 PNG.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a45f0000000049454e44ae426082"
    )
).decode()


def client_for(url: str, token: str = DEMO_TOKEN) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=token, max_retries=0, timeout=30)


@pytest.fixture()
def client(gateway_url: str) -> anthropic.Anthropic:
    return client_for(gateway_url)


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_through_each_protocol(client: anthropic.Anthropic, backend: str) -> None:
    msg = client.messages.create(
        model="gpt-4o",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
        extra_body={"backend": backend},
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "gpt-4o"
    assert msg.content[0].type == "text"
    assert msg.content[0].text.startswith(f"Hello from {backend}.")
    assert "Hello there" in msg.content[0].text
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_helper_through_each_protocol(client: anthropic.Anthropic, backend: str) -> None:
    with client.messages.stream(
        model="gpt-4o",
        max_tokens=100,
        messages=[{"role": "user", "content": "Count to 5"}],
        extra_body={"backend": backend},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith(f"Hello from {backend}.") and text.rstrip().endswith("Count to 5")
    assert final.content[-1].text == text
    assert final.stop_reason == "end_turn"
    assert final.model == "gpt-4o"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(client: anthropic.Anthropic, backend: str, stream: bool) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    ask = dict(model="gpt-4o", max_tokens=200, tools=[WEATHER_TOOL], extra_body={"backend": backend})
    if stream:
        with client.messages.stream(messages=messages, **ask) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(messages=messages, **ask)
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21C, sunny"}]},
    ]
    second = client.messages.create(messages=messages, **ask)
    assert second.stop_reason == "end_turn"
    assert "21C, sunny" in second.content[0].text


@pytest.mark.parametrize("backend", BACKENDS)
def test_images(client: anthropic.Anthropic, backend: str) -> None:
    msg = client.messages.create(
        model="gpt-4o",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                    {"type": "text", "text": "What is in this picture?"},
                ],
            }
        ],
        extra_body={"backend": backend},
    )
    assert "What is in this picture?" in msg.content[0].text


def test_count_tokens(client: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": "one two three four"}]
    # The Anthropic backend counts (the mock counts words) ...
    exact = client.messages.count_tokens(model="gpt-4o", messages=messages, extra_body={"backend": "anthropic_claude"})
    assert exact.input_tokens == 4
    # ... the others cannot: the gateway estimates (4 bytes a token).
    estimate = client.messages.count_tokens(
        model="gpt-4o", messages=messages, extra_body={"backend": "openai_official"}
    )
    assert estimate.input_tokens == (len("role") + len("user") + len("content") + len("one two three four") + 3) // 4


def test_models_in_anthropic_shape(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    # The demo's chat models; its embeddings model is no use to Anthropic clients.
    assert [m.id for m in page.data] == ["gpt-4o", "gpt-4o-mini"]
    assert client.models.retrieve("gpt-4o").type == "model"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("nope")


def test_typed_errors_from_the_demo(client: anthropic.Anthropic, gateway_url: str) -> None:
    with pytest.raises(anthropic.AuthenticationError) as e:
        client_for(gateway_url, "wrong").messages.create(
            model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(
            model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}], extra_body={"backend": "nope"}
        )
    assert "backend" in e.value.message
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(
            model="gpt-4o",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"backend": "problematic_backend"},
        )


def started(binary: Path, *args: str) -> GatewayProcess:
    return start_process(binary, args)


@pytest.fixture(scope="module")
def own_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Model m: an OpenAI mock answering 500, then a healthy Anthropic mock
    (failover); model flaky: an Anthropic mock resetting the stream after its
    second event; model secret: only for admins. alice may not use secret;
    bob may send one request a minute."""
    mocks = {
        "healthy": started(mock_binary(), "--name", "healthy"),
        "down": started(mock_binary(), "--name", "down", "--fault", "status=500"),
        "broken": started(mock_binary(), "--name", "broken", "--fault", "close_after=2;chunk_delay=50ms"),
    }
    config = '[server]\nlisten = "127.0.0.1:0"\n'
    config += f'[providers.down]\nbase_url = "{mocks["down"].url}/v1"\napi_key = "k"\n'
    for name in ("healthy", "broken"):
        config += f'[providers.{name}]\nbackend_type = "anthropic"\nbase_url = "{mocks[name].url}"\napi_key = "k"\n'
    config += '[models.m]\nstrategy = "failover"\n'
    for provider in ("down", "healthy"):
        config += f'[[models.m.backends]]\nprovider = "{provider}"\nmodel = "up"\n'
    config += '[[models.flaky.backends]]\nprovider = "broken"\nmodel = "up"\n'
    config += '[[models.secret.backends]]\nprovider = "healthy"\nmodel = "up"\n'
    config += '[users.alice]\ntoken = "alice-token"\nallowed_models = ["m", "flaky"]\nallow_backend_pin = false\n'
    config += '[users.bob]\ntoken = "bob-token"\n[users.bob.rate_limit]\nrequests_per_minute = 1\n'
    path = tmp_path_factory.mktemp("gateway") / "config.toml"
    path.write_text(config)
    gateway = started(gateway_binary(), "serve", "--config", str(path))
    try:
        yield gateway.url
    finally:
        for p in [gateway, *mocks.values()]:
            p.stop()


def test_failover_before_the_first_event(own_gateway: str) -> None:
    client = client_for(own_gateway, "alice-token")
    with client.messages.with_streaming_response.create(
        model="m", max_tokens=50, messages=[{"role": "user", "content": "Hello"}], stream=True
    ) as resp:
        assert resp.headers["x-switchyard-backend"] == "healthy"
        assert resp.headers["x-switchyard-attempts"] == "2"
    with client.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "Hello"}]) as s:
        assert "".join(s.text_stream).startswith("Hello from healthy.")


def test_an_error_event_after_the_first_one(own_gateway: str) -> None:
    client = client_for(own_gateway, "alice-token")
    texts = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(
            model="flaky", max_tokens=50, messages=[{"role": "user", "content": "Count to 5"}]
        ) as s:
            for text in s.text_stream:
                texts.append(text)
    assert texts == ["Hello ", "from "], "the events before the failure arrived"
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "api_error"


def test_permission_and_rate_limit_errors(own_gateway: str) -> None:
    alice = client_for(own_gateway, "alice-token")
    # A model she may not use is not disclosed: 404, as for an unknown one.
    with pytest.raises(anthropic.NotFoundError) as e:
        alice.messages.create(model="secret", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"
    # She may not pin a backend: that is a permission error.
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        alice.messages.create(
            model="m",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"backend": "healthy"},
        )
    assert e.value.body["error"]["type"] == "permission_error"
    bob = client_for(own_gateway, "bob-token")
    bob.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.RateLimitError) as e:
        bob.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "rate_limit_error"
    assert int(e.value.response.headers["retry-after"]) >= 1
