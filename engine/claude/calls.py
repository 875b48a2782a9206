"""One logical Claude call: streamed, abortable, retried by our policy, recorded, and paid once.

Every HTTP attempt becomes a ClaudeCall row, written when the request starts (`started`, at an
estimate the budget counts, so parallel calls cannot overshoot it) and completed with its tokens,
cost, latency and outcome when it ends; its spend is added to the swarm in the same statement
that reads the new total back. A finished call's answer is stored, so asking again for the same
(swarm, task, role, revision) after a crash reuses it and spends nothing; while the database is
unreachable the worker keeps the answer and retries the write. A row a killed worker left
`started` becomes `lost` (re-run or housekeeping) and its estimate counts as spend.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from core import prepared
from core.db import UNREACHABLE, retry_while_unreachable
from engine.claude import caching, client, policy, trace, transport
from engine.claude.abort import Abort, Aborted
from ops import metrics
from swarms import budget
from swarms.models import Swarm
from tasks.models import ClaudeCall, Task

logger = logging.getLogger(__name__)


class CallFailed(Exception):
    """The call failed for good: a non-retryable error, retries exhausted, or two empty answers."""

    def __init__(self, message: str, *, reason: str = "claude_error") -> None:
        super().__init__(message)
        self.reason = reason


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
    turn: int = 0  # the turn of a task's tool loop (1, 2, …); 0 outside a loop
    tool: dict[str, Any] | None = None  # one tool Claude must call (structured output)
    tools: list[dict[str, Any]] | None = None  # tools Claude may call (the tool loop)
    max_tokens: int = 0
    may_reuse: bool = True  # False on a task's first run: nothing can have been stored yet
    on_retry: Any = None  # callable(attempt, outcome, delay) announcing a retry
    ledger: Ledger | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    model: str = ""  # "" = the role's model (CLAUDE_MODELS); an agent type may name its own


@dataclass
class Reply:
    text: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None = None
    reused: bool = False
    content: list[dict[str, Any]] = field(default_factory=list)  # every block, in order
    stop_reason: str | None = None
    call_id: int | None = None  # the ClaudeCall row that holds it
    tool_results: list[dict[str, Any]] | None = None  # stored after its tools ran (a reuse replays them)

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]


def call(request: Request, abort: Abort) -> Reply:
    """Runs the call with retries; raises CallFailed, Aborted or Exhausted."""
    if request.may_reuse:
        stored = _durably(partial(_reusable, request), "the reuse check", abort)
        if stored is not None:
            return stored
    attempt = retries = empties = 0
    while True:
        attempt += 1
        abort.raise_if_set()
        if request.spend.exhausted:
            raise Exhausted(budget.REASON)
        model = request.model or client.model_for(request.role)
        started = _start(request, attempt, model, abort)
        result = transport.attempt(_arguments(request, model, started.max_tokens), abort)
        answer = result.answer
        if answer is not None and not answer.empty:
            reply = Reply(
                answer.text, answer.tool_input, answer.tool_use_id, content=answer.content,
                stop_reason=answer.stop_reason, call_id=started.row_id,
            )  # fmt: skip
            if not _finish(request, started, result, ClaudeCall.Outcome.OK, abort, response=_stored(reply)):
                raise Aborted(abort.reason or "database_unreachable")  # its row stays in flight
            _raise_if_spent(request)
            return reply
        if answer is not None:  # an empty answer: not reusable; asked once more, at once
            empties += 1
            _finish(
                request, started, result, ClaudeCall.Outcome.ERROR, abort,
                error="Claude returned an empty answer", error_type=policy.EMPTY_ANSWER,
            )  # fmt: skip
            _raise_if_spent(request)
            if empties > 1:
                raise CallFailed("Claude returned an empty answer twice", reason="empty_answer")
            _announce(request, attempt, "empty answer", 0.0, model)
            continue
        if result.aborted or abort.is_set:
            _finish(request, started, result, ClaudeCall.Outcome.CANCELLED, abort, error=abort.reason)
            raise Aborted(abort.reason)
        outcome = policy.classify(result.error)
        _finish(
            request, started, result, outcome.kind, abort,
            error=outcome.message, status=outcome.status_code, error_type=outcome.error_type,
        )  # fmt: skip
        _raise_if_spent(request)
        retries += 1
        if not outcome.retryable or retries > settings.MAX_RETRIES:
            raise CallFailed(outcome.message)
        delay = policy.backoff(retries, outcome.retry_after)
        _announce(request, retries, outcome.message, delay, model)
        if abort.wait(delay):
            raise Aborted(abort.reason)


def _announce(request: Request, attempt: int, message: str, delay: float, model: str) -> None:
    metrics.CLAUDE_RETRIES.labels(model, request.role).inc()
    if request.on_retry is not None:
        request.on_retry(attempt, message, delay)


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
    elif request.tools:
        kwargs["tools"] = request.tools  # tool_choice "auto": Claude decides
    return caching.prepare(kwargs)


def _stored(reply: Reply) -> dict[str, Any]:
    stored = {"text": reply.text, "tool_input": reply.tool_input, "tool_use_id": reply.tool_use_id}
    if reply.tool_uses:  # the whole answer, as a replayed conversation must send it back
        stored.update(content=reply.content, stop_reason=reply.stop_reason)
    if reply.tool_results is not None:
        stored["tool_results"] = reply.tool_results
    # PostgreSQL's jsonb cannot hold U+0000 (Claude may put one in a tool's input): such an answer
    # is kept as its JSON text, which a reuse parses back to exactly the same blocks
    encoded = json.dumps(stored)
    return {"json": encoded} if "\\u0000" in encoded else stored


def _loaded(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["json"]) if set(response) == {"json"} else response


def record_tool_results(reply: Reply, results: list[dict[str, Any]], abort: Abort) -> None:
    """Stores the tool results of a turn with its answer: a re-run after a crash replays them
    instead of running the tools again, so the conversation it rebuilds is the same one."""
    reply.tool_results = results
    if reply.call_id is None:
        return
    write = partial(_store_response, reply.call_id, _stored(reply))
    _durably(write, "a turn's tool results", abort)


def _store_response(call_id: int, response: dict[str, Any]) -> None:
    ClaudeCall.objects.filter(pk=call_id).update(response=response)


def _reusable(request: Request) -> Reply | None:
    """A finished call for the same purpose (a crash came after it): reuse it, pay nothing. The
    crashed run's calls still marked in flight are lost: their estimate becomes spend."""
    in_flight = ClaudeCall.objects.filter(
        swarm_id=request.swarm_id, task_id=request.task_id, outcome=ClaudeCall.Outcome.STARTED
    )
    mark_lost(in_flight if request.task_id else in_flight.filter(role=request.role))
    row = (
        ClaudeCall.objects.filter(
            swarm_id=request.swarm_id,
            task_id=request.task_id,
            role=request.role,
            revision=request.revision,
            turn=request.turn,
            outcome=ClaudeCall.Outcome.OK,
        )
        .exclude(response__isnull=True)
        .order_by("-id")
        .values_list("id", "response")
        .first()
    )
    if row is None:
        return None
    call_id, previous = row[0], _loaded(row[1])
    text = previous.get("text", "")
    reply = Reply(
        text, previous.get("tool_input"), previous.get("tool_use_id"), reused=True,
        content=previous.get("content") or ([{"type": "text", "text": text}] if text else []),
        stop_reason=previous.get("stop_reason"), call_id=call_id, tool_results=previous.get("tool_results"),
    )  # fmt: skip
    return None if not reply.text.strip() and reply.tool_input is None else reply


