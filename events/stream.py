"""Writing events in the state change's transaction, pushing them to subscribers after commit.

`publish()` runs inside the transaction that makes the state change and takes an event built by
`events.catalogue`. The swarm row's `last_event_seq` update takes the swarm's row lock, so one
swarm's events are committed in seq order and a subscriber detects a lost message from a gap.

Hot paths open `swarm_tx(swarm_id, expect=n)`: its first statement locks the swarm row and
reserves n numbers (lock order is always swarm → tasks/agents), and every event published inside
is written by one INSERT at the end. An aborted transaction gives its numbers back, so seq stays
gap-free. Elsewhere `batch()` groups the events of a transaction that already holds the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from events import catalogue
from events.catalogue import Built
from events.models import Event, LogEntry
from ops import metrics

logger = logging.getLogger(__name__)

LEVELS = {
    "debug": LogEntry.Level.DEBUG,
    "info": LogEntry.Level.INFO,
    "warn": LogEntry.Level.WARN,
    "error": LogEntry.Level.ERROR,
}
_open = threading.local()


class SwarmGone(Exception):
    """The swarm was deleted."""


def group_name(swarm_id: str) -> str:
    return f"swarm.{swarm_id}"


def envelope(event: Event) -> dict[str, Any]:
    """The message a WebSocket client receives, as the spec's monitor client reads it."""
    return {
        "type": "swarm_event",
        "eventId": event.id,
        "seq": event.seq,
        "swarmId": event.swarm_id,
        "eventType": event.type,
        "data": event.data,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
    }


class _Batch:
    def __init__(self, swarm_id: str, base: int | None = None, reserved: int = 0) -> None:
        self.swarm_id = swarm_id
        self.base = base
        self.reserved = reserved
        self.events: list[Event] = []

    def flush(self) -> list[Event]:
        count = len(self.events)
        if self.base is None:
            if not count:
                return []
            self.base = _advance(self.swarm_id, count) - count
        elif count != self.reserved:
            _set_seq(self.swarm_id, self.base + count)
        if not count:
            return []
        now = timezone.now()
        for offset, event in enumerate(self.events, start=1):
            event.seq, event.created_at = self.base + offset, now
        written = Event.objects.bulk_create(self.events)
        transaction.on_commit(lambda: _announce(written))
        return written


def _batches() -> dict[str, _Batch]:
    if not hasattr(_open, "batches"):
        _open.batches = {}
    return _open.batches


@contextlib.contextmanager
def batch(swarm_id: str, *, base: int | None = None, reserved: int = 0) -> Iterator[None]:
    """Collects the events published inside and writes them in one statement at the end."""
    if swarm_id in _batches():  # nested: the outer batch writes them
        yield
        return
    current = _batches()[swarm_id] = _Batch(swarm_id, base, reserved)
    try:
        yield
    finally:
        del _batches()[swarm_id]
    current.flush()


@contextlib.contextmanager
def swarm_tx(swarm_id: str, *, expect: int = 0) -> Iterator[None]:
    """A transaction that first locks the swarm row, reserving `expect` event numbers."""
    with transaction.atomic():
        top = _advance(swarm_id, expect)
        with batch(swarm_id, base=top - expect, reserved=expect):
            yield


def publish(swarm_id: str, built: Built) -> Event | None:
    """Writes one catalogue event (batched when a batch is open); pushed after commit."""
    if not isinstance(built, Built):
        raise TypeError("publish() takes an event built by events.catalogue")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must run inside the transaction of the state change")
    event = Event(swarm_id=swarm_id, type=built.type, data=built.data)
    current = _batches().get(swarm_id)
    if current is not None:
        current.events.append(event)
        return None
    event.seq = _advance(swarm_id, 1)
    event.save(force_insert=True)
    transaction.on_commit(lambda: _announce([event]))
    return event


def log(swarm_id: str, level: str, source: str, message: str, data: dict[str, Any] | None = None) -> None:
    """Writes a LogEntry and announces it as a `log` event (inside the caller's transaction)."""
    with transaction.atomic():
        entry = LogEntry.objects.create(
            swarm_id=swarm_id, level=LEVELS[level], source=source, message=message, data=data or {}
        )
        publish(swarm_id, catalogue.log_line(entry_id=entry.id, level=level, source=source, message=message))
    logger.log(entry.level, "%s: %s", source, message, extra={"swarm_id": swarm_id})


def _advance(swarm_id: str, count: int) -> int:
    """Moves the swarm's seq on by `count` and returns the new top, taking the row lock."""
    table = Event._meta.get_field("swarm").related_model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_event_seq = last_event_seq + %s WHERE id = %s RETURNING last_event_seq",
            [count, swarm_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise SwarmGone(swarm_id)
    return row[0]


def _set_seq(swarm_id: str, value: int) -> None:
    table = Event._meta.get_field("swarm").related_model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_event_seq = %s WHERE id = %s", [value, swarm_id])


def _announce(written: list[Event]) -> None:
    for event in written:
        metrics.EVENTS.labels(event.type).inc()
        push(event)


def push(event: Event) -> None:
    """Best effort: a subscriber that misses this message back-fills it from the database."""
    _pusher.submit(group_name(event.swarm_id), {"type": "swarm.event", "event": envelope(event)})


class _Pusher:
    """Sends to the channel layer from one thread with one event loop, in submission order.

    `async_to_sync` from a worker thread would start a new event loop per message, and
    channels-redis opens a new Redis connection per loop; here one loop (and its connections)
    serves every message of the process, and the thread that committed does not wait for Redis.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, group: str, message: dict[str, Any]) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="event-push", daemon=True)
                    self._thread.start()
        self._queue.put((group, message))

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        while True:
            group, message = self._queue.get()
            try:
                loop.run_until_complete(get_channel_layer().group_send(group, message))
            except Exception:  # the row is committed: subscribers back-fill it
                logger.warning("could not push %s to the channel layer", message.get("type"), exc_info=True)


_pusher = _Pusher()


def announce_deleted(swarm_id: str) -> None:
    """A deleted swarm's rows are gone, so this last notice is pushed without a row."""
    _pusher.submit(
        group_name(swarm_id),
        {"type": "swarm.deleted", "event": {"type": "swarm_deleted", "swarmId": swarm_id}},
    )
