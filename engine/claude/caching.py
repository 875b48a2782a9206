"""Prompt caching: `cache_control` breakpoints on the prefix of a request that repeats.

The API caches the prompt up to each marked block (tools, then system, then messages, in that
order) for five minutes; a later request with the same prefix reads it at a tenth of the input
price, the first one writes it at 1.25×. A prefix shorter than the model's minimum (1024 tokens
for Sonnet-class models) is not cached at all and costs nothing extra. Breakpoints here:

1. the system prompt's last block — with the tools before it, the same for every call of an
   agent type (and every review, every plan);
2. whatever the prompt builders marked as stable (engine/prompts.py marks the swarm's objective,
   the same for every task of the swarm);
3. the conversation's last block when it goes on (tools offered without a forced choice, or
   earlier turns present): the next turn of a tool loop re-sends all of it and reads it back.

The API allows four breakpoints a request. PROMPT_CACHING=false sends none, removing any the
prompt builders placed. Nothing is changed in place: the caller's messages are reused by later
turns.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

EPHEMERAL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4


def prepare(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request's arguments with its cache breakpoints set (or all removed when off)."""
    if not settings.PROMPT_CACHING:
        return {**kwargs, "system": _without(kwargs.get("system")), "messages": _without(kwargs["messages"])}
    prepared = {**kwargs, "system": _marked_system(kwargs.get("system"))}
    if _continues(kwargs) and breakpoints(prepared) < MAX_BREAKPOINTS:
        prepared["messages"] = _marked_tail(kwargs["messages"])
    excess = breakpoints(prepared) - MAX_BREAKPOINTS
    if excess > 0:  # the API refuses a fifth: the earliest marks in the conversation go
        prepared["messages"] = _drop_marks(prepared["messages"], excess)
    return prepared


def breakpoints(kwargs: dict[str, Any]) -> int:
    blocks = [*(kwargs.get("tools") or []), *_list(kwargs.get("system"))]
    for message in kwargs.get("messages") or []:
        blocks.extend(_list(message.get("content")))
    return sum(1 for block in blocks if isinstance(block, dict) and "cache_control" in block)


def stable(text: str) -> dict[str, Any]:
    """A text block the prompt builders know repeats across calls (a breakpoint when caching)."""
    return {"type": "text", "text": text, "cache_control": dict(EPHEMERAL)}


def _list(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


def _marked_system(system: Any) -> Any:
    if isinstance(system, str):
        return [stable(system)] if system else system
    blocks = _list(system)
    if not blocks or any("cache_control" in block for block in blocks):
        return system
    return [*blocks[:-1], {**blocks[-1], "cache_control": dict(EPHEMERAL)}]


def _continues(kwargs: dict[str, Any]) -> bool:
    """A conversation whose next turn will resend this one: a tool loop."""
    offered = bool(kwargs.get("tools")) and (kwargs.get("tool_choice") or {}).get("type") in (None, "auto")
    return offered or len(kwargs["messages"]) > 1


def _marked_tail(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = messages[-1]
    content = last.get("content")
    if isinstance(content, str):
        blocks = [stable(content)] if content else []
    else:
        blocks = list(_list(content))
        if blocks and isinstance(blocks[-1], dict) and "cache_control" not in blocks[-1]:
            blocks[-1] = {**blocks[-1], "cache_control": dict(EPHEMERAL)}
    if not blocks:
        return messages
    return [*messages[:-1], {**last, "content": blocks}]


def _drop_marks(messages: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    kept = []
    for message in messages:
        content = message.get("content")
        if count and isinstance(content, list):
            blocks = []
            for block in content:
                if count and isinstance(block, dict) and "cache_control" in block:
                    block, count = _unmarked(block), count - 1
                blocks.append(block)
            message = {**message, "content": blocks}
        kept.append(message)
    return kept


def _without(value: Any) -> Any:
    """System blocks or messages with the cache_control of their blocks removed."""
    if not isinstance(value, list):
        return value
    return [_unmarked(item) for item in value]


def _unmarked(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    copy = {k: v for k, v in item.items() if k != "cache_control"}
    if isinstance(copy.get("content"), list):  # a message, or a tool_result's blocks
        copy["content"] = [_unmarked(block) for block in copy["content"]]
    return copy
