"""A completion hands its slot to its swarm's next ready task in the same commit, without the
dispatch gate, when that is the scheduler's choice anyway (PostgreSQL); when another swarm waits
for a slot, or the next task is not this agent's, the fill under the gate chooses, as before."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent
from engine import runner, scheduler
from swarms.models import Swarm
from tasks.models import Task
from tests.broker import queued
from tests.builders import build_swarm

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the hand-over is PostgreSQL's (SKIP LOCKED)"
    ),
]


def executing(owner: Any, *, tasks: list[dict[str, Any]], agents: int = 1) -> Swarm:
    swarm = build_swarm(
        owner, agents=[("coder", f"coder-{i}") for i in range(agents)], options={"review": False}, tasks=tasks
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())
    return swarm


def parts(*numbers: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"Task {n}", "description": f"Write part {n}", **extra} for n in numbers]


def run_first(swarm: Swarm) -> None:
    ((task_id, seq),) = scheduler.fill().assigned
    assert Task.objects.get(pk=task_id).swarm_id == swarm.id
    runner.run(task_id=task_id, assignment_seq=seq)  # chains on this thread until nothing is left


def test_a_lone_swarm_hands_each_freed_slot_to_its_next_task_without_the_gate(alice, fake_claude):
    swarm = executing(alice, tasks=parts(1, 2, 3))

    with CaptureQueriesContext(connection) as queries:
        run_first(swarm)

    tasks = list(Task.objects.filter(swarm=swarm).order_by("sequence"))
    assert [task.status for task in tasks] == [Task.Status.COMPLETED] * 3
    assert len({task.assigned_agent_id for task in tasks}) == 1
    assert all(task.assignment_seq == 1 for task in tasks)  # each assigned once
    gates = [
        q for q in queries.captured_queries if re.fullmatch(r"SELECT pg_advisory_xact_lock\(\d+\)", q["sql"])
    ]
    assert len(gates) == 2  # the first fill, and the last completion's (nothing left to hand over)


def test_another_owners_waiting_swarm_gets_the_freed_slot_through_the_fill(alice, bob, fake_claude, settings):
    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 1, 1
    bobs = executing(bob, tasks=parts(1))
    Swarm.objects.filter(pk=bobs.id).update(status=Swarm.Status.READY)  # not yet: alice's task takes the slot
    alices = executing(alice, tasks=parts(1, 2))
    ((task_id, seq),) = scheduler.fill().assigned
    Swarm.objects.filter(pk=bobs.id).update(status=Swarm.Status.EXECUTING)  # now bob's idle agent waits

    runner.run(task_id=task_id, assignment_seq=seq)

    order = list(Task.objects.order_by("started_at").values_list("swarm_id", "sequence"))
    # without the check, alice's second task would have taken the slot her first one freed
    assert order == [(alices.id, 1), (bobs.id, 1), (alices.id, 2)]


def test_a_task_for_another_agent_type_is_left_to_the_fill(alice, fake_claude):
    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-1"), ("tester", "tester-1")],
        options={"review": False},
        tasks=[
            {"name": "Code", "description": "Write it", "agent_type": "coder"},
            {"name": "Test 1", "description": "Test it", "agent_type": "tester"},
            {"name": "Test 2", "description": "Test it again", "agent_type": "tester"},
        ],
    )
    Swarm.objects.filter(pk=swarm.id).update(status=Swarm.Status.EXECUTING, started_at=timezone.now())
    code, test_one = scheduler.fill().assigned  # both agents busy: no idle agent waits anywhere

    runner.run(task_id=code[0], assignment_seq=code[1])  # its successor is the tester's: not handed over
    test_two = Task.objects.get(swarm=swarm, name="Test 2")
    assert test_two.status == Task.Status.PENDING
    runner.run(task_id=test_one[0], assignment_seq=test_one[1])

    test_two = Task.objects.select_related("assigned_agent").get(pk=test_two.pk)
    assert test_two.status == Task.Status.COMPLETED and test_two.assigned_agent.type == "tester"


def test_past_the_chain_deadline_the_handed_task_gets_its_run_message(
    alice, fake_claude, monkeypatch, empty_queue
):
    monkeypatch.setattr(runner, "CHAIN_SECONDS", 0)
    swarm = executing(alice, tasks=parts(1, 2))

    run_first(swarm)

    first, second = Task.objects.filter(swarm=swarm).order_by("sequence")
    assert first.status == Task.Status.COMPLETED
    assert second.status == Task.Status.ASSIGNED and second.assignment_seq == 1
    assert second.assigned_agent_id == first.assigned_agent_id
    assert [args for _, args in queued("run_task")] == [
        (first.id, 1),
        (second.id, 1),
    ]  # the first from the fill that assigned it


def test_a_handed_task_is_assigned_and_claimed_at_once_with_the_events_of_both(alice, fake_claude):
    swarm = executing(alice, tasks=parts(1, 2))

    run_first(swarm)

    first, second = Task.objects.filter(swarm=swarm).order_by("sequence")
    assert second.status == Task.Status.COMPLETED and second.attempts == 1
    assert second.assigned_agent_id == first.assigned_agent_id
    assert second.assigned_at == second.started_at  # one statement did both
    types = list(swarm.events.order_by("seq").values_list("type", "data"))
    handed = [
        (kind, data)
        for kind, data in types
        if (data.get("id") == second.id or data.get("taskId") == second.id) and kind != "task.created"
    ]
    kinds = [kind for kind, _ in handed]
    assert (
        kinds[:3] == ["task.assigned", "agent.status_changed", "task.started"]
        and kinds[-1] == "task.completed"
    )
    assert handed[0][1]["agentId"] == first.assigned_agent_id and handed[1][1]["status"] == "busy"
    seqs = list(swarm.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free


def test_an_agent_terminated_while_its_task_ran_takes_no_next_task(alice, fake_claude, monkeypatch):
    swarm = executing(alice, tasks=parts(1, 2))
    finish = runner.finish

    def terminated_first(task: Task, *args: Any) -> None:
        Agent.objects.filter(pk=task.assigned_agent_id).update(status=Agent.Status.TERMINATED)
        finish(task, *args)

    monkeypatch.setattr(runner, "finish", terminated_first)
    run_first(swarm)

    first, second = Task.objects.filter(swarm=swarm).order_by("sequence")
    assert first.status == Task.Status.COMPLETED
    assert second.status == Task.Status.PENDING and second.assignment_seq == 0 and second.attempts == 0
    assert Agent.objects.get(pk=first.assigned_agent_id).status == Agent.Status.TERMINATED
