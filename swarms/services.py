"""Swarm lifecycle and the swarm commands of the API, admin, UI and WebSocket.

State machine (ARCHITECTURE.md): planning → ready → executing ⇄ paused → completed | failed |
stopped. `start` during planning is remembered and execution begins when the plan lands. With
options.approvePlan the plan waits in awaiting_approval: approve → ready (or executing when start
was requested), reject with feedback → planning again, reject with cancel → stopped. A completed or
failed swarm given a new or retried task goes back to executing (reopened). Each
command locks the swarm row first, writes through the task and agent services, publishes its
events in the same transaction, and asks for work (planning, scheduling) only after commit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from agents.selectors import agent_types_for
from agents.services import Wanted, agent_spawn, agent_terminate, agents_release_all, agents_spawn
from core import jobs
from core.errors import Conflict, Forbidden, LimitExceeded, ValidationFailed
from events import catalogue
from events.stream import announce_deleted, batch, log, publish
from swarms import plans
from swarms.locks import gate, lock_swarm
from swarms.models import Strategy, Swarm
from swarms.selectors import plan_summary
from swarms.strategies import STRATEGIES
from tasks.models import Task
from tasks.services import (
    cancelled_because_of,
    task_approve,
    task_cancel,
    task_cancel_open,
    task_create,
    task_pin,
    task_reject,
    task_requeue,
    task_retry,
    task_unpin,
    tasks_create,
)

SOURCE = "HeadlessCoordinator"


def swarm_create(
    *,
    owner: Any,
    objective: str,
    strategy: str = "auto",
    mode: str = Swarm.Mode.CENTRALIZED,
    max_agents: int = 5,
    timeout_ms: int | None = None,
    parallel: bool = True,
    options: dict[str, Any] | None = None,
    name: str = "",
) -> Swarm:
    jobs.require_broker()  # planning needs a worker: refuse now rather than hold a swarm nobody plans
    with transaction.atomic():
        gate("swarms")  # lock: two creates must not both see room for one more swarm
        _check_swarm_quotas(owner)
        swarm = Swarm.objects.create(
            owner=owner,
            name=name or _name_from(objective),
            objective=objective,
            strategy=strategy,
            mode=mode,
            max_agents=max_agents,
            timeout_ms=timeout_ms or settings.DEFAULT_SWARM_TIMEOUT_MS,
            parallel=parallel,
            options=options or {},
        )
        with batch(swarm.id):
            publish(swarm.id, catalogue.swarm_created(swarm))
            log(swarm.id, "info", SOURCE, f"Creating swarm: {swarm.id}")
        jobs.plan_on_commit(swarm.id)
    return swarm


def _check_swarm_quotas(owner: Any) -> None:
    """Only active swarms count (planning/ready/executing/paused): finished ones free their slot,
    and swarms never started free theirs after READY_SWARM_TTL (`swarm_expire`)."""
    active = Swarm.objects.active().count()
    if active >= settings.MAX_SWARMS:
        raise LimitExceeded(
            f"This deployment already has {active} active swarms (maxSwarms is {settings.MAX_SWARMS}); "
            "stop or wait for one to finish"
        )
    mine = Swarm.objects.active().filter(owner=owner).count()
    if mine >= settings.MAX_SWARMS_PER_USER:
        raise LimitExceeded(
            f"You already have {mine} active swarms (MAX_SWARMS_PER_USER is {settings.MAX_SWARMS_PER_USER}); "
            "stop or wait for one to finish"
        )


def swarm_start(*, swarm_id: str) -> Swarm:
    jobs.require_broker()
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.status == Swarm.Status.AWAITING_APPROVAL:
            return _request_start(swarm, "Start requested; execution begins when the plan is approved")
        if swarm.status == Swarm.Status.PLANNING:
            if swarm.start_requested:
                raise Conflict(
                    "Start is already requested; the swarm starts executing when planning completes"
                )
            swarm.start_requested = True
            swarm.save(update_fields=["start_requested", "updated_at"])
            log(
                swarm.id,
                "info",
                SOURCE,
                "Start requested during planning; execution begins when the plan lands",
            )
            return swarm
        _require(swarm, (Swarm.Status.READY,), "start")
        swarm_begin(swarm)
    return swarm


def _request_start(swarm: Swarm, message: str) -> Swarm:
    if swarm.start_requested:
        raise Conflict(f"Start is already requested for swarm {swarm.id}; it is {swarm.status}")
    swarm.start_requested = True
    swarm.save(update_fields=["start_requested", "updated_at"])
    log(swarm.id, "info", SOURCE, message)
    return swarm


def swarm_begin(swarm: Swarm) -> None:
    """ready → executing (also when a plan lands after an early start). Caller holds the lock."""
    swarm.status = Swarm.Status.EXECUTING
    swarm.started_at = timezone.now()
    swarm.save(update_fields=["status", "started_at", "updated_at"])
    publish(swarm.id, catalogue.swarm_started())
    log(swarm.id, "info", SOURCE, f"Swarm {swarm.id} started executing")
    jobs.schedule_on_commit()


def swarm_planned(swarm: Swarm, *, agents: int, tasks: int, estimate: dict[str, Any] | None = None) -> None:
    """planning → ready once the plan's agents and tasks exist, or → awaiting_approval when
    options.approvePlan asks a person to approve it first. Caller holds the lock."""
    gated = swarm.options.get("approvePlan") is True
    swarm.status = Swarm.Status.AWAITING_APPROVAL if gated else Swarm.Status.READY
    swarm.plan_lease_owner, swarm.plan_lease_expires_at = "", None
    swarm.plan_estimate = estimate or {}
    swarm.save(
        update_fields=["status", "plan_lease_owner", "plan_lease_expires_at", "plan_estimate", "updated_at"]
    )
    publish(swarm.id, catalogue.swarm_planned(status=swarm.status, agents=agents, tasks=tasks))
    log(swarm.id, "info", SOURCE, f"Plan ready: {agents} agents, {tasks} tasks")
    if gated:
        _gate_opened(swarm)
        publish(swarm.id, catalogue.swarm_awaiting_approval(plan=plan_summary(swarm)))
        log(swarm.id, "info", SOURCE, "The plan awaits approval (approve, or reject with feedback)")
    elif swarm.start_requested:
        swarm_begin(swarm)


# --- approval gates -----------------------------------------------------------------------------


def _gate_opened(swarm: Swarm) -> None:
    """A gate opened: the timeout clock stops (from the oldest open gate on). Caller holds the lock."""
    if swarm.approval_since is None:
        swarm.approval_since = timezone.now()
        swarm.save(update_fields=["approval_since", "updated_at"])


def _gate_closed(swarm: Swarm) -> None:
    """A gate closed: with none left open, the time waited stops counting against the timeout
    (time before the swarm started never counted). Caller holds the lock."""
    if swarm.approval_since is None or _gates_open(swarm):
        return
    if swarm.started_at is not None:
        since = max(swarm.approval_since, swarm.started_at)
        swarm.approval_waited_ms += max(0, int((timezone.now() - since).total_seconds() * 1000))
    swarm.approval_since = None
    swarm.save(update_fields=["approval_since", "approval_waited_ms", "updated_at"])


def _gates_open(swarm: Swarm) -> bool:
    return (
        swarm.status == Swarm.Status.AWAITING_APPROVAL
        or Task.objects.filter(swarm=swarm, status=Task.Status.AWAITING_APPROVAL).exists()
    )


def swarm_task_gate_opened(*, swarm: Swarm) -> None:
    """A task's output now waits for approval (the runner, holding the swarm's lock)."""
    _gate_opened(swarm)


def swarm_approve(*, swarm_id: str) -> Swarm:
    """awaiting_approval → ready, or straight on to executing when start was requested."""
    jobs.require_broker()
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.AWAITING_APPROVAL,), "approve")
        swarm.status = Swarm.Status.READY
        swarm.save(update_fields=["status", "updated_at"])
        _gate_closed(swarm)
        publish(swarm.id, catalogue.swarm_approved(status=swarm.status))
        log(swarm.id, "info", SOURCE, "Plan approved")
        if swarm.start_requested:
            swarm_begin(swarm)
    return swarm


def swarm_reject(*, swarm_id: str, feedback: str = "", cancel: bool = False) -> Swarm:
    """A rejected plan: with `cancel` the swarm stops; else its agents and tasks are dropped and
    the planner asked once more, with the feedback and the rejected plan in its prompt."""
    if not cancel:
        jobs.require_broker()
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.AWAITING_APPROVAL,), "reject")
        if cancel:
            publish(swarm.id, catalogue.swarm_rejected(status="stopped", feedback=feedback, replan=False))
            swarm_finish(swarm, Swarm.Status.STOPPED, reason="plan rejected")
            return swarm
        summary = plan_summary(swarm)
        Task.objects.filter(swarm=swarm).delete()
        Agent.objects.filter(swarm=swarm).delete()
        swarm.status = Swarm.Status.PLANNING
        swarm.plan_feedback = feedback
        swarm.plan_revisions += 1
        swarm.rejected_plan = [
            {"name": t["name"], "agentType": t["agentType"], "dependsOn": _sequences(t, summary["tasks"])}
            for t in summary["tasks"]
        ]
        swarm.plan_estimate, swarm.approval_since = {}, None
        swarm.save()
        publish(swarm.id, catalogue.swarm_rejected(status=swarm.status, feedback=feedback, replan=True))
        log(swarm.id, "info", SOURCE, f"Plan rejected; planning again with the feedback: {feedback}")
        jobs.plan_on_commit(swarm.id)
    return swarm


def _sequences(task: dict[str, Any], tasks: list[dict[str, Any]]) -> list[int]:
    index = {t["id"]: t["sequence"] for t in tasks}
    return [index[d] for d in task["dependencies"] if d in index]


def swarm_approve_task(*, swarm_id: str, task_id: str) -> Task:
    """A task's output is accepted: completed, and its dependents may run."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        task = _task_of(swarm, task_id)
        with batch(swarm.id):
            if task_approve(task_id=task.id) is None:
                raise Conflict(
                    f"Task {task.id} is {task.status}; only a task awaiting approval can be approved"
                )
            log(swarm.id, "info", SOURCE, f"Task {task.name} approved")
            _gate_closed(swarm)
        _schedule_if_executing(swarm)
        jobs.settle_on_commit(swarm.id)  # it may have been the last task
    return Task.objects.get(pk=task.id)


