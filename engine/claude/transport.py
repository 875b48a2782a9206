"""One HTTP attempt: the raw SSE stream read in a helper thread, so an abort returns at once.

The raw events are folded here once: text deltas are joined, a tool's streamed JSON is parsed a
single time at the end (the SDK's accumulating stream re-parses the whole partial JSON on every
delta, which is quadratic in the size of a plan).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from engine.claude import client
from engine.claude.abort import Abort


@dataclass
class Answer:
    text: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None
    stop_reason: str | None
    usage: dict[str, int]
    request_id: str


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
    text: list[str] = field(default_factory=list)
    tool_json: list[str] = field(default_factory=list)
    tool: dict[str, Any] | None = None
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


def attempt(kwargs: dict[str, Any], abort: Abort) -> Attempt:
    result = Attempt()
    done = threading.Event()

    def target() -> None:
        try:
            _read(kwargs, abort, result)
        except BaseException as exc:  # noqa: BLE001 — handed to the calling thread, which classifies it
            result.error = exc
        finally:
            done.set()

    started = time.monotonic()
    threading.Thread(target=target, name="claude-call", daemon=True).start()
    while not done.wait(0.05):
        if abort.is_set:
            result.aborted = True
            break
    result.latency_ms = int((time.monotonic() - started) * 1000)
    return result


def _read(kwargs: dict[str, Any], abort: Abort, result: Attempt) -> None:
    fold = _Fold()
    with client.client().messages.create(stream=True, **kwargs) as stream:
        abort.attach(stream.response)
        result.request_id = stream.response.headers.get("request-id", "")
        for event in stream:
            _fold(event, fold, result)
    if abort.is_set:
        return
    tool_input = None
    if fold.tool is not None:
        raw = "".join(fold.tool_json)
        tool_input = json.loads(raw) if raw else {}
        if not isinstance(tool_input, dict):
            tool_input = {"value": tool_input}
    result.answer = Answer(
        text="".join(fold.text),
        tool_input=tool_input,
        tool_use_id=fold.tool["id"] if fold.tool else None,
        stop_reason=fold.stop_reason,
        usage=fold.usage,
        request_id=result.request_id,
    )


def _fold(event: Any, fold: _Fold, result: Attempt) -> None:
    kind = event.type
    if kind == "message_start":
        fold.usage = client.usage_of(event.message)
        result.input_tokens = fold.usage["input_tokens"]
    elif kind == "content_block_start" and event.content_block.type == "tool_use" and fold.tool is None:
        fold.tool = {"id": event.content_block.id, "index": event.index}
    elif kind == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            fold.text.append(delta.text)
            result.streamed_chars += len(delta.text)
        elif delta.type == "input_json_delta" and fold.tool and event.index == fold.tool["index"]:
            fold.tool_json.append(delta.partial_json)
            result.streamed_chars += len(delta.partial_json)
    elif kind == "message_delta":
        fold.stop_reason = event.delta.stop_reason
        if event.usage is not None and event.usage.output_tokens is not None:
            fold.usage["output_tokens"] = event.usage.output_tokens
