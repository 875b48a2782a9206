"""The runner: one task = one Claude tool loop over the swarm's workspace, run exactly once.

A worker claims an assigned task with a conditional update (only the message carrying the
current assignment_seq can), holds a lease its watchdog renews while Claude streams, and
stores the result only if it still holds the lease. A worker that dies leaves an expiring
lease for the reaper; a re-run reuses a Claude answer that had already arrived. The freed slot
goes to the scheduler at once, before the (non-blocking) quality review of the result.

The tool loop: each turn is one recorded Claude call offered the agent type's tools; the tools
Claude calls run against the workspace and their results (stored with the turn's call) go back
as the next user message, until Claude calls submit_result (its summary is the task's output) or
answers in plain text. A re-run after a crash reuses each stored turn and replays its stored tool
results, so it rebuilds the same conversation and neither pays for a turn again nor writes twice
(writes are idempotent by tool_use_id; the turn that submits keeps no results, since running
its tools again is harmless). TASK_MAX_TURNS turns without a result fail the task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from agents.models import Agent
from agents.services import agent_add_spend, agent_release
from core import jobs
from core.db import UNREACHABLE, retry_while_unreachable
from core.logging import log_context
from core.prepared import Prepared
from engine import budget, leases, prompts, reviews, scheduler, settle, tools
from engine.claude import Abort, Aborted, CallFailed, Exhausted, Ledger, Reply, Request, Spend, call
from engine.claude.calls import record_tool_results
from engine.leases import Watchdog, lease_until, renew_interval, worker_identity
from events import catalogue
from events.stream import SwarmGone, log, publish, swarm_tx
from swarms.locks import lock_swarm
from swarms.models import Swarm
from swarms.services import swarm_task_gate_opened
from tasks import artifacts
from tasks.models import Task
from tasks.services import (
    claimable_tasks,
    task_await_approval,
    task_claim,
    task_complete,
    task_fail,
    task_renew_lease,
    task_requeue,
    task_score,
    task_send_back,
    with_run_context,
)

logger = logging.getLogger(__name__)
SOURCE = "ExecutionBridge"
CHAIN_SECONDS = 60  # far below the run_task actor's time limit (the task timeout + 5 minutes)


# the claim's read (with the task's swarm, agent and agent type), compiled once per process; it
# leaves out the columns a run never reads (~40 of 86: each costs psycopg a loader per row and the
# GIL meanwhile). A run that read one would pay a query for it (tests/test_run_statements.py).
# fmt: off
_NOT_READ = (
    "artifacts", "lease_expiries", "failure_reason", "awaiting_since", "lease_owner", "lease_expires_at",
    "created_at", "assigned_at", "completed_at", "review_pending",
    *(f"swarm__{name}" for name in (
        "name", "failure_reason", "created_at", "updated_at", "started_at", "completed_at", "deferred_ms",
        "deferred_until", "approval_since", "approval_waited_ms", "plan_estimate", "plan_revisions",
        "plan_feedback", "rejected_plan", "cloned_from", "plan_lease_owner", "plan_lease_expires_at",
        "start_requested", "max_agents", "parallel",
    )),
)
_AGENT_NOT_READ = tuple(f"assigned_agent__{name}" for name in (
    "tasks_completed", "tasks_failed", "total_execution_ms", "input_tokens",
    "output_tokens", "cost_usd", "created_at", "idle_since", "terminated_at", "instance",
))
# fmt: on
_CLAIMABLE = Prepared(
    lambda key, **ids: claimable_tasks(**ids, agent_type_row=prompts.AGENT_TYPE_ROW).defer(
        *_NOT_READ, *_AGENT_NOT_READ
    )[:1],
    task_id=str,
    assignment_seq=int,
)
# a hand-over's read when this thread runs the task next: the claim's columns (its agent is known)
_SUCCESSORS_TO_CLAIM = Prepared(
    lambda key, swarm_id, agent_id: scheduler.locked_first(
        with_run_context(scheduler.successors(swarm_id, agent_id)).defer(*_NOT_READ)
    ),
    swarm_id=str,
    agent_id=str,
)


class _NotMine(Exception):
    """The task is not (or no longer) this worker's: roll the transaction back."""


