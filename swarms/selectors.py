"""Read queries about swarms that other layers ask for."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, QuerySet

from agents.models import Agent
from swarms.models import Strategy, Swarm
from tasks.models import Task


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


def plan_summary(swarm: Swarm) -> dict[str, Any]:
    """The plan as shown for approval: agents, tasks with their dependencies, estimated cost."""
    tasks = Task.objects.filter(swarm=swarm).prefetch_related("dependencies").order_by("sequence")
    return {
        "agents": [
            {"id": a.id, "name": a.name, "type": a.type}
            for a in Agent.objects.filter(swarm=swarm).order_by("created_at", "instance")
        ],
        "tasks": [
            {
                "id": t.id,
                "sequence": t.sequence,
                "name": t.name,
                "description": t.description,
                "type": t.type,
                "agentType": t.agent_type,
                "dependencies": [d.id for d in t.dependencies.all()],
                "requiresApproval": t.requires_approval,
            }
            for t in tasks
        ],
        "estimatedCost": swarm.plan_estimate or None,
        "revisions": swarm.plan_revisions,
        "feedback": swarm.plan_feedback or None,
    }
