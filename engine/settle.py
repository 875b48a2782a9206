"""Settling a swarm after a task ended: tasks that can never run are cancelled, and a swarm with
nothing left to run ends completed (every task completed) or failed.

Runs after the task's own transaction committed: it reads the counts without a lock (most of
the time there is still work open and nothing else to do), and only to change something takes
the swarm's row lock first, like every swarm command, and looks again.
"""

from __future__ import annotations

from django.db import transaction

from events.stream import batch
from swarms.models import Swarm
from swarms.services import swarm_finish
from tasks.models import Task
from tasks.services import OPEN, blocked_by_failure, status_counts, task_cancel


def _unfinished(counts: dict[str, int]) -> bool:
    """Open tasks, or completed ones whose (non-blocking) review is still to score them."""
    return any(counts.get(status) for status in OPEN) or bool(counts.get("reviewing"))


def settle(swarm_id: str) -> bool:
    """Returns True when the swarm ended."""
    counts = status_counts(swarm_id)
    doomed_possible = counts.get(Task.Status.PENDING) and (
        counts.get(Task.Status.FAILED) or counts.get(Task.Status.CANCELLED)
    )
    if not doomed_possible and _unfinished(counts):
        return False
    with transaction.atomic(), batch(swarm_id):
        swarm = Swarm.objects.select_for_update(no_key=True).filter(pk=swarm_id).first()
        if swarm is None or swarm.status not in (Swarm.Status.EXECUTING, Swarm.Status.PAUSED):
            return False
        doomed = blocked_by_failure(swarm_id) if doomed_possible else []
        if doomed:
            task_cancel(swarm_id=swarm_id, tasks=doomed, reason="dependency_failed")
        counts = status_counts(swarm_id)
        if _unfinished(counts):
            return False
        total = sum(n for status, n in counts.items() if status != "reviewing")
        completed = counts.get(Task.Status.COMPLETED, 0)
        if completed == total:
            swarm_finish(swarm, Swarm.Status.COMPLETED)
        else:
            swarm_finish(
                swarm, Swarm.Status.FAILED, reason=f"{total - completed} of {total} tasks did not complete"
            )
    return True
