"""Plans: the JSON schema Claude fills through a forced tool call, and its validation.

Validation refuses what cannot run (unknown agent types, cycles, dangling dependencies, no
tasks, too many agents) and quietly mends what is only cosmetic (agent names, a task whose
agent type the plan did not staff goes to a planned agent that can do it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from agents.registry import AGENT_TYPES, best_type_for
from swarms.models import Swarm
from swarms.serializers import prompt_options
from swarms.strategies import Strategy
from tasks.models import Task
from tasks.serializers import PRIORITIES, TASK_TYPES

PLAN_TOOL_NAME = "submit_plan"
MAX_PLAN_TASKS = 20  # a plan is a small graph; MAX_TASKS_PER_SWARM may lower it, never raise it
ALL_CAPABILITIES = sorted({c for t in AGENT_TYPES.values() for c in t.capabilities})


class PlanInvalid(Exception):
    pass


def task_limit(swarm: Swarm) -> int:
    """Tasks a plan may list: MAX_PLAN_TASKS within MAX_TASKS_PER_SWARM, less the synthesis task
    that hierarchical mode adds."""
    synthesis = 1 if swarm.mode == Swarm.Mode.HIERARCHICAL else 0
    return max(0, min(MAX_PLAN_TASKS, settings.MAX_TASKS_PER_SWARM - synthesis))


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


def plan_tool(swarm: Swarm) -> dict[str, Any]:
    types = list(AGENT_TYPES)
    agent = {
        "type": "object",
        "required": ["type", "name"],
        "properties": {
            "type": {"type": "string", "enum": types},
            "name": {
                "type": "string",
                "minLength": 3,
                "maxLength": 50,
                "description": "short slug, e.g. api-developer",
            },
        },
    }
    task = {
        "type": "object",
        "required": ["name", "description", "type", "priority", "agentType"],
        "properties": {
            "name": {"type": "string", "minLength": 3, "maxLength": 200},
            "description": {
                "type": "string",
                "minLength": 10,
                "maxLength": 1000,
                "description": "what to produce, precisely enough to do it without asking",
            },
            "type": {"type": "string", "enum": TASK_TYPES},
            "priority": {"type": "string", "enum": list(PRIORITIES)},
            "agentType": {"type": "string", "enum": types},
            "capabilities": {"type": "array", "items": {"type": "string", "enum": ALL_CAPABILITIES}},
            "dependencies": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "description": "indexes of earlier tasks in this list whose results this task needs",
            },
            "requiresApproval": {
                "type": "boolean",
                "default": False,
                "description": "true for a risky or costly step whose output a person must approve "
                "before the tasks that depend on it run",
            },
        },
    }
    return {
        "name": PLAN_TOOL_NAME,
        "description": "Submit the plan: the agents to spawn and the tasks they will work through.",
        "input_schema": {
            "type": "object",
            "required": ["agents", "tasks"],
            "properties": {
                "agents": {"type": "array", "minItems": 1, "maxItems": swarm.max_agents, "items": agent},
                "tasks": {"type": "array", "minItems": 1, "maxItems": task_limit(swarm), "items": task},
            },
        },
    }


SYSTEM = (
    "You are the planner of Claude-Flow, which runs a swarm of specialised AI agents. Break the objective "
    "into a small graph of concrete tasks, choose the agents that will do them, and submit the plan with "
    f"the {PLAN_TOOL_NAME} tool. Prefer few, substantial tasks; add a dependency only where a task really "
    "needs another's result."
)


def plan_messages(swarm: Swarm, guidance: str) -> tuple[str, list[dict[str, Any]]]:
    types = "\n".join(f"- {name}: {', '.join(t.capabilities)}" for name, t in AGENT_TYPES.items())
    options = prompt_options(swarm.options)  # never what the client sent, only what passed the schema
    lines = [
        f"# Objective\n{swarm.objective}",
        f"# Strategy: {swarm.strategy}\n{guidance}",
        f"# Limits\nAt most {swarm.max_agents} agents and {task_limit(swarm)} tasks."
        + (" Tasks run one at a time." if not swarm.parallel else " Independent tasks run in parallel."),
        f"# Agent types and their capabilities\n{types}",
    ]
    if swarm.mode == Swarm.Mode.HIERARCHICAL:
        lines.append(
            "# Mode: hierarchical\nInclude one coordinator agent: it reviews every result and writes "
            "the final synthesis (do not plan the synthesis task yourself)."
        )
    if options:
        lines.append(f"# Options\n{json.dumps(options)}")
    if swarm.plan_feedback:
        lines.append(_feedback_section(swarm))
    return SYSTEM, [{"role": "user", "content": "\n\n".join(lines)}]


def _feedback_section(swarm: Swarm) -> str:
    """A person rejected the previous plan: the planner sees it and why, and plans again."""
    rejected = "\n".join(
        f"{n}. {t.get('name')} ({t.get('agentType')})"
        + (f", after {', '.join(map(str, t['dependsOn']))}" if t.get("dependsOn") else "")
        for n, t in enumerate(swarm.rejected_plan or [], start=1)
        if isinstance(t, dict)
    )
    return (
        "# Feedback on the previous plan\nThe person supervising this swarm rejected the previous plan"
        + (f":\n{rejected}" if rejected else ".")
        + f"\n\nTheir feedback, which the new plan must address:\n{swarm.plan_feedback}"
    )


def validate(data: Any, swarm: Swarm) -> tuple[Plan | None, list[str]]:
    if not isinstance(data, dict):
        return None, ["no plan was submitted through the submit_plan tool"]
    errors: list[str] = []
    agents = _agents(data.get("agents"), swarm, errors)
    tasks = _tasks(data.get("tasks"), task_limit(swarm), errors)
    if errors:
        return None, errors
    _check_graph(tasks, errors)
    if errors:
        return None, errors
    plan = Plan(agents=agents, tasks=tasks)
    staff(plan, swarm)
    return plan, []


def _agents(raw: Any, swarm: Swarm, errors: list[str]) -> list[PlannedAgent]:
    if not isinstance(raw, list) or not raw:
        errors.append("agents must be a non-empty list")
        return []
    if len(raw) > swarm.max_agents:
        errors.append(f"the plan has {len(raw)} agents; at most {swarm.max_agents} are allowed")
    agents = []
    for index, item in enumerate(raw):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in AGENT_TYPES:
            errors.append(f"agents[{index}].type {kind!r} is not a known agent type")
            continue
        agents.append(PlannedAgent(type=kind, name=_slug(str(item.get("name") or kind))))
    return agents


def _tasks(raw: Any, limit: int, errors: list[str]) -> list[PlannedTask]:
    if not isinstance(raw, list) or not raw:
        errors.append("tasks must be a non-empty list")
        return []
    if len(raw) > limit:
        errors.append(f"the plan has {len(raw)} tasks; at most {limit} are allowed")
    tasks = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.append(f"tasks[{index}] must be an object")
            continue
        name, description = str(item.get("name") or "").strip(), str(item.get("description") or "").strip()
        if len(name) < 3 or len(description) < 10:
            errors.append(f"tasks[{index}] needs a name (3+ characters) and a description (10+ characters)")
        agent_type = item.get("agentType")
        if agent_type not in AGENT_TYPES:
            errors.append(f"tasks[{index}].agentType {agent_type!r} is not a known agent type")
        deps = item.get("dependencies") or []
        if not isinstance(deps, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in deps
        ):
            errors.append(f"tasks[{index}].dependencies must be a list of task indexes")
            deps = []
        capabilities = [c for c in item.get("capabilities") or [] if c in ALL_CAPABILITIES]
        tasks.append(
            PlannedTask(
                name=name[:200],
                description=description[:1000],
                type=item.get("type") if item.get("type") in TASK_TYPES else "custom",
                agent_type=agent_type or "",
                priority=PRIORITIES.get(item.get("priority"), Task.Priority.NORMAL),
                capabilities=capabilities,
                dependencies=sorted(set(deps)),
                requires_approval=item.get("requiresApproval") is True,
            )
        )
    return tasks


def _check_graph(tasks: list[PlannedTask], errors: list[str]) -> None:
    for index, task in enumerate(tasks):
        for dep in task.dependencies:
            if dep == index or not 0 <= dep < len(tasks):
                errors.append(f"tasks[{index}] depends on {dep}, which is not another task of the plan")
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
        errors.append(f"the dependencies form a cycle through tasks {cyclic}")


def staff(plan: Plan, swarm: Swarm) -> None:
    """Every task gets an agent type the plan has; hierarchical mode gets its coordinator and
    the final synthesis task that depends on everything else."""
    if swarm.mode == Swarm.Mode.HIERARCHICAL and not any(a.type == "coordinator" for a in plan.agents):
        if len(plan.agents) >= swarm.max_agents:
            plan.agents.pop()
        plan.agents.insert(0, PlannedAgent(type="coordinator", name="coordinator"))
    planned = {a.type for a in plan.agents}
    for task in plan.tasks:
        if task.agent_type not in planned:
            task.agent_type = _fitting_type(task.capabilities, planned, plan.agents[0].type)
        own = set(AGENT_TYPES[task.agent_type].capabilities)
        task.capabilities = [c for c in task.capabilities if c in own]
    if swarm.mode == Swarm.Mode.HIERARCHICAL:
        plan.tasks.append(
            PlannedTask(
                name="Final synthesis",
                description="Combine every result into one coherent answer to the objective.",
                type="custom",
                agent_type="coordinator",
                priority=Task.Priority.HIGH,
                capabilities=["coordination"],
                dependencies=list(range(len(plan.tasks))),
                is_synthesis=True,
            )
        )


def _fitting_type(capabilities: list[str], planned: set[str], fallback: str) -> str:
    fits = [t for t in planned if set(capabilities) <= set(AGENT_TYPES[t].capabilities)]
    if fits:
        return min(fits, key=lambda t: len(AGENT_TYPES[t].capabilities))
    best = best_type_for(capabilities)
    return best if best in planned else fallback


def from_template(strategy: Strategy, swarm: Swarm) -> Plan:
    agents = [PlannedAgent(type=kind, name=name) for kind, name in strategy.agents][: swarm.max_agents]
    tasks = [
        PlannedTask(
            name=t.name,
            description=t.description,
            type=t.type,
            agent_type=t.agent_type,
            priority=PRIORITIES[t.priority],
            capabilities=list(t.capabilities),
            dependencies=list(t.depends_on),
            requires_approval=getattr(t, "requires_approval", False),
        )
        for t in strategy.tasks
    ]
    plan = Plan(agents=agents, tasks=tasks)
    staff(plan, swarm)
    if len(plan.tasks) > settings.MAX_TASKS_PER_SWARM:
        raise PlanInvalid(
            f"the {strategy.name} template has {len(plan.tasks)} tasks; this deployment allows "
            f"{settings.MAX_TASKS_PER_SWARM} per swarm (MAX_TASKS_PER_SWARM)"
        )
    return plan


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_")[:50]
    return slug if len(slug) >= 3 else f"{slug or 'agent'}-1"[:50]
