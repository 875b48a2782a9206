"""Every state change of a task, each in one function that every caller uses.

Each function writes with a conditional update (it does nothing when the task is no longer in the
state it expects) and publishes its event in the caller's transaction. Swarm commands (stop,
terminate, add) lock the swarm row first; the runner's transitions need no swarm lock (their
conditional updates decide races) and write their events last, so locks are always taken in the
order swarm → task → agent → event stream. State machine: pending → assigned → running → completed | failed | cancelled, with
running → pending on a retryable hand-over, a revision or an expired lease. A task that requires
approval goes running → awaiting_approval, then → completed (approved), → pending (rejected with
feedback: one revision) or → cancelled (rejected); failed | cancelled → pending on a retry.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, QuerySet, When
from django.utils import timezone

from core.errors import LimitExceeded
from core.prepared import Prepared, PreparedUpdate, Update, update
from events import catalogue
from events.stream import publish
from ops import metrics
from tasks.models import Task, spend_of_calls

OPEN = (Task.Status.PENDING, *Task.IN_FLIGHT, Task.Status.AWAITING_APPROVAL)  # the swarm is not done


def settled_spend() -> dict[str, Any]:
    """The task's spend, summed from its recorded calls (exact, whatever crashed meanwhile)."""
    return spend_of_calls("task")


# a pinned task keeps its agent when it goes back to pending; any other may go to any agent
_KEEP_IF_PINNED = Case(When(pinned=True, then=F("assigned_agent")), default=None)


_RELOAD = Prepared(
    lambda key, task_id: Task.objects.only(*catalogue.TASK_FIELDS).filter(pk=task_id), task_id=str
)


def _reload(task_id: str) -> Task:
    """The task as its event describes it, read after its state change (so it exists)."""
    return _RELOAD.read(task_id=task_id)[0]


def task_create(
    *, swarm: Any, dependencies: list[Task] = (), sequence: int | None = None, **fields: Any
) -> Task:  # type: ignore[assignment]
    """Adds a pending task to a swarm (the API)."""
    item = {**fields, "sequence": sequence, "dependencies": dependencies}
    return tasks_create(swarm=swarm, tasks=[item])[0]


def tasks_create(*, swarm: Any, tasks: list[dict[str, Any]]) -> list[Task]:
    """Adds pending tasks in order, in one go (a plan's, a clone's): one count, one insert of the
    tasks and one of their dependencies. Each item holds the task's fields, its `sequence` (None:
    after the swarm's last) and its `dependencies`: stored tasks, or the indexes of earlier items."""
    held = Task.objects.filter(swarm=swarm).count()
    if held + len(tasks) > settings.MAX_TASKS_PER_SWARM:
        more = f" and {len(tasks)} more would pass" if held < settings.MAX_TASKS_PER_SWARM else ""
        raise LimitExceeded(
            f"Swarm {swarm.id} already has {held} tasks{more} (this deployment's maximum per swarm is "
            f"{settings.MAX_TASKS_PER_SWARM})"
        )
    stored_last: int | None = None
    created: list[tuple[Task, list[Task]]] = []  # each new task with its dependencies
    for item in tasks:
        fields = dict(item)
        given = [d if isinstance(d, Task) else created[d][0] for d in fields.pop("dependencies", None) or []]
        dependencies = list({d.id: d for d in given}.values())
        sequence = fields.pop("sequence", None)
        if sequence is None:
            if stored_last is None:
                stored_last = Task.objects.filter(swarm=swarm).aggregate(n=Max("sequence"))["n"] or 0
            sequence = max([stored_last, *(task.sequence for task, _ in created)]) + 1
        created.append((Task(swarm=swarm, sequence=sequence, **fields), dependencies))
    Task.objects.bulk_create([task for task, _ in created])
    Through = Task.dependencies.through
    edges = [(task.id, dependency.id) for task, dependencies in created for dependency in dependencies]
    Through.objects.bulk_create([Through(from_task_id=a, to_task_id=b) for a, b in edges])
    for task, dependencies in created:
        publish(swarm.id, catalogue.task_created(task, dependencies=[d.id for d in dependencies]))
    return [task for task, _ in created]


