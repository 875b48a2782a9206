"""Read queries about swarms that other layers ask for."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, QuerySet

from agents.models import Agent
from core.prepared import Prepared
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


# the plan is read on every GET of a swarm (what polling clients call): compiled once each
_PLAN_AGENTS = Prepared(
    lambda key, swarm_id: (
        Agent.objects.filter(swarm_id=swarm_id)
        .order_by("created_at", "instance")
        .values_list("id", "name", "type")
    ),
    swarm_id=str,
)
_PLAN_TASK_FIELDS = ("id", "sequence", "name", "description", "type", "agent_type", "requires_approval")
_PLAN_TASKS = Prepared(
    lambda key, swarm_id: (
        Task.objects.filter(swarm_id=swarm_id).order_by("sequence").values_list(*_PLAN_TASK_FIELDS)
    ),
    swarm_id=str,
)
_PLAN_EDGES = Prepared(
    lambda key, swarm_id: (
        Task.dependencies.through.objects.filter(from_task__swarm_id=swarm_id)
        .order_by("to_task__sequence")  # each task's dependencies by sequence, as Task's ordering
        .values_list("from_task_id", "to_task_id")
    ),
    swarm_id=str,
)


def plan_summary(swarm: Swarm) -> dict[str, Any]:
    """The plan as shown for approval: agents, tasks with their dependencies, estimated cost."""
    dependencies: dict[str, list[str]] = {}
    for task_id, dependency_id in _PLAN_EDGES.read(swarm_id=swarm.id):
        dependencies.setdefault(task_id, []).append(dependency_id)
    return {
        "agents": [
            {"id": id_, "name": name, "type": type_}
            for id_, name, type_ in _PLAN_AGENTS.read(swarm_id=swarm.id)
        ],
        "tasks": [
            {
                "id": id_,
                "sequence": sequence,
                "name": name,
                "description": description,
                "type": type_,
                "agentType": agent_type,
                "dependencies": dependencies.get(id_, []),
                "requiresApproval": requires_approval,
            }
            for id_, sequence, name, description, type_, agent_type, requires_approval in _PLAN_TASKS.read(
                swarm_id=swarm.id
            )
        ],
        "estimatedCost": swarm.plan_estimate or None,
        "revisions": swarm.plan_revisions,
        "feedback": swarm.plan_feedback or None,
    }
