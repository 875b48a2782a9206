"""One logical Claude call: streamed, abortable, retried by our policy, and recorded.

Every HTTP attempt becomes a ClaudeCall row with its tokens, cost, latency and outcome, and its
spend is added to the swarm, task and agent. A finished call's answer is stored, so asking
again for the same (swarm, task, role, revision) after a crash reuses it and spends nothing.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents.models import Agent
from claudeflow_site import claude
from ops import metrics
from swarms import events
from swarms.models import Swarm
from tasks import budget
from tasks.models import ClaudeCall, Task

logger = logging.getLogger(__name__)

FATAL_STATUS = {400, 401, 403, 404, 413, 422}


class CallFailed(Exception):
    """The call failed for good: a non-retryable error, or retries exhausted."""


class Aborted(Exception):
    """The caller's Abort fired (stop, cancel, timeout, lost lease, budget, shutdown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Abort:
    """Set from another thread to stop a call at once: it also shuts the live socket down."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.reason = ""

    def trigger(self, reason: str) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            for sock in self._sockets:
                _shutdown(sock)

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def attach(self, response: Any) -> None:
        stream = response.extensions.get("network_stream") if response is not None else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self._event.is_set():
                _shutdown(sock)

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise Aborted(self.reason)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Request:
    """What to ask; who pays (swarm/task/agent); which logical call it is (role + revision)."""

    swarm_id: str
    role: str
    system: str
    messages: list[dict[str, Any]]
    task_id: str | None = None
    agent_id: str | None = None
    revision: int = 0
    tool: dict[str, Any] | None = None
    max_tokens: int = 0


@dataclass
class Reply:
    text: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None = None
    reused: bool = False


@dataclass
class _Attempt:
    message: Any = None
    error: BaseException | None = None
    aborted: bool = False
    input_tokens: int = 0
    streamed_chars: int = 0
    request_id: str = ""
    latency_ms: int = 0


@dataclass
class _Outcome:
    retryable: bool
    message: str
    status_code: int | None = None
    retry_after: float | None = None
    kind: str = ClaudeCall.Outcome.ERROR
    extra: dict[str, Any] = field(default_factory=dict)


def call(request: Request, abort: Abort) -> Reply:
    """Runs the call with retries; raises CallFailed, Aborted or budget.Exhausted."""
    stored = _reusable(request)
    if stored is not None:
        return stored
    for attempt in range(1, settings.MAX_RETRIES + 2):
        abort.raise_if_set()
        try:
            max_tokens = budget.max_tokens_for(
                request.swarm_id, request.max_tokens or settings.CLAUDE_MAX_TOKENS
            )
        except Swarm.DoesNotExist:
            raise Aborted("deleted") from None
        model = claude.model_for(request.role)
        result = _stream(request, model, max_tokens, abort)
        if result.message is not None:
            reply = _reply_of(result.message)
            _record(request, attempt, model, result, ClaudeCall.Outcome.OK, response=_stored(reply))
            return reply
        if result.aborted or abort.is_set:
            _record(
                request,
                attempt,
                model,
                result,
                ClaudeCall.Outcome.CANCELLED,
                error=abort.reason,
                estimated=True,
            )
            raise Aborted(abort.reason)
        outcome = classify(result.error)
        _record(
            request,
            attempt,
            model,
            result,
            outcome.kind,
            error=outcome.message,
            status=outcome.status_code,
            estimated=True,
        )
        if not outcome.retryable or attempt > settings.MAX_RETRIES:
            raise CallFailed(outcome.message)
        delay = backoff(attempt, outcome.retry_after)
        _announce_retry(request, attempt, outcome, delay)
        if abort.wait(delay):
            raise Aborted(abort.reason)
    raise CallFailed("retries exhausted")  # the loop always returns or raises first


def _stream(request: Request, model: str, max_tokens: int, abort: Abort) -> _Attempt:
    """One HTTP attempt in a helper thread, so an abort returns at once even from a hung socket."""
    result = _Attempt()
    done = threading.Event()
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": request.system,
        "messages": request.messages,
    }
    if request.tool:
        kwargs.update(tools=[request.tool], tool_choice={"type": "tool", "name": request.tool["name"]})

    def target() -> None:
        try:
            with claude.client().messages.stream(**kwargs) as stream:
                abort.attach(stream.response)
                result.request_id = stream.response.headers.get("request-id", "")
                for event in stream:
                    if event.type == "message_start":
                        result.input_tokens = event.message.usage.input_tokens or 0
                    elif event.type == "text":
                        result.streamed_chars += len(event.text)
                    elif event.type == "input_json":
                        result.streamed_chars += len(event.partial_json)
                message = stream.get_final_message()
            if not abort.is_set:
                result.message = message
        except BaseException as exc:  # noqa: BLE001 — handed to the calling thread, which classifies it
            result.error = exc
        finally:
            done.set()

    started = time.monotonic()
    threading.Thread(target=target, name="claude-call", daemon=True).start()
    while not done.wait(0.1):
        if abort.is_set:
            result.aborted = True
            break
    result.latency_ms = int((time.monotonic() - started) * 1000)
    return result


def classify(error: BaseException | None) -> _Outcome:
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        retry_after = _retry_after(error.response.headers) if error.response is not None else None
        text = f"{status} {_error_type(error)}: {_error_message(error)}"
        return _Outcome(
            retryable=status not in FATAL_STATUS, message=text, status_code=status, retry_after=retry_after
        )
    if isinstance(error, anthropic.APITimeoutError):
        return _Outcome(
            retryable=True, message="timeout: Claude did not answer in time", kind=ClaudeCall.Outcome.TIMEOUT
        )
    if isinstance(error, anthropic.APIConnectionError):
        return _Outcome(retryable=True, message=f"connection error: {error}")
    if type(error).__module__.startswith(("httpx", "httpcore")):  # a stream cut mid-way
        kind = ClaudeCall.Outcome.TIMEOUT if "Timeout" in type(error).__name__ else ClaudeCall.Outcome.ERROR
        return _Outcome(
            retryable=True, message=f"stream interrupted: {type(error).__name__}: {error}", kind=kind
        )
    if isinstance(error, anthropic.APIError):  # e.g. an `error` event after the 200
        return _Outcome(retryable=True, message=f"stream error: {error}")
    return _Outcome(retryable=False, message=f"{type(error).__name__}: {error}")


def backoff(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, at least what the server asked for, at most the cap."""
    cap = settings.MAX_RETRY_DELAY_MS / 1000
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    base = settings.RETRY_DELAY_MS / 1000 * 2 ** (attempt - 1)
    return min(cap, base / 2 + random.uniform(0, base / 2))


