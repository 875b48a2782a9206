"""Parse ``[[fake:...]]`` directives and pull the text the fake reasons about out of a request body.

Directives let a test, the offline demo or a benchmark inject faults by writing them into the prompt,
so the code under test does not need any special hooks to reach the fake.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# Anthropic's error types by HTTP status; the fake only ever answers with these.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

ERROR_MESSAGES: dict[int, str] = {
    400: "Invalid request (fake)",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource could not be found.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit (fake)",
    500: "Internal server error (fake)",
    529: "Overloaded",
}

# Transient errors fire once by default so that a caller's retry succeeds; the others are permanent.
COUNTED_BY_DEFAULT = frozenset({429, 500, 529})
# Only these carry retry-after headers, mirroring the real API.
RETRY_AFTER_STATUSES = frozenset({429, 529})
DEFAULT_RETRY_MS = 1000

# The body may contain one level of brackets so `override tags=["a","b"]` survives.
_DIRECTIVE_RE = re.compile(r"\[\[fake:((?:[^\[\]]|\[[^\[\]]*\])*)\]\]", re.IGNORECASE)
_HEAD_RE = re.compile(r"^([a-z0-9-]+?)(?:x(\d+))?$")
_OVERRIDE_RE = re.compile(r"^override\s+([^\s=]+)\s*=\s*(.+?)(?:\s+x(\d+))?\s*$", re.IGNORECASE | re.DOTALL)
_SETTING_RE = re.compile(r"^(slow|latency|tokens)\s*=\s*(\d+)$", re.IGNORECASE)
_WORD_RE = re.compile(r"[^\W_][\w'-]*")

# Default repeat count per flag directive; None means "every matching request".
_FLAG_DEFAULT_TIMES: dict[str, int | None] = {
    "hang": None,
    "stream-hang": None,
    "stream-error": 1,
    "malformed": 1,
    "xss": None,
    # tool-loop misuse (fakeclaude/agent.py): every turn of the conversation that carries them
    "tool-bad-path": None,
    "tool-huge": None,
    "tool-unknown": None,
    "tool-loop": None,
}


@dataclass(frozen=True)
class Directive:
    """One parsed directive. ``key`` identifies it for xN counting."""

    key: str
    name: str
    times: int | None = None
    status: int | None = None
    retry_ms: int | None = None
    value: Any = None
    field: str | None = None


def parse_directives(text: str) -> list[Directive]:
    """Return the recognised directives in order of appearance; unknown ones are ignored."""
    found = (_parse_one(m.group(1).strip()) for m in _DIRECTIVE_RE.finditer(text))
    return [d for d in found if d is not None]


def strip_directives(text: str) -> str:
    return _DIRECTIVE_RE.sub(" ", text)


def _parse_one(body: str) -> Directive | None:
    override = _OVERRIDE_RE.match(body)
    if override:
        field, raw, times = override.groups()
        return Directive(body, "override", _int_or_none(times), value=_json_or_str(raw.strip()), field=field)
    setting = _SETTING_RE.match(body)
    if setting:
        return Directive(body, setting.group(1).lower(), value=int(setting.group(2)))
    head, *options = (part.strip() for part in body.split(","))
    match = _HEAD_RE.match(head.lower())
    if not match:
        return None
    name, times = match.group(1), _int_or_none(match.group(2))
    if name.isdigit():
        return _error_directive(body, int(name), times, _options(options))
    if name in _FLAG_DEFAULT_TIMES:
        return Directive(body, name, times if times is not None else _FLAG_DEFAULT_TIMES[name])
    return None


def _error_directive(body: str, status: int, times: int | None, options: dict[str, str]) -> Directive | None:
    if status not in ERROR_TYPES:
        return None
    if times is None and status in COUNTED_BY_DEFAULT:
        times = 1
    retry_ms = None
    if status in RETRY_AFTER_STATUSES:
        retry_ms = int(options["retry_ms"]) if options.get("retry_ms", "").isdigit() else DEFAULT_RETRY_MS
    return Directive(body, "error", times, status=status, retry_ms=retry_ms)


def _options(parts: list[str]) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in parts if "=" in part)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _json_or_str(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# --- request text -----------------------------------------------------------------------------


def block_text(content: Any) -> str:
    """Text of a system prompt or message content: a plain string or a list of content blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            parts.append(block_text(block.get("content", "")))
    return "\n".join(p for p in parts if p)


def request_text(body: dict[str, Any]) -> str:
    """System prompt plus every message's text, which is where directives and `match=` are looked for."""
    parts = [block_text(body.get("system", ""))]
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            parts.append(block_text(message.get("content", "")))
    return "\n".join(p for p in parts if p)


def first_user_text(body: dict[str, Any]) -> str:
    """The conversation's opening prompt: the same on every turn of a tool loop."""
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            return block_text(message.get("content", ""))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return block_text(message.get("content", ""))
    return ""


def prompt_digest(text: str) -> str:
    """Counting key: a retry of the same request hashes the same, a different request does not."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def task_words(text: str, limit: int) -> list[str]:
    """The first words of the prose, skipping Markdown heading lines ("# Objective")."""
    prose = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return _WORD_RE.findall(strip_directives(prose or text))[:limit]
