"""Spend budgets: `options.budget` {maxTokens, maxCostUsd} per swarm, or the deployment default.

Enforced, not advisory: no call starts once a limit is reached, a call's max_tokens never
exceeds the tokens left, and reaching a limit fails the swarm, which stops its in-flight calls.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from swarms.models import Swarm

REASON = "budget_exhausted"


class Exhausted(Exception):
    """The swarm's budget is spent."""


def budget_of(swarm: Swarm) -> dict[str, Any]:
    own = swarm.options.get("budget") if isinstance(swarm.options, dict) else None
    own = own if isinstance(own, dict) else {}
    default = settings.DEFAULT_BUDGET
    return {
        "maxTokens": own.get("maxTokens") or default.get("maxTokens"),
        "maxCostUsd": own.get("maxCostUsd") or default.get("maxCostUsd"),
    }


def is_exhausted(swarm: Swarm) -> bool:
    limits = budget_of(swarm)
    if limits["maxTokens"] and swarm.total_tokens >= limits["maxTokens"]:
        return True
    return bool(limits["maxCostUsd"] and swarm.cost_usd >= Decimal(str(limits["maxCostUsd"])))


def max_tokens_for(swarm_id: str, wanted: int) -> int:
    """Caps a call's output at the tokens left; raises Exhausted when nothing is left."""
    swarm = Swarm.objects.only("options", "input_tokens", "output_tokens", "cost_usd").get(pk=swarm_id)
    if is_exhausted(swarm):
        raise Exhausted(REASON)
    limit = budget_of(swarm)["maxTokens"]
    if not limit:
        return wanted
    return max(1, min(wanted, limit - swarm.total_tokens))


def enforce(swarm_id: str) -> bool:
    """Fails the swarm if its spend reached a limit; True if this call did it."""
    from swarms.services import swarm_fail

    swarm = Swarm.objects.only("options", "input_tokens", "output_tokens", "cost_usd", "status").get(
        pk=swarm_id
    )
    if not swarm.is_active or not is_exhausted(swarm):
        return False
    spend = {"totalTokens": swarm.total_tokens, "costUsd": round(float(swarm.cost_usd), 6)}
    return swarm_fail(
        swarm_id=swarm_id,
        reason=REASON,
        event_data={"budget": budget_of(swarm), "spend": spend},
        extra_event=("budget.exceeded", {"budget": budget_of(swarm), "spend": spend}),
    )
