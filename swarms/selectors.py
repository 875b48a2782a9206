"""Read queries about swarms that other layers ask for."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, QuerySet

from swarms.models import Strategy, Swarm


def swarm_counts_by_status() -> dict[str, int]:
    counts = dict(Swarm.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Swarm.Status.values}


def strategies_visible(user: Any) -> QuerySet[Strategy]:
    """Built-ins first, then the user's own, each by name."""
    return Strategy.objects.visible_to(user).order_by(F("owner_id").asc(nulls_first=True), "name")


def strategy_for(name: str, owner_id: int | None) -> Strategy | None:
    """The strategy a swarm of this owner names (a built-in wins over an own one of its name)."""
    rows = Strategy.objects.for_owner_id(owner_id).filter(name=name)
    return rows.order_by(F("owner_id").asc(nulls_first=True)).first()
