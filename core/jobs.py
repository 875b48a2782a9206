"""Hand-offs to the workers: always after commit, always by id, always by actor name.

A message sent inside the transaction could reach a worker before the rows it refers to are
visible, or describe work that was rolled back; `on_commit` avoids both. Actors are looked up by
name on the broker (the engine registers them when Django starts), so the domain apps that ask
for work never import the engine that does it.

When the broker (Redis) is down: a command whose point is to get work done (create, start,
resume) checks it first with `require_broker` and is refused with a 503 before anything is
committed. A message that still cannot be sent after its transaction committed (the broker died in
between) is logged and dropped, not raised: the commit stands and the caller is told so; the
housekeeping re-sends lost plans, assignments and schedules from the database once Redis is back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from django.db import transaction

from core.errors import REDIS_DOWN, ServiceUnavailable

logger = logging.getLogger(__name__)

PLAN_SWARM = "plan_swarm"
SCHEDULE = "schedule"
RUN_TASK = "run_task"
SETTLE_SWARM = "settle_swarm"
_send_failed = threading.Event()  # housekeeping re-sends unclaimed work once the broker answers


def send(actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
    try:
        actor = dramatiq.get_broker().get_actor(actor_name)
        if delay_ms:
            actor.send_with_options(args=args, delay=delay_ms)
        else:
            actor.send(*args)
    except REDIS_DOWN as exc:
        _send_failed.set()
        logger.warning(
            "broker unavailable, %s%r not sent (housekeeping re-sends it): %s", actor_name, args, exc
        )
    except Exception:
        _send_failed.set()
        raise


def take_send_failure() -> bool:
    """Whether a send failed since the last call (the message it carried is lost)."""
    failed = _send_failed.is_set()
    _send_failed.clear()
    return failed


def require_broker() -> None:
    """Refuses (503) while the broker cannot be reached; call it before the transaction."""
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)  # a RedisBroker's; the StubBroker has none
    ping = client.ping if client is not None else getattr(broker, "ping", None)  # core.sqs.SQSBroker
    if ping is None:
        return
    try:
        ping()
    except REDIS_DOWN:
        raise ServiceUnavailable(
            f"The job queue ({'SQS' if client is None else 'Redis'}) is unavailable, so no work can start;"
            " nothing was changed. Try again shortly"
        ) from None


def send_on_commit(actor_name: str, *args: Any) -> None:
    transaction.on_commit(lambda: send(actor_name, *args))


def send_later_on_commit(actor_name: str, *args: Any, delay_ms: int) -> None:
    """Sent after commit, delivered to a worker `delay_ms` later (the broker holds it meanwhile)."""
    transaction.on_commit(lambda: send(actor_name, *args, delay_ms=delay_ms))


def plan_on_commit(swarm_id: str) -> None:
    send_on_commit(PLAN_SWARM, swarm_id)


def schedule_on_commit() -> None:
    """Asks the scheduler to fill free slots (from any swarm) once this transaction commits."""
    send_on_commit(SCHEDULE)


def settle_on_commit(swarm_id: str) -> None:
    """Asks the engine to settle the swarm (cancel what can never run, end it when nothing is
    left) once this transaction commits: a command that closed its last open task."""
    send_on_commit(SETTLE_SWARM, swarm_id)
