"""Tests for the fake Anthropic Messages API, driven through the real ``anthropic`` SDK.

No database and no Django settings are needed, except by the management-command test, which runs
``manage.py`` in a subprocess and is skipped until the project has one.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import jsonschema
import pytest

from fakeclaude import FakeClaude
from fakeclaude.directives import parse_directives
from fakeclaude.schema import generate_instance

ROOT = Path(__file__).resolve().parents[1]
MODEL = "claude-fake-1"

# A schema in the shape the planner uses: nested objects, arrays of objects, enums, integer
# dependency indexes, bounded numbers, string lengths and $ref into $defs.
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Agent": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 3, "maxLength": 40},
                "type": {"type": "string", "enum": ["coder", "tester", "reviewer", "researcher"]},
                "depends_on": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "priority": {"type": "number", "minimum": 2, "maximum": 5},
                "weight": {"type": "number", "maximum": 0.5},
                "retries": {"type": "integer", "minimum": 1, "maximum": 3},
                "enabled": {"type": "boolean"},
                "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["name", "type", "depends_on", "confidence"],
            "additionalProperties": False,
        },
    },
    "properties": {
        "summary": {"type": "string", "minLength": 60},
        "agents": {"type": "array", "items": {"$ref": "#/$defs/Agent"}, "minItems": 1, "maxItems": 8},
        "milestones": {
            "type": "array",
            "minItems": 4,
            "items": {
                "type": "object",
                "properties": {"title": {"type": ["string", "null"], "maxLength": 12}},
                "required": ["title"],
            },
        },
        "meta": {"type": "object", "properties": {"estimate_hours": {"type": "integer"}}},
    },
    "required": ["summary", "agents", "milestones"],
    "additionalProperties": False,
}
PLAN_TOOL: dict[str, Any] = {
    "name": "submit_plan",
    "description": "Submit the plan",
    "input_schema": PLAN_SCHEMA,
}
FORCE_PLAN: dict[str, Any] = {"type": "tool", "name": "submit_plan"}


@pytest.fixture
def fake() -> Iterator[FakeClaude]:
    with FakeClaude() as server:
        yield server


@pytest.fixture
def claude(fake: FakeClaude) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=10)


def ask(client: anthropic.Anthropic, text: str, **kwargs: Any) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": text}], **kwargs
    )


def ask_plan(client: anthropic.Anthropic, text: str) -> anthropic.types.Message:
    return ask(client, text, tools=[PLAN_TOOL], tool_choice=FORCE_PLAN)


def raw_request(
    fake: FakeClaude, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """Plain http.client, for what the SDK will not send (no auth, broken bodies) and the control API."""
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"content-type": "application/json", **(headers or {})}
    try:
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            json.loads(payload or b"null"),
        )
    finally:
        connection.close()


# --- text replies -------------------------------------------------------------------------------


def test_json_text_reply_and_usage(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    system = "You are a careful engineer."
    task = "Write a function that parses ISO dates"
    raw = claude.messages.with_raw_response.create(
        model=MODEL, max_tokens=1024, system=system, messages=[{"role": "user", "content": task}]
    )
    message = raw.parse()

    assert raw.headers["request-id"] == "req_fake_1"
    assert message.id == "msg_fake_1"
    assert message.model == MODEL
    assert message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    text = message.content[0].text
    assert text.startswith("## ")
    assert "parses ISO dates" in text
    assert "```python:src/solution.py\n" in text
    assert text.count("```") == 2
    assert message.usage.input_tokens == math.ceil(len(system + "\n" + task) / 4)
    assert message.usage.output_tokens == math.ceil(len(text) / 4)
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0


def test_text_reply_is_deterministic(claude: anthropic.Anthropic) -> None:
    first = ask(claude, "Summarise the build log").content[0].text
    assert ask(claude, "Summarise the build log").content[0].text == first


def test_streaming_text(claude: anthropic.Anthropic) -> None:
    task = "Implement a rate limiter with a token bucket"
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": task}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    text = final.content[0].text
    assert len(pieces) > 3
    assert all(0 < len(piece) <= 20 for piece in pieces)
    assert "".join(pieces) == text
    assert "token bucket" in text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == math.ceil(len(task) / 4)
    assert final.usage.output_tokens == math.ceil(len(text) / 4)


def test_stream_event_order(claude: anthropic.Anthropic) -> None:
    with claude.messages.create(
        model=MODEL, max_tokens=1024, stream=True, messages=[{"role": "user", "content": "Say hi"}]
    ) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert events[0].message.usage.output_tokens == 1
    assert events[0].message.content == []


# --- tool use -----------------------------------------------------------------------------------


def test_forced_tool_use_validates_against_nested_schema(
    fake: FakeClaude, claude: anthropic.Anthropic
) -> None:
    message = ask_plan(claude, "Build a todo app with a REST API")

    assert message.stop_reason == "tool_use"
    assert len(message.content) == 1
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.name == "submit_plan"
    assert block.id == "toolu_fake_1"
    plan = block.input
    jsonschema.validate(plan, PLAN_SCHEMA)
    assert len(plan["agents"]) == 3
    assert len(plan["milestones"]) == 4
    agent = plan["agents"][0]
    assert agent["depends_on"] == []
    assert agent["confidence"] == 0.85
    assert agent["priority"] == 2
    assert agent["weight"] == 0.5
    assert agent["retries"] == 1
    assert agent["enabled"] is True
    assert isinstance(agent["notes"], str)
    assert "Build a todo app" in plan["summary"]
    assert message.usage.output_tokens == math.ceil(len(json.dumps(plan)) / 4)
    expected_input = "Build a todo app with a REST API" + json.dumps([PLAN_TOOL])
    assert message.usage.input_tokens == math.ceil(len(expected_input) / 4)


def test_forced_tool_use_streamed(claude: anthropic.Anthropic) -> None:
    expected = ask_plan(claude, "Build a todo app").content[0].input
    with claude.messages.stream(
        model=MODEL,
        max_tokens=1024,
        tools=[PLAN_TOOL],
        tool_choice=FORCE_PLAN,
        messages=[{"role": "user", "content": "Build a todo app"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    json_deltas = [
        e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(json_deltas) > 1
    assert json.loads("".join(e.delta.partial_json for e in json_deltas)) == expected
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == expected
    jsonschema.validate(final.content[0].input, PLAN_SCHEMA)


def test_tool_choice_any_uses_first_tool(claude: anthropic.Anthropic) -> None:
    message = ask(claude, "Plan it", tools=[PLAN_TOOL], tool_choice={"type": "any"})
    assert message.content[0].name == "submit_plan"
    jsonschema.validate(message.content[0].input, PLAN_SCHEMA)


def test_tools_without_forced_choice_get_text(claude: anthropic.Anthropic) -> None:
    message = ask(claude, "Just talk", tools=[PLAN_TOOL])
    assert message.content[0].type == "text"
    assert message.stop_reason == "end_turn"


def test_unknown_forced_tool_is_rejected(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        ask(claude, "Plan it", tools=[PLAN_TOOL], tool_choice={"type": "tool", "name": "nope"})


def test_enum_cycles_by_array_index(claude: anthropic.Anthropic) -> None:
    schema = {
        "type": "object",
        "properties": {
            "roles": {"type": "array", "minItems": 5, "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "agents": {"type": "array", "items": {"$ref": "#/definitions/A"}},
        },
        "definitions": {"A": {"type": "object", "properties": {"kind": {"enum": ["x", "y"]}}}},
    }
    tool = {"name": "t", "input_schema": schema}
    result = ask(claude, "cycle", tools=[tool], tool_choice={"type": "tool", "name": "t"}).content[0].input
    assert result["roles"] == ["a", "b", "c", "a", "b"]
    assert [agent["kind"] for agent in result["agents"]] == ["x", "y", "x"]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "array", "items": {"type": "integer"}}, []),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2, "uniqueItems": True}, [0, 1]),
        (
            {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            ["Value 1: fix bug", "Value 2: fix bug"],
        ),
        ({"type": "number", "exclusiveMinimum": 1, "maximum": 2}, 2),
        ({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, 1.5),
        ({"type": "number", "minimum": 0.9, "maximum": 1}, 0.9),
        ({"type": "integer", "exclusiveMinimum": 4}, 5),
        ({"type": ["null", "boolean"]}, True),
        ({"oneOf": [{"type": "integer", "minimum": 7}, {"type": "string"}]}, 7),
        ({"const": "fixed"}, "fixed"),
        ({"type": "boolean", "default": False}, False),  # a default is what a model leaves as is
        ({"type": "string", "maxLength": 5}, "Value"),
        ({"type": "string", "format": "date"}, "2025-01-01"),
        ({"allOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}}]}, {"a": True}),
    ],
)
def test_schema_generation_cases(schema: dict[str, Any], expected: Any) -> None:
    value = generate_instance(schema, ["fix", "bug"])
    assert value == expected
    jsonschema.validate(value, schema)


def test_schema_generation_handles_recursion() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["label"],
            }
        },
    }
    value = generate_instance(schema)
    jsonschema.validate(value, schema)


# --- error directives ---------------------------------------------------------------------------


def test_429_counted_with_retry_after_headers(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    prompt = "Plan the release [[fake:429x2,retry_ms=300]]"
    for attempt in (1, 2):
        with pytest.raises(anthropic.RateLimitError) as caught:
            ask(claude, prompt)
        headers = caught.value.response.headers
        assert caught.value.status_code == 429
        assert headers["retry-after"] == "1"
        assert headers["retry-after-ms"] == "300"
        assert headers["request-id"] == f"req_fake_{attempt}"
        assert caught.value.body == {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": caught.value.body["error"]["message"]},
        }
    assert ask(claude, prompt).stop_reason == "end_turn"
    assert [r["outcome"] for r in fake.requests] == ["error:429", "error:429", "ok"]
    assert [r["status"] for r in fake.requests] == [429, 429, 200]


def test_counts_are_per_request_text(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(claude, "first task [[fake:429]]")
    assert caught.value.response.headers["retry-after-ms"] == "1000"
    assert caught.value.response.headers["retry-after"] == "1"
    # A different request carrying the same directive has its own count.
    with pytest.raises(anthropic.RateLimitError):
        ask(claude, "second task [[fake:429]]")
    ask(claude, "first task [[fake:429]]")


def test_directive_in_system_prompt(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError):
        ask(claude, "hello", system="[[fake:429]]")


def test_sdk_retry_succeeds_after_transient_error(fake: FakeClaude) -> None:
    retrying = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=2, timeout=10)
    message = ask(retrying, "retry me [[fake:529x1,retry_ms=50]]")
    assert message.content[0].type == "text"
    assert [r["status"] for r in fake.requests] == [529, 200]


@pytest.mark.parametrize(
    ("code", "error_class", "error_type", "has_retry"),
    [
        (529, anthropic.OverloadedError, "overloaded_error", True),
        (500, anthropic.InternalServerError, "api_error", False),
    ],
)
def test_server_errors(
    claude: anthropic.Anthropic, code: int, error_class: type[Exception], error_type: str, has_retry: bool
) -> None:
    prompt = f"Do work [[fake:{code}x1]]"
    with pytest.raises(error_class) as caught:
        ask(claude, prompt)
    assert caught.value.status_code == code
    assert caught.value.body["error"]["type"] == error_type
    assert ("retry-after" in caught.value.response.headers) is has_retry
    assert ask(claude, prompt).content[0].type == "text"


@pytest.mark.parametrize(
    ("code", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
    ],
)
def test_permanent_errors_always_fire(
    fake: FakeClaude, claude: anthropic.Anthropic, code: int, error_class: type[Exception], error_type: str
) -> None:
    for _ in range(3):
        with pytest.raises(error_class) as caught:
            ask(claude, f"Nope [[fake:{code}]]")
        assert caught.value.status_code == code
        assert caught.value.body["error"]["type"] == error_type
    assert {r["outcome"] for r in fake.requests} == {f"error:{code}"}


def test_missing_auth_is_401_and_bearer_is_accepted(fake: FakeClaude) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, headers, payload = raw_request(fake, "POST", "/v1/messages", body)
    assert status == 401
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "authentication_error"
    assert headers["request-id"] == "req_fake_1"

    status, _, payload = raw_request(fake, "POST", "/v1/messages", body, {"authorization": "Bearer abc"})
    assert status == 200
    assert payload["type"] == "message"

    bearer_client = anthropic.Anthropic(base_url=fake.url, auth_token="tok", max_retries=0, timeout=10)
    assert ask(bearer_client, "hi").type == "message"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        {"model": MODEL, "max_tokens": 10},
        {"model": MODEL, "max_tokens": 10, "messages": []},
    ],
)
def test_bad_body_is_400(fake: FakeClaude, body: Any) -> None:
    status, headers, payload = raw_request(fake, "POST", "/v1/messages", body, {"x-api-key": "k"})
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert headers["request-id"].startswith("req_fake_")
    assert fake.requests[0]["outcome"] == "error:400"


def test_unknown_path_is_404(fake: FakeClaude) -> None:
    status, _, payload = raw_request(fake, "GET", "/v1/nothing")
    assert status == 404
    assert payload["error"]["type"] == "not_found_error"


# --- hangs and broken streams -------------------------------------------------------------------


def test_hang_times_out_and_stop_is_prompt() -> None:
    fake = FakeClaude()
    fake.start()
    short = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        ask(short, "Wait forever [[fake:hang]]")
    assert time.monotonic() - started < 5
    assert fake.requests[0]["outcome"] == "hang"
    assert fake.requests[0]["status"] is None

    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2


def test_reset_releases_a_hung_request(fake: FakeClaude) -> None:
    patient = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=30)
    errors: queue.Queue[BaseException] = queue.Queue()

    def call() -> None:
        try:
            ask(patient, "[[fake:hang]]")
        except BaseException as exc:  # noqa: BLE001 — the test only needs to know the call ended
            errors.put(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    wait_for(lambda: len(fake.requests) == 1)
    started = time.monotonic()
    fake.reset()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert isinstance(errors.get_nowait(), anthropic.APIConnectionError)


def test_stream_error_mid_stream(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    prompt = "Write the parser [[fake:stream-errorx1]]"
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": prompt}]
        ) as stream,
    ):
        received.extend(stream.text_stream)
    assert received
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert fake.requests[0]["outcome"] == "stream-error"

    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        assert stream.get_final_message().stop_reason == "end_turn"


def test_stream_error_without_stream_is_529(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as caught:
        ask(claude, "[[fake:stream-error]]")
    assert caught.value.response.headers["retry-after-ms"] == "1000"


def test_stream_hang_stalls_after_first_delta(fake: FakeClaude) -> None:
    short = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=0.5)
    received: list[str] = []
    started = time.monotonic()
    # Mid-stream the SDK lets the transport's read timeout through instead of wrapping it.
    with (
        pytest.raises((anthropic.APITimeoutError, httpx2.TimeoutException)),
        short.messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "[[fake:stream-hang]]"}]
        ) as stream,
    ):
        received.extend(stream.text_stream)
    assert len(received) == 1
    assert time.monotonic() - started < 5
    assert fake.requests[0]["outcome"] == "stream-hang"


# --- behaviour directives -----------------------------------------------------------------------


def test_malformed_tool_input_then_recovers(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    prompt = "Plan it [[fake:malformedx1]]"
    bad = ask_plan(claude, prompt).content[0].input
    assert bad == {"unexpected": True}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, PLAN_SCHEMA)
    jsonschema.validate(ask_plan(claude, prompt).content[0].input, PLAN_SCHEMA)
    assert [r["outcome"] for r in fake.requests] == ["malformed", "ok"]


def test_malformed_text_is_empty(claude: anthropic.Anthropic) -> None:
    message = ask(claude, "Explain [[fake:malformed]]")
    assert message.content[0].text == ""
    assert message.usage.output_tokens == 1
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Other [[fake:malformed]]"}]
    ) as stream:
        assert stream.get_final_message().content[0].text == ""


def test_latency_directive_and_config(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    started = time.monotonic()
    ask(claude, "slow start [[fake:latency=300]]")
    assert time.monotonic() - started >= 0.25

    fake.configure(latency_ms=200)
    started = time.monotonic()
    ask(claude, "configured")
    assert time.monotonic() - started >= 0.15


def test_slow_directive_delays_chunks(claude: anthropic.Anthropic) -> None:
    started = time.monotonic()
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "tick [[fake:slow=30]]"}]
    ) as stream:
        pieces = list(stream.text_stream)
    assert time.monotonic() - started >= 0.03 * (len(pieces) - 1) * 0.8


def test_chunk_delay_from_constructor() -> None:
    with FakeClaude(chunk_delay_ms=20) as fake:
        client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=10)
        started = time.monotonic()
        with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "tock"}]
        ) as stream:
            pieces = list(stream.text_stream)
        assert time.monotonic() - started >= 0.02 * (len(pieces) - 1) * 0.8


def test_tokens_directive(claude: anthropic.Anthropic) -> None:
    prompt = "Count [[fake:tokens=1234]]"
    message = ask(claude, prompt)
    assert message.usage.output_tokens == 1234
    assert message.usage.input_tokens == math.ceil(len(prompt) / 4)
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        assert stream.get_final_message().usage.output_tokens == 1234


def test_xss_directive(claude: anthropic.Anthropic) -> None:
    text = ask(claude, "Render a preview [[fake:xss]]").content[0].text
    for snippet in (
        "<script>window.__xss=1</script>",
        '<img src=x onerror="window.__xss=1">',
        "[click me](javascript:window.__xss=1)",
        "![tracker](https://evil.example/pixel.png)",
        '<a href="#" onclick="window.__xss=1">link</a>',
    ):
        assert snippet in text
    assert "```python:src/solution.py" in text
    assert "- first item" in text


def test_override_always(claude: anthropic.Anthropic) -> None:
    prompt = 'Plan [[fake:override summary=forced]] [[fake:override meta={"estimate_hours": 7}]]'
    for _ in range(2):
        plan = ask_plan(claude, prompt).content[0].input
        assert plan["summary"] == "forced"
        assert plan["meta"] == {"estimate_hours": 7}


def test_override_counted(claude: anthropic.Anthropic) -> None:
    schema = {"type": "object", "properties": {"verdict": {"enum": ["approve", "revise"]}}}
    tool = {"name": "review", "input_schema": schema}
    prompt = "Review it [[fake:override verdict=revise x1]]"
    verdicts = [
        ask(claude, prompt, tools=[tool], tool_choice={"type": "tool", "name": "review"})
        .content[0]
        .input["verdict"]
        for _ in range(3)
    ]
    assert verdicts == ["revise", "approve", "approve"]


def test_unknown_directives_are_ignored(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    assert ask(claude, "Hi [[fake:explode]] [[fake:999]]").content[0].type == "text"
    assert fake.requests[0]["outcome"] == "ok"


def test_parse_directives() -> None:
    parsed = parse_directives(
        "[[fake:429x3,retry_ms=250]] [[fake:hang]] [[fake:stream-errorx2]] [[fake:slow=40]]"
        " [[fake:override tags=[1,2] x4]] [[fake:bogus]] [[fake:403]]"
    )
    assert [(d.name, d.times, d.status, d.retry_ms, d.value, d.field) for d in parsed] == [
        ("error", 3, 429, 250, None, None),
        ("hang", None, None, None, None, None),
        ("stream-error", 2, None, None, None, None),
        ("slow", None, None, None, 40, None),
        ("override", 4, None, None, [1, 2], "tags"),
        ("error", None, 403, None, None, None),
    ]


# --- scripted replies and control API ----------------------------------------------------------


def test_enqueue_fifo_and_match(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    fake.enqueue({"text": "for alpha"}, match="alpha")
    fake.enqueue({"text": "first"})
    fake.enqueue({"tool_input": {"steps": ["x"]}})
    fake.enqueue({"error": 529, "retry_after_ms": 300})

    assert ask(claude, "beta").content[0].text == "first"
    tool_message = ask_plan(claude, "beta")
    assert tool_message.content[0].name == "submit_plan"
    assert tool_message.content[0].input == {"steps": ["x"]}
    assert tool_message.stop_reason == "tool_use"
    with pytest.raises(anthropic.OverloadedError) as caught:
        ask(claude, "beta")
    assert caught.value.response.headers["retry-after-ms"] == "300"
    assert ask(claude, "beta").content[0].text.startswith("## ")
    assert ask(claude, "now alpha").content[0].text == "for alpha"
    assert [r["outcome"] for r in fake.requests] == ["scripted", "scripted", "scripted", "ok", "scripted"]


def test_enqueue_rejects_bad_replies(fake: FakeClaude) -> None:
    with pytest.raises(ValueError):
        fake.enqueue({"text": "a", "error": 500})
    with pytest.raises(ValueError):
        fake.enqueue({})


def test_scripted_reply_streams(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    fake.enqueue({"text": "scripted " * 10})
    with claude.messages.stream(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        assert "".join(stream.text_stream) == "scripted " * 10


def test_requests_log(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    ask(claude, "logged question", system="sys prompt")
    (record,) = fake.requests
    assert set(record) == {"n", "time", "body", "stream", "status", "outcome", "text"}
    assert record["n"] == 1
    assert record["stream"] is False
    assert record["status"] == 200
    assert record["outcome"] == "ok"
    assert record["text"] == "sys prompt\nlogged question"
    assert record["body"]["model"] == MODEL
    assert isinstance(record["time"], float)
    # The returned list and its records are copies: mutating them must not touch the fake's log.
    records = fake.requests
    records[0]["outcome"] = "changed"
    records.clear()
    assert fake.requests[0]["outcome"] == "ok"


def test_reset_clears_everything(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    fake.configure(latency_ms=500)
    fake.enqueue({"text": "queued"})
    with pytest.raises(anthropic.RateLimitError):
        ask(claude, "[[fake:429]]")
    fake.reset()
    assert fake.requests == []
    started = time.monotonic()
    with pytest.raises(anthropic.RateLimitError):  # counters were cleared, so the 429 fires again
        ask(claude, "[[fake:429]]")
    assert time.monotonic() - started < 0.4
    assert ask(claude, "plain").content[0].text != "queued"
    assert fake.requests[0]["n"] == 1


def test_http_control_endpoints(fake: FakeClaude, claude: anthropic.Anthropic) -> None:
    status, headers, health = raw_request(fake, "GET", "/_fake/health")
    assert status == 200
    assert health == {"status": "ok", "requests": 0, "queued": 0}

    status, _, payload = raw_request(fake, "POST", "/_fake/enqueue", {"text": "via http", "match": "magic"})
    assert (status, payload) == (200, {"ok": True, "queued": 1})
    status, _, payload = raw_request(fake, "POST", "/_fake/enqueue", {"nothing": True})
    assert status == 400
    assert payload["error"]["type"] == "invalid_request_error"

    status, _, payload = raw_request(fake, "POST", "/_fake/config", {"latency_ms": 150, "chunk_delay_ms": 0})
    assert payload == {"ok": True, "latency_ms": 150, "chunk_delay_ms": 0}
    assert raw_request(fake, "POST", "/_fake/config", {"latency_ms": -1})[0] == 400

    started = time.monotonic()
    assert ask(claude, "the magic word").content[0].text == "via http"
    assert time.monotonic() - started >= 0.1

    status, _, records = raw_request(fake, "GET", "/_fake/requests")
    assert status == 200
    assert [r["outcome"] for r in records] == ["scripted"]
    assert records[0]["body"]["messages"][0]["content"] == "the magic word"

    status, _, payload = raw_request(fake, "POST", "/_fake/reset")
    assert (status, payload) == (200, {"ok": True})
    assert raw_request(fake, "GET", "/_fake/health")[2]["requests"] == 0
    started = time.monotonic()
    ask(claude, "fast again")
    assert time.monotonic() - started < 0.1 + 0.5


def test_count_tokens_endpoint(claude: anthropic.Anthropic) -> None:
    result = claude.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "abcdefgh"}])
    assert result.input_tokens == 2


def test_concurrent_requests(fake: FakeClaude) -> None:
    fake.configure(latency_ms=100)
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=20)
    results: queue.Queue[str] = queue.Queue()

    def worker(index: int) -> None:
        for turn in range(3):
            if turn % 2:
                with client.messages.stream(
                    model=MODEL, max_tokens=100, messages=[{"role": "user", "content": f"worker {index}"}]
                ) as stream:
                    results.put(stream.get_final_message().id)
            else:
                results.put(ask_plan(client, f"worker {index} turn {turn}").id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    ids = [results.get_nowait() for _ in range(results.qsize())]
    assert len(ids) == 24
    assert len(set(ids)) == 24
    assert {r["n"] for r in fake.requests} == set(range(1, 25))
    # 24 requests with 100 ms latency each finish far faster than serially (about 0.3 s in parallel).
    assert time.monotonic() - started < 24 * 0.1


def test_start_twice_and_stop_twice() -> None:
    fake = FakeClaude()
    url = fake.start()
    assert url == f"http://127.0.0.1:{fake.port}"
    with pytest.raises(RuntimeError):
        fake.start()
    fake.stop()
    fake.stop()


# --- management command -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.mark.skipif(not (ROOT / "manage.py").exists(), reason="manage.py does not exist yet")
def test_management_command(tmp_path: Path) -> None:
    port = free_port()
    python = ROOT / ".venv" / "bin" / "python"
    # Just enough configuration for the settings module to load outside production.
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "true",
        "SECRET_KEY": "fakeclaude-command-test",
        "CLAUDEFLOW_VAR_DIR": str(tmp_path),
    }
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [
                str(python if python.exists() else sys.executable),
                "manage.py",
                "fakeclaude",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    expected = f"Fake Claude listening on http://127.0.0.1:{port}"
    try:
        wait_for_line(lines, expected, process, timeout=60, stderr_path=stderr_path)
        client = anthropic.Anthropic(
            base_url=f"http://127.0.0.1:{port}", api_key="test", max_retries=0, timeout=10
        )
        assert ask(client, "hello from the command test").content[0].type == "text"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, stderr_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for_line(
    lines: queue.Queue[str],
    expected: str,
    process: subprocess.Popen[str],
    *,
    timeout: float,
    stderr_path: Path,
) -> None:
    """Skip whatever else the project prints at start-up (log lines) until the ready line shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if lines.get(timeout=0.2).strip() == expected:
                return
        except queue.Empty:
            continue
    pytest.fail(f"never saw {expected!r}; stderr:\n{stderr_path.read_text()}")
