"""Hand-offs to the workers: always after commit, always by id, always by actor name.

A message sent inside the transaction could reach a worker before the rows it refers to are
visible, or describe work that was rolled back; `on_commit` avoids both. Actors are looked up by
name on the broker (the engine registers them when Django starts), so the domain apps that ask
for work never import the engine that does it.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from django.db import transaction

PLAN_SWARM = "plan_swarm"
SCHEDULE = "schedule"
RUN_TASK = "run_task"
_send_failed = threading.Event()  # housekeeping re-sends unclaimed work once the broker answers


def send(actor_name: str, *args: Any) -> None:
    try:
        dramatiq.get_broker().get_actor(actor_name).send(*args)
    except Exception:
        _send_failed.set()
        raise


def take_send_failure() -> bool:
    """Whether a send failed since the last call (the message it carried is lost)."""
    failed = _send_failed.is_set()
    _send_failed.clear()
    return failed


def send_on_commit(actor_name: str, *args: Any) -> None:
    transaction.on_commit(lambda: send(actor_name, *args))


def plan_on_commit(swarm_id: str) -> None:
    send_on_commit(PLAN_SWARM, swarm_id)


def schedule_on_commit() -> None:
    """Asks the scheduler to fill free slots (from any swarm) once this transaction commits."""
    send_on_commit(SCHEDULE)
