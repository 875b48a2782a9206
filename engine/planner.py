"""The planner: turns a swarm's objective into agents and a task graph, once.

Planned strategies ask Claude through a forced `submit_plan` tool call (engine/plans.py holds the
schema and its validation; an invalid plan gets one repair round-trip); template strategies build
a fixed graph without a call. The planner holds a lease on the swarm while it talks to Claude.
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.db import transaction

from agents.services import Wanted, agents_spawn
from core.logging import log_context
from engine import budget, estimates, plans
from engine.claude import Abort, Aborted, CallFailed, Exhausted, Request, Spend, call, client, estimate
from engine.leases import Watchdog, lease_until, renew_interval, worker_identity
from events.stream import batch, log
from swarms.locks import lock_swarm
from swarms.models import Swarm
from swarms.selectors import strategy_for
from swarms.services import swarm_claim_planning, swarm_fail, swarm_planned, swarm_renew_planning
from tasks.services import tasks_create

logger = logging.getLogger(__name__)
SOURCE = "HeadlessCoordinator"
# The least answer room worth paying a planning prompt for: a plan cut off mid-way is invalid.
PLAN_MIN_OUTPUT_TOKENS = 1024


class OverBudget(Exception):
    """The planning prompt and a plan's answer do not fit what the swarm's budget has left."""


# --- planning ---------------------------------------------------------------------------------


def plan(*, swarm_id: str) -> bool:
    """Plans the swarm (once, under the planning lease); True when a plan was applied."""
    owner = worker_identity()
    if not _claim_planning(swarm_id, owner):
        return False
    with log_context(swarm_id=swarm_id):
        swarm = Swarm.objects.get(pk=swarm_id)
        strategy = strategy_for(swarm.strategy, swarm.owner_id)
        if strategy is None:  # deleted since the swarm was created
            swarm_fail(swarm_id=swarm_id, reason=f"the strategy {swarm.strategy!r} no longer exists")
            return False
        try:
            if strategy.is_template:
                result = plans.from_template(strategy, swarm)
            else:
                with Watchdog(
                    name=f"plan-{swarm_id}",
                    renew=partial(_renew_planning, swarm_id, owner),
                    timeout_s=None,
                    interval_s=renew_interval(),
                ) as watchdog:
                    result = ask_for_plan(swarm, strategy.guidance, watchdog.abort)
        except plans.PlanInvalid as exc:
            swarm_fail(swarm_id=swarm_id, reason=f"invalid plan: {exc}"[:300])
            return False
        except CallFailed as exc:
            swarm_fail(swarm_id=swarm_id, reason=f"planning failed: {exc}"[:300])
            return False
        except Exhausted:
            budget.enforce(swarm_id)
            return False
        except OverBudget as exc:
            budget.refuse(swarm_id, why=str(exc))
            return False
        except Aborted:
            return False  # stopped or deleted while planning
        apply_plan(swarm_id, owner, result)
        return True


def ask_for_plan(swarm: Swarm, guidance: str, abort: Abort) -> plans.Plan:
    """One planning call, and one repair round-trip if the plan is invalid."""
    types = plans.types_of(swarm)
    tool = plans.plan_tool(swarm, types)
    spend = Spend.of(swarm)
    system, messages = plans.plan_messages(swarm, guidance, types)
    # each re-plan after a rejected plan is a new logical call (its repair the one after), so a
    # stored answer of the rejected plan is never reused for it
    first = 2 * swarm.plan_revisions
    reply = call(
        within_budget(
            Request(
                swarm_id=swarm.id, role="planner", system=system, messages=messages, tool=tool, spend=spend,
                revision=first,
            )
        ),
        abort,
    )  # fmt: skip
    result, errors = plans.validate(reply.tool_input, swarm, types)
    if not errors:
        return result
    with transaction.atomic():
        log(swarm.id, "warn", SOURCE, "The plan is invalid; asking Claude to repair it: " + "; ".join(errors))
    tool_use_id = reply.tool_use_id or "toolu_missing"
    messages = [
        *messages,
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": tool_use_id, "name": tool["name"], "input": reply.tool_input or {}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_use_id,
                    "is_error": True,
                    "content": "The plan is invalid:\n- "
                    + "\n- ".join(errors)
                    + f"\nCall {tool['name']} again with a corrected plan.",
                }
            ],
        },
    ]
    reply = call(
        within_budget(
            Request(
                swarm_id=swarm.id,
                role="planner",
                system=system,
                messages=messages,
                tool=tool,
                revision=first + 1,
                spend=spend,
            )
        ),
        abort,
    )
    result, errors = plans.validate(reply.tool_input, swarm, types)
    if errors:
        raise plans.PlanInvalid("; ".join(errors))
    return result


def within_budget(request: Request) -> Request:
    """Caps the call's `max_tokens` so that its prompt and answer together fit what the budget
    has left; raises OverBudget when not even a short plan would fit (nothing is spent then)."""
    prompt = estimate.input_tokens(system=request.system, messages=request.messages, tool=request.tool)
    room = estimate.output_room(request.spend, model=client.model_for(request.role), prompt_tokens=prompt)
    if room is None:
        return request
    if room < PLAN_MIN_OUTPUT_TOKENS:
        raise OverBudget(
            f"Planning needs about {prompt} prompt tokens plus at least {PLAN_MIN_OUTPUT_TOKENS} for the plan; "
            "the swarm's budget has not that much left"
        )
    request.max_tokens = min(request.max_tokens or settings.CLAUDE_MAX_TOKENS, room)
    return request


def apply_plan(swarm_id: str, owner: str, result: plans.Plan) -> None:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.status != Swarm.Status.PLANNING or swarm.plan_lease_owner != owner:
            return  # stopped, deleted or planned by someone else meanwhile
        with batch(swarm.id):
            wanted = [Wanted(agent.type, agent.name) for agent in result.agents]
            for agent, spawned in zip(result.agents, agents_spawn(swarm=swarm, wanted=wanted), strict=True):
                if isinstance(spawned, Exception):  # full, or its type deleted meanwhile
                    log(
                        swarm.id, "warn", SOURCE, f"Planned agent {agent.name} not spawned: {spawned.message}"
                    )
            items = [
                {
                    "sequence": sequence,
                    "name": planned.name,
                    "description": planned.description,
                    "type": planned.type,
                    "priority": planned.priority,
                    "agent_type": planned.agent_type,
                    "is_synthesis": planned.is_synthesis,
                    "requires_approval": planned.requires_approval,
                    "requirements": {"capabilities": planned.capabilities},
                    "dependencies": planned.dependencies,  # earlier tasks of the plan, by index
                }
                for sequence, planned in enumerate(result.tasks, start=1)
            ]
            created = tasks_create(swarm=swarm, tasks=items)
            estimate = estimates.plan_cost(swarm, result.tasks)
            swarm_planned(swarm, agents=len(result.agents), tasks=len(created), estimate=estimate)


def _claim_planning(swarm_id: str, owner: str) -> bool:
    return swarm_claim_planning(swarm_id=swarm_id, owner=owner, until=lease_until())


def _renew_planning(swarm_id: str, owner: str) -> str | None:
    return None if swarm_renew_planning(swarm_id=swarm_id, owner=owner, until=lease_until()) else "cancelled"
