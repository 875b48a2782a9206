"""Swarm lifecycle: every state change of a swarm goes through these functions.

State machine (ARCHITECTURE.md): planning → ready → executing ⇄ paused → completed | failed |
stopped. `start` during planning is remembered and execution begins when the plan lands.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from core.errors import Conflict, LimitExceeded
from ops import metrics
from swarms import engine, events
from swarms.locks import gate, lock_swarm
from swarms.models import Swarm
from tasks.models import Task

SOURCE = "HeadlessCoordinator"


def swarm_create(
    *,
    owner: Any,
    objective: str,
    strategy: str = "auto",
    mode: str = Swarm.Mode.CENTRALIZED,
    max_agents: int = 5,
    timeout_ms: int | None = None,
    parallel: bool = True,
    options: dict[str, Any] | None = None,
    name: str = "",
) -> Swarm:
    with transaction.atomic():
        gate("swarms")  # lock: two creates must not both see room for one more swarm
        active = Swarm.objects.active().count()
        if active >= settings.MAX_SWARMS:
            raise LimitExceeded(
                f"This deployment already has {active} active swarms (maxSwarms is {settings.MAX_SWARMS}); "
                "stop or wait for one to finish"
            )
        swarm = Swarm.objects.create(
            owner=owner,
            name=name or _name_from(objective),
            objective=objective,
            strategy=strategy,
            mode=mode,
            max_agents=max_agents,
            timeout_ms=timeout_ms or settings.DEFAULT_SWARM_TIMEOUT_MS,
            parallel=parallel,
            options=options or {},
        )
        events.publish(
            swarm.id,
            "swarm.created",
            {
                "status": swarm.status,
                "objective": objective,
                "strategy": strategy,
                "mode": mode,
                "maxAgents": max_agents,
            },
        )
        events.log(swarm.id, "info", SOURCE, f"Creating swarm: {swarm.id}")
        engine.after_commit_plan(swarm.id)
    return swarm


def swarm_start(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.status == Swarm.Status.PLANNING:
            if swarm.start_requested:
                raise Conflict(
                    "Start is already requested; the swarm starts executing when planning completes"
                )
            swarm.start_requested = True
            swarm.save(update_fields=["start_requested", "updated_at"])
            events.log(
                swarm.id,
                "info",
                SOURCE,
                "Start requested during planning; execution begins when the plan lands",
            )
            return swarm
        _require(swarm, (Swarm.Status.READY,), "start")
        begin_execution(swarm)
    return swarm


def begin_execution(swarm: Swarm) -> None:
    """ready → executing (also used when a plan lands after an early start). Caller holds the lock."""
    swarm.status = Swarm.Status.EXECUTING
    swarm.started_at = timezone.now()
    swarm.save(update_fields=["status", "started_at", "updated_at"])
    events.publish(swarm.id, "swarm.started", {"status": swarm.status})
    events.log(swarm.id, "info", SOURCE, f"Swarm {swarm.id} started executing")
    engine.after_commit_dispatch(swarm.id)


def swarm_pause(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.EXECUTING,), "pause")
        swarm.status = Swarm.Status.PAUSED
        swarm.save(update_fields=["status", "updated_at"])
        events.publish(swarm.id, "swarm.paused", {"status": swarm.status})
        events.log(swarm.id, "info", SOURCE, "Swarm paused: running tasks finish, nothing new is dispatched")
    return swarm


def swarm_resume(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.PAUSED,), "resume")
        swarm.status = Swarm.Status.EXECUTING
        swarm.save(update_fields=["status", "updated_at"])
        events.publish(swarm.id, "swarm.resumed", {"status": swarm.status})
        events.log(swarm.id, "info", SOURCE, "Swarm resumed")
        engine.after_commit_dispatch(swarm.id)
    return swarm


def swarm_stop(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, Swarm.ACTIVE, "stop")
        finish(swarm, Swarm.Status.STOPPED, reason="stopped by request")
    return swarm


def swarm_delete(*, swarm_id: str) -> None:
    """Deletes the swarm and everything it owns; a running swarm is stopped first, so its
    workers see their tasks cancelled and abort their Claude streams."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.is_active:
            finish(swarm, Swarm.Status.STOPPED, reason="deleted")
    with transaction.atomic():
        lock_swarm(swarm_id).delete()
    events.announce_deleted(swarm_id)


def swarm_fail(
    *,
    swarm_id: str,
    reason: str,
    event_data: dict[str, Any] | None = None,
    extra_event: tuple[str, dict[str, Any]] | None = None,
) -> bool:
    """Fails an active swarm (timeout, budget, bad plan, failed tasks); False if already over.
    `extra_event` is published first, in the same transaction (e.g. budget.exceeded)."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            return False
        if extra_event:
            events.publish(swarm.id, *extra_event)
        finish(swarm, Swarm.Status.FAILED, reason=reason, event_data=event_data)
    return True


def finish(swarm: Swarm, status: str, *, reason: str = "", event_data: dict[str, Any] | None = None) -> None:
    """Ends the swarm: open tasks are cancelled (running ones are aborted by their worker's
    watchdog, which sees the status change) and busy agents go idle. Caller holds the lock."""
    now = timezone.now()
    open_tasks = list(Task.objects.filter(swarm=swarm).exclude(status__in=Task.TERMINAL).values("id", "name"))
    Task.objects.filter(pk__in=[t["id"] for t in open_tasks]).update(
        status=Task.Status.CANCELLED,
        failure_reason=reason[:64],
        completed_at=now,
        lease_owner="",
        lease_expires_at=None,
    )
    metrics.task_ended("cancelled", count=len(open_tasks))
    for task in open_tasks:
        events.publish(
            swarm.id,
            "task.cancelled",
            {"id": task["id"], "name": task["name"], "status": "cancelled", "reason": reason},
        )
    Agent.objects.filter(swarm=swarm, status=Agent.Status.BUSY).update(
        status=Agent.Status.IDLE, idle_since=now
    )
    swarm.status = status
    swarm.failure_reason = reason if status != Swarm.Status.COMPLETED else ""
    swarm.completed_at = now
    swarm.save(update_fields=["status", "failure_reason", "completed_at", "updated_at"])
    data = {"status": status, **({"reason": reason} if reason else {}), **(event_data or {})}
    event_type = {Swarm.Status.STOPPED: "swarm.stopped", Swarm.Status.FAILED: "swarm.failed"}.get(
        status, "swarm.completed"
    )
    events.publish(swarm.id, event_type, data)
    level = "error" if status == Swarm.Status.FAILED else "info"
    events.log(swarm.id, level, SOURCE, f"Swarm {status}" + (f": {reason}" if reason else ""))


_HINTS = {
    ("start", Swarm.Status.EXECUTING): "it is already executing",
    ("start", Swarm.Status.PAUSED): "it is paused; use resume",
    ("pause", Swarm.Status.PAUSED): "it is already paused",
    ("resume", Swarm.Status.EXECUTING): "it is already executing",
}


def _require(swarm: Swarm, allowed: tuple[str, ...], action: str) -> None:
    if swarm.status in allowed:
        return
    hint = _HINTS.get((action, swarm.status), f"it is {swarm.status}")
    raise Conflict(f"Cannot {action} swarm {swarm.id}: {hint}")


def _name_from(objective: str) -> str:
    words = " ".join(objective.split())
    return words if len(words) <= 60 else words[:57].rstrip() + "…"