def task_pin(*, task: Task, agent: Any) -> Task:
    """Pins a pending task to an agent: the scheduler gives it to no other agent."""
    task.assigned_agent, task.pinned = agent, True
    task.save(update_fields=["assigned_agent", "pinned"])
    publish(task.swarm_id, catalogue.task_assigned(task, agent_name=agent.name, mode="manual", pinned=True))
    return task


def task_assign_step(*, task_id: str, agent_id: str, assignment_seq: int) -> Update:
    """pending → assigned (the scheduler's choice), as a step of `core.prepared.update_chain`: the
    scheduler chains the agent's `agent_occupy_step` to it. Its event goes out when a worker claims it."""
    return Update(
        Task,
        where={"pk": task_id, "status": Task.Status.PENDING, "assignment_seq": assignment_seq - 1},
        values={
            "status": Task.Status.ASSIGNED,
            "assigned_agent_id": agent_id,
            "assignment_seq": assignment_seq,
            "assigned_at": timezone.now(),
        },
    )


def claimable_tasks(*, task_id: str, assignment_seq: int, **annotations: Any) -> QuerySet[Task]:
    """The task a run message names, with what running it needs, if that assignment is current
    (`annotations`: more the caller reads with it, such as its agent's type)."""
    return (
        with_run_context(Task.objects.select_related("assigned_agent"))
        .annotate(**annotations)
        .filter(pk=task_id, status=Task.Status.ASSIGNED, assignment_seq=assignment_seq)
    )


