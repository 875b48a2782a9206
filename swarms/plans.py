"""What a valid plan is: agents of known types and a task graph without cycles, within limits.

One set of rules for a plan Claude submits (engine/plans.py adds the schema, asks, and staffs
the result) and for a template strategy a user saves (checked when saved and again when a swarm
is planned from it, since the owner's agent types may have changed meanwhile). Each problem names
the field it is about, so Claude can repair it and an API client can show it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.registry import AgentSpec
from tasks.models import Task
from tasks.serializers import PRIORITIES, TASK_TYPES

MAX_PLAN_TASKS = 20  # a plan is a small graph; MAX_TASKS_PER_SWARM may lower it, never raise it


class PlanInvalid(Exception):
    pass


class Problem(str):
    """One rule a plan breaks, as a sentence (what Claude reads) with the field it is about."""

    field: str

    def __new__(cls, text: str, field: str) -> Problem:
        problem = super().__new__(cls, text)
        problem.field = field
        return problem


@dataclass
class PlannedAgent:
    type: str
    name: str


@dataclass
class PlannedTask:
    name: str
    description: str
    type: str
    agent_type: str
    priority: int = Task.Priority.NORMAL
    capabilities: list[str] = field(default_factory=list)
    dependencies: list[int] = field(default_factory=list)
    is_synthesis: bool = False
    requires_approval: bool = False


@dataclass
class Plan:
    agents: list[PlannedAgent]
    tasks: list[PlannedTask]


def parse(
    data: Any, *, types: Mapping[str, AgentSpec], max_agents: int, max_tasks: int
) -> tuple[Plan | None, list[Problem]]:
    """The plan, or the problems that stop it from running. Cosmetic faults (an agent name that is
    not a slug, an unknown capability) are mended, not refused."""
    if not isinstance(data, dict):
        return None, [Problem("no plan was submitted through the submit_plan tool", "body")]
    errors: list[Problem] = []
    agents = _agents(data.get("agents"), types, max_agents, errors)
    tasks = _tasks(data.get("tasks"), types, max_tasks, errors)
    if errors:
        return None, errors
    _check_graph(tasks, errors)
    if errors:
        return None, errors
    return Plan(agents=agents, tasks=tasks), []


def _agents(
    raw: Any, types: Mapping[str, AgentSpec], limit: int, errors: list[Problem]
) -> list[PlannedAgent]:
    if not isinstance(raw, list) or not raw:
        errors.append(Problem("agents must be a non-empty list", "agents"))
        return []
    if len(raw) > limit:
        errors.append(Problem(f"the plan has {len(raw)} agents; at most {limit} are allowed", "agents"))
    agents = []
    for index, item in enumerate(raw):
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in types:
            errors.append(
                Problem(f"agents[{index}].type {kind!r} is not a known agent type", f"agents.{index}.type")
            )
            continue
        agents.append(PlannedAgent(type=kind, name=slug(str(item.get("name") or kind))))
    return agents


def _tasks(raw: Any, types: Mapping[str, AgentSpec], limit: int, errors: list[Problem]) -> list[PlannedTask]:
    if not isinstance(raw, list) or not raw:
        errors.append(Problem("tasks must be a non-empty list", "tasks"))
        return []
    if len(raw) > limit:
        errors.append(Problem(f"the plan has {len(raw)} tasks; at most {limit} are allowed", "tasks"))
    known_capabilities = {c for t in types.values() for c in t.capabilities}
    tasks = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.append(Problem(f"tasks[{index}] must be an object", f"tasks.{index}"))
            continue
        name, description = str(item.get("name") or "").strip(), str(item.get("description") or "").strip()
        if len(name) < 3 or len(description) < 10:
            errors.append(
                Problem(
                    f"tasks[{index}] needs a name (3+ characters) and a description (10+ characters)",
                    f"tasks.{index}.{'name' if len(name) < 3 else 'description'}",
                )
            )
        agent_type = item.get("agentType")
        if not isinstance(agent_type, str) or agent_type not in types:
            errors.append(
                Problem(
                    f"tasks[{index}].agentType {agent_type!r} is not a known agent type",
                    f"tasks.{index}.agentType",
                )
            )
        deps = item.get("dependencies") or []
        if not isinstance(deps, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in deps
        ):
            errors.append(
                Problem(
                    f"tasks[{index}].dependencies must be a list of task indexes",
                    f"tasks.{index}.dependencies",
                )
            )
            deps = []
        capabilities = item.get("capabilities") or []
        capabilities = (
            [c for c in capabilities if c in known_capabilities] if isinstance(capabilities, list) else []
        )
        tasks.append(
            PlannedTask(
                name=name[:200],
                description=description[:1000],
                type=item.get("type") if item.get("type") in TASK_TYPES else "custom",
                agent_type=agent_type if isinstance(agent_type, str) else "",
                priority=PRIORITIES.get(item.get("priority"), Task.Priority.NORMAL),
                capabilities=capabilities,
                dependencies=sorted(set(deps)),
                requires_approval=item.get("requiresApproval") is True,
            )
        )
    return tasks


def _check_graph(tasks: list[PlannedTask], errors: list[Problem]) -> None:
    for index, task in enumerate(tasks):
        for dep in task.dependencies:
            if dep == index or not 0 <= dep < len(tasks):
                errors.append(
                    Problem(
                        f"tasks[{index}] depends on {dep}, which is not another task of the plan",
                        f"tasks.{index}.dependencies",
                    )
                )
    if errors:
        return
    # peel off tasks with no unmet dependency; whatever is left sits on a cycle
    remaining = {i: set(t.dependencies) for i, t in enumerate(tasks)}
    while free := [i for i, deps in remaining.items() if not deps]:
        for done in free:
            del remaining[done]
            for deps in remaining.values():
                deps.discard(done)
    cyclic = sorted(remaining)
    if cyclic:
        errors.append(Problem(f"the dependencies form a cycle through tasks {cyclic}", "tasks"))


def slug(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_")[:50]
    return text if len(text) >= 3 else f"{text or 'agent'}-1"[:50]
