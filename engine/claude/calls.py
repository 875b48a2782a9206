"""One logical Claude call: streamed, abortable, retried by our policy, recorded, and paid once.

Every HTTP attempt becomes a ClaudeCall row with its tokens, cost, latency and outcome, and its
spend is added to the swarm in the same statement that reads the new total back, so the budget
is checked once per attempt. A finished call's answer is stored, so asking again for the same
(swarm, task, role, revision) after a crash reuses it and spends nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from engine.claude import client, policy, transport
from engine.claude.abort import Abort, Aborted
from ops import metrics
from swarms import budget
from swarms.models import Swarm
from tasks.models import ClaudeCall

logger = logging.getLogger(__name__)


class CallFailed(Exception):
    """The call failed for good: a non-retryable error, or retries exhausted."""


class Exhausted(Exception):
    """The swarm's budget is spent."""


@dataclass
class Spend:
    """A swarm's spend and limits as last read (at claim time, then from each recorded attempt)."""

    limits: dict[str, Any]
    tokens: int = 0
    cost: Decimal = Decimal("0")

    @classmethod
    def of(cls, swarm: Swarm) -> Spend:
        return cls(budget.budget_of(swarm.options), swarm.total_tokens, swarm.cost_usd)

    @property
    def exhausted(self) -> bool:
        return budget.is_exhausted(self.limits, tokens=self.tokens, cost=self.cost)


@dataclass
class Ledger:
    """What one run of a task spent, call by call (its whole spend when it is the first run), in
    all and per agent billed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    agents: dict[str, Ledger] = field(default_factory=dict)

    def add(self, tokens_in: int, tokens_out: int, cost: Decimal, agent_id: str | None = None) -> None:
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        self.cost_usd += cost
        if agent_id:
            self.agents.setdefault(agent_id, Ledger()).add(tokens_in, tokens_out, cost)

    def fields(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }

    def of_agent(self, agent_id: str) -> dict[str, Any]:
        return self.agents.get(agent_id, Ledger()).fields()


@dataclass
class Request:
    """What to ask; who pays (swarm/task/agent); which logical call it is (role + revision)."""

    swarm_id: str
    role: str
    system: str
    messages: list[dict[str, Any]]
    spend: Spend
    task_id: str | None = None
    agent_id: str | None = None
    revision: int = 0
    tool: dict[str, Any] | None = None
    max_tokens: int = 0
    may_reuse: bool = True  # False on a task's first run: nothing can have been stored yet
    on_retry: Any = None  # callable(attempt, outcome, delay) announcing a retry
    ledger: Ledger | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    text: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None = None
    reused: bool = False


def call(request: Request, abort: Abort) -> Reply:
    """Runs the call with retries; raises CallFailed, Aborted or Exhausted."""
    stored = _reusable(request) if request.may_reuse else None
    if stored is not None:
        return stored
    for attempt in range(1, settings.MAX_RETRIES + 2):
        abort.raise_if_set()
        if request.spend.exhausted:
            raise Exhausted(budget.REASON)
        model = client.model_for(request.role)
        wanted = request.max_tokens or settings.CLAUDE_MAX_TOKENS
        max_tokens = budget.tokens_left(request.spend.limits, tokens=request.spend.tokens, wanted=wanted)
        result = transport.attempt(_arguments(request, model, max_tokens), abort)
        if result.answer is not None:
            reply = Reply(result.answer.text, result.answer.tool_input, result.answer.tool_use_id)
            _record(request, attempt, model, result, ClaudeCall.Outcome.OK, response=_stored(reply))
            _raise_if_spent(request)
            return reply
        if result.aborted or abort.is_set:
            _record(request, attempt, model, result, ClaudeCall.Outcome.CANCELLED, error=abort.reason)
            raise Aborted(abort.reason)
        outcome = policy.classify(result.error)
        _record(
            request, attempt, model, result, outcome.kind, error=outcome.message, status=outcome.status_code
        )
        _raise_if_spent(request)
        if not outcome.retryable or attempt > settings.MAX_RETRIES:
            raise CallFailed(outcome.message)
        delay = policy.backoff(attempt, outcome.retry_after)
        metrics.CLAUDE_RETRIES.labels(model, request.role).inc()
        if request.on_retry is not None:
            request.on_retry(attempt, outcome.message, delay)
        if abort.wait(delay):
            raise Aborted(abort.reason)
    raise CallFailed("retries exhausted")  # the loop always returns or raises first


def _raise_if_spent(request: Request) -> None:
    """Reaching a limit ends the swarm (the caller enforces it), so no further call starts."""
    if request.spend.exhausted:
        raise Exhausted(budget.REASON)


def _arguments(request: Request, model: str, max_tokens: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": request.system,
        "messages": request.messages,
    }
    if request.tool:
        kwargs.update(tools=[request.tool], tool_choice={"type": "tool", "name": request.tool["name"]})
    return kwargs


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
        previous.get("text", ""), previous.get("tool_input"), previous.get("tool_use_id"), reused=True
    )


def _record(
    request: Request,
    attempt: int,
    model: str,
    result: transport.Attempt,
    outcome: str,
    *,
    response: Any = None,
    error: str = "",
    status: int | None = None,
) -> None:
    if result.answer is not None:
        usage = result.answer.usage
    else:  # cut short: input as the server reported it, output estimated at ~4 characters a token
        usage = {"input_tokens": result.input_tokens, "output_tokens": (result.streamed_chars + 3) // 4}
    cost = client.cost_usd(model, usage)
    try:
        with transaction.atomic():
            ClaudeCall.objects.create(
                swarm_id=request.swarm_id,
                task_id=request.task_id,
                agent_id=request.agent_id,
                role=request.role,
                revision=request.revision,
                attempt=attempt,
                model=model,
                request_id=result.request_id or "",
                outcome=outcome,
                status_code=status,
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cache_creation_input_tokens=usage.get("cache_creation_input_tokens", 0),
                cache_read_input_tokens=usage.get("cache_read_input_tokens", 0),
                estimated=result.answer is None,
                cost_usd=cost,
                latency_ms=result.latency_ms,
                error=error[:2000],
                response=response,
            )
            _add_spend(request, usage, cost)
    except IntegrityError:  # the swarm (or task) was deleted while the call ran
        logger.info("call for deleted swarm %s not recorded", request.swarm_id)
        return
    metrics.record_call(model, request.role, outcome, usage, float(cost), result.latency_ms)


def _add_spend(request: Request, usage: dict[str, int], cost: Decimal) -> None:
    """Adds the spend to the swarm and reads the new total back in the same statement."""
    tokens_in = (
        usage.get("input_tokens", 0)
        + usage.get("cache_creation_input_tokens", 0)
        + usage.get("cache_read_input_tokens", 0)
    )
    tokens_out = usage.get("output_tokens", 0)
    if not (tokens_in or tokens_out):
        return
    table = Swarm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET input_tokens = input_tokens + %s, output_tokens = output_tokens + %s, "
            "cost_usd = cost_usd + %s WHERE id = %s RETURNING input_tokens + output_tokens, cost_usd",
            [tokens_in, tokens_out, cost, request.swarm_id],
        )
        row = cursor.fetchone()
    if row is not None:
        request.spend.tokens, request.spend.cost = int(row[0]), Decimal(str(row[1]))
    if request.ledger is not None:
        request.ledger.add(tokens_in, tokens_out, cost, request.agent_id)
