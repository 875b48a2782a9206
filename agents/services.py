"""Every state change of an agent. Callers hold the swarm's row lock (see tasks/services.py).

State machine: idle ⇄ busy, and terminated.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import F, Max
from django.utils import timezone

from agents.models import Agent
from agents.registry import get_agent_type
from core.errors import LimitExceeded
from events import catalogue
from events.stream import log, publish
from tasks.models import spend_of_calls


def agent_spawn(
    *, swarm: Any, type: str, name: str = "", capabilities: dict[str, Any] | None = None
) -> Agent:
    limit = min(swarm.max_agents, settings.MAX_AGENTS_PER_SWARM)
    live = Agent.objects.filter(swarm=swarm).live().count()
    if live >= limit:
        raise LimitExceeded(f"Swarm {swarm.id} already has {live} agents (its maximum is {limit})")
    instance = (Agent.objects.filter(swarm=swarm, type=type).aggregate(n=Max("instance"))["n"] or 0) + 1
    merged = {**get_agent_type(type).default_capabilities(), **(capabilities or {})}
    agent = Agent.objects.create(
        swarm=swarm,
        type=type,
        name=name or f"{type}-{instance}",
        instance=instance,
        capabilities=merged,
        idle_since=timezone.now(),
    )
    publish(swarm.id, catalogue.agent_spawned(agent))
    log(swarm.id, "info", "AgentPool", f"Spawned agent {agent.name} ({agent.type} #{instance})")
    return agent


def agent_occupy(*, agent_id: str) -> bool:
    """idle → busy (the scheduler's choice; announced when the worker claims the task)."""
    return bool(Agent.objects.filter(pk=agent_id, status=Agent.Status.IDLE).update(status=Agent.Status.BUSY))


def _spend(delta: dict[str, Any] | None) -> dict[str, Any]:
    """Add a run's known spend, or (None: a crash may have left calls uncounted) sum every call."""
    if delta is None:
        return spend_of_calls("agent")
    return {name: F(name) + value for name, value in delta.items()}


def agent_add_spend(*, agent_id: str, delta: dict[str, Any] | None) -> None:
    """An agent that spent without running the task (the hierarchical coordinator's reviews)."""
    Agent.objects.filter(pk=agent_id).update(**_spend(delta))


def agent_release(
    *,
    swarm_id: str,
    agent_id: str | None,
    outcome: str | None = None,
    elapsed_ms: int = 0,
    spend: dict[str, Any] | None = None,
) -> None:
    """busy → idle after a task ends (outcome "completed", "failed" or None for a hand-back), with
    its counters moved and its spend: `spend`, what this run of the task cost it, when known."""
    if not agent_id:
        return
    counters: dict[str, Any] = _spend(spend)
    if outcome == "completed":
        counters.update(
            tasks_completed=F("tasks_completed") + 1, total_execution_ms=F("total_execution_ms") + elapsed_ms
        )
    elif outcome == "failed":
        counters["tasks_failed"] = F("tasks_failed") + 1
    if Agent.objects.filter(pk=agent_id, status=Agent.Status.BUSY).update(
        status=Agent.Status.IDLE, idle_since=timezone.now(), **counters
    ):
        publish(swarm_id, catalogue.agent_status_changed(agent_id=agent_id, status="idle"))
    else:  # terminated meanwhile: counters still move
        Agent.objects.filter(pk=agent_id).update(**counters)


def agents_release_all(*, swarm: Any) -> int:
    """Every busy agent of a swarm that ended goes idle."""
    return Agent.objects.filter(swarm=swarm, status=Agent.Status.BUSY).update(
        status=Agent.Status.IDLE, idle_since=timezone.now()
    )


def agent_terminate(*, agent: Agent, released: list[str]) -> Agent:
    agent.status = Agent.Status.TERMINATED
    agent.terminated_at = timezone.now()
    agent.save(update_fields=["status", "terminated_at"])
    publish(agent.swarm_id, catalogue.agent_terminated(agent, released=released))
    log(agent.swarm_id, "info", "AgentPool", f"Terminated agent {agent.name}")
    return agent
