"""Periodic recovery, run by every worker process (and the embedded workers).

Each step uses conditional updates, so several processes may run it at once:
- leases that expired (their worker died) put the task back to pending, or fail it after
  MAX_TASK_ATTEMPTS so one poisonous task cannot crash workers forever;
- assignments and plans whose message was lost (e.g. the embedded broker restarted) are re-sent;
- swarms past their timeout fail with reason `timeout`; executing swarms get a dispatch kick.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from ops import metrics
from swarms import engine, events
from swarms.locks import lock_swarm
from swarms.models import Swarm
from swarms.services import swarm_fail
from tasks import resources
from tasks.models import Task

logger = logging.getLogger(__name__)
MAX_TASK_ATTEMPTS = 3


def tick() -> None:
    for step in (
        resources.update_guard,
        reap_expired_leases,
        resend_stale_assignments,
        resume_orphaned_planning,
        enforce_swarm_timeouts,
        kick_executing_swarms,
    ):
        try:
            step()
        except Exception:  # one failing step must not stop the others
            logger.exception("housekeeping step %s failed", step.__name__)


def _stale() -> timedelta:
    return timedelta(seconds=max(10.0, 2 * settings.TASK_LEASE_SECONDS))


def reap_expired_leases() -> int:
    now = timezone.now()
    reaped = 0
    for task in Task.objects.filter(status=Task.Status.RUNNING, lease_expires_at__lt=now).only(
        "id", "swarm_id"
    ):
        with transaction.atomic():
            lock_swarm(task.swarm_id)
            task = (
                Task.objects.select_related("assigned_agent")
                .filter(pk=task.id, status=Task.Status.RUNNING, lease_expires_at__lt=now)
                .first()
            )
            if task is None:
                continue
            _requeue_or_fail(task)
            reaped += 1
    return reaped


def _requeue_or_fail(task: Task) -> None:
    agent_id = task.assigned_agent_id
    if task.attempts >= MAX_TASK_ATTEMPTS:
        Task.objects.filter(pk=task.id).update(
            status=Task.Status.FAILED,
            failure_reason="worker_lost",
            lease_owner="",
            lease_expires_at=None,
            error=f"The worker running it stopped responding {task.attempts} times",
            completed_at=timezone.now(),
        )
        metrics.task_ended("failed")
        events.publish(
            task.swarm_id, "task.failed", {"id": task.id, "name": task.name, "reason": "worker_lost"}
        )
        events.log(
            task.swarm_id,
            "error",
            "LeaseReaper",
            f"Task {task.name} failed: its worker was lost {task.attempts} times",
        )
    else:
        Task.objects.filter(pk=task.id).update(
            status=Task.Status.PENDING, lease_owner="", lease_expires_at=None
        )
        if not task.pinned:
            Task.objects.filter(pk=task.id).update(assigned_agent=None)
        events.publish(
            task.swarm_id,
            "task.retrying",
            {"id": task.id, "name": task.name, "reason": "lease_expired", "attempt": task.attempts},
        )
        events.log(
            task.swarm_id,
            "warn",
            "LeaseReaper",
            f"Task {task.name}: its worker stopped renewing the lease; re-queued",
        )
    if agent_id and Agent.objects.filter(pk=agent_id, status=Agent.Status.BUSY).update(
        status=Agent.Status.IDLE, idle_since=timezone.now()
    ):
        events.publish(task.swarm_id, "agent.status_changed", {"id": agent_id, "status": "idle"})
    engine.after_commit_dispatch(task.swarm_id)


def resend_stale_assignments() -> int:
    """An assigned task nobody started within the stale period: its message may be lost."""
    cutoff = timezone.now() - _stale()
    stale = list(
        Task.objects.filter(status=Task.Status.ASSIGNED, assigned_at__lt=cutoff).values_list(
            "id", "assignment_seq"
        )
    )
    for task_id, seq in stale:
        with transaction.atomic():
            if Task.objects.filter(
                pk=task_id, status=Task.Status.ASSIGNED, assignment_seq=seq, assigned_at__lt=cutoff
            ).update(assigned_at=timezone.now()):
                engine.after_commit_run(task_id, seq)
    return len(stale)


def resume_orphaned_planning() -> int:
    now = timezone.now()
    orphaned = Swarm.objects.filter(status=Swarm.Status.PLANNING, updated_at__lt=now - _stale()).filter(
        Q(plan_lease_expires_at__isnull=True) | Q(plan_lease_expires_at__lt=now)
    )
    ids = list(orphaned.values_list("id", flat=True))
    for swarm_id in ids:
        with transaction.atomic():
            Swarm.objects.filter(pk=swarm_id).update(updated_at=now)
            engine.after_commit_plan(swarm_id)
    return len(ids)


def enforce_swarm_timeouts() -> int:
    now = timezone.now()
    failed = 0
    running = Swarm.objects.filter(
        status__in=[Swarm.Status.EXECUTING, Swarm.Status.PAUSED], started_at__isnull=False
    )
    for swarm_id, started_at, timeout_ms in running.values_list("id", "started_at", "timeout_ms"):
        if started_at + timedelta(milliseconds=timeout_ms) < now:
            failed += swarm_fail(swarm_id=swarm_id, reason="timeout", event_data={"timeoutMs": timeout_ms})
    return failed


def kick_executing_swarms() -> int:
    """Covers a lost dispatch message and the end of a resource-guard deferral."""
    ids = list(Swarm.objects.filter(status=Swarm.Status.EXECUTING).values_list("id", flat=True))
    for swarm_id in ids:
        with transaction.atomic():
            engine.after_commit_dispatch(swarm_id)
    return len(ids)
