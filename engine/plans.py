"""Plans: the JSON schema Claude fills through a forced tool call, its validation, and staffing.

The schema, the prompt and the rules all use the swarm owner's agent types (the built-ins and
their own). Validation (the rules are in swarms/plans.py, shared with template strategies)
refuses what cannot run (unknown agent types, cycles, dangling dependencies, no tasks, too many
agents) and quietly mends what is only cosmetic (agent names, a task whose agent type the plan
did not staff goes to a planned agent that can do it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from agents.registry import AgentSpec, best_type_for
from agents.selectors import agent_types_for
from swarms.models import Strategy, Swarm
from swarms.plans import (
    MAX_PLAN_TASKS,
    Plan,
    PlanInvalid,
    PlannedAgent,
    PlannedTask,
    Problem,
    parse,
)
from swarms.serializers import prompt_options
from tasks.models import Task
from tasks.serializers import PRIORITIES, TASK_TYPES

PLAN_TOOL_NAME = "submit_plan"
Types = Mapping[str, AgentSpec]


def task_limit(swarm: Swarm) -> int:
    """Tasks a plan may list: MAX_PLAN_TASKS within MAX_TASKS_PER_SWARM, less the synthesis task
    that hierarchical mode adds."""
    synthesis = 1 if swarm.mode == Swarm.Mode.HIERARCHICAL else 0
    return max(0, min(MAX_PLAN_TASKS, settings.MAX_TASKS_PER_SWARM - synthesis))


def types_of(swarm: Swarm) -> dict[str, AgentSpec]:
    """The agent types the swarm's owner may use: the built-ins and their own."""
    return agent_types_for(swarm.owner_id)


def plan_tool(swarm: Swarm, types: Types | None = None) -> dict[str, Any]:
    types = types_of(swarm) if types is None else types
    names = list(types)
    capabilities = sorted({c for t in types.values() for c in t.capabilities})
    agent = {
        "type": "object",
        "required": ["type", "name"],
        "properties": {
            "type": {"type": "string", "enum": names},
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
            "agentType": {"type": "string", "enum": names},
            "capabilities": {"type": "array", "items": {"type": "string", "enum": capabilities}},
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


def plan_messages(
    swarm: Swarm, guidance: str, types: Types | None = None
) -> tuple[str, list[dict[str, Any]]]:
    types = types_of(swarm) if types is None else types
    listed = "\n".join(_type_line(name, t) for name, t in types.items())
    options = prompt_options(swarm.options)  # never what the client sent, only what passed the schema
    lines = [
        f"# Objective\n{swarm.objective}",
        f"# Strategy: {swarm.strategy}\n{guidance}",
        f"# Limits\nAt most {swarm.max_agents} agents and {task_limit(swarm)} tasks."
        + (" Tasks run one at a time." if not swarm.parallel else " Independent tasks run in parallel."),
        f"# Agent types and their capabilities\n{listed}",
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


def _type_line(name: str, spec: AgentSpec) -> str:
    line = f"- {name}: {', '.join(spec.capabilities)}"
    # the built-ins' lines stay as they were (a stable prompt prefix); a user's type needs its description
    return line + f" — {spec.description}" if not spec.builtin and spec.description else line


def validate(data: Any, swarm: Swarm, types: Types | None = None) -> tuple[Plan | None, list[Problem]]:
    types = types_of(swarm) if types is None else types
    plan, errors = parse(data, types=types, max_agents=swarm.max_agents, max_tasks=task_limit(swarm))
    if plan is None:
        return None, errors
    staff(plan, swarm, types)
    return plan, []


def staff(plan: Plan, swarm: Swarm, types: Types) -> None:
    """Every task gets an agent type the plan has; hierarchical mode gets its coordinator and
    the final synthesis task that depends on everything else."""
    if swarm.mode == Swarm.Mode.HIERARCHICAL and not any(a.type == "coordinator" for a in plan.agents):
        if len(plan.agents) >= swarm.max_agents:
            plan.agents.pop()
        plan.agents.insert(0, PlannedAgent(type="coordinator", name="coordinator"))
    planned = {a.type for a in plan.agents}
    for task in plan.tasks:
        if task.agent_type not in planned:
            task.agent_type = _fitting_type(task.capabilities, planned, plan.agents[0].type, types)
        own = set(types[task.agent_type].capabilities)
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


def _fitting_type(capabilities: list[str], planned: set[str], fallback: str, types: Types) -> str:
    fits = [t for t in planned if set(capabilities) <= set(types[t].capabilities)]
    if fits:
        return min(fits, key=lambda t: len(types[t].capabilities))
    best = best_type_for(capabilities, types)
    return best if best in planned else fallback


def from_template(strategy: Strategy, swarm: Swarm, types: Types | None = None) -> Plan:
    """The template's plan, checked by the rules of a Claude plan against the owner's agent types
    as they are now; agents beyond the swarm's maxAgents are left out (their tasks are staffed)."""
    types = types_of(swarm) if types is None else types
    template = dict(strategy.template or {})
    if isinstance(template.get("agents"), list):
        template["agents"] = template["agents"][: swarm.max_agents]
    plan, errors = parse(template, types=types, max_agents=swarm.max_agents, max_tasks=MAX_PLAN_TASKS)
    if plan is None:
        raise PlanInvalid(f"the {strategy.name} template: " + "; ".join(errors))
    staff(plan, swarm, types)
    if len(plan.tasks) > settings.MAX_TASKS_PER_SWARM:
        raise PlanInvalid(
            f"the {strategy.name} template has {len(plan.tasks)} tasks; this deployment allows "
            f"{settings.MAX_TASKS_PER_SWARM} per swarm (MAX_TASKS_PER_SWARM)"
        )
    return plan
