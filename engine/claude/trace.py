"""The prompt trace: a call's request as sent and its response as received, each capped in size.

A trace that does not fit TRACE_MAX_BYTES (serialized as UTF-8 JSON) has its longest strings cut,
all to the same length, the longest length that fits, each ending with a marker saying how many
bytes it lost; short strings (roles, block types, tool names, ids) and numbers are never cut. Nothing here
touches the answer a re-run reuses: that is stored whole, whatever the trace keeps.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

MARKER = "…[truncated {} bytes]"
_MARKER_ROOM = len(MARKER) + 12  # a cut saves bytes only past this


def enabled() -> bool:
    return settings.STORE_PROMPTS


def request_of(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The request as sent (model, max_tokens, system, messages, tools, tool_choice), capped."""
    return capped(dict(kwargs), settings.TRACE_MAX_BYTES)


def response_of(answer: Any, tool_name: str | None = None) -> tuple[dict[str, Any], bool]:
    """The response as received: its content blocks (text and tool_use), stop reason and usage."""
    response = {
        "id": answer.request_id or None,
        "content": _content(answer, tool_name),
        "stop_reason": answer.stop_reason,
        "usage": dict(answer.usage),
    }
    return capped(response, settings.TRACE_MAX_BYTES)


def _content(answer: Any, tool_name: str | None) -> list[dict[str, Any]]:
    # the tool loop's transport keeps every block in order (Answer.content); before it, an answer
    # was its text and at most one (forced) tool call
    content = getattr(answer, "content", None)
    if content:
        return list(content)
    blocks: list[dict[str, Any]] = []
    if answer.text:
        blocks.append({"type": "text", "text": answer.text})
    if answer.tool_input is not None:
        blocks.append(
            {"type": "tool_use", "id": answer.tool_use_id, "name": tool_name, "input": answer.tool_input}
        )
    return blocks


def size_of(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def capped(value: Any, limit: int) -> tuple[Any, bool]:
    """(value, False) when it fits `limit` bytes; else (a copy with its longest strings cut, True).
    A trace whose structure alone does not fit becomes a short note saying so."""
    if "\\u0000" in json.dumps(value, default=str):  # PostgreSQL's jsonb cannot hold U+0000
        value = _without_nul(value)
    size = size_of(value)
    if size <= limit:
        return value, False
    best = None
    low, high = 0, _longest(value)
    while low <= high:  # the longest kept length that fits
        keep = (low + high) // 2
        candidate = _cut(value, keep)
        if size_of(candidate) <= limit:
            best, low = candidate, keep + 1
        else:
            high = keep - 1
    if best is None:
        return {"truncated": MARKER.format(size), "note": "too large to keep even with its text cut"}, True
    return best, True


def _longest(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest(item) for item in value.values()), default=0)
    if isinstance(value, list | tuple):
        return max((_longest(item) for item in value), default=0)
    return 0


def _cut(value: Any, keep: int) -> Any:
    if isinstance(value, str):
        if len(value) <= keep + _MARKER_ROOM:
            return value
        lost = len(value[keep:].encode())
        return value[:keep] + MARKER.format(lost)
    if isinstance(value, dict):
        return {key: _cut(item, keep) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cut(item, keep) for item in value]
    return value


def _without_nul(value: Any) -> Any:
    """U+0000 (which Claude may put in a tool's input) shown as U+2400 SYMBOL FOR NULL."""
    if isinstance(value, str):
        return value.replace("\x00", "\u2400")
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value
