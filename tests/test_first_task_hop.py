"""The worker that planned a swarm (or was asked to schedule) runs the first task its fill assigned
itself, without a queue hop; the other assignments get their run messages as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from engine import actors, leases, reviews
from swarms.models import Swarm
from tasks.models import Task
from tests.broker import queued
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def reviews_finished() -> Iterator[None]:
    """A planned swarm's tasks get their non-blocking reviews on the review threads: they end
    before the test's database is flushed (a review still writing would deadlock the flush)."""
    yield
    assert reviews.drain(30), "a review was still running 30 s after the test"


def test_the_planning_worker_runs_the_first_assigned_task_itself(alice, fake_claude, empty_queue):
    swarm = Swarm.objects.create(
        owner=alice, objective="Build a todo list application", strategy="development", start_requested=True
    )

    actors.plan_swarm.fn(swarm.id)  # as a worker thread runs the message

    tasks = list(Task.objects.filter(swarm=swarm).order_by("sequence"))
    completed = [task for task in tasks if task.status == Task.Status.COMPLETED]
    assigned = [task for task in tasks if task.status == Task.Status.ASSIGNED]
    assert len(completed) == 1 and len(assigned) == len(tasks) - 1 >= 1
    runs = [args for name, args in queued() if name == "run_task"]
    assert sorted(runs) == sorted((task.id, task.assignment_seq) for task in assigned)
    assert ("schedule", ()) in queued()  # the swarm's start still asks for a fill: nothing relies on this one


def test_the_schedule_actor_runs_the_first_assigned_task_itself(alice, fake_claude, empty_queue):
    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-1"), ("coder", "coder-2")],
        options={"review": False},
        tasks=[{"name": f"Task {i}", "description": f"Write part {i}"} for i in (1, 2)],
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())

    actors.schedule.fn()

    first, second = Task.objects.filter(swarm=swarm).order_by("sequence")
    assert (first.status, second.status) == (Task.Status.COMPLETED, Task.Status.ASSIGNED)
    assert queued() == [("run_task", (second.id, second.assignment_seq))]


def test_a_worker_shutting_down_sends_every_assignment(alice, fake_claude, empty_queue):
    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-1")],
        tasks=[{"name": "Task 1", "description": "Write part 1"}],
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())
    leases.shutdown(grace_s=0)  # no call in flight: it only sets the flag
    try:
        actors.schedule.fn()
    finally:
        leases.resume()

    (task,) = Task.objects.filter(swarm=swarm)
    assert task.status == Task.Status.ASSIGNED
    assert queued() == [("run_task", (task.id, task.assignment_seq))]
