"""The coordinator: plans a swarm, dispatches its ready tasks to agents, and settles it.

Dispatch decisions run under a deployment-wide gate (so MAX_CONCURRENT_TASKS holds across all
worker processes) and the swarm's row lock. The three modes differ in who picks:
- centralized: the coordinator takes ready tasks by priority and gives each the best-fitting
  idle agent (fewest capabilities beyond what the task needs, then least loaded);
- distributed: the agents pull: each idle agent, longest idle first, claims the highest-priority
  ready task it can do (no best-fit choice), locking the row with SELECT … FOR UPDATE SKIP LOCKED;
- hierarchical: centralized assignment, plus the coordinator agent reviews every result (and may
  send it back once) and writes the final synthesis (see bridge.reviewed and planning.staff).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from agents.models import Agent
from agents.services import spawn_locked
from core.errors import LimitExceeded
from core.logging import log_context
from ops import metrics
from swarms import engine, events, planning
from swarms.locks import gate, lock_swarm
from swarms.models import Swarm
from swarms.services import begin_execution, finish, swarm_fail
from swarms.strategies import get_strategy
from tasks import budget
from tasks.bridge import worker_identity
from tasks.claude_calls import Abort, Aborted, CallFailed, Request, call
from tasks.models import Task
from tasks.serializers import task_summary
from tasks.services import create_locked
from tasks.watchdog import Watchdog

logger = logging.getLogger(__name__)
SOURCE = "HeadlessCoordinator"


# --- planning ---------------------------------------------------------------------------------


def plan(*, swarm_id: str) -> None:
    owner = worker_identity()
    if not _claim_planning(swarm_id, owner):
        return
    with log_context(swarm_id=swarm_id):
        swarm = Swarm.objects.get(pk=swarm_id)
        strategy = get_strategy(swarm.strategy)
        try:
            if strategy.is_template:
                result = planning.from_template(strategy, swarm)
            else:
                with Watchdog(
                    name=f"plan-{swarm_id}",
                    renew=partial(_renew_planning, swarm_id, owner),
                    timeout_s=None,
                    interval_s=min(1.0, settings.TASK_LEASE_SECONDS / 3),
                ) as watchdog:
                    result = ask_for_plan(swarm, strategy.guidance, watchdog.abort)
        except planning.PlanInvalid as exc:
            swarm_fail(swarm_id=swarm_id, reason=f"invalid plan: {exc}"[:300])
            return
        except CallFailed as exc:
            swarm_fail(swarm_id=swarm_id, reason=f"planning failed: {exc}"[:300])
            return
        except budget.Exhausted:
            budget.enforce(swarm_id)
            return
        except Aborted:
            return  # stopped or deleted while planning
        apply_plan(swarm_id, owner, result)


def ask_for_plan(swarm: Swarm, guidance: str, abort: Abort) -> planning.Plan:
    """One planning call, and one repair round-trip if the plan is invalid."""
    tool = planning.plan_tool(swarm)
    system, messages = planning.plan_messages(swarm, guidance)
    reply = call(
        Request(swarm_id=swarm.id, role="planner", system=system, messages=messages, tool=tool), abort
    )
    result, errors = planning.validate(reply.tool_input, swarm)
    if not errors:
        return result
    with transaction.atomic():
        events.log(
            swarm.id, "warn", SOURCE, "The plan is invalid; asking Claude to repair it: " + "; ".join(errors)
        )
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
        Request(swarm_id=swarm.id, role="planner", system=system, messages=messages, tool=tool, revision=1),
        abort,
    )
    result, errors = planning.validate(reply.tool_input, swarm)
    if errors:
        raise planning.PlanInvalid("; ".join(errors))
    return result


def apply_plan(swarm_id: str, owner: str, result: planning.Plan) -> None:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.status != Swarm.Status.PLANNING or swarm.plan_lease_owner != owner:
            return  # stopped, deleted or planned by someone else meanwhile
        for agent in result.agents:
            try:
                spawn_locked(swarm, type=agent.type, name=agent.name)
            except LimitExceeded as exc:
                events.log(swarm.id, "warn", SOURCE, f"Planned agent {agent.name} not spawned: {exc.message}")
        created: list[Task] = []
        for planned in result.tasks:
            created.append(
                create_locked(
                    swarm,
                    name=planned.name,
                    description=planned.description,
                    type=planned.type,
                    priority=planned.priority,
                    agent_type=planned.agent_type,
                    is_synthesis=planned.is_synthesis,
                    requirements={"capabilities": planned.capabilities},
                    dependencies=[created[i] for i in planned.dependencies],
                )
            )
        swarm.status = Swarm.Status.READY
        swarm.plan_lease_owner, swarm.plan_lease_expires_at = "", None
        swarm.save(update_fields=["status", "plan_lease_owner", "plan_lease_expires_at", "updated_at"])
        events.publish(
            swarm.id,
            "swarm.planned",
            {"status": swarm.status, "agents": len(result.agents), "tasks": len(created)},
        )
        events.log(swarm.id, "info", SOURCE, f"Plan ready: {len(result.agents)} agents, {len(created)} tasks")
        if swarm.start_requested:
            begin_execution(swarm)


def _claim_planning(swarm_id: str, owner: str) -> bool:
    now = timezone.now()
    return bool(
        Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.PLANNING)
        .filter(Q(plan_lease_expires_at__isnull=True) | Q(plan_lease_expires_at__lt=now))
        .update(
            plan_lease_owner=owner, plan_lease_expires_at=now + timedelta(seconds=settings.TASK_LEASE_SECONDS)
        )
    )


def _renew_planning(swarm_id: str, owner: str) -> str | None:
    renewed = Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.PLANNING, plan_lease_owner=owner).update(
        plan_lease_expires_at=timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)
    )
    return None if renewed else "cancelled"


# --- dispatch ---------------------------------------------------------------------------------


def dispatch(*, swarm_id: str) -> None:
    with transaction.atomic():
        gate("dispatch")  # lock: MAX_CONCURRENT_TASKS counts in-flight tasks of every process
        swarm = Swarm.objects.select_for_update().filter(pk=swarm_id).first()
        if swarm is None or swarm.status != Swarm.Status.EXECUTING or settle(swarm):
            return
        if _deferred_by_resource_guard(swarm):
            return
        slots = free_slots(swarm)
        if slots <= 0:
            return
        if swarm.mode == Swarm.Mode.DISTRIBUTED:
            _agents_claim(swarm, slots)
        else:
            _assign_centrally(swarm, slots)


def free_slots(swarm: Swarm) -> int:
    """Room for more tasks: the deployment's MAX_CONCURRENT_TASKS and the swarm's own limit
    (one at a time when parallel=false, else one per live agent). Caller holds the gate."""
    in_flight_everywhere = Task.objects.in_flight().count()
    in_flight_here = Task.objects.for_swarm(swarm).in_flight().count()
    agents = Agent.objects.filter(swarm=swarm).live().count()
    own_limit = 1 if not swarm.parallel else min(agents, settings.MAX_CONCURRENT_TASKS)
    return min(settings.MAX_CONCURRENT_TASKS - in_flight_everywhere, own_limit - in_flight_here)


def _assign_centrally(swarm: Swarm, slots: int) -> None:
    idle = list(Agent.objects.filter(swarm=swarm).idle())
    staffed = set(Agent.objects.filter(swarm=swarm).live().values_list("type", flat=True))
    for task in Task.objects.for_swarm(swarm).ready().select_related("assigned_agent")[:200]:
        if slots <= 0 or not idle:
            return
        fitting = [agent for agent in idle if eligible(agent, task, staffed)]
        if not fitting:
            continue
        best = min(fitting, key=lambda a: (_extra_capabilities(a, task), a.tasks_completed, a.created_at))
        assign(swarm, task, best, mode="centralized")
        idle.remove(best)
        slots -= 1


def _agents_claim(swarm: Swarm, slots: int) -> None:
    staffed = set(Agent.objects.filter(swarm=swarm).live().values_list("type", flat=True))
    for agent in Agent.objects.filter(swarm=swarm).idle().order_by("idle_since", "created_at"):
        if slots <= 0:
            return
        candidates = Task.objects.for_swarm(swarm).ready().select_related("assigned_agent")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        task = next((t for t in candidates[:200] if eligible(agent, t, staffed)), None)
        if task is not None:
            assign(swarm, task, agent, mode="distributed")
            slots -= 1


def eligible(agent: Agent, task: Task, staffed: set[str]) -> bool:
    if task.pinned and task.assigned_agent_id:
        return task.assigned_agent_id == agent.id
    if not agent.has_capabilities(task.required_capabilities):
        return False
    # the plan's choice of agent type holds while the swarm has such an agent
    return not task.agent_type or task.agent_type not in staffed or agent.type == task.agent_type


def _extra_capabilities(agent: Agent, task: Task) -> int:
    own = {name for name, on in agent.capabilities.items() if on is True}
    return len(own - set(task.required_capabilities))


def assign(swarm: Swarm, task: Task, agent: Agent, *, mode: str) -> None:
    now = timezone.now()
    seq = task.assignment_seq + 1
    Task.objects.filter(pk=task.id).update(
        status=Task.Status.ASSIGNED, assigned_agent=agent, assignment_seq=seq, assigned_at=now
    )
    Agent.objects.filter(pk=agent.id).update(status=Agent.Status.BUSY)
    task.status, task.assigned_agent, task.assignment_seq = Task.Status.ASSIGNED, agent, seq
    events.publish(
        swarm.id, "task.assigned", task_summary(task, agentId=agent.id, agentName=agent.name, mode=mode)
    )
    events.publish(
        swarm.id,
        "agent.status_changed",
        {"id": agent.id, "name": agent.name, "status": "busy", "taskId": task.id},
    )
    engine.after_commit_run(task.id, seq)


# --- settling -------------------------------------------------------------------------------


def settle(swarm: Swarm) -> bool:
    """Cancels tasks that can never run (a dependency failed) and ends the swarm when nothing is
    left to do. Returns True when the swarm ended. Caller holds the swarm lock."""
    doomed = _blocked_by_failure(swarm)
    if doomed:
        now = timezone.now()
        Task.objects.filter(pk__in=[t.id for t in doomed]).update(
            status=Task.Status.CANCELLED, failure_reason="dependency_failed", completed_at=now
        )
        metrics.task_ended("cancelled", count=len(doomed))
        for task in doomed:
            task.status = Task.Status.CANCELLED
            events.publish(swarm.id, "task.cancelled", task_summary(task, reason="dependency_failed"))
    counts = {row["status"]: row["n"] for row in _status_counts(swarm)}
    open_tasks = sum(counts.get(s, 0) for s in (Task.Status.PENDING, *Task.IN_FLIGHT))
    if open_tasks:
        return False
    total = sum(counts.values())
    completed = counts.get(Task.Status.COMPLETED, 0)
    if completed == total:
        finish(swarm, Swarm.Status.COMPLETED)
    else:
        finish(swarm, Swarm.Status.FAILED, reason=f"{total - completed} of {total} tasks did not complete")
    return True


def _blocked_by_failure(swarm: Swarm) -> list[Task]:
    """Pending tasks with a failed or cancelled dependency, transitively (one query per level)."""
    dead = {Task.Status.FAILED, Task.Status.CANCELLED}
    doomed: list[Task] = []
    frontier = list(Task.objects.for_swarm(swarm).filter(status__in=dead).values_list("id", flat=True))
    while frontier:
        level = list(
            Task.objects.for_swarm(swarm)
            .filter(status=Task.Status.PENDING, dependencies__in=frontier)
            .exclude(pk__in=[t.id for t in doomed])
            .distinct()
            .select_related("assigned_agent")
        )
        doomed.extend(level)
        frontier = [t.id for t in level]
    return doomed


def _status_counts(swarm: Swarm):
    return Task.objects.for_swarm(swarm).values("status").annotate(n=Count("id")).order_by()


def _deferred_by_resource_guard(swarm: Swarm) -> bool:
    from tasks import resources

    state = resources.guard_state()
    if not state.get("deferring"):
        return False
    logger.info("dispatch of %s deferred: %s", swarm.id, state.get("reason"))
    return True
