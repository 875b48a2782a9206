"""Creating tasks and assigning them by hand."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from agents.models import Agent
from core.errors import Conflict
from swarms import engine, events
from swarms.locks import lock_swarm
from swarms.models import Swarm
from tasks.models import Task


def task_create(
    *,
    swarm_id: str,
    name: str,
    description: str,
    type: str,
    priority: int = Task.Priority.NORMAL,
    requirements: dict[str, Any] | None = None,
    dependencies: list[str] | None = None,
    agent_type: str = "",
) -> Task:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            raise Conflict(f"Cannot add a task to swarm {swarm.id}: it is {swarm.status}")
        deps = _dependencies(swarm, dependencies or [])
        task = create_locked(
            swarm,
            name=name,
            description=description,
            type=type,
            priority=priority,
            requirements=requirements or {},
            agent_type=agent_type,
            dependencies=deps,
        )
        if swarm.status == Swarm.Status.EXECUTING:
            engine.after_commit_dispatch(swarm.id)
    return task


def create_locked(swarm: Swarm, *, dependencies: list[Task] = (), **fields: Any) -> Task:  # type: ignore[assignment]
    """Creates a task in a swarm whose row the caller has locked (also used by planning)."""
    sequence = (Task.objects.filter(swarm=swarm).aggregate(n=Max("sequence"))["n"] or 0) + 1
    task = Task.objects.create(swarm=swarm, sequence=sequence, **fields)
    if dependencies:
        task.dependencies.set(dependencies)
    from tasks.serializers import TaskSerializer  # the event carries what the API shows

    events.publish(swarm.id, "task.created", TaskSerializer(task).data)
    return task


def task_assign(*, swarm_id: str, task_id: str, agent_id: str) -> Task:
    """Pins a pending task to an agent: the dispatcher will give it to no other agent."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            raise Conflict(f"Cannot assign tasks in swarm {swarm.id}: it is {swarm.status}")
        task = Task.objects.select_for_update().get(pk=task_id, swarm=swarm)
        agent = Agent.objects.get(pk=agent_id, swarm=swarm)
        if task.status != Task.Status.PENDING:
            raise Conflict(f"Task {task.id} is {task.status}; only a pending task can be assigned")
        if agent.status == Agent.Status.TERMINATED:
            raise Conflict(f"Agent {agent.id} is terminated")
        missing = [c for c in task.required_capabilities if not agent.capabilities.get(c)]
        if missing:
            raise Conflict(
                f"Agent {agent.id} lacks the capabilities this task requires: {', '.join(missing)}"
            )
        task.assigned_agent = agent
        task.pinned = True
        task.save(update_fields=["assigned_agent", "pinned"])
        events.publish(
            swarm.id,
            "task.assigned",
            {
                "id": task.id,
                "name": task.name,
                "status": task.status,
                "agentId": agent.id,
                "agentName": agent.name,
                "pinned": True,
            },
        )
        events.log(swarm.id, "info", "TaskQueue", f"Task {task.name} assigned to {agent.name}")
        if swarm.status == Swarm.Status.EXECUTING:
            engine.after_commit_dispatch(swarm.id)
    return task


def _dependencies(swarm: Swarm, ids: list[str]) -> list[Task]:
    found = {t.id: t for t in Task.objects.filter(pk__in=ids, swarm=swarm)}
    missing = [task_id for task_id in ids if task_id not in found]
    if missing:
        raise Conflict(
            f"Dependencies must be tasks of swarm {swarm.id}; not found there: {', '.join(missing)}"
        )
    return list(found.values())
