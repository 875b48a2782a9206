"""Spend budgets: `options.budget` {maxTokens, maxCostUsd} per swarm, or the deployment default.

The policy only: what a swarm may spend and whether a spend reaches it. The engine enforces it
(engine/claude caps each call and fails the swarm when a call's spend reaches a limit).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

REASON = "budget_exhausted"


def budget_of(options: Any) -> dict[str, Any]:
    own = options.get("budget") if isinstance(options, dict) else None
    own = own if isinstance(own, dict) else {}
    default = settings.DEFAULT_BUDGET
    return {
        "maxTokens": own.get("maxTokens") or default.get("maxTokens"),
        "maxCostUsd": own.get("maxCostUsd") or default.get("maxCostUsd"),
    }


def is_exhausted(limits: dict[str, Any], *, tokens: int, cost: Decimal) -> bool:
    if limits["maxTokens"] and tokens >= limits["maxTokens"]:
        return True
    return bool(limits["maxCostUsd"] and cost >= Decimal(str(limits["maxCostUsd"])))


def tokens_left(limits: dict[str, Any], *, tokens: int, wanted: int) -> int:
    """The output tokens a call may ask for: `wanted`, capped at what the budget has left."""
    if not limits["maxTokens"]:
        return wanted
    return max(1, min(wanted, limits["maxTokens"] - tokens))