# --- the call's row: written when the request starts, completed when it ends -----------------


@dataclass
class _Started:
    row_id: int
    max_tokens: int
    input_tokens: int  # the estimate the row holds until the call ends
    output_tokens: int
    cost: Decimal
    attempt: int
    model: str
    truncated: bool = False  # its request trace was cut to TRACE_MAX_BYTES


_WAIT = object()  # the budget is held by calls in flight: wait for them


def _durably(write: Any, what: str, abort: Abort) -> Any:
    """A write retried while the database is unreachable, until the call's Abort fires."""
    return retry_while_unreachable(write, what=what, wait=abort.wait)


def _paid_for(abort: Abort) -> Any:
    """How an answer that arrived waits for the database: whatever else fired (a lost lease, a
    cancel, the task's timeout), the answer is paid for and its row is the record of that spend,
    which a re-run may reuse; only a worker shutting down gives up (the row then ends `lost`)."""

    def wait(seconds: float) -> bool:
        if abort.is_set and abort.reason == "shutdown":
            return True
        time.sleep(seconds)
        return False

    return wait


def _start(request: Request, attempt: int, model: str, abort: Abort) -> _Started:
    """Writes the call's row before the request goes out, with its max_tokens capped by what the
    budget leaves once the calls in flight are counted at their estimate (so parallel calls
    cannot overshoot it together); waits while those calls hold the rest of the budget."""
    wanted = request.max_tokens or settings.CLAUDE_MAX_TOKENS
    tokens_in = _estimate_input_tokens(request)
    sent = trace.request_of(_arguments(request, model, wanted)) if trace.enabled() else (None, False)
    while True:
        try:
            started = _durably(
                partial(_insert_started, request, attempt, model, wanted, tokens_in, sent),
                "a call's start",
                abort,
            )
        except IntegrityError:  # the swarm (or task) was deleted
            raise Aborted("deleted") from None
        if started is not _WAIT:
            return started
        if abort.wait(1.0):
            raise Aborted(abort.reason)


