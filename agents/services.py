"""Spawning and terminating agents."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agents.models import Agent
from agents.registry import get_agent_type
from core.errors import Conflict, LimitExceeded
from swarms import engine, events
from swarms.locks import lock_swarm
from swarms.models import Swarm
from tasks.models import Task


def agent_spawn(
    *, swarm_id: str, type: str, name: str = "", capabilities: dict[str, Any] | None = None
) -> Agent:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            raise Conflict(f"Cannot spawn an agent in swarm {swarm.id}: it is {swarm.status}")
        return spawn_locked(swarm, type=type, name=name, capabilities=capabilities)


def spawn_locked(
    swarm: Swarm, *, type: str, name: str = "", capabilities: dict[str, Any] | None = None
) -> Agent:
    """Spawns into a swarm whose row the caller has locked (also used by planning)."""
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
    from agents.serializers import AgentSerializer  # the event carries what the API shows

    events.publish(swarm.id, "agent.spawned", AgentSerializer(agent).data)
    events.log(swarm.id, "info", "AgentPool", f"Spawned agent {agent.name} ({agent.type} #{instance})")
    if swarm.status == Swarm.Status.EXECUTING:
        engine.after_commit_dispatch(swarm.id)
    return agent


def agent_terminate(*, swarm_id: str, agent_id: str) -> Agent:
    """Terminates an agent; a task it was running goes back to pending for another agent (its
    worker sees the assignment change and aborts the Claude stream)."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        agent = Agent.objects.select_for_update().get(pk=agent_id, swarm=swarm)
        if agent.status == Agent.Status.TERMINATED:
            raise Conflict(f"Agent {agent.id} is already terminated")
        released = list(
            Task.objects.filter(assigned_agent=agent)
            .exclude(status__in=Task.TERMINAL)
            .values_list("id", flat=True)
        )
        Task.objects.filter(pk__in=released, status__in=Task.IN_FLIGHT).update(
            status=Task.Status.PENDING,
            assigned_agent=None,
            pinned=False,
            lease_owner="",
            lease_expires_at=None,
        )
        # a pending task pinned to this agent is unpinned, or it could never run
        Task.objects.filter(pk__in=released, status=Task.Status.PENDING).update(
            assigned_agent=None, pinned=False
        )
        agent.status = Agent.Status.TERMINATED
        agent.terminated_at = timezone.now()
        agent.save(update_fields=["status", "terminated_at"])
        events.publish(
            swarm.id,
            "agent.terminated",
            {
                "id": agent.id,
                "name": agent.name,
                "type": agent.type,
                "status": agent.status,
                "releasedTasks": released,
            },
        )
        events.log(swarm.id, "info", "AgentPool", f"Terminated agent {agent.name}")
        if swarm.status == Swarm.Status.EXECUTING:
            engine.after_commit_dispatch(swarm.id)
    return agent
