"""Writing events in the state change's transaction, pushing them to subscribers after commit.

Writers registered with `on_write` (webhook deliveries) write in that transaction too.

`publish()` runs inside the transaction that makes the state change and takes an event built by
`events.catalogue`. Inside `batch()` (or `swarm_tx()`, a transaction with a batch) events are
collected and written at its end by one INSERT, after one upsert of the swarm's Stream counter:
that row lock orders one swarm's publishers, so events are committed in seq order and a
subscriber detects a lost message from a gap in seq. Taken last, it is held only for the write
and the commit, and it is not the swarm row, which swarm commands lock first (lock order: swarm →
task → agent → stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from channels.layers import get_channel_layer
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events import catalogue
from events.catalogue import Built
from events.models import Event, LogEntry, Stream
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
    def __init__(self, swarm_id: str) -> None:
        self.swarm_id = swarm_id
        self.events: list[Event] = []
        self.logs: list[tuple[LogEntry, Event]] = []  # log lines written with the events, in one INSERT

    def flush_one(self, event: Event) -> Event:
        self.events.append(event)
        return self.flush()[0]

    def flush(self) -> list[Event]:
        if self.logs:
            LogEntry.objects.bulk_create([entry for entry, _ in self.logs])
            for entry, event in self.logs:
                event.data["id"] = entry.id
            self.logs = []
        if not self.events:
            return []
        now = timezone.now()
        for event in self.events:
            event.created_at = event.created_at or now
        if connection.vendor == "postgresql":
            written = _write_in_one_statement(self.swarm_id, self.events)
        else:
            base = _advance(self.swarm_id, len(self.events)) - len(self.events)
            for offset, event in enumerate(self.events, start=1):
                event.seq = base + offset
            written = Event.objects.bulk_create(self.events)
        for writer in _writers:  # in this transaction: what must commit or roll back with the events
            writer(written)
        transaction.on_commit(lambda: _announce(written))
        return written


def _write_in_one_statement(swarm_id: str, events: list[Event]) -> list[Event]:
    """PostgreSQL: the counter's upsert and the events' INSERT as one statement (a data-modifying
    WITH), one round trip per transaction's events. The counter row is still locked first."""
    quote = connection.ops.quote_name
    stream, table = quote(Stream._meta.db_table), quote(Event._meta.db_table)
    rows = ", ".join(["(%s, %s, %s)"] * len(events))
    params: list[Any] = [swarm_id, len(events), swarm_id, len(events), events[0].created_at]
    for offset, event in enumerate(events, start=1):
        params += [offset, event.type, json.dumps(event.data)]
    sql = (
        f"WITH counter AS (INSERT INTO {stream} (swarm_id, last_seq) VALUES (%s, %s) "
        f"ON CONFLICT (swarm_id) DO UPDATE SET last_seq = {stream}.last_seq + excluded.last_seq "
        f"RETURNING last_seq) "
        f"INSERT INTO {table} (swarm_id, seq, type, data, created_at) "
        f"SELECT %s, counter.last_seq - %s + v.o, v.t, v.d::jsonb, %s "
        f"FROM counter, (VALUES {rows}) AS v(o, t, d) RETURNING id, seq"
    )
    try:  # no savepoint: a failed statement dooms the caller's transaction, which then rolls back
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = dict((seq, pk) for pk, seq in cursor.fetchall())
    except IntegrityError:  # no such swarm (deleted)
        raise SwarmGone(swarm_id) from None
    top = max(ids)
    for offset, event in enumerate(events, start=1):
        event.seq = top - len(events) + offset
        event.id = ids[event.seq]
        event._state.adding, event._state.db = False, connection.alias
    return events


def _batches() -> dict[str, _Batch]:
    if not hasattr(_open, "batches"):
        _open.batches = {}
    return _open.batches


@contextlib.contextmanager
def batch(swarm_id: str) -> Iterator[None]:
    """Collects the events published inside and writes them in one statement at the end."""
    if swarm_id in _batches():  # nested: the outer batch writes them
        yield
        return
    current = _batches()[swarm_id] = _Batch(swarm_id)
    try:
        yield
    finally:
        del _batches()[swarm_id]
    current.flush()


@contextlib.contextmanager
def swarm_tx(swarm_id: str) -> Iterator[None]:
    """A transaction whose events are written together at its end."""
    with transaction.atomic(), batch(swarm_id):
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
    return _Batch(swarm_id).flush_one(event)


