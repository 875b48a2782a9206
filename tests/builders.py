"""Build swarms with a known graph, without a planning call (the plan is not what these test)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents.models import Agent
from agents.services import Wanted, agents_spawn
from events.stream import batch
from swarms.locks import lock_swarm
from swarms.models import Swarm
from tasks.models import Task
from tasks.services import tasks_create


def build_swarm(
    owner: Any,
    *,
    agents: list[tuple[str, str] | tuple[str, str, dict[str, Any]]] = (("coder", "coder-one"),),
    tasks: list[dict[str, Any]] = (),
    mode: str = "centralized",
    parallel: bool = True,
    options: dict[str, Any] | None = None,
    max_agents: int = 10,
    objective: str = "Build a small command-line calculator",
) -> Swarm:
    """`tasks` items: name, description, and optionally type, priority (int), capabilities,
    agent_type, depends_on (indexes of earlier items), is_synthesis, requires_approval."""
    swarm = Swarm.objects.create(
        owner=owner,
        name="built",
        objective=objective,
        mode=mode,
        parallel=parallel,
        options=options or {},
        max_agents=max_agents,
        status=Swarm.Status.READY,
    )
    with transaction.atomic(), batch(swarm.id):
        lock_swarm(swarm.id)
        wanted = [Wanted(kind, name, caps[0] if caps else None) for kind, name, *caps in agents]
        refused = [
            error for error in agents_spawn(swarm=swarm, wanted=wanted) if isinstance(error, Exception)
        ]
        if refused:
            raise refused[0]
        tasks_create(
            swarm=swarm,
            tasks=[
                {
                    "sequence": sequence,
                    "name": spec["name"],
                    "description": spec.get("description", spec["name"] + " in full detail"),
                    "type": spec.get("type", "coding"),
                    "priority": spec.get("priority", Task.Priority.NORMAL),
                    "agent_type": spec.get("agent_type", ""),
                    "is_synthesis": spec.get("is_synthesis", False),
                    "requires_approval": spec.get("requires_approval", False),
                    "requirements": {"capabilities": spec.get("capabilities", [])},
                    "dependencies": spec.get("depends_on", []),
                }
                for sequence, spec in enumerate(tasks, start=1)
            ],
        )
    return swarm


def agent_named(swarm: Swarm, name: str) -> Agent:
    return Agent.objects.get(swarm=swarm, name=name)


def stored_answer(task: Task, response: dict[str, Any], *, turn: int = 1) -> Any:
    """A successful agent call with its answer on record, as a worker that died right after it leaves it."""
    from tasks.models import ClaudeCall

    return ClaudeCall.objects.create(
        swarm_id=task.swarm_id,
        task=task,
        role="agent",
        revision=0,
        turn=turn,
        model="m",
        outcome="ok",
        input_tokens=10,
        output_tokens=20,
        response=response,
    )
