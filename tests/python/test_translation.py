"""The official `openai` package against `switchyard serve` in front of
recording mocks: what the client sees (exception classes, parsed objects)
and what reached the upstream (the mock's record)."""

from __future__ import annotations

from typing import Literal, Optional

import pytest
from pydantic import BaseModel
from openai import APITimeoutError, BadRequestError, InternalServerError, OpenAI, RateLimitError

TOKEN = "translate-token"


@pytest.fixture()
def client(served) -> OpenAI:
    url, _ = served
    return OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0, timeout=30)


def ask(client: OpenAI, model: str, **extra):
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}], **extra
    )


def test_upstream_429_is_a_rate_limit_error_with_the_soonest_retry(client: OpenAI, served) -> None:
    _, mocks = served
    before = len(mocks.requests("limited_a")), len(mocks.requests("limited_b"))
    with pytest.raises(RateLimitError) as limited:
        ask(client, "limited")
    err = limited.value
    assert err.status_code == 429
    assert err.code == "upstream_rate_limited"
    assert err.type == "rate_limit_error"
    # limited_b said Retry-After: 3, limited_a 7: the soonest is back in 3 s.
    assert err.response.headers["retry-after"] == "3"
    assert 2000 < int(err.response.headers["retry-after-ms"]) <= 3000
    after = len(mocks.requests("limited_a")), len(mocks.requests("limited_b"))
    assert after == (before[0] + 1, before[1] + 1), "each backend was asked once"


def test_upstream_429_is_not_an_internal_server_error(client: OpenAI) -> None:
    # The SDK retries InternalServerError at once; a 429 it retries after Retry-After.
    with pytest.raises(RateLimitError):
        ask(client, "limited", extra_body={"backend": "limited_a"})


def test_upstream_timeout_is_a_504(client: OpenAI) -> None:
    with pytest.raises(InternalServerError) as timed_out:
        ask(client, "slow")
    assert timed_out.value.status_code == 504
    assert timed_out.value.code == "upstream_timeout"
    assert not isinstance(timed_out.value, APITimeoutError)


def test_a_refused_parameter_names_itself_and_reached_no_upstream(client: OpenAI, served) -> None:
    _, mocks = served
    before = len(mocks.requests("claude"))
    with pytest.raises(BadRequestError) as refused:
        ask(client, "claude", n=2)
    err = refused.value
    assert (err.code, err.param) == ("unsupported_parameter", "n")
    assert err.response.headers["x-switchyard-attempts"] == "0"
    assert "x-switchyard-backend" not in err.response.headers
    with pytest.raises(BadRequestError) as unknown:
        ask(client, "claude", extra_body={"web_search_options": {}})
    assert unknown.value.param == "web_search_options"
    assert len(mocks.requests("claude")) == before, "nothing was sent upstream"


def test_anthropic_error_type_becomes_the_code(client: OpenAI) -> None:
    # The mock, like Anthropic, refuses tool names outside [a-zA-Z0-9_-]{1,64}.
    bad_tool = {"type": "function", "function": {"name": "", "parameters": {"type": "object"}}}
    with pytest.raises(BadRequestError) as rejected:
        ask(client, "claude", tools=[bad_tool])
    assert rejected.value.code == "invalid_request_error"
    assert "tools.0.name" in rejected.value.message


class Address(BaseModel):
    city: str
    kind: Literal["home"]


class Person(BaseModel):
    name: str
    address: Address
    note: Optional[str]


def parse(client: OpenAI, **kwargs):
    # `parse` left `beta` in later SDKs.
    completions = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
    return completions(**kwargs)


