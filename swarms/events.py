"""The one publishing path for swarm events (and the swarm log, which is also an event).

`publish()` must run inside the transaction that makes the state change: it writes the Event row
there and pushes it to the channel layer only on commit, so no event describes a rolled-back
state. The swarm row's `last_event_seq` update takes the swarm's row lock, so one swarm's events
are committed in id order and a subscriber can detect a dropped message from a gap in `seq`.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from ops import metrics
from swarms.models import Event, LogEntry, Swarm

logger = logging.getLogger(__name__)

LEVELS = {
    "debug": LogEntry.Level.DEBUG,
    "info": LogEntry.Level.INFO,
    "warn": LogEntry.Level.WARN,
    "error": LogEntry.Level.ERROR,
}


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


def publish(swarm_id: str, event_type: str, data: dict[str, Any] | None = None) -> Event:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must run inside the transaction of the state change")
    seq = _next_seq(swarm_id)
    event = Event.objects.create(swarm_id=swarm_id, seq=seq, type=event_type, data=data or {})
    transaction.on_commit(lambda: metrics.EVENTS.labels(event_type).inc())
    transaction.on_commit(lambda: push(event))
    return event


def _next_seq(swarm_id: str) -> int:
    """Takes the swarm's row lock (which serialises this swarm's publishers, so seq follows
    commit order) and returns the next seq, in one statement (PostgreSQL, SQLite ≥ 3.35)."""
    table = Swarm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_event_seq = last_event_seq + 1 WHERE id = %s RETURNING last_event_seq",
            [swarm_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Swarm.DoesNotExist(swarm_id)
    return row[0]


def log(swarm_id: str, level: str, source: str, message: str, data: dict[str, Any] | None = None) -> LogEntry:
    """Writes a LogEntry and announces it as a `log` event (inside the caller's transaction)."""
    with transaction.atomic():
        entry = LogEntry.objects.create(
            swarm_id=swarm_id, level=LEVELS[level], source=source, message=message, data=data or {}
        )
        publish(swarm_id, "log", {"id": entry.id, "level": level, "source": source, "message": message})
    logger.log(entry.level, "%s: %s", source, message, extra={"swarm_id": swarm_id})
    return entry


def push(event: Event) -> None:
    """Best effort: a subscriber that misses this message back-fills it from the database."""
    try:
        async_to_sync(get_channel_layer().group_send)(
            group_name(event.swarm_id), {"type": "swarm.event", "event": envelope(event)}
        )
    except Exception:  # the row is committed: subscribers back-fill it
        logger.warning("could not push event %s to the channel layer", event.id, exc_info=True)


def announce_deleted(swarm_id: str) -> None:
    """A deleted swarm's rows are gone, so this last notice is pushed without a row."""
    message = {"type": "swarm_deleted", "swarmId": swarm_id}
    try:
        async_to_sync(get_channel_layer().group_send)(
            group_name(swarm_id), {"type": "swarm.deleted", "event": message}
        )
    except Exception:  # best effort: subscribers also learn it on their next request
        logger.warning("could not announce deletion of %s", swarm_id, exc_info=True)