def _insert_started(
    request: Request, attempt: int, model: str, wanted: int, tokens_in: int, sent: tuple[Any, bool]
) -> Any:
    """`sent` is the request's trace (None when prompts are not stored) and whether it was cut."""
    limits = request.spend.limits
    budgeted = bool(limits["maxTokens"] or limits["maxCostUsd"])
    # with a budget, the swarm row is locked from the in-flight sum to the insert; else the insert
    # alone is atomic (no BEGIN and COMMIT round trips)
    with transaction.atomic() if budgeted else contextlib.nullcontext():
        max_tokens = wanted
        if budgeted:
            tokens, cost = _spend_in_flight(request)  # the swarm row stays locked until the insert
            if request.spend.exhausted:
                raise Exhausted(budget.REASON)
            if budget.is_exhausted(
                limits, tokens=request.spend.tokens + tokens, cost=request.spend.cost + cost
            ):
                return _WAIT
            spent = request.spend.tokens + tokens + tokens_in  # this call's own prompt counts too
            max_tokens = budget.tokens_left(limits, tokens=spent, wanted=wanted)
            if limits["maxCostUsd"]:  # and what the dollars left pay for, this call's prompt paid
                prompt_usd = client.cost_usd(model, {"input_tokens": tokens_in})
                left = Decimal(str(limits["maxCostUsd"])) - request.spend.cost - cost - prompt_usd
                max_tokens = max(1, min(max_tokens, client.output_tokens_for(model, left)))
        estimate = {"input_tokens": tokens_in, "output_tokens": max_tokens}
        cost_usd = client.cost_usd(model, estimate)
        sent_request, truncated = sent
        if isinstance(sent_request, dict) and "max_tokens" in sent_request:
            sent_request = {**sent_request, "max_tokens": max_tokens}  # as the budget capped it
        row = ClaudeCall.objects.create(
            swarm_id=request.swarm_id,
            task_id=request.task_id,
            agent_id=request.agent_id,
            role=request.role,
            revision=request.revision,
            turn=request.turn,
            attempt=attempt,
            model=model,
            outcome=ClaudeCall.Outcome.STARTED,
            input_tokens=tokens_in,
            output_tokens=max_tokens,
            estimated=True,
            cost_usd=cost_usd,
            request=sent_request,
            trace_truncated=truncated,
        )
    return _Started(row.id, max_tokens, tokens_in, max_tokens, cost_usd, attempt, model, truncated)


def _spend_in_flight(request: Request) -> tuple[int, Decimal]:
    """Locks the swarm row, reads its spend into request.spend, and sums its calls in flight."""
    row = (
        Swarm.objects.select_for_update(no_key=True)
        .filter(pk=request.swarm_id)
        .values_list("input_tokens", "output_tokens", "cost_usd")
        .first()
    )
    if row is not None:
        request.spend.tokens, request.spend.cost = int(row[0] + row[1]), Decimal(str(row[2]))
    in_flight = ClaudeCall.objects.filter(
        swarm_id=request.swarm_id, outcome=ClaudeCall.Outcome.STARTED
    ).aggregate(tokens=Sum(F("input_tokens") + F("output_tokens")), cost=Sum("cost_usd"))
    return int(in_flight["tokens"] or 0), Decimal(str(in_flight["cost"] or 0))


