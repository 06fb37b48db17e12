"""The official `openai` package's Responses, embeddings and completions
clients against the real gateway demo.

The demo serves gpt-4o from openai_official (which speaks the Responses
API, so it is passed through), anthropic_claude and google_gemini
(translated), and problematic_backend (HTTP 500); gpt-4o-mini from
openai_chat (chat completions only, so translated) and broken_stream (its
streams break after two chunks); and the embeddings model
text-embedding-3-small from openai_official and google_gemini.
"""

from __future__ import annotations

import json

import pytest
from openai import BadRequestError, NotFoundError, OpenAI

DEMO_TOKEN = "your-token"

# (model, backend): one per protocol a Responses request can reach.
BACKENDS = [
    ("gpt-4o", "openai_official"),
    ("gpt-4o", "anthropic_claude"),
    ("gpt-4o", "google_gemini"),
    ("gpt-4o-mini", "openai_chat"),
]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key=DEMO_TOKEN, max_retries=0, timeout=30)


@pytest.mark.parametrize(("model", "backend"), BACKENDS)
def test_responses_create_with_text(client: OpenAI, model: str, backend: str) -> None:
    raw = client.responses.with_raw_response.create(
        model=model, instructions="be brief", input="Hello", extra_body={"backend": backend}
    )
    assert raw.headers["x-switchyard-backend"] == backend
    resp = raw.parse()
    assert resp.object == "response"
    assert resp.status == "completed"
    assert resp.output_text == f"Hello from {backend}. You said: Hello "
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0


@pytest.mark.parametrize(("model", "backend"), BACKENDS)
def test_responses_stream_helper(client: OpenAI, model: str, backend: str) -> None:
    deltas = []
    with client.responses.stream(model=model, input="Count to 5", extra_body={"backend": backend}) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text
    assert final.output_text.startswith(f"Hello from {backend}.")
    assert final.status == "completed"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize(("model", "backend"), BACKENDS)
@pytest.mark.parametrize("streamed", [False, True])
def test_function_call_round_trip(client: OpenAI, model: str, backend: str, streamed: bool) -> None:
    def ask(items):
        if not streamed:
            return client.responses.create(model=model, input=items, tools=[WEATHER], extra_body={"backend": backend})
        with client.responses.stream(model=model, input=items, tools=[WEATHER], extra_body={"backend": backend}) as s:
            return s.get_final_response()

    items = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = ask(items)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert calls[0].call_id
    items += [item.model_dump(exclude_none=True) for item in first.output]
    items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"temp_c": 21}'})
    second = ask(items)
    assert not [item for item in second.output if item.type == "function_call"]
    assert '{"temp_c": 21}' in second.output_text


@pytest.mark.parametrize(("model", "backend"), [b for b in BACKENDS if b[1] != "anthropic_claude"])
def test_json_schema_output(client: OpenAI, model: str, backend: str) -> None:
    text = {
        "format": {
            "type": "json_schema",
            "name": "city",
            "strict": True,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        }
    }
    resp = client.responses.create(model=model, input="A city", text=text, extra_body={"backend": backend})
    assert resp.status == "completed"
    assert resp.text.format.type == "json_schema"


def test_json_schema_is_refused_where_it_cannot_be_kept(client: OpenAI) -> None:
    with pytest.raises(BadRequestError) as refused:
        client.responses.create(
            model="gpt-4o",
            input="A city",
            text={"format": {"type": "json_object"}},
            extra_body={"backend": "anthropic_claude"},
        )
    assert refused.value.param == "text"
    assert "anthropic" in refused.value.message


def test_typed_errors(client: OpenAI) -> None:
    with pytest.raises(NotFoundError) as nf:
        client.responses.create(model="nope", input="x")
    assert nf.value.code == "model_not_found"
    with pytest.raises(BadRequestError) as pin:
        client.responses.create(model="gpt-4o", input="x", extra_body={"backend": "nope"})
    assert (pin.value.code, pin.value.param) == ("backend_not_found", "backend")
    with pytest.raises(BadRequestError) as state:
        client.responses.create(
            model="gpt-4o", input="x", previous_response_id="resp_1", extra_body={"backend": "google_gemini"}
        )
    assert state.value.param == "previous_response_id"
    with pytest.raises(BadRequestError) as kind:
        client.responses.create(model="text-embedding-3-small", input="x")
    assert kind.value.code == "model_kind_mismatch"


def test_failover_before_the_first_event(client: OpenAI) -> None:
    # Unpinned, problematic_backend is tried about one time in four: its 500
    # comes before any event, so the stream fails over and completes.
    for _ in range(12):
        with client.responses.with_streaming_response.create(model="gpt-4o", input="Hello", stream=True) as raw:
            assert raw.headers["x-switchyard-backend"] != "problematic_backend"
            types = [json.loads(line[6:])["type"] for line in raw.iter_lines() if line.startswith("data: ")]
        assert types[0] == "response.created"
        assert types[-1] == "response.completed"


def test_an_error_event_after_the_first_one(client: OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-4o-mini", input="Count to ten please", stream=True, extra_body={"backend": "broken_stream"}
    )
    events = list(stream)
    types = [e.type for e in events]
    assert "response.output_text.delta" in types
    assert types[-1] == "response.failed"
    assert "response.completed" not in types
    assert events[-1].response.error.code == "server_error"
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize("backend", ["openai_official", "google_gemini"])
def test_embeddings(client: OpenAI, backend: str) -> None:
    texts = ["the first text", "a second one", "third"]
    as_floats = client.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format="float", extra_body={"backend": backend}
    )
    assert [d.index for d in as_floats.data] == [0, 1, 2]
    assert as_floats.usage.prompt_tokens > 0
    # The SDK asks for base64 unless told otherwise, and decodes it.
    as_base64 = client.embeddings.create(model="text-embedding-3-small", input=texts, extra_body={"backend": backend})
    for f, b in zip(as_floats.data, as_base64.data, strict=True):
        assert f.embedding == pytest.approx(b.embedding)
    short = client.embeddings.create(
        model="text-embedding-3-small", input="one", dimensions=4, extra_body={"backend": backend}
    )
    assert len(short.data[0].embedding) == 4


def test_embeddings_agree_across_protocols(client: OpenAI) -> None:
    # Both mocks embed a text the same way: a translation that lost or
    # reordered anything would differ.
    vectors = [
        client.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], dimensions=6, extra_body={"backend": b}
        ).data
        for b in ["openai_official", "google_gemini"]
    ]
    for openai_side, gemini_side in zip(vectors[0], vectors[1], strict=True):
        assert openai_side.embedding == pytest.approx(gemini_side.embedding)
    assert vectors[0][0].embedding != pytest.approx(vectors[0][1].embedding)


def test_text_completions_whole_and_streamed(client: OpenAI) -> None:
    whole = client.completions.create(model="gpt-4o-mini", prompt="Say this", max_tokens=16)
    assert whole.choices[0].text == "Hello from openai_chat. You said: Say this "
    assert whole.usage.completion_tokens > 0
    chunks = list(client.completions.create(model="gpt-4o-mini", prompt="Say this", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert all(c.usage is None for c in chunks)
    with pytest.raises(BadRequestError) as refused:
        client.completions.create(model="gpt-4o", prompt="x", extra_body={"backend": "anthropic_claude"})
    assert "/v1/completions" in refused.value.message