def swarm_reject_task(*, swarm_id: str, task_id: str, feedback: str = "", cancel: bool = False) -> Task:
    """A task's output is rejected: sent back for one revision with the feedback, or cancelled
    (its dependents are then cancelled too, and the swarm settles)."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        task = _task_of(swarm, task_id)
        if task.status != Task.Status.AWAITING_APPROVAL:
            raise Conflict(f"Task {task.id} is {task.status}; only a task awaiting approval can be rejected")
        with batch(swarm.id):
            if cancel:
                publish(swarm.id, catalogue.task_rejected(task, feedback=feedback, revise=False))
                task_cancel(swarm_id=swarm.id, tasks=[task], reason="rejected")
                log(swarm.id, "warn", SOURCE, f"Task {task.name} rejected and cancelled")
                jobs.settle_on_commit(swarm.id)
            else:
                task_reject(task_id=task.id, feedback=feedback)
                log(swarm.id, "info", SOURCE, f"Task {task.name} rejected; sent back for a revision")
            _gate_closed(swarm)
        _schedule_if_executing(swarm)
    return Task.objects.get(pk=task.id)


def _task_of(swarm: Swarm, task_id: str) -> Task:
    return Task.objects.select_for_update(no_key=True).get(pk=task_id, swarm=swarm)


# --- continue and re-run ------------------------------------------------------------------------


def _reopen(swarm: Swarm, *, reason: str) -> None:
    """completed | failed → executing: a new or retried task. The swarm takes an active slot again
    and gets a fresh timeout window. Caller holds the lock."""
    gate("swarms")  # lock: like a create, a reopen must not pass the active-swarm quotas
    _check_swarm_quotas(swarm.owner)
    previous = swarm.status
    swarm.status = Swarm.Status.EXECUTING
    swarm.failure_reason, swarm.completed_at = "", None
    swarm.started_at = timezone.now()
    swarm.deferred_ms, swarm.approval_waited_ms, swarm.approval_since = 0, 0, None
    swarm.save()
    publish(swarm.id, catalogue.swarm_reopened(previous=previous, reason=reason))
    log(swarm.id, "info", SOURCE, f"Swarm reopened ({reason}); it was {previous}")
    # a task that can never run (a failed dependency) must not hold the reopened swarm open
    jobs.settle_on_commit(swarm.id)


def _open_for_work(swarm: Swarm, action: str, reason: str) -> None:
    """A finished swarm is reopened; a stopped one is not (clone it); an active one takes the work."""
    if swarm.status in Swarm.REOPENABLE:
        _reopen(swarm, reason=reason)
    elif not swarm.is_active:
        raise Conflict(
            f"Cannot {action} in swarm {swarm.id}: it is {swarm.status} (only completed or failed "
            "swarms reopen; clone it to run it again)"
        )


def swarm_retry_task(*, swarm_id: str, task_id: str) -> Task:
    """Runs a failed or cancelled task again, with the tasks cancelled because of it; a finished
    swarm reopens."""
    jobs.require_broker()
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        task = _task_of(swarm, task_id)
        if task.status not in (Task.Status.FAILED, Task.Status.CANCELLED):
            raise Conflict(f"Task {task.id} is {task.status}; only a failed or cancelled task can be retried")
        with batch(swarm.id):
            _open_for_work(swarm, "retry a task", reason=f"task {task.id} retried")
            dependents = cancelled_because_of(task)
            task_retry(swarm_id=swarm.id, tasks=[task, *dependents])
            stranded = Task.objects.filter(pk__in=[t.id for t in (task, *dependents)], pinned=True).filter(
                Q(assigned_agent__isnull=True) | Q(assigned_agent__status=Agent.Status.TERMINATED)
            )
            for pinned_id in stranded.values_list("id", flat=True):  # pinned to an agent now gone
                task_unpin(task_id=pinned_id)
            log(
                swarm.id, "info", SOURCE,
                f"Task {task.name} retried" + (f" with {len(dependents)} dependent task(s)" if dependents else ""),
            )  # fmt: skip
        _schedule_if_executing(swarm)
    return Task.objects.get(pk=task.id)


def swarm_clone(*, swarm_id: str, owner: Any) -> Swarm:
    """A new swarm with the objective, options, agents and tasks (the plan, with its dependencies)
    of another: ready to start, no planning call. Nothing of the run (outputs, spend) is copied."""
    jobs.require_broker()
    with transaction.atomic():
        gate("swarms")  # lock: two creates must not both see room for one more swarm
        source = Swarm.objects.get(pk=swarm_id)
        if source.status in (Swarm.Status.PLANNING,):
            raise Conflict(f"Swarm {source.id} has no plan yet (it is planning); clone it once it is planned")
        _check_swarm_quotas(owner)
        clone = Swarm.objects.create(
            owner=owner,
            name=_name_from(f"{source.name} (copy)"),
            objective=source.objective,
            strategy=source.strategy,
            mode=source.mode,
            max_agents=source.max_agents,
            timeout_ms=source.timeout_ms,
            parallel=source.parallel,
            options=dict(source.options),
            status=Swarm.Status.READY,
            plan_estimate=source.plan_estimate,
            cloned_from=source.id,
        )
        with batch(clone.id):
            publish(clone.id, catalogue.swarm_created(clone))
            agents = _copy_agents(source, clone)
            tasks = _copy_tasks(source, clone)
            publish(clone.id, catalogue.swarm_cloned(source=source.id, agents=agents, tasks=tasks))
            log(
                clone.id,
                "info",
                SOURCE,
                f"Swarm {clone.id} cloned from {source.id}: {agents} agents, {tasks} tasks",
            )
    return clone


def _copy_agents(source: Swarm, clone: Swarm) -> int:
    agents = Agent.objects.filter(swarm=source).exclude(status=Agent.Status.TERMINATED)
    wanted = [Wanted(a.type, a.name, dict(a.capabilities)) for a in agents.order_by("created_at", "instance")]
    spawned = agents_spawn(swarm=clone, wanted=wanted)
    refused = next((error for error in spawned if isinstance(error, Exception)), None)
    if refused is not None:
        raise refused
    return len(spawned)


def _copy_tasks(source: Swarm, clone: Swarm) -> int:
    tasks = list(Task.objects.filter(swarm=source).prefetch_related("dependencies").order_by("sequence"))
    index = {task.id: i for i, task in enumerate(tasks)}
    items = [
        {
            "sequence": task.sequence,
            "name": task.name,
            "description": task.description,
            "type": task.type,
            "priority": task.priority,
            "agent_type": task.agent_type,
            "is_synthesis": task.is_synthesis,
            "requires_approval": task.requires_approval,
            "requirements": task.requirements,
            # the copies of its dependencies, by index (an earlier sequence: earlier in the list)
            "dependencies": [index[d.id] for d in task.dependencies.all() if index.get(d.id, len(tasks)) < i],
        }
        for i, task in enumerate(tasks)
    ]
    return len(tasks_create(swarm=clone, tasks=items))


def swarm_claim_planning(*, swarm_id: str, owner: str, until: Any) -> bool:
    """Planning runs once: the planner takes this lease (free, or expired with its planner)."""
    return bool(
        Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.PLANNING)
        .filter(Q(plan_lease_expires_at__isnull=True) | Q(plan_lease_expires_at__lt=timezone.now()))
        .update(plan_lease_owner=owner, plan_lease_expires_at=until)
    )


def swarm_renew_planning(*, swarm_id: str, owner: str, until: Any) -> bool:
    return bool(
        Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.PLANNING, plan_lease_owner=owner).update(
            plan_lease_expires_at=until
        )
    )


def swarm_replan(*, swarm_id: str) -> None:
    """A plan whose message was lost (no planner holds its lease) is asked for again."""
    with transaction.atomic():
        Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.PLANNING).update(updated_at=timezone.now())
        jobs.plan_on_commit(swarm_id)


def swarm_pause(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.EXECUTING,), "pause")
        swarm.status = Swarm.Status.PAUSED
        swarm.save(update_fields=["status", "updated_at"])
        publish(swarm.id, catalogue.swarm_paused())
        log(swarm.id, "info", SOURCE, "Swarm paused: running tasks finish, nothing new is dispatched")
    return swarm


def swarm_resume(*, swarm_id: str) -> Swarm:
    jobs.require_broker()
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, (Swarm.Status.PAUSED,), "resume")
        swarm.status = Swarm.Status.EXECUTING
        swarm.save(update_fields=["status", "updated_at"])
        publish(swarm.id, catalogue.swarm_resumed())
        log(swarm.id, "info", SOURCE, "Swarm resumed")
        jobs.schedule_on_commit()
    return swarm


def swarm_stop(*, swarm_id: str) -> Swarm:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        _require(swarm, Swarm.ACTIVE, "stop")
        swarm_finish(swarm, Swarm.Status.STOPPED, reason="stopped by request")
    return swarm


def swarm_expire(*, swarm_id: str, ready_before: Any) -> bool:
    """A swarm left `ready` (planned, never started) since before `ready_before` is stopped,
    freeing its quota slot; False if it moved on meanwhile."""
    with transaction.atomic():
        try:
            swarm = lock_swarm(swarm_id)
        except Swarm.DoesNotExist:  # deleted meanwhile
            return False
        if swarm.status != Swarm.Status.READY or swarm.updated_at >= ready_before:
            return False
        hours = settings.READY_SWARM_TTL / 3600
        swarm_finish(
            swarm, Swarm.Status.STOPPED, reason=f"expired: not started within {hours:g} h of planning"
        )
    return True


def swarm_expire_approval(*, swarm_id: str, waiting_before: Any) -> bool:
    """A plan or task output waiting for approval since before `waiting_before` (APPROVAL_TIMEOUT)
    fails its swarm with reason approval_timeout; False if the gate closed meanwhile."""
    with transaction.atomic():
        try:
            swarm = lock_swarm(swarm_id)
        except Swarm.DoesNotExist:  # deleted meanwhile
            return False
        plan_waits = (
            swarm.status == Swarm.Status.AWAITING_APPROVAL
            and swarm.approval_since is not None
            and swarm.approval_since < waiting_before
        )
        output = None
        if swarm.status in (Swarm.Status.EXECUTING, Swarm.Status.PAUSED):
            output = (
                Task.objects.filter(
                    swarm=swarm, status=Task.Status.AWAITING_APPROVAL, awaiting_since__lt=waiting_before
                )
                .order_by("awaiting_since")
                .first()
            )
        if not plan_waits and output is None:
            return False
        details: dict[str, Any] = {"approvalTimeout": settings.APPROVAL_TIMEOUT}
        if output is not None:
            details["taskId"] = output.id
        swarm_finish(swarm, Swarm.Status.FAILED, reason="approval_timeout", details=details)
    return True


def swarm_delete(*, swarm_id: str) -> None:
    """Deletes the swarm and everything it owns; a running swarm is stopped first, so its
    workers see their tasks cancelled and abort their Claude streams."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if swarm.is_active:
            swarm_finish(swarm, Swarm.Status.STOPPED, reason="deleted")
    with transaction.atomic():
        lock_swarm(swarm_id).delete()
    announce_deleted(swarm_id)


