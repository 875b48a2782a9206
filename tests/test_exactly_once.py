"""Exactly once under faults (in-process): idempotent actors, reuse of finished calls, recovery."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from engine import actors
from engine import runner as bridge
from swarms.models import Swarm
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm, stored_answer
from tests.helpers import wait_for, wait_for_status
from workspaces.services import file_list

pytestmark = pytest.mark.django_db(transaction=True)


def one_task_swarm(alice, description="Write the module", **extra):
    return build_swarm(
        alice, options={"review": False}, tasks=[{"name": "Only", "description": description}], **extra
    )


def test_a_redelivered_message_for_a_finished_task_does_nothing(workers, fake_claude, alice):
    swarm = one_task_swarm(alice)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    task = Task.objects.get(swarm=swarm)
    requests = len(fake_claude.requests)
    actors.run_task.send(task.id, task.assignment_seq)  # the same message, delivered again
    actors.run_task.send(task.id, task.assignment_seq + 1)  # and one from the future
    time.sleep(1)
    assert len(fake_claude.requests) == requests
    assert list(ClaudeCall.objects.filter(task=task).values_list("turn", flat=True)) == [
        1,
        2,
    ]  # its tool loop
    assert Task.objects.get(pk=task.id).attempts == 1


def test_two_deliveries_of_one_assignment_run_it_once(transactional_db, fake_claude, alice):
    swarm = one_task_swarm(alice, "Write the module [[fake:slow=50]]")
    task = Task.objects.get(swarm=swarm)
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(pk=task.id).update(
        status="assigned", assignment_seq=1, assigned_agent=swarm.agents.first()
    )
    threads = [
        threading.Thread(target=bridge.run, kwargs={"task_id": task.id, "assignment_seq": 1})
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert Task.objects.get(pk=task.id).status == "completed"
    assert len(fake_claude.requests) == 2  # one tool loop of two turns
    assert list(ClaudeCall.objects.filter(task=task, outcome="ok").values_list("turn", flat=True)) == [1, 2]
    assert [f.version for f in file_list(swarm_id=swarm.id)] == [1, 1]  # each file written once


def test_an_answer_that_arrived_before_a_crash_is_reused_not_paid_again(workers, fake_claude, alice):
    swarm = one_task_swarm(alice)
    task = Task.objects.get(swarm=swarm)
    stored = "## Done before the crash\n```python:app.py\nprint('hi')\n```"
    stored_answer(task, {"text": stored})
    Task.objects.filter(pk=task.id).update(attempts=1)  # the crashed run had claimed it once
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    task.refresh_from_db()
    assert task.output == stored.strip()
    assert task.artifacts == [{"path": "app.py", "language": "python", "content": "print('hi')\n"}]
    assert fake_claude.requests == []
    assert ClaudeCall.objects.filter(task=task).count() == 1


def test_an_expired_lease_is_reaped_and_the_task_completes_once(workers, fake_claude, alice):
    swarm = one_task_swarm(alice)
    task = Task.objects.get(swarm=swarm)
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(pk=task.id).update(  # as a worker that died mid-stream leaves it
        status="running",
        attempts=1,
        assignment_seq=1,
        assigned_agent=swarm.agents.first(),
        lease_owner="dead-host:1:1",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    swarm.agents.update(status="busy")
    wait_for_status(swarm.id, "completed", timeout=15)
    task.refresh_from_db()
    assert task.attempts == 2
    assert list(ClaudeCall.objects.filter(task=task, outcome="ok").values_list("turn", flat=True)) == [1, 2]
    retry = swarm.events.get(type="task.retrying")
    assert retry.data["reason"] == "lease_expired"


def test_a_task_whose_worker_keeps_dying_fails_instead_of_looping(workers, fake_claude, alice):
    swarm = one_task_swarm(alice)
    task = Task.objects.get(swarm=swarm)
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(pk=task.id).update(
        status="running",
        attempts=3,
        lease_expiries=2,  # two workers were lost before: this expiry is the third strike
        lease_owner="dead:1:1",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    wait_for_status(swarm.id, "failed", timeout=15)
    assert Task.objects.get(pk=task.id).failure_reason == "worker_lost"
    assert fake_claude.requests == []


def test_a_lost_run_message_is_sent_again(workers, fake_claude, alice, settings):
    swarm = one_task_swarm(alice)
    task = Task.objects.get(swarm=swarm)
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(pk=task.id).update(
        status="assigned",
        assignment_seq=4,
        assigned_agent=swarm.agents.first(),
        assigned_at=timezone.now() - timedelta(minutes=5),
    )
    wait_for_status(swarm.id, "completed", timeout=15)
    assert Task.objects.get(pk=task.id).attempts == 1


def test_a_lost_plan_message_is_sent_again(workers, fake_claude, alice):
    swarm = Swarm.objects.create(owner=alice, objective="Write a haiku about queues", name="orphan")
    Swarm.objects.filter(pk=swarm.id).update(updated_at=timezone.now() - timedelta(minutes=5))
    wait_for_status(swarm.id, "ready", timeout=15)
    assert ClaudeCall.objects.filter(swarm=swarm, role="planner").count() == 1


def test_a_plan_being_made_is_not_made_twice(workers, fake_claude, alice):
    fake_claude.configure(latency_ms=1500)
    swarm = Swarm.objects.create(owner=alice, objective="Write a haiku about queues", name="busy")
    actors.plan_swarm.send(swarm.id)
    wait_for(lambda: fake_claude.requests)
    actors.plan_swarm.send(swarm.id)  # a duplicate while the first holds the planning lease
    wait_for_status(swarm.id, "ready", timeout=15)
    time.sleep(0.5)
    assert len(fake_claude.requests) == 1
