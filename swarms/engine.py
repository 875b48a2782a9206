"""Hand-offs from services to the workers, always after commit and always by id.

A message sent inside the transaction could reach a worker before the rows it refers to are
visible, or describe work that was rolled back; `on_commit` avoids both.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit_plan(swarm_id: str) -> None:
    transaction.on_commit(lambda: _actors().plan_swarm.send(swarm_id))


def after_commit_dispatch(swarm_id: str) -> None:
    transaction.on_commit(lambda: _actors().dispatch_swarm.send(swarm_id))


def dispatch_now(swarm_id: str) -> None:
    """From a worker that just freed a slot, outside any transaction: dispatch in this thread,
    saving a trip through the queue; if that fails, leave it to a dispatch message."""
    from swarms import coordinator

    try:
        coordinator.dispatch(swarm_id=swarm_id)
    except Exception:
        logger.exception("inline dispatch of %s failed; queueing it", swarm_id)
        _actors().dispatch_swarm.send(swarm_id)


def after_commit_run(task_id: str, assignment_seq: int) -> None:
    transaction.on_commit(lambda: _actors().run_task.send(task_id, assignment_seq))


def _actors():
    from tasks import actors

    return actors