def swarm_fail(
    *, swarm_id: str, reason: str, details: dict[str, Any] | None = None, before: Any = None
) -> bool:
    """Fails an active swarm (timeout, budget, bad plan); False if it had already ended.
    `before` is published first, in the same transaction (e.g. budget.exceeded)."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            return False
        if before is not None:
            publish(swarm.id, before)
        swarm_finish(swarm, Swarm.Status.FAILED, reason=reason, details=details)
    return True


def swarm_finish(
    swarm: Swarm, status: str, *, reason: str = "", details: dict[str, Any] | None = None
) -> None:
    """Ends the swarm: open tasks are cancelled (running ones are aborted by their worker's
    watchdog, which sees the status change) and busy agents go idle. Caller holds the lock."""
    with batch(swarm.id):
        task_cancel_open(swarm=swarm, reason=reason or status)
        agents_release_all(swarm=swarm)
        swarm.status = status
        swarm.failure_reason = reason if status != Swarm.Status.COMPLETED else ""
        swarm.completed_at = timezone.now()
        swarm.approval_since = None  # no gate is open once it ended (its tasks were cancelled)
        swarm.save(update_fields=["status", "failure_reason", "completed_at", "approval_since", "updated_at"])
        if status == Swarm.Status.STOPPED:
            publish(swarm.id, catalogue.swarm_stopped(reason=reason))
        elif status == Swarm.Status.FAILED:
            publish(swarm.id, catalogue.swarm_failed(reason=reason, **(details or {})))
        else:
            publish(swarm.id, catalogue.swarm_completed())
        level = "error" if status == Swarm.Status.FAILED else "info"
        log(swarm.id, level, SOURCE, f"Swarm {status}" + (f": {reason}" if reason else ""))


# --- commands on a swarm's agents and tasks ---------------------------------------------------


def swarm_spawn_agent(
    *, swarm_id: str, type: str, name: str = "", capabilities: dict[str, Any] | None = None
) -> Agent:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            raise Conflict(f"Cannot spawn an agent in swarm {swarm.id}: it is {swarm.status}")
        agent = agent_spawn(swarm=swarm, type=type, name=name, capabilities=capabilities)
        _schedule_if_executing(swarm)
    return agent


def swarm_terminate_agent(*, swarm_id: str, agent_id: str) -> Agent:
    """Terminates an agent; a task it was running goes back to pending for another agent (its
    worker sees the assignment change and aborts the Claude stream)."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        agent = Agent.objects.select_for_update(no_key=True).get(pk=agent_id, swarm=swarm)
        if agent.status == Agent.Status.TERMINATED:
            raise Conflict(f"Agent {agent.id} is already terminated")
        held = list(
            Task.objects.filter(assigned_agent=agent, status__in=(Task.Status.PENDING, *Task.IN_FLIGHT))
        )
        with batch(swarm.id):
            for task in held:
                if task.status == Task.Status.PENDING:  # pinned to it: unpin, or it could never run
                    task_unpin(task_id=task.id)
                else:
                    task_requeue(task=task, reason="agent_terminated")
            agent_terminate(agent=agent, released=[t.id for t in held])
        _schedule_if_executing(swarm)
    return agent


