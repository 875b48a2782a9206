"""Settling a swarm after a task ended: tasks that can never run are cancelled, and a swarm with
nothing left to run ends completed (every task completed) or failed."""

from __future__ import annotations

from swarms.locks import lock_swarm
from swarms.models import Swarm
from swarms.services import swarm_finish
from tasks.models import Task
from tasks.services import OPEN, blocked_by_failure, status_counts, task_cancel


def settle(swarm_id: str) -> bool:
    """Returns True when the swarm ended. Caller holds the swarm's row lock."""
    counts = status_counts(swarm_id)
    if counts.get(Task.Status.PENDING) and (
        counts.get(Task.Status.FAILED) or counts.get(Task.Status.CANCELLED)
    ):
        doomed = blocked_by_failure(swarm_id)
        if doomed:
            task_cancel(swarm_id=swarm_id, tasks=doomed, reason="dependency_failed")
            counts = status_counts(swarm_id)
    if any(counts.get(status) for status in OPEN):
        return False
    swarm = lock_swarm(swarm_id)
    if swarm.status not in (Swarm.Status.EXECUTING, Swarm.Status.PAUSED):
        return False
    total = sum(counts.values())
    completed = counts.get(Task.Status.COMPLETED, 0)
    if completed == total:
        swarm_finish(swarm, Swarm.Status.COMPLETED)
    else:
        swarm_finish(
            swarm, Swarm.Status.FAILED, reason=f"{total - completed} of {total} tasks did not complete"
        )
    return True
