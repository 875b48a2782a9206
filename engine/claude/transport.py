"""One HTTP attempt: the raw SSE stream read in a helper thread, so an abort returns at once.

The raw events are folded here once: text deltas are joined, each tool's streamed JSON is parsed a
single time at the end (the SDK's accumulating stream re-parses the whole partial JSON on every
delta, which is quadratic in the size of a plan), and no event becomes a model object. The answer
keeps every content block in order (text and tool_use), as the tool loop sends them back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic

from engine.claude import client
from engine.claude.abort import Abort


class StreamError(anthropic.APIError):
    """An `error` event after the 200: the API's own error type (overloaded_error, api_error, …)."""

    def __init__(self, error_type: str, message: str, request: Any, body: Any) -> None:
        super().__init__(f"{error_type}: {message}", request, body=body)
        self.error_type = error_type
        self.error_message = message


@dataclass
class Answer:
    text: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None
    stop_reason: str | None
    usage: dict[str, int]
    request_id: str
    content: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No text and no tool call: nothing a caller could use (nor reuse)."""
        return not self.text.strip() and self.tool_input is None


@dataclass
class Attempt:
    answer: Answer | None = None
    error: BaseException | None = None
    aborted: bool = False
    input_tokens: int = 0
    streamed_chars: int = 0
    request_id: str = ""
    latency_ms: int = 0


@dataclass
class _Fold:
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)  # by index: type, id, name, parts
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    def content(self) -> list[dict[str, Any]]:
        """The answer's content blocks in order: text joined, each tool's JSON parsed once."""
        content = []
        for _, block in sorted(self.blocks.items()):
            if block["type"] == "tool_use":
                content.append(
                    {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": _tool_input(block),
                    }
                )
            elif block["type"] == "text" and "".join(block["parts"]):
                content.append({"type": "text", "text": "".join(block["parts"])})
        return content


def _tool_input(block: dict[str, Any]) -> dict[str, Any]:
    raw = "".join(block["parts"])
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:  # cut off (max_tokens) mid-JSON: the tool loop reports it to Claude
        return {"_invalid_json": raw[:200]}
    return value if isinstance(value, dict) else {"value": value}


def attempt(kwargs: dict[str, Any], abort: Abort) -> Attempt:
    result = Attempt()
    read, done = threading.Event(), threading.Event()  # done: read, or aborted

    def target() -> None:
        try:
            _read(kwargs, abort, result)
        except BaseException as exc:  # noqa: BLE001 — handed to the calling thread, which classifies it
            result.error = exc
        finally:
            read.set()
            done.set()

    started = time.monotonic()
    threading.Thread(target=target, name="claude-call", daemon=True).start()
    abort.wake(done)  # no polling: on a busy worker every wake-up waits for the GIL
    done.wait()
    result.aborted = not read.is_set()
    result.latency_ms = int((time.monotonic() - started) * 1000)
    return result


def _read(kwargs: dict[str, Any], abort: Abort, result: Attempt) -> None:
    """HTTP errors are raised by the SDK (its status → exception mapping); the event stream itself is
    read here, line by line, with one json.loads per event and no model objects."""
    fold = _Fold()
    with client.client().messages.with_streaming_response.create(stream=True, **kwargs) as response:
        abort.attach(response.http_response)
        result.request_id = response.http_response.headers.get("request-id", "")
        request = response.http_response.request
        finished = False
        for event, data in _events(response.iter_lines()):
            if event == "error":
                error = data.get("error") or {}
                raise StreamError(
                    str(error.get("type") or "api_error"), str(error.get("message", "")), request, data
                )
            finished = finished or event == "message_stop"
            _fold(event, data, fold, result)
    if abort.is_set:
        return
    if not finished:
        raise anthropic.APIError("the stream ended before message_stop", request, body=None)
    content = fold.content()
    tool = next((block for block in content if block["type"] == "tool_use"), None)
    result.answer = Answer(
        text="".join(block["text"] for block in content if block["type"] == "text"),
        tool_input=tool["input"] if tool else None,
        tool_use_id=tool["id"] if tool else None,
        stop_reason=fold.stop_reason,
        usage=fold.usage,
        request_id=result.request_id,
        content=content,
    )


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Server-sent events as (name, parsed data)."""
    name, data = "", []
    for line in lines:
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield name, json.loads("\n".join(data))


def _usage(raw: dict[str, Any] | None) -> dict[str, int]:
    raw = raw or {}
    return {
        name: int(raw.get(name) or 0)
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    }


def _fold(event: str, data: dict[str, Any], fold: _Fold, result: Attempt) -> None:
    if event == "message_start":
        fold.usage = _usage((data.get("message") or {}).get("usage"))
        result.input_tokens = fold.usage["input_tokens"]
    elif event == "content_block_start":
        block = data.get("content_block") or {}
        fold.blocks[int(data.get("index") or 0)] = {
            "type": block.get("type"),
            "id": block.get("id"),
            "name": block.get("name"),
            "parts": [block["text"]] if block.get("text") else [],
        }
    elif event == "content_block_delta":
        delta = data.get("delta") or {}
        block = fold.blocks.get(int(data.get("index") or 0))
        piece = delta.get("text") if delta.get("type") == "text_delta" else delta.get("partial_json")
        if block is not None and isinstance(piece, str):
            block["parts"].append(piece)
            result.streamed_chars += len(piece)
    elif event == "message_delta":
        fold.stop_reason = (data.get("delta") or {}).get("stop_reason")
        output = (data.get("usage") or {}).get("output_tokens")
        if output is not None:
            fold.usage["output_tokens"] = int(output)