def swarm_add_task(*, swarm_id: str, dependencies: list[str] | None = None, **fields: Any) -> Task:
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        depends_on = _dependencies(swarm, dependencies or [])
        with batch(swarm.id):
            _open_for_work(swarm, "add a task", reason="task added")
            task = task_create(swarm=swarm, dependencies=depends_on, **fields)
        _schedule_if_executing(swarm)
    return task


def swarm_pin_task(*, swarm_id: str, task_id: str, agent_id: str) -> Task:
    """Pins a pending task to an agent: the scheduler will give it to no other agent."""
    with transaction.atomic():
        swarm = lock_swarm(swarm_id)
        if not swarm.is_active:
            raise Conflict(f"Cannot assign tasks in swarm {swarm.id}: it is {swarm.status}")
        task = Task.objects.select_for_update(no_key=True).get(pk=task_id, swarm=swarm)
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
        task_pin(task=task, agent=agent)
        log(swarm.id, "info", "TaskQueue", f"Task {task.name} assigned to {agent.name}")
        _schedule_if_executing(swarm)
    return task


def _schedule_if_executing(swarm: Swarm) -> None:
    if swarm.status == Swarm.Status.EXECUTING:
        jobs.schedule_on_commit()


def _dependencies(swarm: Swarm, ids: list[str]) -> list[Task]:
    found = {t.id: t for t in Task.objects.filter(pk__in=ids, swarm=swarm)}
    missing = [task_id for task_id in ids if task_id not in found]
    if missing:
        raise Conflict(
            f"Dependencies must be tasks of swarm {swarm.id}; not found there: {', '.join(missing)}"
        )
    return list(found.values())