def run(*, task_id: str, assignment_seq: int) -> None:
    """Runs the task, then fills the slot it freed; the first task that fill assigns runs next in
    this thread (no queue hop), for up to CHAIN_SECONDS, then the queue takes over again. A
    completion that handed its slot to its swarm's next task has claimed that task already, in
    the same commit (`_hand_over`)."""
    owner = worker_identity()
    chain_until = time.monotonic() + CHAIN_SECONDS
    task = claim(task_id=task_id, assignment_seq=assignment_seq, owner=owner)
    if task is None:
        logger.debug("task %s (assignment %s) is not mine to run", task_id, assignment_seq)
    while task is not None:
        task.chain_until = chain_until
        with log_context(swarm_id=task.swarm_id, task_id=task.id):
            review = execute(task, owner)
            following = task.handed_over  # claimed in the commit that stored this task's result
            if following is None:
                chain = _may_chain(task)
                filled = scheduler.fill(keep_one=chain)  # the freed slot goes to a ready task of any swarm
                if task.swarm_id not in filled.busy:  # else the swarm has work left: nothing to settle
                    settle.settle(task.swarm_id)
                if chain and filled.assigned:
                    next_id, next_seq = filled.assigned[0]
                    following = claim(task_id=next_id, assignment_seq=next_seq, owner=owner)
            if review is not None:
                reviews.submit(review_after, task, review)
        task = following


def _may_chain(task: Task) -> bool:
    """Whether this thread runs the next task itself (for up to CHAIN_SECONDS from the message it
    was given, and not while the worker shuts down)."""
    return time.monotonic() < getattr(task, "chain_until", 0) and not leases.shutting_down()


def fill_and_run() -> None:
    """Fills the free slots, and runs the first task the fill assigned in this thread (then chains
    as `run` does): a worker that planned a swarm or was asked to schedule starts the first task
    without a queue hop. The rest get their messages; a thread that dies before its claim leaves a
    stale assignment that housekeeping re-sends."""
    chain = not leases.shutting_down()
    filled = scheduler.fill(keep_one=chain)
    if chain and filled.assigned:
        task_id, assignment_seq = filled.assigned[0]
        run(task_id=task_id, assignment_seq=assignment_seq)


def claim(*, task_id: str, assignment_seq: int, owner: str) -> Task | None:
    """Read first, then a short locked write: a stale or duplicate message costs one read."""
    task = claimable(task_id=task_id, assignment_seq=assignment_seq)
    if task is None:
        return None
    try:
        with swarm_tx(task.swarm_id):
            if not task_claim(task=task, owner=owner, lease_until=lease_until()):
                raise _NotMine
    except (_NotMine, SwarmGone):
        return None
    return _claimed(task)


def _claimed(task: Task) -> Task:
    task.ledger = Ledger()  # what this run spends: the task's whole spend on its first run
    task.handed_over = None  # the next task, when this one's completion handed its slot over
    return task


def claimable(*, task_id: str, assignment_seq: int) -> Task | None:
    """The task, with its swarm, agent and agent type, if that assignment is current: one query."""
    return next(iter(_CLAIMABLE.read(task_id=task_id, assignment_seq=assignment_seq)), None)


def execute(task: Task, owner: str) -> str | None:
    """Runs the task; returns its output when a non-blocking review is still to do."""
    hierarchical = task.swarm.mode == Swarm.Mode.HIERARCHICAL
    spend = Spend.of(task.swarm)
    with Watchdog(
        name=task.id,
        renew=partial(renew_lease, task.id, owner),
        timeout_s=settings.TASK_TIMEOUT_MINUTES * 60,
        interval_s=renew_interval(),
    ) as watchdog:
        try:
            output = work(task, watchdog.abort, spend, between_turns=watchdog.check_now)
            review = reviewed(task, output, watchdog.abort, spend) if hierarchical else None
        except Aborted as exc:
            on_abort(task, owner, exc.reason)
            return None
        except CallFailed as exc:
            fail(task, owner, reason=exc.reason, error=str(exc))
            return None
        except Exhausted:
            budget.enforce(task.swarm_id)
            return None
    finish(task, owner, output, review)
    return output if review is None and _wants_review(task) else None


def renew_lease(task_id: str, owner: str) -> str | None:
    if task_renew_lease(task_id=task_id, owner=owner, until=lease_until()):
        return None
    status = Task.objects.filter(pk=task_id).values_list("status", flat=True).first()
    if status is None:
        return "deleted"
    return "cancelled" if status == Task.Status.CANCELLED else "lease_lost"


