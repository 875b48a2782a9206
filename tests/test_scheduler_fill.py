"""One pass of the scheduler, without workers: who gets which slot, and what the pass reads."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent
from engine import scheduler
from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db


def executing(owner, agents: int, tasks: int) -> Swarm:
    swarm = build_swarm(
        owner,
        agents=[("coder", f"coder-{i}") for i in range(agents)],
        tasks=[{"name": f"Task {i}", "description": f"Write part {i}"} for i in range(tasks)],
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())
    return swarm


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]


def test_one_pass_alternates_owners_oldest_swarm_first_and_reads_a_fixed_number_of_rows(alice, bob, settings):
    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 10, 5
    older = executing(alice, agents=2, tasks=3)
    newer = executing(bob, agents=1, tasks=2)
    unstaffed = executing(alice, agents=1, tasks=1)
    Agent.objects.filter(swarm=unstaffed).update(status=Agent.Status.TERMINATED)

    with CaptureQueriesContext(connection) as queries:
        filled = scheduler.fill()

    swarm_of = dict(Task.objects.values_list("id", "swarm_id"))
    assert [swarm_of[task_id] for task_id, _ in filled.assigned] == [older.id, newer.id, older.id]
    assert all(seq == 1 for _, seq in filled.assigned)
    assert {older.id, newer.id} <= filled.busy
    assert Task.objects.get(swarm=unstaffed).status == Task.Status.PENDING  # no live agent: no pick
    assert Agent.objects.filter(swarm__in=[older, newer], status=Agent.Status.BUSY).count() == 3
    # the gate (PostgreSQL's advisory lock; SQLite's write lock is taken by BEGIN), the live agents
    # with their swarms (1), each staffed swarm's first ready tasks (2), the in-flight counts (in
    # the live agents' read on PostgreSQL, 1 apart elsewhere), the two conditional updates of each
    # assignment (one chained statement on PostgreSQL, two elsewhere): nothing per agent or swarm
    postgres = connection.vendor == "postgresql"
    gate, in_flight, per_assignment = (1, 0, 1) if postgres else (0, 1, 2)
    expected = gate + 1 + 2 + in_flight + 3 * per_assignment
    assert len(statements(queries)) == expected, statements(queries)


def test_a_swarm_at_its_owners_cap_waits_while_another_owner_takes_the_slot(alice, bob, settings):
    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 3, 1
    first = executing(alice, agents=2, tasks=2)
    second = executing(bob, agents=2, tasks=2)

    assigned = scheduler.fill().assigned

    swarm_of = dict(Task.objects.values_list("id", "swarm_id"))
    assert sorted(swarm_of[task_id] for task_id, _ in assigned) == sorted([first.id, second.id])
    assert not scheduler.fill().assigned  # each owner at its cap, one slot left free


def test_a_pass_reads_the_ready_tasks_only_of_the_swarms_the_free_slots_reach(alice, bob, settings):
    """Ten staffed swarms with pending work and one free slot: one swarm's ready tasks are read,
    not ten; with no free slot, none. What the gate covers does not grow with the swarms waiting."""
    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 1, 1
    swarms = [executing(alice if i % 2 else bob, agents=1, tasks=2) for i in range(10)]

    def ready_reads(queries: CaptureQueriesContext) -> int:
        return sum('"tasks_task"."status" = ' in sql and " LIMIT " in sql for sql in statements(queries))

    with CaptureQueriesContext(connection) as queries:
        ((task_id, _),) = scheduler.fill().assigned
    assert Task.objects.get(pk=task_id).swarm_id == swarms[0].id  # the oldest swarm
    assert ready_reads(queries) == 1

    with CaptureQueriesContext(connection) as queries:
        assert not scheduler.fill().assigned  # the one slot is taken
    assert ready_reads(queries) == 0
