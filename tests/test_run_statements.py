"""What one task's run costs the worker thread in SQL: a fixed list of statements, none per field.

The claim reads the task with its swarm, agent and agent type in one query and leaves out the
columns a run never reads; a column it left out that the run does read would cost a query of its
own (Django loads a deferred field on first access), and this count would grow.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.services import agent_type_create
from engine import runner, scheduler
from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm
from webhooks.services import cache as webhook_routes

pytestmark = pytest.mark.django_db(transaction=True)


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
        and not q["sql"].startswith("SELECT JSON(")  # SQLite's JSON probe, once per connection
    ]


def test_a_one_call_task_runs_in_a_fixed_number_of_statements(alice, fake_claude, settings):
    settings.WEBHOOK_CACHE_SECONDS = 3600  # the steady state: the webhooks read once per process,
    webhook_routes.invalidate()  # not again when the cache's seconds run out in the middle of the run
    webhook_routes.routes()
    writer = agent_type_create(owner=alice, name="writer", system_prompt="You write it.", tools=[]).name
    swarm = build_swarm(
        alice,
        agents=[(writer, "writer-1")],
        options={"review": False},
        tasks=[
            {"name": "Task 1", "description": "Write part 1"},
            {"name": "Task 2", "description": "Write part 2"},
        ],
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())
    ((task_id, seq),) = scheduler.fill().assigned  # one agent: one assignment

    with CaptureQueriesContext(connection) as queries:
        runner.run(task_id=task_id, assignment_seq=seq)  # the second task runs next on this thread

    assert list(Task.objects.filter(swarm=swarm).values_list("status", flat=True)) == ["completed"] * 2
    assert Swarm.objects.get(pk=swarm.id).status == Swarm.Status.COMPLETED
    ran = statements(queries)
    # per task: the claim's read and its update with the task.started event; the call's started
    # row and its completion with the spend; the result, the agent going idle and their events.
    # On PostgreSQL the first completion hands its slot to the second task and claims it in the
    # same commit (the successors' read, with the claim's columns, and one statement that assigns
    # and claims it; the events of both in one write; no gate, no fill), the second finds no successor and fills: the gate
    # and the live agents (none). Elsewhere each fills: the gate, live agents, ready tasks,
    # in-flight counts (and, after the first task, the second one's assignment), and the second
    # is claimed on its own. Then the swarm settles: its counts, its completion and its event.
    postgres = connection.vendor == "postgresql"
    expected = 26 if postgres else 37
    assert len(ran) == expected, "\n".join(ran)