def with_run_context(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """The tasks with what running one needs besides its agent: its swarm, and whether it has
    dependencies (an independent task's prompt then needs no query for them)."""
    depends = Task.dependencies.through.objects.filter(from_task_id=OuterRef("pk"))
    return tasks.select_related("swarm").annotate(has_dependencies=Exists(depends))


def task_unassign(*, task_id: str, assignment_seq: int, agent_id: str | None) -> None:
    """assigned → pending again, before any message went out (the scheduler's agent was taken)."""
    Task.objects.filter(pk=task_id, status=Task.Status.ASSIGNED, assignment_seq=assignment_seq).update(
        status=Task.Status.PENDING, assigned_agent_id=agent_id
    )


def _running_values(owner: str, lease_until: Any, now: Any) -> dict[str, Any]:
    return {
        "status": Task.Status.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": lease_until,
        "started_at": now,
    }


def task_claim(*, task: Task, owner: str, lease_until: Any) -> bool:
    """assigned → running, for the one message that carries the current assignment."""
    now = timezone.now()
    claimed = update(
        Task,
        where={"pk": task.id, "status": Task.Status.ASSIGNED, "assignment_seq": task.assignment_seq},
        values=_running_values(owner, lease_until, now),
        add={"attempts": 1},
    )
    if not claimed:
        return False
    task_claimed(task=task, owner=owner, lease_until=lease_until, now=now)
    return True


def task_claim_step(*, task: Task, agent_id: str, owner: str, lease_until: Any, now: Any) -> Update:
    """pending → running in one step, assigned and claimed at once by the worker that will run it
    (a freed slot handed over in the commit that freed it), as a step of `update_chain` after the
    agent's `agent_occupy_step`; `task_claimed` then records it. Its assignment number moves on, as
    an assignment's does, so a run message of an earlier assignment finds nothing to claim."""
    return Update(
        Task,
        where={"pk": task.id, "status": Task.Status.PENDING, "assignment_seq": task.assignment_seq},
        values={
            **_running_values(owner, lease_until, now),
            "assigned_agent_id": agent_id,
            "assignment_seq": task.assignment_seq + 1,
            "assigned_at": now,
        },
        add={"attempts": 1},
    )


def task_claimed(*, task: Task, owner: str, lease_until: Any, now: Any, assigned_to: Any = None) -> None:
    """The claimed task as its row now is, and its events: assigned (with its agent, which
    `task.assigned_agent` is, or `assigned_to`: the agent a `task_claim_step` gave it), the agent
    busy, started."""
    if assigned_to is not None:
        task.assigned_agent, task.assigned_at = assigned_to, now
        task.assignment_seq += 1
    task.status, task.lease_owner, task.lease_expires_at = Task.Status.RUNNING, owner, lease_until
    task.attempts, task.started_at = task.attempts + 1, now
    agent = task.assigned_agent
    publish(
        task.swarm_id,
        catalogue.task_assigned(task, agent_name=agent.name if agent else "", mode=task.swarm.mode),
    )
    if agent is not None:
        publish(
            task.swarm_id, catalogue.agent_status_changed(agent_id=agent.id, status="busy", task_id=task.id)
        )
    publish(task.swarm_id, catalogue.task_started(task, worker=owner))


def task_renew_lease(*, task_id: str, owner: str, until: Any) -> bool:
    """The running worker's lease moves on (its watchdog, every second or so)."""
    return bool(
        Task.objects.filter(pk=task_id, status=Task.Status.RUNNING, lease_owner=owner).update(
            lease_expires_at=until
        )
    )


def task_mark_resent(*, task_id: str, assignment_seq: int, assigned_before: Any) -> bool:
    """An assignment nobody claimed in time gets its run message again (the first may be lost)."""
    return bool(
        Task.objects.filter(
            pk=task_id,
            status=Task.Status.ASSIGNED,
            assignment_seq=assignment_seq,
            assigned_at__lt=assigned_before,
        ).update(assigned_at=timezone.now())
    )


def task_unpin(*, task_id: str) -> None:
    """A pending task pinned to an agent that goes away may go to any agent."""
    Task.objects.filter(pk=task_id, status=Task.Status.PENDING).update(assigned_agent=None, pinned=False)


def _running(task: Task, owner: str | None) -> Any:
    mine = Task.objects.filter(pk=task.id, status=Task.Status.RUNNING)
    return mine.filter(lease_owner=owner) if owner is not None else mine


def _elapsed_ms(task: Task, now: Any) -> int:
    return int((now - task.started_at).total_seconds() * 1000) if task.started_at else 0


def task_complete(
    *,
    task: Task,
    owner: str,
    output: str,
    artifacts: list[Any],
    quality: float | None,
    spend: dict[str, Any] | None = None,
    review_pending: bool = False,
) -> Task | None:
    """running → completed, if this worker still holds the lease; None if it lost it. `spend`:
    the task's whole spend when the caller knows it (a first run), else summed from its calls;
    `review_pending`: a non-blocking review will score it (task_score)."""
    now = timezone.now()
    values = {
        "status": Task.Status.COMPLETED,
        "output": output,
        "artifacts": artifacts,
        "quality": quality,
        "execution_time_ms": _elapsed_ms(task, now),
        "completed_at": now,
        "error": "",
        "lease_owner": "",
        "lease_expires_at": None,
        "review_pending": review_pending,
    }
    if spend is not None and owner is not None:  # the common case: plain values, SQL built once
        done_rows = update(
            Task,
            where={"pk": task.id, "status": Task.Status.RUNNING, "lease_owner": owner},
            values={**values, **spend},
        )
    else:
        done_rows = _running(task, owner).update(**values, **(spend or settled_spend()))
    if not done_rows:
        return None
    metrics.task_ended("completed", values["execution_time_ms"] / 1000)
    if spend is None:
        done = _reload(task.id)
    else:
        done = task
        for name, value in {**values, **spend}.items():
            setattr(done, name, value)
    publish(task.swarm_id, catalogue.task_completed(done))
    return done


def task_await_approval(
    *, task: Task, owner: str, output: str, artifacts: list[Any], quality: float | None
) -> Task | None:
    """running → awaiting_approval: the output is stored and waits for a person (task_approve or
    task_reject); None if this worker lost the lease. Its dependents wait too."""
    now = timezone.now()
    values = {
        "status": Task.Status.AWAITING_APPROVAL,
        "output": output,
        "artifacts": artifacts,
        "quality": quality,
        "execution_time_ms": _elapsed_ms(task, now),
        "awaiting_since": now,
        "error": "",
        "lease_owner": "",
        "lease_expires_at": None,
        "review_pending": False,
    }
    if not _running(task, owner).update(**values, **settled_spend()):
        return None
    waiting = _reload(task.id)
    publish(task.swarm_id, catalogue.task_awaiting_approval(waiting))
    return waiting


def task_approve(*, task_id: str) -> Task | None:
    """awaiting_approval → completed (its dependents may run); None if it was not waiting."""
    now = timezone.now()
    if not Task.objects.filter(pk=task_id, status=Task.Status.AWAITING_APPROVAL).update(
        status=Task.Status.COMPLETED, completed_at=now, awaiting_since=None
    ):
        return None
    done = _reload(task_id)
    metrics.task_ended("completed", (done.execution_time_ms or 0) / 1000)
    publish(done.swarm_id, catalogue.task_approved(done))
    publish(done.swarm_id, catalogue.task_completed(done))
    return done


def task_reject(*, task_id: str, feedback: str) -> Task | None:
    """awaiting_approval → pending for one revision whose prompt carries the feedback (and the
    rejected output); None if it was not waiting. A revision is a new conversation (revision_count)."""
    rows = Task.objects.filter(pk=task_id, status=Task.Status.AWAITING_APPROVAL)
    if not rows.update(
        status=Task.Status.PENDING,
        revision_count=F("revision_count") + 1,
        review_feedback=feedback,
        feedback_from="approver",
        awaiting_since=None,
        assigned_agent=_KEEP_IF_PINNED,
    ):
        return None
    back = _reload(task_id)
    publish(back.swarm_id, catalogue.task_rejected(back, feedback=feedback, revise=True))
    return back


def task_send_back(
    *, task: Task, owner: str, feedback: str, quality: float | None, reviewer: str | None
) -> Task | None:
    """running → pending for one revision (hierarchical review)."""
    updated = _running(task, owner).update(
        status=Task.Status.PENDING,
        revision_count=F("revision_count") + 1,
        review_feedback=feedback,
        feedback_from="reviewer",
        quality=quality,
        lease_owner="",
        lease_expires_at=None,
        **settled_spend(),
    )
    if not updated:
        return None
    back = _reload(task.id)
    publish(task.swarm_id, catalogue.task_revision_requested(back, feedback=feedback, reviewer=reviewer))
    return back


_SCORE = PreparedUpdate(  # every review's: its spend sums compiled once
    lambda key, task_id, quality, feedback: (
        Task.objects.filter(pk=task_id, status=Task.Status.COMPLETED),
        {"quality": quality, "review_feedback": feedback, "review_pending": False, **settled_spend()},
    ),
    task_id=str,
    quality=float,
    feedback=str,
)


def task_score(*, task_id: str, quality: float | None, feedback: str) -> Task | None:
    """A completed task's review arrived, or gave up (quality None): outside hierarchical mode a
    review never blocks dependents, only the swarm's completion, which waits for its scores."""
    score = None if quality is None else float(quality)  # bound as it is: a float column's value
    if not _SCORE.run(task_id=task_id, quality=score, feedback=feedback):
        return None
    scored = _reload(task_id)
    publish(scored.swarm_id, catalogue.task_reviewed(scored, feedback=feedback))
    return scored


def task_fail(*, task: Task, owner: str | None, reason: str, error: str) -> Task | None:
    """running → failed (owner None: whoever runs it, e.g. the reaper after too many lost workers)."""
    now = timezone.now()
    updated = _running(task, owner).update(
        status=Task.Status.FAILED,
        failure_reason=reason,
        error=error[:5000],
        completed_at=now,
        execution_time_ms=_elapsed_ms(task, now),
        lease_owner="",
        lease_expires_at=None,
        **settled_spend(),
    )
    if not updated:
        return None
    metrics.task_ended("failed")
    failed = _reload(task.id)
    publish(task.swarm_id, catalogue.task_failed(failed, reason=reason))
    return failed


def task_requeue(
    *, task: Task, reason: str, owner: str | None = None, expired_before: Any = None
) -> Task | None:
    """assigned/running → pending: a hand-over (owner given), an expired lease (expired_before
    given; counted in lease_expiries, the strikes) or a terminated agent (neither). Unpinned tasks
    may then go to any agent."""
    rows = Task.objects.filter(pk=task.id, status__in=Task.IN_FLIGHT)
    if owner is not None:
        rows = rows.filter(status=Task.Status.RUNNING, lease_owner=owner)
    if expired_before is not None:
        rows = rows.filter(status=Task.Status.RUNNING, lease_expires_at__lt=expired_before)
    unpin = reason == "agent_terminated"
    updated = rows.update(
        status=Task.Status.PENDING,
        lease_owner="",
        lease_expires_at=None,
        assigned_agent=F("assigned_agent") if task.pinned and not unpin else None,
        pinned=False if unpin else F("pinned"),
        lease_expiries=F("lease_expiries") + (1 if expired_before is not None else 0),
        **settled_spend(),
    )
    if not updated:
        return None
    back = _reload(task.id)
    publish(task.swarm_id, catalogue.task_retrying(back, reason=reason, attempt=back.attempts))
    return back


def task_retry(*, swarm_id: str, tasks: list[Task]) -> int:
    """failed | cancelled → pending, as new: a fresh conversation (revision_count moves on, so no
    stored answer of the failed run is reused), no error, no lease strikes."""
    if not tasks:
        return 0
    retried = Task.objects.filter(
        pk__in=[t.id for t in tasks], status__in=(Task.Status.FAILED, Task.Status.CANCELLED)
    ).update(
        status=Task.Status.PENDING,
        revision_count=F("revision_count") + 1,
        review_feedback="",
        feedback_from="",
        error="",
        failure_reason="",
        output="",
        artifacts=[],
        quality=None,
        completed_at=None,
        execution_time_ms=None,
        lease_expiries=0,
        review_pending=False,
        assigned_agent=_KEEP_IF_PINNED,
    )
    for task in Task.objects.filter(pk__in=[t.id for t in tasks]).only(*catalogue.TASK_FIELDS):
        publish(swarm_id, catalogue.task_retrying(task, reason="retry_requested", attempt=task.attempts + 1))
    return retried


def cancelled_because_of(task: Task) -> list[Task]:
    """Tasks cancelled because `task` failed (dependency_failed), transitively."""
    found: list[Task] = []
    frontier = [task.id]
    while frontier:
        level = list(
            Task.objects.filter(
                swarm_id=task.swarm_id,
                status=Task.Status.CANCELLED,
                failure_reason="dependency_failed",
                dependencies__in=frontier,
            )
            .exclude(pk__in=[t.id for t in found])
            .distinct()
            .only("id")
        )
        found.extend(level)
        frontier = [t.id for t in level]
    return found


def task_cancel(*, swarm_id: str, tasks: list[Task], reason: str) -> int:
    """Open tasks → cancelled (stop, delete, failure, a failed dependency)."""
    if not tasks:
        return 0
    now = timezone.now()
    cancelled = Task.objects.filter(pk__in=[t.id for t in tasks], status__in=OPEN).update(
        status=Task.Status.CANCELLED,
        failure_reason=reason[:64],
        completed_at=now,
        lease_owner="",
        lease_expires_at=None,
    )
    metrics.task_ended("cancelled", count=cancelled)
    for task in Task.objects.filter(pk__in=[t.id for t in tasks]).only(*catalogue.TASK_FIELDS):
        publish(swarm_id, catalogue.task_cancelled(task, reason=reason))
    return cancelled


def task_cancel_open(*, swarm: Any, reason: str) -> int:
    return task_cancel(
        swarm_id=swarm.id,
        tasks=list(Task.objects.filter(swarm=swarm, status__in=OPEN).only("id")),
        reason=reason,
    )


def blocked_by_failure(swarm_id: str) -> list[Task]:
    """Pending tasks with a failed or cancelled dependency, transitively (one query per level)."""
    dead = (Task.Status.FAILED, Task.Status.CANCELLED)
    doomed: list[Task] = []
    frontier = list(Task.objects.filter(swarm_id=swarm_id, status__in=dead).values_list("id", flat=True))
    while frontier:
        level = list(
            Task.objects.filter(swarm_id=swarm_id, status=Task.Status.PENDING, dependencies__in=frontier)
            .exclude(pk__in=[t.id for t in doomed])
            .distinct()
            .only("id")
        )
        doomed.extend(level)
        frontier = [t.id for t in level]
    return doomed


def status_counts(swarm_id: str) -> dict[str, int]:
    """Tasks by status, and under "reviewing" the completed ones still waiting for their score."""
    rows = (
        Task.objects.filter(swarm_id=swarm_id)
        .values("status")
        .annotate(n=Count("id"), reviewing=Count("id", filter=Q(review_pending=True)))
        .order_by()
    )
    counts = {row["status"]: row["n"] for row in rows}
    counts["reviewing"] = sum(row["reviewing"] for row in rows)
    return counts