def test_gemini_answers_a_nested_pydantic_response_format(client: OpenAI, served) -> None:
    _, mocks = served
    completion = parse(
        client, model="gemini", messages=[{"role": "user", "content": "who?"}], response_format=Person
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person) and isinstance(person.address, Address)
    assert person.address.kind == "home"
    schema = mocks.requests("gemini")[-1]["body"]["generationConfig"]["responseJsonSchema"]
    # The nested model arrived whole: its definition, the reference, the const.
    assert schema["properties"]["address"] == {"$ref": "#/$defs/Address"}
    kind = schema["$defs"]["Address"]["properties"]["kind"]
    assert kind.get("const", (kind.get("enum") or [None])[0]) == "home"
    assert "address" in schema["required"]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tool_conversation(client: OpenAI, model: str, results: list[str]):
    """The user asks, the model calls, the client answers with each result in
    turn, appending the SDK's own message object as SDK users do."""
    messages: list = [{"role": "user", "content": "What's the weather in Paris?"}]
    answers = []
    for result in [*results, None]:
        completion = client.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER_TOOL], reasoning_effort="low"
        )
        message = completion.choices[0].message
        answers.append(message)
        if result is not None:
            messages.append(message.model_dump(exclude_none=True))
            messages.append({"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": result})
    return answers


def part_signatures(contents: list[dict]) -> list[str]:
    return [p["thoughtSignature"] for c in contents for p in c["parts"] if "thoughtSignature" in p]


def test_gemini_thought_signatures_survive_three_turns_through_the_sdk(client: OpenAI, served) -> None:
    _, mocks = served
    before = len(mocks.requests("gemini"))
    answers = tool_conversation(client, "gemini", ["18C, call again for Rome", "21C"])
    first_call = answers[0].tool_calls[0]
    assert first_call.model_extra["extra_content"] == {"google": {"thought_signature": "sig-call-0"}}
    assert answers[2].content and "21C" in answers[2].content
    sent = [r["body"]["contents"] for r in mocks.requests("gemini")[before:]]
    assert len(sent) == 3
    assert part_signatures(sent[1]) == ["sig-call-0"]
    assert part_signatures(sent[2]) == ["sig-call-0", "sig-call-1"]


def test_anthropic_thinking_survives_a_tool_loop_through_the_sdk(client: OpenAI, served) -> None:
    _, mocks = served
    before = len(mocks.requests("claude"))
    answers = tool_conversation(client, "claude", ["18C"])
    first = answers[0]
    assert first.model_extra["reasoning_content"] == "Thinking about: What's the weather in Paris?"
    blocks = first.model_extra["thinking_blocks"]
    assert blocks[0]["signature"].startswith("sig-think-0-")
    sent = mocks.requests("claude")[before:]
    assert sent[0]["body"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # The mock refuses a tool loop whose assistant turn lost its thinking block.
    assert sent[1]["body"]["messages"][1]["content"][0] == blocks[0]
    assert "18C" in answers[1].content


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_streamed_reasoning_arrives_as_reasoning_content(client: OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "two words"}],
        reasoning_effort="high",
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, text, usage = "", "", None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            text += choice.delta.content or ""
    assert reasoning == "Thinking about: two words"
    assert text.startswith(f"Hello from {model}.")
    if model == "gemini":  # Anthropic does not count thinking tokens apart.
        assert usage.completion_tokens_details.reasoning_tokens == 4


@pytest.mark.parametrize("model", ["claude", "gemini"])
def test_an_empty_user_message_is_answered(client: OpenAI, model: str) -> None:
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": ""}])
    assert completion.choices[0].message.content.startswith(f"Hello from {model}.")


def test_gemini_refuses_one_call_at_a_time_by_name(client: OpenAI, served) -> None:
    _, mocks = served
    before = len(mocks.requests("gemini"))
    with pytest.raises(BadRequestError) as refused:
        ask(client, "gemini", tools=[WEATHER_TOOL], parallel_tool_calls=False)
    assert (refused.value.code, refused.value.param) == ("unsupported_parameter", "parallel_tool_calls")
    assert len(mocks.requests("gemini")) == before
    # Anthropic has the switch.
    ask(client, "claude", tools=[WEATHER_TOOL], parallel_tool_calls=False)
    sent = mocks.requests("claude")[-1]["body"]
    assert sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