def log(swarm_id: str, level: str, source: str, message: str, data: dict[str, Any] | None = None) -> None:
    """Writes a LogEntry and announces it as a `log` event (inside the caller's transaction; no
    savepoint of its own: a failed write dooms that transaction, as the events' own write does).
    Inside a batch the entries are inserted together, just before its events."""
    entry = LogEntry(swarm_id=swarm_id, level=LEVELS[level], source=source, message=message, data=data or {})
    with transaction.atomic(savepoint=False):
        current = _batches().get(swarm_id)
        if current is None:
            entry.save(force_insert=True)
        publish(swarm_id, catalogue.log_line(entry_id=entry.id, level=level, source=source, message=message))
        if current is not None:  # its id is known once the batch inserts it
            current.logs.append((entry, current.events[-1]))
    logger.log(entry.level, "%s: %s", source, message, extra={"swarm_id": swarm_id})


def _advance(swarm_id: str, count: int) -> int:
    """Moves the swarm's counter on by `count` and returns the new top, taking its row lock."""
    table = Stream._meta.db_table
    try:  # no savepoint: a failed statement dooms the caller's transaction, which then rolls back
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (swarm_id, last_seq) VALUES (%s, %s) ON CONFLICT (swarm_id) "
                f"DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq RETURNING last_seq",
                [swarm_id, count],
            )
            return cursor.fetchone()[0]
    except IntegrityError:  # no such swarm (deleted)
        raise SwarmGone(swarm_id) from None


Subscriber = Callable[[list[Event]], None]
_subscribers: list[Subscriber] = []
_writers: list[Subscriber] = []


def on_write(writer: Subscriber) -> None:
    """Calls `writer(events)` inside the transaction that wrote them, right after the write (their
    ids known), so that what it writes commits or rolls back with them: an outbox (webhook
    deliveries). It runs under the swarm's stream lock, so it must be short, and what it writes
    must not fail the state change's commit (foreign keys are checked then: the webhooks' writer
    locks the rows its deliveries reference)."""
    if writer not in _writers:
        _writers.append(writer)


def subscribe(subscriber: Subscriber) -> None:
    """Calls `subscriber(events)` after each commit that wrote events (webhooks, plugin hooks).

    It runs in the committing thread, so it must be quick (enqueue, hand to a thread); what it
    raises is logged and swallowed: the commit stands and the other subscribers still run."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def _announce(written: list[Event]) -> None:
    for event in written:
        metrics.EVENTS.labels(event.type).inc()
    if written:
        push_all(written)
    for subscriber in _subscribers:
        try:
            subscriber(written)
        except Exception:  # an integration never undoes or breaks the state change
            logger.exception("event subscriber %s failed", getattr(subscriber, "__qualname__", subscriber))


def push_all(events: list[Event]) -> None:
    """Best effort (a subscriber that misses a message back-fills it from the database): one channel-layer message for a transaction's events (all of one swarm), in order; the
    pusher merges consecutive messages of one swarm further. Consumers handle `swarm.events`."""
    _pusher.submit(
        group_name(events[0].swarm_id), {"type": "swarm.events", "events": [envelope(e) for e in events]}
    )


MERGE_AT_MOST = 200  # queued messages looked at behind the first, per send


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
        dropped = 0  # messages not pushed since the channel layer stopped answering
        while True:
            for group, message in self._merged(self._queue.get()):
                dropped = self._send(loop, group, message, dropped)

    def _merged(self, first: tuple[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """The first message and whatever queued behind it, consecutive event messages of one
        swarm merged into one (order kept): under load a group_send carries many events."""
        merged = [first]
        for _ in range(MERGE_AT_MOST):
            try:
                group, message = self._queue.get_nowait()
            except queue.Empty:
                break
            last_group, last = merged[-1]
            if group == last_group and last["type"] == message["type"] == "swarm.events":
                merged[-1] = (
                    group,
                    {"type": "swarm.events", "events": [*last["events"], *message["events"]]},
                )
            else:
                merged.append((group, message))
        return merged

    def _send(
        self, loop: asyncio.AbstractEventLoop, group: str, message: dict[str, Any], dropped: int
    ) -> int:
        """Sends one message; returns how many were dropped since the channel layer stopped answering."""
        try:
            loop.run_until_complete(get_channel_layer().group_send(group, message))
        except Exception as exc:  # noqa: BLE001 - best effort: the row is committed, subscribers back-fill it
            if not dropped:  # once per outage, not a traceback per event
                logger.warning("channel layer unreachable, events are not pushed until it returns: %r", exc)
            return dropped + 1
        if dropped:
            logger.warning(
                "channel layer reachable again; %d messages were not pushed (subscribers back-fill)", dropped
            )
        return 0


_pusher = _Pusher()


def announce_deleted(swarm_id: str) -> None:
    """A deleted swarm's rows are gone, so this last notice is pushed without a row."""
    _pusher.submit(
        group_name(swarm_id),
        {"type": "swarm.deleted", "event": {"type": "swarm_deleted", "swarmId": swarm_id}},
    )


def notify(group: str, message: dict[str, Any]) -> None:
    """Best effort: a message to a channel-layer group (e.g. sockets to close), from the pusher thread."""
    _pusher.submit(group, message)