_HINTS = {
    ("start", Swarm.Status.AWAITING_APPROVAL): "its plan awaits approval",
    ("approve", Swarm.Status.PLANNING): "it is still planning",
    ("reject", Swarm.Status.PLANNING): "it is still planning",
    ("start", Swarm.Status.EXECUTING): "it is already executing",
    ("start", Swarm.Status.PAUSED): "it is paused; use resume",
    ("pause", Swarm.Status.PAUSED): "it is already paused",
    ("resume", Swarm.Status.EXECUTING): "it is already executing",
}


def _require(swarm: Swarm, allowed: tuple[str, ...], action: str) -> None:
    if swarm.status in allowed:
        return
    hint = _HINTS.get((action, swarm.status), f"it is {swarm.status}")
    raise Conflict(f"Cannot {action} swarm {swarm.id}: {hint}")


def _name_from(objective: str) -> str:
    words = " ".join(objective.split())
    return words if len(words) <= 60 else words[:57].rstrip() + "…"


# --- strategies ----------------------------------------------------------------------------------

STRATEGY_FIELDS = ("description", "guidance", "template")


def _field_problem(field: str, message: str, value: Any = None) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": field, "message": message, "value": value}])


def check_template(template: Any, *, owner_id: int | None) -> None:
    """A template must pass the rules of a Claude plan, against the owner's agent types and the
    deployment's limits; each problem names its field (`template.tasks.1.agentType`)."""
    limit = min(plans.MAX_PLAN_TASKS, settings.MAX_TASKS_PER_SWARM)
    _, problems = plans.parse(
        template, types=agent_types_for(owner_id), max_agents=settings.MAX_AGENTS_PER_SWARM, max_tasks=limit
    )
    if problems:
        raise ValidationFailed(
            "The template is not a valid plan",
            details=[
                {"field": "template" if p.field == "body" else f"template.{p.field}", "message": str(p)}
                for p in problems
            ],
        )


