"""Every state change of an agent (callers hold the swarm's row lock, see tasks/services.py), and
the writes of agent types.

State machine: idle ⇄ busy, and terminated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from agents.models import Agent, AgentType
from agents.registry import AGENT_TYPES
from agents.selectors import agent_types_named
from core.db import plus
from core.errors import Conflict, Forbidden, LimitExceeded, ValidationFailed
from core.prepared import Update, update
from events import catalogue
from events.stream import log, publish
from tasks.models import spend_of_calls


@dataclass(frozen=True)
class Wanted:
    """An agent to spawn: its type, and its name and capabilities when not the type's defaults."""

    type: str
    name: str = ""
    capabilities: dict[str, Any] | None = None


def agent_spawn(
    *, swarm: Any, type: str, name: str = "", capabilities: dict[str, Any] | None = None
) -> Agent:
    spawned = agents_spawn(swarm=swarm, wanted=[Wanted(type, name, capabilities)])[0]
    if isinstance(spawned, Exception):
        raise spawned
    return spawned


def agents_spawn(*, swarm: Any, wanted: list[Wanted]) -> list[Agent | LimitExceeded | ValidationFailed]:
    """Spawns agents in order, in one go (a plan's, a clone's): one count, one read of their types,
    one insert. An agent that cannot be spawned (the swarm is full, its type unknown) is its error
    in the list instead; the others are spawned."""
    limit = min(swarm.max_agents, settings.MAX_AGENTS_PER_SWARM)
    live = Agent.objects.filter(swarm=swarm).live().count()
    types = {w.type for w in wanted}
    specs = agent_types_named(types, swarm.owner_id, lock=True)  # lock: a delete of a type waits for us
    instances = dict(
        Agent.objects.filter(swarm=swarm, type__in=types)
        .values_list("type")
        .annotate(n=Max("instance"))
        .order_by()
    )
    results: list[Agent | LimitExceeded | ValidationFailed] = []
    for w in wanted:
        spec = specs.get(w.type)
        if live >= limit:
            results.append(
                LimitExceeded(f"Swarm {swarm.id} already has {live} agents (its maximum is {limit})")
            )
        elif spec is None:
            message = f"{w.type!r} is not one of your agent types"
            details = [{"field": "type", "message": message, "value": w.type}]
            results.append(ValidationFailed(f"Unknown agent type {w.type!r}", details=details))
        else:
            instance = instances[w.type] = (instances.get(w.type) or 0) + 1
            capabilities = {**spec.default_capabilities(), **(w.capabilities or {})}
            results.append(
                Agent(
                    swarm=swarm,
                    type=w.type,
                    name=w.name or f"{w.type}-{instance}",
                    instance=instance,
                    capabilities=capabilities,
                    idle_since=timezone.now(),
                )
            )
            live += 1
    spawned = [agent for agent in results if isinstance(agent, Agent)]
    Agent.objects.bulk_create(spawned)
    for agent in spawned:
        publish(swarm.id, catalogue.agent_spawned(agent))
        log(swarm.id, "info", "AgentPool", f"Spawned agent {agent.name} ({agent.type} #{agent.instance})")
    return results


def agent_occupy_step(*, agent_id: str) -> Update:
    """idle → busy (the scheduler's choice, announced when the worker claims the task), as a step
    of `core.prepared.update_chain` after the task's `task_assign_step`."""
    return Update(
        Agent, where={"pk": agent_id, "status": Agent.Status.IDLE}, values={"status": Agent.Status.BUSY}
    )