def _estimate_input_tokens(request: Request) -> int:
    """About four characters a token, over everything the request sends."""
    tools = request.tools or ([request.tool] if request.tool else [])
    size = len(request.system) + len(json.dumps(request.messages)) + len(json.dumps(tools))
    return max(1, (size + 3) // 4)


def _finish(
    request: Request,
    started: _Started,
    result: transport.Attempt,
    outcome: str,
    abort: Abort,
    *,
    response: Any = None,
    error: str = "",
    status: int | None = None,
    error_type: str = "",
) -> bool:
    """Completes the call's row with its real usage and adds that to the swarm's spend; while the
    database is unreachable it keeps trying (the answer was paid for). False if it gave up."""
    if result.answer is not None:
        usage = result.answer.usage
    else:  # cut short: input as the server reported it, output estimated at ~4 characters a token
        usage = {"input_tokens": result.input_tokens, "output_tokens": (result.streamed_chars + 3) // 4}
    cost = client.cost_usd(started.model, usage)
    received, truncated = (None, False)
    if result.answer is not None and trace.enabled():
        received, truncated = trace.response_of(result.answer, (request.tool or {}).get("name"))
    fields = {
        "request_id": result.request_id or "",
        "outcome": outcome,
        "status_code": status,
        "error_type": error_type[:40],
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cache_creation_input_tokens": usage.get("cache_creation_input_tokens", 0),
        "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0),
        "estimated": result.answer is None,
        "cost_usd": cost,
        "latency_ms": result.latency_ms,
        "error": error[:2000],
        "response": response,
        "trace_response": received,
        "trace_truncated": started.truncated or truncated,
    }
    write = partial(_complete_row, request, started, fields)
    try:
        if response is None:
            added = _durably(write, f"a Claude call's {outcome}", abort)
        else:
            added = retry_while_unreachable(
                write,
                what="a Claude answer",
                wait=_paid_for(abort),
                deadline=time.monotonic() + settings.TASK_TIMEOUT_MINUTES * 60,
            )
    except UNREACHABLE:
        logger.warning("call %s left in flight: the database stayed unreachable", started.row_id)
        return False
    if added and request.ledger is not None:
        request.ledger.add(_tokens_in(usage), usage.get("output_tokens", 0), cost, request.agent_id)
    metrics.record_call(started.model, request.role, outcome, usage, float(cost), result.latency_ms)
    return True


def _complete_row(request: Request, started: _Started, fields: dict[str, Any]) -> bool:
    """started → final, adding the spend; lost → final (its estimate was counted when it was
    marked lost), adding the difference. Conditional, so a retried write counts once.

    The spend is added first: that update takes the swarm row's lock before the call's (the order
    a swarm's deletion and `mark_lost` take, so none of them can deadlock) with no separate
    locking read. On PostgreSQL the common case — a call in flight that used tokens — is one
    statement on its own (no BEGIN and COMMIT round trips); a call no longer in flight is then
    settled in a transaction of its own."""
    usage_in = (
        fields["input_tokens"] + fields["cache_creation_input_tokens"] + fields["cache_read_input_tokens"]
    )
    spend = (usage_in, fields["output_tokens"], fields["cost_usd"])
    nothing = (0, 0, Decimal(0))
    row = ClaudeCall.objects.filter(pk=started.row_id)
    in_flight = row.filter(outcome=ClaudeCall.Outcome.STARTED)
    if spend != nothing and connection.vendor == "postgresql":
        completed, added = _complete_with_spend(request, started, fields, spend)
        if completed is not None:
            return completed
        with transaction.atomic():
            _lock_swarm(request.swarm_id)
            return _not_in_flight(request, started, row, fields, spend, added=spend if added else nothing)
    with transaction.atomic():
        if spend == nothing:
            _lock_swarm(request.swarm_id)
        elif _add_spend(request, *spend) is None:
            return False  # deleted with its swarm
        if in_flight.update(**fields):
            return True
        return _not_in_flight(request, started, row, fields, spend, added=spend)


def _not_in_flight(
    request: Request,
    started: _Started,
    row: QuerySet[ClaudeCall],
    fields: dict[str, Any],
    spend: tuple[int, int, Decimal],
    *,
    added: tuple[int, int, Decimal],
) -> bool:
    """The call was not in flight, the swarm row locked and `added` already added to its spend:
    marked lost meanwhile (its estimate was counted then: the spend becomes the real usage), or
    completed by an earlier attempt of this write whose commit went through (nothing to add)."""
    if row.filter(outcome=ClaudeCall.Outcome.LOST).update(**fields):
        counted = (started.input_tokens, started.output_tokens, started.cost)
        _add_spend(request, *(s - a - c for s, a, c in zip(spend, added, counted, strict=True)))
        return True
    if any(added):
        _add_spend(request, *(-value for value in added))
    return False


_COMPLETE_SQL = (
    "WITH flight AS (SELECT 1 FROM {calls} WHERE id = %s AND outcome = %s), "
    "spend AS (UPDATE {swarms} SET input_tokens = input_tokens + %s, output_tokens = output_tokens + %s, "
    "cost_usd = cost_usd + %s WHERE id = %s AND EXISTS (SELECT 1 FROM flight) "
    "RETURNING input_tokens + output_tokens AS tokens, cost_usd), "
    "done AS ({update} AND EXISTS (SELECT 1 FROM spend) RETURNING 1) "
    "SELECT (SELECT count(*) FROM flight), (SELECT tokens FROM spend), (SELECT cost_usd FROM spend), "
    "(SELECT count(*) FROM done)"
)


def _complete_with_spend(
    request: Request, started: _Started, fields: dict[str, Any], spend: tuple[int, int, Decimal]
) -> tuple[bool | None, bool]:
    """PostgreSQL, one statement: if the call is in flight (read without a lock), its spend is
    added to the swarm (whose row is locked first) and the call completed. (completed, added):
    (True, True) done; (False, False) no such swarm; (None, False) the call was not in flight;
    (None, True) it stopped being in flight between the read and its update (marked lost by
    `mark_lost`, which holds the swarm row meanwhile): the spend was added all the same."""
    update_sql, update_params = prepared.sql_of(
        prepared.Update(
            ClaudeCall, where={"pk": started.row_id, "outcome": ClaudeCall.Outcome.STARTED}, values=fields
        )
    )
    quote = connection.ops.quote_name
    sql = _COMPLETE_SQL.format(
        calls=quote(ClaudeCall._meta.db_table), swarms=quote(Swarm._meta.db_table), update=update_sql
    )
    params = [started.row_id, ClaudeCall.Outcome.STARTED, *spend, request.swarm_id, *update_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        in_flight, tokens, cost, done = cursor.fetchone()
    if tokens is not None:
        request.spend.tokens, request.spend.cost = int(tokens), Decimal(str(cost))
    if done:
        return True, True
    if in_flight and tokens is None:
        return False, False  # deleted with its swarm
    return None, tokens is not None


def _lock_swarm(swarm_id: str) -> None:
    """The swarm row first, then the call's: the order a swarm's deletion takes, so the two
    cannot deadlock."""
    Swarm.objects.select_for_update(no_key=True).filter(pk=swarm_id).values_list("id", flat=True).first()


def _tokens_in(usage: dict[str, int]) -> int:
    return (
        usage.get("input_tokens", 0)
        + usage.get("cache_creation_input_tokens", 0)
        + usage.get("cache_read_input_tokens", 0)
    )


def _add_spend(request: Request, tokens_in: int, tokens_out: int, cost: Decimal) -> Any:
    """Adds the spend to the swarm and reads the new total back in the same statement (None: no
    such swarm)."""
    row = _add_to_swarm(request.swarm_id, tokens_in, tokens_out, cost)
    if row is not None:
        request.spend.tokens, request.spend.cost = int(row[0]), Decimal(str(row[1]))
    return row


def _add_to_swarm(swarm_id: str, tokens_in: int, tokens_out: int, cost: Decimal) -> Any:
    table = Swarm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET input_tokens = input_tokens + %s, output_tokens = output_tokens + %s, "
            "cost_usd = cost_usd + %s WHERE id = %s RETURNING input_tokens + output_tokens, cost_usd",
            [tokens_in, tokens_out, cost, swarm_id],
        )
        return cursor.fetchone()


# --- calls whose worker died ------------------------------------------------------------------


def mark_lost(calls: QuerySet[ClaudeCall]) -> int:
    """started → lost for calls whose worker died: their estimate (the prompt's size and the
    max_tokens asked for, an upper bound) is added to the swarm's spend, once."""
    lost = 0
    for row in calls.filter(outcome=ClaudeCall.Outcome.STARTED).values(
        "id", "swarm_id", "input_tokens", "output_tokens", "cost_usd"
    ):
        with transaction.atomic():
            _lock_swarm(row["swarm_id"])
            if ClaudeCall.objects.filter(pk=row["id"], outcome=ClaudeCall.Outcome.STARTED).update(
                outcome=ClaudeCall.Outcome.LOST,
                error="its worker stopped before the call ended; spend estimated",
            ):
                _add_to_swarm(row["swarm_id"], row["input_tokens"], row["output_tokens"], row["cost_usd"])
                lost += 1
    return lost


def reconcile_lost_calls() -> int:
    """Housekeeping: calls left in flight by a dead worker whose task is not re-run (failed,
    cancelled, or waiting for a slot), or older than any call can last."""
    now = timezone.now()
    longest = settings.TASK_TIMEOUT_MINUTES * 60 + settings.CLAUDE_TIMEOUT_MS / 1000 + 60
    settled = Q(role=ClaudeCall.Role.AGENT, task__isnull=False) & ~Q(task__status=Task.Status.RUNNING)
    stale = Q(created_at__lt=now - timedelta(seconds=longest)) | (
        settled & Q(created_at__lt=now - timedelta(seconds=2 * settings.TASK_LEASE_SECONDS))
    )
    return mark_lost(ClaudeCall.objects.filter(outcome=ClaudeCall.Outcome.STARTED).filter(stale))
