"""Reads of a swarm's Claude calls (the prompt trace): a list without the heavy trace columns, and
one call with them. Callers check access to the swarm first (swarms.access)."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from swarms.models import Swarm
from tasks.models import ClaudeCall

TRACE_FIELDS = ("request", "trace_response", "response")
MAX_CALL_ID = 2**63 - 1  # BigAutoField


def calls_of(swarm: Swarm, *, task_id: str | None = None) -> QuerySet[ClaudeCall]:
    """The swarm's calls in the order they were made, without their (up to megabytes of) trace."""
    calls = ClaudeCall.objects.filter(swarm=swarm).defer(*TRACE_FIELDS).order_by("id")
    return calls.filter(task_id=task_id) if task_id else calls


def call_of(swarm: Swarm, call_id: str) -> ClaudeCall:
    """One call of the swarm with its trace; any other id (another swarm's call too) is a 404."""
    call = None
    if call_id.isascii() and call_id.isdigit() and int(call_id) <= MAX_CALL_ID:
        call = ClaudeCall.objects.filter(swarm=swarm, pk=int(call_id)).select_related("task").first()
    if call is None:
        raise NotFound(f"Call {call_id} not found in swarm {swarm.id}")
    return call