def _spend(delta: dict[str, Any] | None) -> dict[str, Any]:
    """Add a run's known spend, or (None: a crash may have left calls uncounted) sum every call."""
    if delta is None:
        return spend_of_calls("agent")
    return {name: plus(Agent, name, value) for name, value in delta.items()}


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
    added: dict[str, Any] = {}  # counters moved by this outcome, and the spend when known
    if outcome == "completed":
        added = {"tasks_completed": 1, "total_execution_ms": elapsed_ms}
    elif outcome == "failed":
        added = {"tasks_failed": 1}

    def release(where: dict[str, Any], values: dict[str, Any]) -> int:
        if spend is not None:  # the common case: plain values, its SQL built once (core.prepared)
            return update(Agent, where=where, values=values, add={**added, **spend})
        counters = {name: plus(Agent, name, n) for name, n in added.items()}  # spend: summed from the calls
        return Agent.objects.filter(**where).update(**values, **counters, **spend_of_calls("agent"))

    idle = {"status": Agent.Status.IDLE, "idle_since": timezone.now()}
    if release({"pk": agent_id, "status": Agent.Status.BUSY}, idle):
        publish(swarm_id, catalogue.agent_status_changed(agent_id=agent_id, status="idle"))
    else:  # terminated meanwhile: counters still move
        release({"pk": agent_id}, {})


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


# --- agent types ---------------------------------------------------------------------------------

# an agent of a swarm in one of these statuses will run no more tasks (strings: swarms sits above)
_FINISHED_SWARM = ("completed", "failed", "stopped")
AGENT_TYPE_FIELDS = ("description", "system_prompt", "capabilities", "model", "tools", "max_turns")


def _name_problem(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": "name", "message": message, "value": name}])


def agent_type_create(*, owner: Any, name: str, **fields: Any) -> AgentType:
    """A user's own type. Its name may not be a built-in's (a swarm would not know which to use)."""
    if AgentType.objects.filter(owner__isnull=True, name=name).exists():
        raise _name_problem(name, f"{name!r} is the name of a built-in agent type; choose another")
    try:
        with transaction.atomic():
            return AgentType.objects.create(owner=owner, name=name, **fields)
    except IntegrityError:  # two creates of one name at once: the constraint decides
        raise Conflict(f"You already have an agent type named {name!r}") from None


def _require_own(agent_type: AgentType, action: str) -> None:
    if agent_type.is_builtin:
        raise Forbidden(
            f"{agent_type.name!r} is a built-in agent type and cannot be {action}; "
            "create your own type (POST /api/agent-types) instead"
        )


def agent_type_update(*, agent_type: AgentType, changes: dict[str, Any]) -> AgentType:
    """Changes apply to the type's next tasks, also in swarms already running."""
    _require_own(agent_type, "changed")
    for field, value in changes.items():
        if field not in AGENT_TYPE_FIELDS:
            raise ValueError(f"{field} is not a changeable field of an agent type")
        setattr(agent_type, field, value)
    agent_type.save(update_fields=[*changes, "updated_at"])
    return agent_type


def agent_type_delete(*, agent_type: AgentType) -> None:
    _require_own(agent_type, "deleted")
    with transaction.atomic():
        row = AgentType.objects.select_for_update().filter(pk=agent_type.pk).first()
        if row is None:
            return
        users = (
            Agent.objects.live()
            .filter(type=row.name, swarm__owner_id=row.owner_id)
            .exclude(swarm__status__in=_FINISHED_SWARM)
        )
        swarm_ids = sorted(set(users.values_list("swarm_id", flat=True)[:100]))
        if swarm_ids:
            raise Conflict(
                f"Agent type {row.name!r} is in use by live agents of {len(swarm_ids)} unfinished swarm(s) "
                f"({', '.join(swarm_ids[:5])}); stop those swarms or terminate the agents first"
            )
        row.delete()


def agent_types_sync_builtins() -> int:
    """The global rows = agents/registry.py (run after every migrate). Returns the rows written."""
    written = 0
    for spec in AGENT_TYPES.values():
        values = {
            "description": spec.description,
            "system_prompt": spec.system_prompt,
            "capabilities": list(spec.capabilities),
            "model": spec.model,
            "tools": list(spec.tools),
            "max_turns": spec.max_turns,
        }
        row = AgentType.objects.filter(owner__isnull=True, name=spec.name).first()
        if row is None:
            AgentType.objects.create(owner=None, name=spec.name, **values)
            written += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            AgentType.objects.filter(pk=row.pk).update(**values, updated_at=timezone.now())
            written += 1
    return written
