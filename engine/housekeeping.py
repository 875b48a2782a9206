"""Periodic recovery, run by every worker process (and the embedded workers).

Each step uses conditional updates, so several processes may run it at once:
- leases that expired (their worker died) put the task back to pending, or fail it after
  MAX_TASK_ATTEMPTS so one poisonous task cannot crash workers forever;
- assignments and plans whose message was lost (e.g. the embedded broker restarted) are re-sent;
- swarms past their timeout fail with reason `timeout`; free slots are filled (normal progress never waits for this).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.services import agent_release
from core import jobs
from engine import resources, scheduler, settle
from engine.claude import calls
from events.stream import SwarmGone, log, swarm_tx
from swarms.models import Swarm
from swarms.services import swarm_fail, swarm_replan
from tasks.models import Task
from tasks.services import task_fail, task_mark_resent, task_requeue, task_score

logger = logging.getLogger(__name__)
MAX_TASK_ATTEMPTS = 3


def tick() -> None:
    for step in (
        resources.update_guard,
        reap_expired_leases,
        calls.reconcile_lost_calls,
        release_lost_reviews,
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
    for task in Task.objects.filter(status=Task.Status.RUNNING, lease_expires_at__lt=now):
        try:
            with swarm_tx(task.swarm_id):
                reaped += _requeue_or_fail(task, now)
        except SwarmGone:
            continue
    if reaped:
        scheduler.fill()
    return reaped


def _requeue_or_fail(task: Task, now: object) -> int:
    """A lease that expired is a lost worker: re-queue the task, or fail it after MAX_TASK_ATTEMPTS."""
    if task.attempts >= MAX_TASK_ATTEMPTS:
        error = f"The worker running it stopped responding {task.attempts} times"
        if task_fail(task=task, owner=task.lease_owner, reason="worker_lost", error=error) is None:
            return 0
        agent_release(swarm_id=task.swarm_id, agent_id=task.assigned_agent_id, outcome="failed")
        log(
            task.swarm_id,
            "error",
            "LeaseReaper",
            f"Task {task.name} failed: its worker was lost {task.attempts} times",
        )
        transaction.on_commit(lambda: settle.settle(task.swarm_id))
        return 1
    if task_requeue(task=task, reason="lease_expired", expired_before=now) is None:
        return 0
    agent_release(swarm_id=task.swarm_id, agent_id=task.assigned_agent_id)
    log(
        task.swarm_id,
        "warn",
        "LeaseReaper",
        f"Task {task.name}: its worker stopped renewing the lease; re-queued",
    )
    return 1


def release_lost_reviews() -> int:
    """A review whose process died never scores its task, and its swarm would wait for it: past
    the longest a review can take (every retry timing out), the wait is dropped, the score empty."""
    longest = timedelta(seconds=settings.CLAUDE_TIMEOUT_MS / 1000 * (settings.MAX_RETRIES + 1) + 60)
    lost = Task.objects.filter(
        status=Task.Status.COMPLETED, review_pending=True, completed_at__lt=timezone.now() - longest
    ).values_list("id", "swarm_id")
    released = 0
    for task_id, swarm_id in lost:
        try:
            with swarm_tx(swarm_id):
                released += task_score(task_id=task_id, quality=None, feedback="") is not None
        except SwarmGone:
            continue
        settle.settle(swarm_id)
    return released


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
            if task_mark_resent(task_id=task_id, assignment_seq=seq, assigned_before=cutoff):
                jobs.send_on_commit(jobs.RUN_TASK, task_id, seq)
    return len(stale)


def resume_orphaned_planning() -> int:
    now = timezone.now()
    orphaned = Swarm.objects.filter(status=Swarm.Status.PLANNING, updated_at__lt=now - _stale()).filter(
        Q(plan_lease_expires_at__isnull=True) | Q(plan_lease_expires_at__lt=now)
    )
    ids = list(orphaned.values_list("id", flat=True))
    for swarm_id in ids:
        with transaction.atomic():
            swarm_replan(swarm_id=swarm_id)
    return len(ids)


def enforce_swarm_timeouts() -> int:
    now = timezone.now()
    failed = 0
    running = Swarm.objects.filter(
        status__in=[Swarm.Status.EXECUTING, Swarm.Status.PAUSED], started_at__isnull=False
    )
    for swarm_id, started_at, timeout_ms in running.values_list("id", "started_at", "timeout_ms"):
        if started_at + timedelta(milliseconds=timeout_ms) < now:
            failed += swarm_fail(swarm_id=swarm_id, reason="timeout", details={"timeoutMs": timeout_ms})
    return failed


def kick_executing_swarms() -> int:
    """Recovery only: fills slots a lost message or the end of a resource-guard deferral left
    free, and settles executing swarms with nothing left to run."""
    for swarm_id in scheduler.swarms_without_open_work():
        settle.settle(swarm_id)
    return len(scheduler.fill().assigned)
