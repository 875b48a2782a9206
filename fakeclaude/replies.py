"""Building the fake's reply payloads: request validation, message bodies, Markdown text and SSE events.

Kept apart from the HTTP plumbing in ``server.py`` so the shapes the SDK depends on live in one place.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any

from fakeclaude.agent import is_tool_loop, loop_blocks
from fakeclaude.demo import plausible_plan
from fakeclaude.directives import (
    ERROR_MESSAGES,
    ERROR_TYPES,
    Directive,
    last_user_text,
    request_text,
)
from fakeclaude.schema import generate_instance
from fakeclaude.texts import markdown_reply

DELTA_CHARS = 20
MALFORMED_INPUT: dict[str, Any] = {"unexpected": True}


@dataclass
class ErrorReply:
    status: int
    message: str = ""
    retry_ms: int | None = None

    @property
    def type(self) -> str:
        return ERROR_TYPES.get(self.status, "api_error")

    def body(self) -> dict[str, Any]:
        message = self.message or ERROR_MESSAGES.get(self.status, "Error (fake)")
        return {"type": "error", "error": {"type": self.type, "message": message}}


@dataclass
class Plan:
    """What one /v1/messages request will get, decided up front so the record is accurate even for hangs."""

    outcome: str
    error: ErrorReply | None = None
    message: dict[str, Any] | None = None
    hang: threading.Event | None = None
    stream_fault: str | None = None
    latency_ms: int = 0
    chunk_delay_ms: int = 0


def validate_body(body: Any) -> ErrorReply | None:
    """The subset of the real API's validation that callers can plausibly trip over."""
    if not isinstance(body, dict):
        return ErrorReply(400, "Request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return ErrorReply(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return ErrorReply(400, "max_tokens: Field required (a positive integer)")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return ErrorReply(400, "messages: Field required (at least one message)")
    return _validate_tool_choice(body)


def _validate_tool_choice(body: dict[str, Any]) -> ErrorReply | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "any" and not _tools(body):
        return ErrorReply(400, "tool_choice.type 'any' requires tools")
    if choice.get("type") == "tool" and forced_tool(body) is None:
        return ErrorReply(400, f"tool_choice names an unknown tool: {choice.get('name')!r}")
    return None


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    tools = _tools(body)
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    if choice.get("type") == "any" and tools:
        return tools[0]
    return None


def build_reply(
    n: int,
    body: dict[str, Any],
    fires: list[Directive],
    scripted: dict[str, Any] | None,
    words: list[str],
    *,
    plausible: bool = False,
) -> tuple[dict[str, Any], str]:
    """Return the complete message for a successful reply and its outcome label. `plausible`: a
    forced plan tool gets an objective-specific plan (fakeclaude.demo) instead of generated values."""
    names = {d.name for d in fires}
    malformed = "malformed" in names and scripted is None
    tool = forced_tool(body)
    if scripted is not None:
        block, output = _scripted_block(n, body, scripted, tool)
        content = [block]
    elif tool is not None:
        prompt = last_user_text(body) if plausible else None
        block, output = _tool_block(n, tool, fires, words, malformed, prompt)
        content = [block]
    elif is_tool_loop(_tools(body)) and not malformed:  # a turn of a task's tool loop
        content = loop_blocks(n, body, names)
        output = json.dumps(content)
    else:
        text = "" if malformed else markdown_reply(last_user_text(body), xss="xss" in names)
        content, output = [{"type": "text", "text": text}], text
    tokens = [int(d.value) for d in fires if d.name == "tokens"]
    message = {
        "id": f"msg_fake_{n}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": content,
        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens(body),
            "output_tokens": tokens[-1] if tokens else max(1, math.ceil(len(output) / 4)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    return message, "malformed" if malformed else "ok"


def _scripted_block(
    n: int, body: dict[str, Any], scripted: dict[str, Any], tool: dict[str, Any] | None
) -> tuple[dict[str, Any], str]:
    if "text" in scripted:
        return {"type": "text", "text": scripted["text"]}, scripted["text"]
    tools = _tools(body)
    name = scripted.get("tool_name") or (tool or (tools[0] if tools else {})).get("name") or "tool"
    block = {"type": "tool_use", "id": f"toolu_fake_{n}", "name": name, "input": scripted["tool_input"]}
    return block, json.dumps(scripted["tool_input"])


def _tool_block(
    n: int,
    tool: dict[str, Any],
    fires: list[Directive],
    words: list[str],
    malformed: bool,
    prompt: str | None = None,
) -> tuple[dict[str, Any], str]:
    schema = tool.get("input_schema") or {"type": "object"}
    if malformed:
        tool_input: Any = dict(MALFORMED_INPUT)
    else:
        plan = plausible_plan(schema, prompt) if prompt is not None else None
        tool_input = plan if plan is not None else generate_instance(schema, words)
        if isinstance(tool_input, dict):
            tool_input.update({d.field: d.value for d in fires if d.name == "override" and d.field})
    block = {
        "type": "tool_use",
        "id": f"toolu_fake_{n}",
        "name": tool.get("name", "tool"),
        "input": tool_input,
    }
    return block, json.dumps(tool_input)


def input_tokens(body: dict[str, Any]) -> int:
    tools = _tools(body)
    return math.ceil(len(request_text(body) + (json.dumps(tools) if tools else "")) / 4)


def sse_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the real API streams for ``message``, with ~20-character deltas."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**message.get("usage", {}), "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(message.get("content", [])):
        events.extend(_block_events(index, block))
    delta = {"stop_reason": message.get("stop_reason"), "stop_sequence": None}
    usage = {"output_tokens": message.get("usage", {}).get("output_tokens", 1)}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if block["type"] == "tool_use":
        head = {**block, "input": {}}
        raw = json.dumps(block["input"])  # a huge input comes in at most ~200 deltas
        deltas = [
            {"type": "input_json_delta", "partial_json": p}
            for p in _pieces(raw, max(DELTA_CHARS, len(raw) // 200))
        ]
    else:
        head = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _pieces(block.get("text", ""))]
    events = [("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _pieces(text: str, size: int = DELTA_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