def _retry_after(headers: Any) -> float | None:
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def _error_type(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return (body.get("error") or {}).get("type", type(error).__name__)


def _error_message(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return (body.get("error") or {}).get("message", str(error))


def _reply_of(message: Any) -> Reply:
    text = "".join(block.text for block in message.content if block.type == "text")
    tool = next((block for block in message.content if block.type == "tool_use"), None)
    return Reply(
        text=text, tool_input=dict(tool.input) if tool else None, tool_use_id=tool.id if tool else None
    )


def _stored(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "tool_input": reply.tool_input, "tool_use_id": reply.tool_use_id}


def _reusable(request: Request) -> Reply | None:
    """A finished call for the same purpose (a crash came after it): reuse it, pay nothing."""
    previous = (
        ClaudeCall.objects.filter(
            swarm_id=request.swarm_id,
            task_id=request.task_id,
            role=request.role,
            revision=request.revision,
            outcome=ClaudeCall.Outcome.OK,
        )
        .exclude(response__isnull=True)
        .order_by("-id")
        .values_list("response", flat=True)
        .first()
    )
    if previous is None:
        return None
    return Reply(
        text=previous.get("text", ""),
        tool_input=previous.get("tool_input"),
        tool_use_id=previous.get("tool_use_id"),
        reused=True,
    )


def _record(
    request: Request,
    attempt: int,
    model: str,
    result: _Attempt,
    outcome: str,
    *,
    response: Any = None,
    error: str = "",
    status: int | None = None,
    estimated: bool = False,
) -> None:
    if result.message is not None:
        usage = claude.usage_of(result.message)
        request_id = getattr(result.message, "_request_id", None) or result.request_id
    else:  # cut short: input as the server reported it, output estimated at ~4 characters a token
        usage = {"input_tokens": result.input_tokens, "output_tokens": (result.streamed_chars + 3) // 4}
        request_id = result.request_id
    cost = claude.cost_usd(model, usage)
    try:
        _store_call(
            request,
            attempt,
            model,
            result,
            outcome,
            usage,
            cost,
            response=response,
            error=error,
            status=status,
            estimated=estimated,
            request_id=request_id,
        )
    except IntegrityError:  # the swarm (or task) was deleted while the call ran
        logger.info("call for deleted swarm %s not recorded", request.swarm_id)
        return
    metrics.record_call(model, request.role, outcome, usage, float(cost), result.latency_ms)
    if usage.get("input_tokens") or usage.get("output_tokens"):
        budget.enforce(request.swarm_id)


def _store_call(
    request: Request,
    attempt: int,
    model: str,
    result: _Attempt,
    outcome: str,
    usage: dict[str, int],
    cost: Decimal,
    *,
    response: Any,
    error: str,
    status: int | None,
    estimated: bool,
    request_id: str,
) -> None:
    with transaction.atomic():
        ClaudeCall.objects.create(
            swarm_id=request.swarm_id,
            task_id=request.task_id,
            agent_id=request.agent_id,
            role=request.role,
            revision=request.revision,
            attempt=attempt,
            model=model,
            request_id=request_id or "",
            outcome=outcome,
            status_code=status,
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            cache_creation_input_tokens=usage.get("cache_creation_input_tokens", 0),
            cache_read_input_tokens=usage.get("cache_read_input_tokens", 0),
            estimated=estimated and result.message is None,
            cost_usd=cost,
            latency_ms=result.latency_ms,
            error=error[:2000],
            response=response,
        )
        add_spend(request, usage, cost)
    if usage.get("input_tokens") or usage.get("output_tokens"):
        budget.enforce(request.swarm_id)


def add_spend(request: Request, usage: dict[str, int], cost: Decimal) -> None:
    tokens_in = (
        usage.get("input_tokens", 0)
        + usage.get("cache_creation_input_tokens", 0)
        + usage.get("cache_read_input_tokens", 0)
    )
    tokens_out = usage.get("output_tokens", 0)
    if not (tokens_in or tokens_out):
        return
    delta = {
        "input_tokens": F("input_tokens") + tokens_in,
        "output_tokens": F("output_tokens") + tokens_out,
        "cost_usd": F("cost_usd") + cost,
    }
    # lock order: swarm row first, like every other writer
    Swarm.objects.filter(pk=request.swarm_id).update(**delta)
    if request.task_id:
        Task.objects.filter(pk=request.task_id).update(**delta)
    if request.agent_id:
        Agent.objects.filter(pk=request.agent_id).update(**delta)


def _announce_retry(request: Request, attempt: int, outcome: _Outcome, delay: float) -> None:
    metrics.CLAUDE_RETRIES.labels(claude.model_for(request.role), request.role).inc()
    message = (
        f"Claude call failed ({outcome.message}); retry {attempt} of {settings.MAX_RETRIES} in {delay:.1f}s"
    )
    with transaction.atomic():
        if request.task_id:
            events.publish(
                request.swarm_id,
                "task.retrying",
                {
                    "id": request.task_id,
                    "attempt": attempt,
                    "error": outcome.message,
                    "delaySeconds": round(delay, 2),
                },
            )
        events.log(
            request.swarm_id,
            "warn",
            "ExecutionBridge",
            message,
            {"taskId": request.task_id, "role": request.role},
        )
