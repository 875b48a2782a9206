"""Database writes that must survive a short outage (Postgres restarting, a failover, a blip).

A worker holding something it paid for (a Claude answer) keeps it in memory and retries the
write until the database is back, instead of dropping it and paying again on the re-run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, models
from django.db.models import F, Value

logger = logging.getLogger(__name__)
T = TypeVar("T")

UNREACHABLE = (OperationalError, InterfaceError)
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 2.0


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def retry_while_unreachable(
    write: Callable[[], T],
    *,
    what: str,
    wait: Callable[[float], bool] = _sleep,
    deadline: float | None = None,
) -> T:
    """Runs `write` (its own transaction), again with backoff while the database is unreachable.

    `wait(seconds)` sleeps and returns True when the caller must give up (its Abort fired);
    `deadline` (time.monotonic()) bounds the retries too. Then the last error is raised. Each
    retry starts on a fresh connection: Django never reopens a broken one by itself.
    """
    delay, warned = FIRST_DELAY_S, False
    while True:
        try:
            result = write()
        except UNREACHABLE as exc:
            if connection.in_atomic_block:  # a caller's transaction is broken: it must unwind first
                raise
            connection.close()
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if not warned:
                logger.warning("database unreachable (%s); %s kept in memory, retrying", exc, what)
                warned = True
            if wait(delay):
                raise
            delay = min(MAX_DELAY_S, delay * 2)
            continue
        if warned:
            logger.warning("database back; %s written", what)
        return result


def plus(model: type[models.Model], name: str, value: object) -> models.Expression:
    """`F(name) + value`, the value typed by the column itself: untyped, Django builds a new field
    instance to type it on every update (measurable on the worker's per-task updates)."""
    return F(name) + Value(value, output_field=model._meta.get_field(name))