def _request(task: Task, spend: Spend, **fields: Any) -> Request:
    fields.setdefault("may_reuse", task.attempts > 1)  # a first run has nothing stored to reuse
    return Request(
        swarm_id=task.swarm_id,
        task_id=task.id,
        spend=spend,
        revision=task.revision_count,
        on_retry=partial(_announce_retry, task),
        ledger=task.ledger,
        **fields,
    )


def work(task: Task, abort: Abort, spend: Spend, between_turns: Callable[[], None] | None = None) -> str:
    dependencies = []
    if getattr(task, "has_dependencies", True):  # known from the claim: no query for independent tasks
        dependencies = list(task.dependencies.filter(status=Task.Status.COMPLETED).order_by("sequence"))
    system, messages = prompts.task_messages(task, dependencies)
    allowed = prompts.tools_of(task)
    context = tools.Context(swarm_id=task.swarm_id, task_id=task.id, call_id=None, allowed=allowed)
    declared = tools.declarations(allowed) or None
    may_reuse = task.attempts > 1
    model, max_turns = prompts.agent_spec(task).model, prompts.max_turns_of(task)
    for turn in range(1, max_turns + 1):
        if turn > 1 and between_turns is not None:
            between_turns()  # a stop, timeout or lost lease since the last turn: no further call
        abort.raise_if_set()
        reply = call(
            _request(
                task, spend, role="agent", system=system, messages=messages, agent_id=task.assigned_agent_id,
                tools=declared, turn=turn, may_reuse=may_reuse, model=model,
            ),
            abort,
        )  # fmt: skip
        may_reuse = may_reuse and reply.reused  # past the first turn not stored, none is
        if not reply.tool_uses:  # a plain-text answer ends the task, as without tools
            output = reply.text.strip()
            if not output:
                raise CallFailed("Claude returned an empty answer")
            return output
        results = _tool_results(reply, context, abort)
        summary = _submitted(reply, results)
        if summary is not None:  # the last turn: no conversation to rebuild, its results are not stored
            return summary
        if reply.tool_results is None:
            record_tool_results(reply, results, abort)
        messages = [
            *messages,
            {"role": "assistant", "content": reply.content},
            {"role": "user", "content": results},
        ]
    limit = "TASK_MAX_TURNS" if max_turns == settings.TASK_MAX_TURNS else "its agent type's maxTurns"
    raise CallFailed(
        f"Claude used all {max_turns} turns ({limit}) without submitting a result", reason="max_turns"
    )


def _tool_results(reply: Reply, context: tools.Context, abort: Abort) -> list[dict[str, Any]]:
    """The turn's tool results: replayed when a re-run reuses the turn, else run (a fresh answer's
    tool calls are new, so its writes skip the idempotency lookup)."""
    if reply.tool_results is not None:
        return reply.tool_results
    context.call_id, context.replay = reply.call_id, reply.reused
    results = []
    for block in reply.tool_uses:
        abort.raise_if_set()  # a worker that lost its lease (or was stopped) writes no more
        try:
            results.append(tools.run(block, context))
        except SwarmGone:  # deleted mid-turn
            raise Aborted("deleted") from None
    return results


def _submitted(reply: Reply, results: list[dict[str, Any]]) -> str | None:
    """The summary of a successful submit_result call of this turn, if any."""
    for block, result in zip(reply.tool_uses, results, strict=True):
        if block.get("name") == tools.SUBMIT and not result.get("is_error"):
            return str(result["content"]).strip()
    return None


def _wants_review(task: Task) -> bool:
    """The non-blocking review; a task that requires approval has a person for a reviewer."""
    return (
        not task.is_synthesis and not task.requires_approval and task.swarm.options.get("review") is not False
    )


def reviewed(task: Task, output: str, abort: Abort, spend: Spend) -> dict[str, Any]:
    """Quality from a short reviewer call. In hierarchical mode the coordinator agent reviews
    before the task counts as done and may send it back once; elsewhere the review only scores."""
    hierarchical = task.swarm.mode == Swarm.Mode.HIERARCHICAL
    if not hierarchical and not _wants_review(task) or task.is_synthesis:
        return {"quality": None, "verdict": "accept", "feedback": "", "reviewer": None}
    coordinator = _coordinator_of(task.swarm_id) if hierarchical else None
    can_revise = hierarchical and task.revision_count == 0
    system, messages = prompts.review_messages(task, output, as_coordinator=coordinator is not None)
    reply = call(
        _request(
            task,
            spend,
            role="reviewer",
            system=system,
            messages=messages,
            agent_id=coordinator.id if coordinator else None,
            tool=prompts.review_tool(can_revise=can_revise),
            max_tokens=1024,
        ),
        abort,
    )
    verdict = reply.tool_input or {}
    return {
        "quality": _score(verdict.get("score")),
        "verdict": "revise" if can_revise and verdict.get("verdict") == "revise" else "accept",
        "feedback": str(verdict.get("feedback", ""))[:2000],
        "reviewer": coordinator.id if coordinator else None,
    }


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(min(1.0, max(0.0, float(value))), 4)


