"""The fake Claude in a tool loop: tool_use turns streamed as the API does, then submit_result;
directives that make it misuse the tools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from fakeclaude import FakeClaude
from fakeclaude.agent import BAD_PATHS, HUGE_BYTES

MODEL = "claude-fake-1"
TOOLS = [
    {"name": name, "description": name, "input_schema": {"type": "object", "properties": {}}}
    for name in ("list_files", "read_file", "write_file", "edit_file", "search_files", "submit_result")
]
READ_ONLY = [t for t in TOOLS if t["name"] not in ("write_file", "edit_file")]
PROMPT = (
    "# Objective\nBuild a calculator\n\n# Your task: Parse expressions\nType: coding. Priority: normal.\n\n"
    "Write the expression parser {directive}\n\n# Workspace files\n{files}"
)


@pytest.fixture
def fake() -> Iterator[FakeClaude]:
    with FakeClaude() as server:
        yield server


@pytest.fixture
def claude(fake: FakeClaude) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0, timeout=10)


def prompt(directive: str = "", files: str = "(empty)") -> str:
    return PROMPT.format(directive=directive, files=files)


def turn(claude: anthropic.Anthropic, messages: list[dict[str, Any]], tools=TOOLS) -> Any:
    with claude.messages.stream(model=MODEL, max_tokens=1024, messages=messages, tools=tools) as stream:
        return stream.get_final_message()


def uses(message: Any) -> list[Any]:
    return [block for block in message.content if block.type == "tool_use"]


def answered(messages: list[dict[str, Any]], message: Any, results: list[str]) -> list[dict[str, Any]]:
    content = [block.model_dump(exclude_none=True) for block in message.content]
    blocks = [
        {"type": "tool_result", "tool_use_id": use.id, "content": text}
        for use, text in zip(uses(message), results, strict=True)
    ]
    return [*messages, {"role": "assistant", "content": content}, {"role": "user", "content": blocks}]


def test_it_writes_two_files_reads_one_then_submits(claude):
    messages = [{"role": "user", "content": prompt()}]
    first = turn(claude, messages)
    assert first.stop_reason == "tool_use"
    calls = [(use.name, use.input) for use in uses(first)]
    assert [name for name, _ in calls] == ["write_file", "write_file", "read_file"]
    assert calls[0][1]["path"] == "src/parse_expressions.py"
    assert "expression parser" in calls[0][1]["content"]
    assert calls[2][1] == {"path": "src/parse_expressions.py"}
    second = turn(claude, answered(messages, first, ["ok", "ok", "content"]))
    assert second.stop_reason == "tool_use"
    [submit] = uses(second)
    assert submit.name == "submit_result" and "src/parse_expressions.py" in submit.input["summary"]


def test_it_reads_a_file_the_workspace_already_holds(claude):
    files = "- src/lexer.py (120 bytes, version 2)\n- docs/lexer.md (40 bytes, version 1)"
    first = turn(claude, [{"role": "user", "content": prompt(files=files)}])
    assert (uses(first)[-1].name, uses(first)[-1].input) == ("read_file", {"path": "src/lexer.py"})


def test_a_read_only_agent_lists_and_reads(claude):
    files = "- src/lexer.py (120 bytes, version 2)"
    first = turn(claude, [{"role": "user", "content": prompt(files=files)}], tools=READ_ONLY)
    assert [(u.name, u.input) for u in uses(first)] == [
        ("list_files", {}),
        ("read_file", {"path": "src/lexer.py"}),
    ]


def test_tool_use_is_streamed_as_input_json_deltas(fake):
    body = {"model": MODEL, "max_tokens": 100, "stream": True, "tools": TOOLS}
    body["messages"] = [{"role": "user", "content": prompt()}]
    client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0)
    with client.messages.with_streaming_response.create(**body) as response:
        events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [s["type"] for s in starts] == ["text", "tool_use", "tool_use", "tool_use"]
    assert starts[1]["input"] == {} and starts[1]["id"] and starts[1]["name"] == "write_file"
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 1]
    assert {d["type"] for d in deltas} == {"input_json_delta"} and len(deltas) > 1
    assert json.loads("".join(d["partial_json"] for d in deltas))["path"] == "src/parse_expressions.py"
    stop = next(e for e in events if e["type"] == "message_delta")
    assert stop["delta"]["stop_reason"] == "tool_use"


def test_bad_path_directive_writes_outside_the_workspace(claude):
    first = turn(claude, [{"role": "user", "content": prompt("[[fake:tool-bad-path]]")}])
    paths = [u.input["path"] for u in uses(first)]
    assert paths == [*BAD_PATHS, "../../etc/passwd"]


def test_huge_directive_writes_a_huge_file(claude):
    first = turn(claude, [{"role": "user", "content": prompt("[[fake:tool-huge]]")}])
    [use] = uses(first)
    assert use.name == "write_file" and len(use.input["content"]) == HUGE_BYTES


def test_unknown_directive_calls_a_tool_that_does_not_exist(claude):
    first = turn(claude, [{"role": "user", "content": prompt("[[fake:tool-unknown]]")}])
    assert [u.name for u in uses(first)] == ["delete_everything"]


def test_loop_directive_never_submits(claude):
    messages = [{"role": "user", "content": prompt("[[fake:tool-loop]]")}]
    for _ in range(4):
        message = turn(claude, messages)
        assert [u.name for u in uses(message)] == ["list_files"]
        messages = answered(messages, message, ["(empty)"])


def test_a_transient_error_fires_once_per_conversation_not_once_per_turn(fake, claude):
    messages = [{"role": "user", "content": prompt("[[fake:529]]")}]
    with pytest.raises(anthropic.InternalServerError):
        turn(claude, messages)
    first = turn(claude, messages)
    turn(claude, answered(messages, first, ["ok", "ok", "content"]))
    assert [r["outcome"] for r in fake.requests] == ["error:529", "ok", "ok"]


def test_without_submit_result_offered_tools_still_get_text(claude):
    plan = {"name": "submit_plan", "description": "p", "input_schema": {"type": "object"}}
    message = claude.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}], tools=[plan]
    )
    assert message.content[0].type == "text" and message.stop_reason == "end_turn"
