"""A call's completion: its row and the swarm's spend move together, whatever state the row is in.

On PostgreSQL the common case (in flight, tokens used) is one statement outside any transaction;
a row that is no longer in flight (marked lost meanwhile, or completed by an earlier attempt of the
same write) is settled in a transaction of its own. Each case leaves the swarm's spend equal to
what was really used, counted once.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from engine.claude import calls
from swarms.models import Swarm
from tasks.models import ClaudeCall
from tests.builders import build_swarm
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ESTIMATE = (100, 4096, Decimal("0.061700"))  # what the row holds while in flight
USED = {
    "input_tokens": 120,
    "output_tokens": 300,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
USED_COST = Decimal("0.004860")


def in_flight(swarm: Swarm) -> tuple[calls.Request, calls._Started]:
    row = ClaudeCall.objects.create(
        swarm=swarm, role="agent", model="m", outcome="started", estimated=True,
        input_tokens=ESTIMATE[0], output_tokens=ESTIMATE[1], cost_usd=ESTIMATE[2],
    )  # fmt: skip
    request = calls.Request(swarm_id=swarm.id, role="agent", system="", messages=[], spend=calls.Spend({}))
    started = calls._Started(row.id, ESTIMATE[1], ESTIMATE[0], ESTIMATE[1], ESTIMATE[2], 1, "m")
    return request, started


def fields(**extra: Any) -> dict[str, Any]:
    return {
        "request_id": "req_1", "outcome": "ok", "status_code": None, "error_type": "", **USED,
        "estimated": False, "cost_usd": USED_COST, "latency_ms": 200, "error": "",
        "response": {"text": "done"}, "trace_response": None, "trace_truncated": False, **extra,
    }  # fmt: skip


def spend_of(swarm: Swarm) -> tuple[int, Decimal]:
    swarm.refresh_from_db()
    return swarm.total_tokens, swarm.cost_usd


def test_a_call_in_flight_is_completed_and_its_usage_counted_once(alice):
    swarm = build_swarm(alice)
    request, started = in_flight(swarm)

    with CaptureQueriesContext(connection) as queries:
        assert calls._complete_row(request, started, fields()) is True
    assert calls._complete_row(request, started, fields()) is False  # the same write again

    row = ClaudeCall.objects.get(pk=started.row_id)
    assert (row.outcome, row.input_tokens, row.output_tokens, row.estimated) == ("ok", 120, 300, False)
    assert spend_of(swarm) == (420, USED_COST)
    assert (request.spend.tokens, request.spend.cost) == (420, USED_COST)
    if connection.vendor == "postgresql":  # one statement, no transaction around it
        assert [q["sql"].split()[0] for q in queries.captured_queries] == ["WITH"]


def test_a_call_marked_lost_meanwhile_ends_with_its_real_usage_instead_of_the_estimate(alice):
    swarm = build_swarm(alice)
    request, started = in_flight(swarm)
    assert calls.mark_lost(ClaudeCall.objects.filter(pk=started.row_id)) == 1
    assert spend_of(swarm) == (ESTIMATE[0] + ESTIMATE[1], ESTIMATE[2])  # the estimate, counted once

    assert calls._complete_row(request, started, fields()) is True

    assert ClaudeCall.objects.get(pk=started.row_id).outcome == "ok"
    assert spend_of(swarm) == (420, USED_COST)


def test_a_call_that_stops_being_in_flight_between_the_read_and_the_update_is_settled(alice):
    """The race the one statement leaves on PostgreSQL: `mark_lost` holds the swarm row while it
    marks the call lost; the statement read the call in flight, waits for the swarm row, adds the
    spend, then finds the call lost. The spend it added is corrected in a transaction of its own."""
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere the completion is one transaction that takes the swarm row first")
    swarm = build_swarm(alice)
    request, started = in_flight(swarm)
    holding, result = threading.Event(), {}

    def complete() -> None:
        holding.wait(5)
        try:
            result["completed"] = calls._complete_row(request, started, fields())
        finally:
            connections.close_all()

    racer = threading.Thread(target=complete)
    racer.start()
    with transaction.atomic():  # what mark_lost does, held open while the completion starts
        calls._lock_swarm(swarm.id)
        ClaudeCall.objects.filter(pk=started.row_id).update(outcome="lost")
        calls._add_to_swarm(swarm.id, *ESTIMATE)
        holding.set()
        wait_for(_waiting_for_a_lock, timeout=5)  # the completion's statement is blocked
    racer.join(10)

    assert result["completed"] is True
    assert ClaudeCall.objects.get(pk=started.row_id).outcome == "ok"
    assert spend_of(swarm) == (420, USED_COST)


def _waiting_for_a_lock() -> bool:
    with connections["default"].cursor() as cursor:  # pg_locks: not a snapshot kept for the transaction
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def test_a_call_of_a_deleted_swarm_is_not_counted_anywhere(alice):
    swarm = build_swarm(alice)
    request, started = in_flight(swarm)
    Swarm.objects.filter(pk=swarm.id).delete()

    assert calls._complete_row(request, started, fields()) is False
    assert not ClaudeCall.objects.filter(pk=started.row_id).exists()


def test_a_call_that_used_no_tokens_is_completed_without_touching_the_spend(alice):
    swarm = build_swarm(alice)
    request, started = in_flight(swarm)
    nothing = {"input_tokens": 0, "output_tokens": 0}

    assert (
        calls._complete_row(request, started, fields(outcome="error", cost_usd=Decimal(0), **nothing)) is True
    )
    assert ClaudeCall.objects.get(pk=started.row_id).outcome == "error"
    assert spend_of(swarm) == (0, Decimal(0))