def _coordinator_of(swarm_id: str) -> Agent | None:
    return (
        Agent.objects.filter(swarm_id=swarm_id, type="coordinator")
        .exclude(status=Agent.Status.TERMINATED)
        .first()
    )


def finish(task: Task, owner: str, output: str, review: dict[str, Any] | None) -> None:
    """Stores the result (or sends it back for a revision), frees the agent, settles the swarm.
    While the database is unreachable it keeps trying for one lease period (the lease then
    expires and a re-run reuses the stored answer)."""
    deadline = time.monotonic() + settings.TASK_LEASE_SECONDS
    retry_while_unreachable(
        partial(_store_result, task, owner, output, review),
        what=f"the result of {task.id}",
        deadline=deadline,
    )


def _store_result(task: Task, owner: str, output: str, review: dict[str, Any] | None) -> None:
    try:
        with swarm_tx(task.swarm_id):
            gated = task.requires_approval and not (review is not None and review["verdict"] == "revise")
            if gated:
                done = _await_approval(task, owner, output, review)
                outcome = "completed"
            elif review is not None and review["verdict"] == "revise":
                done = task_send_back(
                    task=task, owner=owner, feedback=review["feedback"], quality=review["quality"],
                    reviewer=review["reviewer"],
                )  # fmt: skip
                outcome = None
            else:
                quality = review["quality"] if review else None
                done = task_complete(
                    task=task,
                    owner=owner,
                    output=output,
                    artifacts=artifacts.extract(output),
                    quality=quality,
                    spend=task.ledger.fields() if task.attempts == 1 else None,  # else summed from its calls
                    review_pending=review is None and _wants_review(task),
                )
                outcome = "completed"
            if done is None:
                raise _NotMine
            _release_agents(task, outcome=outcome, elapsed_ms=done.execution_time_ms or 0)
            if outcome == "completed" and not gated:
                _hand_over(task, owner)
            if outcome is None:
                log(task.swarm_id, "info", "Coordinator", f"Task {task.name} sent back for revision")
    except _NotMine:
        logger.info(
            "task %s finished after losing its lease; result discarded (its answer is reusable)", task.id
        )
        return
    except SwarmGone:
        return


def _hand_over(task: Task, owner: str) -> None:
    """The slot this completion frees goes to the swarm's next ready task in the same commit, when
    that is the scheduler's choice anyway (`scheduler.hand_over`): no gate, no fill. While this
    thread chains, that task is assigned and claimed in one statement (its events join this
    batch: one counter write for both) and runs next on this thread; else it gets its run message."""
    claim = scheduler.Claim(owner, lease_until(), _SUCCESSORS_TO_CLAIM) if _may_chain(task) else None
    handed = scheduler.hand_over(task, claim)
    if handed is None:
        return
    following = handed.claimed
    if following is None:
        jobs.send_on_commit(jobs.RUN_TASK, handed.task_id, handed.assignment_seq)
        return
    if hasattr(task, "agent_type_row"):  # the same agent: its type as the claim read it
        following.agent_type_row = task.agent_type_row
    transaction.on_commit(lambda: setattr(task, "handed_over", _claimed(following)))  # not if rolled back


def _await_approval(task: Task, owner: str, output: str, review: dict[str, Any] | None) -> Task | None:
    """The output waits for a person: the swarm's lock first (its timeout clock stops while a
    gate is open, and approvals take the same lock), then the task's conditional update."""
    try:
        swarm = lock_swarm(task.swarm_id)
    except Swarm.DoesNotExist:
        raise SwarmGone(task.swarm_id) from None
    waiting = task_await_approval(
        task=task, owner=owner, output=output, artifacts=artifacts.extract(output),
        quality=review["quality"] if review else None,
    )  # fmt: skip
    if waiting is not None:
        swarm_task_gate_opened(swarm=swarm)
        log(task.swarm_id, "info", SOURCE, f"Task {task.name} awaits approval of its output")
    return waiting


