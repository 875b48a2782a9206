"""The execution bridge: one task = one Claude conversation, run exactly once.

A worker claims an assigned task with a conditional update (only the message carrying the
current assignment_seq can), holds a lease its watchdog renews while Claude streams, and
stores the result only if it still holds the lease. A worker that dies leaves an expiring
lease for the reaper; a re-run reuses a Claude answer that had already arrived.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents.models import Agent
from core.logging import log_context
from ops import metrics
from swarms import engine, events
from swarms.locks import lock_swarm
from swarms.models import Swarm
from tasks import artifacts, budget, prompts
from tasks.claude_calls import Abort, Aborted, CallFailed, Request, call
from tasks.models import Task
from tasks.serializers import task_summary
from tasks.watchdog import Watchdog

logger = logging.getLogger(__name__)
SOURCE = "ExecutionBridge"


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lease_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)


def run(*, task_id: str, assignment_seq: int) -> None:
    owner = worker_identity()
    task = claim(task_id=task_id, assignment_seq=assignment_seq, owner=owner)
    if task is None:
        logger.debug("task %s (assignment %s) is not mine to run", task_id, assignment_seq)
        return
    with log_context(swarm_id=task.swarm_id, task_id=task.id):
        execute(task, owner)


def claim(*, task_id: str, assignment_seq: int, owner: str) -> Task | None:
    swarm_id = Task.objects.filter(pk=task_id).values_list("swarm_id", flat=True).first()
    if swarm_id is None:
        return None
    with transaction.atomic():
        lock_swarm(swarm_id)
        claimed = Task.objects.filter(
            pk=task_id, status=Task.Status.ASSIGNED, assignment_seq=assignment_seq
        ).update(
            status=Task.Status.RUNNING,
            lease_owner=owner,
            lease_expires_at=lease_until(),
            attempts=F("attempts") + 1,
            started_at=timezone.now(),
        )
        if not claimed:
            return None
        task = Task.objects.select_related("swarm", "assigned_agent").get(pk=task_id)
        events.publish(swarm_id, "task.started", task_summary(task, worker=owner))
    return task


def execute(task: Task, owner: str) -> None:
    interval = min(1.0, settings.TASK_LEASE_SECONDS / 3)
    with Watchdog(
        name=task.id,
        renew=partial(renew_lease, task.id, owner),
        timeout_s=settings.TASK_TIMEOUT_MINUTES * 60,
        interval_s=interval,
    ) as watchdog:
        try:
            output = work(task, watchdog.abort)
            review = reviewed(task, output, watchdog.abort)
        except Aborted as exc:
            on_abort(task, owner, exc.reason)
            return
        except CallFailed as exc:
            fail(task, owner, reason="claude_error", error=str(exc))
            return
        except budget.Exhausted:
            budget.enforce(task.swarm_id)
            return
    complete(task, owner, output, review)


def renew_lease(task_id: str, owner: str) -> str | None:
    renewed = Task.objects.filter(pk=task_id, status=Task.Status.RUNNING, lease_owner=owner).update(
        lease_expires_at=lease_until()
    )
    if renewed:
        return None
    status = Task.objects.filter(pk=task_id).values_list("status", flat=True).first()
    if status is None:
        return "deleted"
    return "cancelled" if status == Task.Status.CANCELLED else "lease_lost"


def work(task: Task, abort: Abort) -> str:
    dependencies = list(task.dependencies.filter(status=Task.Status.COMPLETED).order_by("sequence"))
    system, messages = prompts.task_messages(task, dependencies)
    reply = call(
        Request(
            swarm_id=task.swarm_id,
            role="agent",
            system=system,
            messages=messages,
            task_id=task.id,
            agent_id=task.assigned_agent_id,
            revision=task.revision_count,
        ),
        abort,
    )
    output = reply.text.strip()
    if not output:
        raise CallFailed("Claude returned an empty answer")
    return output


def reviewed(task: Task, output: str, abort: Abort) -> dict[str, Any]:
    """Quality from a short reviewer call; in hierarchical mode the coordinator agent reviews and
    may send a task back once. `options.review=false` skips the call (not in hierarchical mode)."""
    hierarchical = task.swarm.mode == Swarm.Mode.HIERARCHICAL
    if task.is_synthesis or (not hierarchical and task.swarm.options.get("review") is False):
        return {"quality": None, "verdict": "accept", "feedback": ""}
    coordinator = _coordinator_of(task.swarm) if hierarchical else None
    can_revise = hierarchical and task.revision_count == 0
    system, messages = prompts.review_messages(task, output, as_coordinator=coordinator is not None)
    reply = call(
        Request(
            swarm_id=task.swarm_id,
            role="reviewer",
            system=system,
            messages=messages,
            task_id=task.id,
            agent_id=coordinator.id if coordinator else None,
            revision=task.revision_count,
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
        "reviewer": coordinator,
    }


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(min(1.0, max(0.0, float(value))), 4)


def _coordinator_of(swarm: Swarm) -> Agent | None:
    return (
        Agent.objects.filter(swarm=swarm, type="coordinator").exclude(status=Agent.Status.TERMINATED).first()
    )


def complete(task: Task, owner: str, output: str, review: dict[str, Any]) -> None:
    with transaction.atomic():
        lock_swarm(task.swarm_id)
        now = timezone.now()
        mine = Task.objects.filter(pk=task.id, status=Task.Status.RUNNING, lease_owner=owner)
        elapsed = int((now - task.started_at).total_seconds() * 1000) if task.started_at else 0
        if review["verdict"] == "revise":
            updated = mine.update(
                status=Task.Status.PENDING,
                revision_count=F("revision_count") + 1,
                review_feedback=review["feedback"],
                quality=review["quality"],
                lease_owner="",
                lease_expires_at=None,
            )
        else:
            updated = mine.update(
                status=Task.Status.COMPLETED,
                output=output,
                artifacts=artifacts.extract(output),
                quality=review["quality"],
                execution_time_ms=elapsed,
                completed_at=now,
                error="",
                lease_owner="",
                lease_expires_at=None,
            )
        if not updated:
            logger.info(
                "task %s finished after losing its lease; result discarded (its answer is reusable)", task.id
            )
            return
        _release_agent(task, completed=True if review["verdict"] == "accept" else None, elapsed=elapsed)
        if review["verdict"] == "accept":
            metrics.task_ended("completed", elapsed / 1000)
        task.refresh_from_db()
        if review["verdict"] == "revise":
            by = review.get("reviewer")
            events.publish(
                task.swarm_id,
                "task.revision_requested",
                task_summary(task, feedback=review["feedback"], reviewer=by.id if by else None),
            )
            events.log(task.swarm_id, "info", "Coordinator", f"Task {task.name} sent back for revision")
        else:
            events.publish(task.swarm_id, "task.completed", task_summary(task))
            events.log(
                task.swarm_id,
                "info",
                SOURCE,
                f"Task {task.name} completed in {elapsed} ms"
                + (f" (quality {task.quality})" if task.quality is not None else ""),
            )
    engine.dispatch_now(task.swarm_id)


def fail(task: Task, owner: str, *, reason: str, error: str) -> None:
    with transaction.atomic():
        lock_swarm(task.swarm_id)
        now = timezone.now()
        elapsed = int((now - task.started_at).total_seconds() * 1000) if task.started_at else 0
        updated = Task.objects.filter(pk=task.id, status=Task.Status.RUNNING, lease_owner=owner).update(
            status=Task.Status.FAILED,
            failure_reason=reason,
            error=error[:5000],
            completed_at=now,
            execution_time_ms=elapsed,
            lease_owner="",
            lease_expires_at=None,
        )
        if not updated:
            return
        _release_agent(task, completed=False, elapsed=0)
        metrics.task_ended("failed")
        task.refresh_from_db()
        events.publish(task.swarm_id, "task.failed", task_summary(task, reason=reason))
        events.log(task.swarm_id, "error", SOURCE, f"Task {task.name} failed ({reason}): {error}")
    engine.dispatch_now(task.swarm_id)


def release(task: Task, owner: str, *, reason: str) -> bool:
    """Hands a running task back (worker shutting down): pending again, picked up at once."""
    with transaction.atomic():
        lock_swarm(task.swarm_id)
        updated = Task.objects.filter(pk=task.id, status=Task.Status.RUNNING, lease_owner=owner).update(
            status=Task.Status.PENDING,
            lease_owner="",
            lease_expires_at=None,
        )
        if not updated:
            return False
        Task.objects.filter(pk=task.id, pinned=False).update(assigned_agent=None)
        _release_agent(task, completed=None, elapsed=0)
        events.publish(task.swarm_id, "task.retrying", {"id": task.id, "name": task.name, "reason": reason})
        events.log(task.swarm_id, "warn", SOURCE, f"Task {task.name} handed back ({reason})")
        engine.after_commit_dispatch(task.swarm_id)
    return True


def on_abort(task: Task, owner: str, reason: str) -> None:
    if reason == "timeout":
        fail(
            task,
            owner,
            reason="timeout",
            error=f"Task exceeded its timeout of {settings.TASK_TIMEOUT_MINUTES:g} minutes",
        )
    elif reason == "shutdown":
        release(task, owner, reason="worker_shutdown")
    else:  # cancelled, deleted or taken over: whoever did that already set the task's state
        logger.info("task %s stopped: %s", task.id, reason)


def _release_agent(task: Task, *, completed: bool | None, elapsed: int) -> None:
    """The agent goes idle (unless terminated meanwhile) and its counters move."""
    if not task.assigned_agent_id:
        return
    counters: dict[str, Any] = {}
    if completed is True:
        counters = {
            "tasks_completed": F("tasks_completed") + 1,
            "total_execution_ms": F("total_execution_ms") + elapsed,
        }
    elif completed is False:
        counters = {"tasks_failed": F("tasks_failed") + 1}
    agents = Agent.objects.filter(pk=task.assigned_agent_id)
    if counters:
        agents.update(**counters)
    if agents.filter(status=Agent.Status.BUSY).update(status=Agent.Status.IDLE, idle_since=timezone.now()):
        events.publish(
            task.swarm_id, "agent.status_changed", {"id": task.assigned_agent_id, "status": "idle"}
        )