def _check_kind(guidance: str, template: Any) -> None:
    if bool(guidance) == (template is not None):
        raise _field_problem(
            "guidance" if guidance else "template",
            "Give either guidance (text added to Claude's planning prompt) or a template (a fixed plan), not both"
            if guidance
            else "Give either guidance (text added to Claude's planning prompt) or a template (a fixed plan)",
        )


def strategy_create(
    *, owner: Any, name: str, description: str = "", guidance: str = "", template: Any = None
) -> Strategy:
    if Strategy.objects.filter(owner__isnull=True, name=name).exists():
        raise _field_problem("name", f"{name!r} is the name of a built-in strategy; choose another", name)
    _check_kind(guidance, template)
    if template is not None:
        check_template(template, owner_id=owner.pk)
    try:
        with transaction.atomic():
            return Strategy.objects.create(
                owner=owner, name=name, description=description, guidance=guidance, template=template
            )
    except IntegrityError:  # two creates of one name at once: the constraint decides
        raise Conflict(f"You already have a strategy named {name!r}") from None


def _require_own_strategy(strategy: Strategy, action: str) -> None:
    if strategy.is_builtin:
        raise Forbidden(
            f"{strategy.name!r} is a built-in strategy and cannot be {action}; "
            "create your own (POST /api/strategies) instead"
        )


