"""Locks that hold across every web and worker process (they live in the database)."""

from __future__ import annotations

from django.db import connection

from swarms.models import Swarm

# pg_advisory_xact_lock keys; any fixed 64-bit numbers unique to this application
_GATES = {"swarms": 0x43465F53, "dispatch": 0x43465F44}


def gate(name: str) -> None:
    """A deployment-wide mutex held until the current transaction ends.

    On SQLite every transaction is BEGIN IMMEDIATE (see settings), which already holds the
    database's single write lock, so there is nothing more to take.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_GATES[name]])


def lock_swarm(swarm_id: str) -> Swarm:
    """The swarm row is the mutex of swarm commands (start, stop, settle, …), taken first, so lock
    order is always swarm → task → agent → event stream. FOR NO KEY UPDATE: the foreign-key checks
    of concurrent inserts (events, calls) take KEY SHARE on this row at commit and must not wait
    for it, or a writer holding the stream row and a command holding this one would deadlock."""
    return Swarm.objects.select_for_update(no_key=True).get(pk=swarm_id)
