"""The fake's prompt cache: cache tokens reported the way the Messages API reports them.

A request is a sequence of blocks — tools, then system blocks, then each message's content blocks
— and a block with `cache_control` is a breakpoint. The prefix up to a breakpoint is written to
the cache when it is at least the model's minimum length; a later request (same model) whose prefix
matches at a breakpoint, or at one of the 20 block boundaries before it, reads it instead. Entries
live five minutes (`"ttl": "1h"`: an hour) from their last use. Usage then splits the prompt as
the API does: `cache_read_input_tokens` (the longest prefix found), `cache_creation_input_tokens`
(from there to the last cacheable breakpoint) and `input_tokens` (the rest). Tokens are estimated
at four characters each, as everywhere in the fake.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from typing import Any

from fakeclaude.directives import block_text
from fakeclaude.replies import ErrorReply

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
MAX_ENTRIES = 10_000
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def min_cacheable_tokens(model: str) -> int:
    """The shortest prefix the API caches: 1024 tokens for Sonnet- and Opus-class, 2048 for Haiku."""
    return 2048 if "haiku" in model else 1024


class PromptCache:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, float]] = {}  # prefix hash → (last use, ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def check(self, body: dict[str, Any]) -> ErrorReply | None:
        """The API's refusal of more than four breakpoints."""
        found = sum(1 for block in _blocks(body) if block.breakpoint is not None)
        if found > MAX_BREAKPOINTS:
            return ErrorReply(
                400,
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {found}.",
            )
        return None

    def usage(self, body: dict[str, Any], total_tokens: int) -> dict[str, int]:
        """Splits a request's `total_tokens` of input into read, written and uncached tokens."""
        blocks = _blocks(body)
        minimum = min_cacheable_tokens(str(body.get("model", "")))
        seed = hashlib.sha256(str(body.get("model", "")).encode())
        hashes, ends = [], []
        chars = 0
        for block in blocks:
            seed.update(block.key)
            hashes.append(seed.copy().hexdigest())
            chars += block.chars
            ends.append(chars)
        total_tokens = max(total_tokens, _tokens(chars))  # tool_use inputs count too
        marks = [i for i, block in enumerate(blocks) if block.breakpoint is not None]
        with self._lock:
            now = self._clock()
            read_end = self._longest_hit(marks, hashes, ends, now)
            written_end = read_end
            for i in marks:
                if _tokens(ends[i]) >= minimum:
                    self._remember(hashes[i], now, TTL_SECONDS.get(blocks[i].breakpoint or "", 300.0))
                    written_end = max(written_end, ends[i])
        read = min(_tokens(read_end), total_tokens)
        written = min(_tokens(written_end) - _tokens(read_end), total_tokens - read)
        return {
            "input_tokens": total_tokens - read - written,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }

    def _longest_hit(self, marks: list[int], hashes: list[str], ends: list[int], now: float) -> int:
        best = 0
        for mark in marks:
            for i in range(mark, max(-1, mark - LOOKBACK_BLOCKS - 1), -1):
                entry = self._entries.get(hashes[i])
                if entry is not None and now - entry[0] <= entry[1]:
                    self._entries[hashes[i]] = (now, entry[1])  # a read refreshes it
                    best = max(best, ends[i])
                    break
        return best

    def _remember(self, digest: str, now: float, ttl: float) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if now - v[0] <= v[1]}
            while len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
        entry = self._entries.get(digest)
        self._entries[digest] = (now, max(ttl, entry[1] if entry else 0.0))


class _Block:
    __slots__ = ("key", "chars", "breakpoint")

    def __init__(self, where: str, block: Any) -> None:
        mark = block.get("cache_control") if isinstance(block, dict) else None
        self.breakpoint = str(mark.get("ttl") or "5m") if isinstance(mark, dict) else None
        bare = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        self.key = (where + json.dumps(bare, sort_keys=True, default=str)).encode()
        self.chars = _chars(bare)


def _chars(block: Any) -> int:
    """Characters the fake counts for input tokens (the text, as replies.input_tokens does)."""
    if isinstance(block, str):
        return len(block)
    if not isinstance(block, dict):
        return len(json.dumps(block, default=str))
    kind = block.get("type")
    if kind == "text":
        return len(str(block.get("text", "")))
    if kind == "tool_result":
        return len(block_text(block.get("content", "")))
    if kind == "tool_use":
        return len(json.dumps(block.get("input", {})))
    return len(json.dumps(block, default=str))


def _blocks(body: dict[str, Any]) -> list[_Block]:
    """The request in cache order: tools, system, then messages (a string content is one block)."""
    blocks = [_Block("tool:", tool) for tool in _list(body.get("tools"))]
    system = body.get("system")
    blocks += [_Block("system:", system)] if isinstance(system, str) and system else []
    blocks += [_Block("system:", block) for block in _list(system)]
    for message in _list(body.get("messages")):
        if not isinstance(message, dict):
            continue
        role = f"{message.get('role')}:"
        content = message.get("content")
        blocks += (
            [_Block(role, content)]
            if isinstance(content, str)
            else [_Block(role, block) for block in _list(content)]
        )
    return blocks


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)