def strategy_update(*, strategy: Strategy, changes: dict[str, Any]) -> Strategy:
    """Swarms planned already keep their plan; the next swarm planned with it sees the change."""
    _require_own_strategy(strategy, "changed")
    unknown = set(changes) - set(STRATEGY_FIELDS)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not changeable fields of a strategy")
    guidance = changes.get("guidance", strategy.guidance)
    template = changes.get("template", strategy.template)
    if "guidance" in changes and guidance and "template" not in changes:
        template = None  # switching a template strategy to guidance
    if "template" in changes and template is not None and "guidance" not in changes:
        guidance = ""  # and a guidance strategy to a template
    _check_kind(guidance, template)
    if template is not None and "template" in changes:
        check_template(template, owner_id=strategy.owner_id)
    strategy.description = changes.get("description", strategy.description)
    strategy.guidance, strategy.template = guidance, template
    strategy.save(update_fields=[*STRATEGY_FIELDS, "updated_at"])
    return strategy


def strategy_delete(*, strategy: Strategy) -> None:
    _require_own_strategy(strategy, "deleted")
    with transaction.atomic():
        row = Strategy.objects.select_for_update().filter(pk=strategy.pk).first()
        if row is None:
            return
        planning = Swarm.objects.filter(
            owner_id=row.owner_id, strategy=row.name, status=Swarm.Status.PLANNING
        ).values_list("id", flat=True)[:5]
        if planning:
            raise Conflict(
                f"Strategy {row.name!r} is in use: swarm(s) {', '.join(planning)} are still being planned with it"
            )
        row.delete()


def strategies_sync_builtins() -> int:
    """The global rows = swarms/strategies.py (run after every migrate). Returns the rows written."""
    written = 0
    for builtin in STRATEGIES.values():
        values = {
            "description": builtin.description,
            "guidance": "" if builtin.is_template else builtin.guidance,
            "template": builtin.template(),
        }
        row = Strategy.objects.filter(owner__isnull=True, name=builtin.name).first()
        if row is None:
            Strategy.objects.create(owner=None, name=builtin.name, **values)
            written += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            Strategy.objects.filter(pk=row.pk).update(**values, updated_at=timezone.now())
            written += 1
    return written
