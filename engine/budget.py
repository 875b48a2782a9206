"""Budget enforcement: a swarm whose spend reached a limit fails with `budget_exhausted`, which
cancels its pending tasks and (through their watchdogs) stops its in-flight calls."""

from __future__ import annotations

from events import catalogue
from events.stream import log
from swarms import budget
from swarms.models import Swarm
from swarms.services import swarm_fail


def enforce(swarm_id: str) -> bool:
    """Fails the swarm if its spend reached a limit; True if this call did it."""
    swarm = _active(swarm_id)
    if swarm is None:
        return False
    limits = budget.budget_of(swarm.options)
    if not budget.is_exhausted(limits, tokens=swarm.total_tokens, cost=swarm.cost_usd):
        return False
    return _fail(swarm, limits, {})


def refuse(swarm_id: str, *, why: str) -> bool:
    """Fails the swarm with `budget_exhausted` before a call whose prompt and answer cannot fit
    what its budget has left (the spend itself has not reached a limit yet)."""
    swarm = _active(swarm_id)
    if swarm is None:
        return False
    log(swarm_id, "error", "BudgetGuard", why)
    return _fail(swarm, budget.budget_of(swarm.options), {"message": why})


def _active(swarm_id: str) -> Swarm | None:
    swarm = (
        Swarm.objects.only("options", "input_tokens", "output_tokens", "cost_usd", "status")
        .filter(pk=swarm_id)
        .first()
    )
    return swarm if swarm is not None and swarm.is_active else None


def _fail(swarm: Swarm, limits: dict, extra: dict) -> bool:
    spent = {"totalTokens": swarm.total_tokens, "costUsd": round(float(swarm.cost_usd), 6)}
    return swarm_fail(
        swarm_id=swarm.pk,
        reason=budget.REASON,
        details={"budget": limits, "spend": spent, **extra},
        before=catalogue.budget_exceeded(budget=limits, spent=spent),
    )