def _release_agents(task: Task, *, outcome: str | None, elapsed_ms: int = 0) -> None:
    """The task's agent goes idle; it and any other agent billed (a hierarchical coordinator's
    review) get this run's spend, or, after an earlier run crashed, the sum of their calls."""
    exact = task.attempts == 1  # a first run: every call of the task was this run's
    agent_id = task.assigned_agent_id
    spend = task.ledger.of_agent(agent_id) if exact and agent_id else None
    agent_release(
        swarm_id=task.swarm_id, agent_id=agent_id, outcome=outcome, elapsed_ms=elapsed_ms, spend=spend
    )
    for other in task.ledger.agents:
        if other != agent_id:
            agent_add_spend(agent_id=other, delta=task.ledger.of_agent(other) if exact else None)


def review_after(task: Task, output: str) -> None:
    """The non-blocking review: scores a stored result while its dependents already run; the
    swarm completes once its scores are in (a review that cannot be done clears the wait)."""
    review: dict[str, Any] = {"quality": None, "feedback": ""}
    with Watchdog(
        name=f"review-{task.id}", renew=partial(_swarm_running, task.swarm_id), timeout_s=None,
        interval_s=renew_interval(),
    ) as watchdog:  # fmt: skip
        try:
            review = reviewed(task, output, watchdog.abort, Spend.of(Swarm.objects.get(pk=task.swarm_id)))
        except (Aborted, CallFailed, Swarm.DoesNotExist) as exc:
            logger.info("review of %s not done: %s", task.id, exc)
        except Exhausted:
            budget.enforce(task.swarm_id)
    try:
        with swarm_tx(task.swarm_id):
            task_score(task_id=task.id, quality=review["quality"], feedback=review["feedback"])
    except SwarmGone:
        return
    settle.settle(task.swarm_id)


def _swarm_running(swarm_id: str) -> str | None:
    """A review outlives its task's slot, even the swarm's completion, but not a stop or failure."""
    status = Swarm.objects.filter(pk=swarm_id).values_list("status", flat=True).first()
    return None if status in (*Swarm.ACTIVE, Swarm.Status.COMPLETED) else "cancelled"


def fail(task: Task, owner: str, *, reason: str, error: str) -> None:
    try:
        with swarm_tx(task.swarm_id):
            failed = task_fail(task=task, owner=owner, reason=reason, error=error)
            if failed is None:
                raise _NotMine
            _release_agents(task, outcome="failed")
            log(task.swarm_id, "error", SOURCE, f"Task {task.name} failed ({reason}): {error}")
    except (_NotMine, SwarmGone):
        return
    settle.settle(task.swarm_id)


def hand_back(task: Task, owner: str, *, reason: str) -> bool:
    """Hands a running task back (worker shutting down): pending again, picked up at once."""
    try:
        with swarm_tx(task.swarm_id):
            if task_requeue(task=task, reason=reason, owner=owner) is None:
                raise _NotMine
            _release_agents(task, outcome=None)
            log(task.swarm_id, "warn", SOURCE, f"Task {task.name} handed back ({reason})")
            scheduler.fill_on_commit()
    except (_NotMine, SwarmGone):
        return False
    return True


def on_abort(task: Task, owner: str, reason: str) -> None:
    if reason == "timeout":
        minutes = f"{settings.TASK_TIMEOUT_MINUTES:g}"
        fail(task, owner, reason="timeout", error=f"Task exceeded its timeout of {minutes} minutes")
    elif reason == "shutdown":
        hand_back(task, owner, reason="worker_shutdown")
    else:  # cancelled, deleted or taken over: whoever did that already set the task's state
        logger.info("task %s stopped: %s", task.id, reason)


def _announce_retry(task: Task, attempt: int, error: str, delay: float) -> None:
    message = f"Claude call failed ({error}); retry {attempt} of {settings.MAX_RETRIES} in {delay:.1f}s"
    try:
        with swarm_tx(task.swarm_id):
            current = Task.objects.only(*catalogue.TASK_FIELDS).get(pk=task.id)
            publish(
                task.swarm_id,
                catalogue.task_retrying(
                    current, reason="claude_retry", attempt=attempt, error=error, delay_s=round(delay, 2)
                ),
            )
            log(task.swarm_id, "warn", SOURCE, message, {"taskId": task.id})
    except (SwarmGone, Task.DoesNotExist):
        pass
    except UNREACHABLE:  # an announcement is not worth failing the call for
        connection.close()
        logger.warning("retry of %s not announced: the database is unreachable", task.id)
