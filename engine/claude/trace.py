"""The prompt trace: a call's request as sent and its response as received, each capped in size.

A trace that does not fit TRACE_MAX_BYTES (serialized as UTF-8 JSON) has its longest strings cut,
all to the same length, the longest length that fits, each ending with a marker saying how many
bytes it lost; short strings (roles, block types, tool names, ids) and numbers are never cut. Nothing here
touches the answer a re-run reuses: that is stored whole, whatever the trace keeps.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tasks.models import ClaudeCall

MARKER = "…[truncated {} bytes]"
PRUNE_BATCH = 1000  # calls cleared per statement
PRUNE_EVERY_S = 3600.0  # a process looks for old traces at most this often
_pruned_at = {"monotonic": float("-inf")}
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


def prune_old(*, now: Any = None, force: bool = False) -> int:
    """Clears the stored request and response of calls older than TRACE_RETENTION_DAYS (0 keeps
    them for ever), a batch at a time, at most once per PRUNE_EVERY_S in a process. A call's row,
    its usage and cost and the answer a re-run reuses stay."""
    days = settings.TRACE_RETENTION_DAYS
    if not days or (not force and time.monotonic() - _pruned_at["monotonic"] < PRUNE_EVERY_S):
        return 0
    _pruned_at["monotonic"] = time.monotonic()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = ClaudeCall.objects.filter(created_at__lt=cutoff).filter(
        Q(request__isnull=False) | Q(trace_response__isnull=False)
    )
    cleared = 0
    while ids := list(old.values_list("id", flat=True)[:PRUNE_BATCH]):
        cleared += ClaudeCall.objects.filter(pk__in=ids).update(request=None, trace_response=None)
    return cleared
