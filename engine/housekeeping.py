"""Periodic recovery, run by every worker process (and the embedded workers).

Each step uses conditional updates, so several processes may run it at once:
- leases that expired (their worker died) put the task back to pending, or fail it after
  MAX_LEASE_EXPIRIES such strikes, so one poisonous task cannot crash workers forever (a worker
  that shuts down gracefully hands its task back: no strike);
- assignments nobody claimed within a lease period, and plans whose message was lost, are re-sent
  (every assignment at once when the broker comes back after an outage);
- swarms past their timeout fail with reason `timeout`; free slots are filled (normal progress never waits for this);
- swarms left `ready` longer than READY_SWARM_TTL are stopped (reason `expired: …`), freeing their quota slot;
- a plan or task output waiting for approval longer than APPROVAL_TIMEOUT fails its swarm (reason
  `approval_timeout`);
- prompt traces older than TRACE_RETENTION_DAYS are cleared (hourly);
- webhook deliveries whose message was lost are re-sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.services import agent_release
from core import jobs
from engine import resources, scheduler, settle
from engine.claude import calls, trace
from events.stream import SwarmGone, log, swarm_tx
from swarms.models import Swarm
from swarms.services import swarm_expire, swarm_expire_approval, swarm_fail, swarm_replan
from tasks.models import Task
from tasks.services import task_fail, task_mark_resent, task_requeue, task_score
from webhooks import services as webhook_services

logger = logging.getLogger(__name__)
MAX_LEASE_EXPIRIES = 3  # strikes: a task whose worker vanished this many times fails
_broker: dict[str, Any] = {"down": False, "client": None}  # this process's view of the broker


def tick() -> None:
    for step in (
        resources.update_guard,
        reap_expired_leases,
        calls.reconcile_lost_calls,
        release_lost_reviews,
        resend_after_broker_outage,
        resend_stale_assignments,
        resume_orphaned_planning,
        enforce_swarm_timeouts,
        enforce_approval_timeouts,
        expire_ready_swarms,
        kick_executing_swarms,
        trace.prune_old,
        webhook_services.resend_due,
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
    """A lease that expired is a lost worker, a strike: re-queue the task, or fail it at
    MAX_LEASE_EXPIRIES strikes. Graceful hand-overs (task_requeue with an owner) are not strikes."""
    strikes = task.lease_expiries + 1
    if strikes >= MAX_LEASE_EXPIRIES:
        error = f"The worker running it stopped responding {strikes} times"
        if task_fail(task=task, owner=task.lease_owner, reason="worker_lost", error=error) is None:
            return 0
        agent_release(swarm_id=task.swarm_id, agent_id=task.assigned_agent_id, outcome="failed")
        log(
            task.swarm_id,
            "error",
            "LeaseReaper",
            f"Task {task.name} failed: its worker was lost {strikes} times",
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


def _unclaimed() -> timedelta:
    """An assignment nobody claimed within a lease period may have lost its message: re-sent by
    then (two ticks early, as ticks come every HOUSEKEEPING_INTERVAL). A duplicate costs one read."""
    lease = settings.TASK_LEASE_SECONDS
    return timedelta(seconds=max(lease / 2, lease - 2 * settings.HOUSEKEEPING_INTERVAL_SECONDS))


def resend_stale_assignments(*, cutoff: datetime | None = None) -> int:
    """Assigned tasks nobody started within a lease period (or before `cutoff`): their message
    may be lost. The runner's claim is conditional, so a duplicate never runs a task twice."""
    cutoff = cutoff or timezone.now() - _unclaimed()
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


def resend_after_broker_outage() -> int:
    """Messages sent while the broker was down are lost, and a restarted Redis may have lost its
    queues too: once it answers again (or after a failed send), every assignment and plan that no
    worker holds gets its message again at once, instead of after a lease period."""
    failed = jobs.take_send_failure()
    if not broker_reachable():
        if not _broker["down"]:
            logger.warning("the broker is unreachable; unclaimed work is re-sent when it is back")
        _broker["down"] = True
        return 0
    if not (_broker["down"] or failed):
        return 0
    _broker["down"] = False
    now = timezone.now()
    resent = resend_stale_assignments(cutoff=now) + resume_orphaned_planning(idle_before=now)
    logger.warning("the broker is reachable again; re-sent %d unclaimed assignment(s) and plan(s)", resent)
    return resent


def broker_reachable() -> bool:
    """A ping with a short timeout (the Redis broker; the in-process stub broker is always up)."""
    url = settings.DRAMATIQ_BROKER.get("OPTIONS", {}).get("url")
    if not url:
        return True
    if _broker["client"] is None:
        _broker["client"] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(_broker["client"].ping())
    except redis.RedisError:
        return False


def resume_orphaned_planning(*, idle_before: datetime | None = None) -> int:
    now = timezone.now()
    idle_before = idle_before or now - _stale()
    orphaned = Swarm.objects.filter(status=Swarm.Status.PLANNING, updated_at__lt=idle_before).filter(
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
    rows = running.values_list(
        "id", "started_at", "timeout_ms", "deferred_ms", "approval_waited_ms", "approval_since"
    )
    for swarm_id, started_at, timeout_ms, deferred_ms, waited_ms, waiting_since in rows:
        # the clock stops while the resource guard defers dispatch (engine/resources.py) and
        # while an approval gate is open (waited: closed gates; since: the one open now)
        clock = max(waiting_since, started_at) if waiting_since else now
        if started_at + timedelta(milliseconds=timeout_ms + deferred_ms + waited_ms) < clock:
            failed += swarm_fail(swarm_id=swarm_id, reason="timeout", details={"timeoutMs": timeout_ms})
    return failed


def enforce_approval_timeouts() -> int:
    """A plan or a task output that waited for approval longer than APPROVAL_TIMEOUT fails its
    swarm (looked at again under the swarm's lock: an approval may have come meanwhile)."""
    if not settings.APPROVAL_TIMEOUT:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.APPROVAL_TIMEOUT)
    plans = Swarm.objects.filter(status=Swarm.Status.AWAITING_APPROVAL, approval_since__lt=cutoff)
    outputs = Task.objects.filter(status=Task.Status.AWAITING_APPROVAL, awaiting_since__lt=cutoff)
    waiting = set(plans.values_list("id", flat=True)) | set(outputs.values_list("swarm_id", flat=True))
    return sum(
        swarm_expire_approval(swarm_id=swarm_id, waiting_before=cutoff) for swarm_id in sorted(waiting)
    )


def expire_ready_swarms() -> int:
    """Swarms planned but never started hold a quota slot: after READY_SWARM_TTL they are stopped."""
    if not settings.READY_SWARM_TTL:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.READY_SWARM_TTL)
    stale = Swarm.objects.filter(status=Swarm.Status.READY, updated_at__lt=cutoff).values_list(
        "id", flat=True
    )
    return sum(swarm_expire(swarm_id=swarm_id, ready_before=cutoff) for swarm_id in list(stale))


def kick_executing_swarms() -> int:
    """Recovery only: fills slots a lost message or the end of a resource-guard deferral left
    free, and settles executing swarms with nothing left to run."""
    for swarm_id in scheduler.swarms_without_open_work():
        settle.settle(swarm_id)
    return len(scheduler.fill().assigned)
