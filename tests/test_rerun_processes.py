"""Continue and re-run on real `rundramatiq` worker processes: the work a reopen, a retry or a
clone starts runs exactly once even when its worker is SIGKILLed mid-task (no turn paid twice)."""

from __future__ import annotations

import signal

import pytest
from django.utils import timezone

from swarms.models import Swarm
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]
SLOW = "Write the parser module [[fake:slow=150]]"


def finished(alice, *, status: str, task_status: str, description: str = "Design the schema") -> Swarm:
    swarm = build_swarm(
        alice, options={"review": False}, tasks=[{"name": "Parse", "description": description}]
    )
    now = timezone.now()
    Task.objects.filter(swarm=swarm).update(
        status=task_status, attempts=1, completed_at=now, output="earlier"
    )
    Swarm.objects.filter(pk=swarm.id).update(status=status, started_at=now, completed_at=now)
    return swarm


def reopen(stack, alice) -> Task:
    swarm = finished(alice, status="completed", task_status="completed")
    body = {"name": "Continue", "description": SLOW, "type": "coding"}
    status, created = stack.api("POST", f"/api/swarm/{swarm.id}/tasks", body)
    assert status == 201, created
    return Task.objects.get(pk=created["taskId"])


def retry(stack, alice) -> Task:
    swarm = finished(alice, status="failed", task_status="failed", description=SLOW)
    task = Task.objects.get(swarm=swarm)
    assert stack.api("POST", f"/api/swarm/{swarm.id}/tasks/{task.id}/retry")[0] == 200
    return task


def clone(stack, alice) -> Task:
    source = finished(alice, status="completed", task_status="completed", description=SLOW)
    status, cloned = stack.api("POST", f"/api/swarm/{source.id}/clone")
    assert status == 201, cloned
    assert stack.api("POST", f"/api/swarm/{cloned['swarmId']}/start")[0] == 200
    return Task.objects.get(swarm_id=cloned["swarmId"])


@pytest.mark.parametrize("begin", [reopen, retry, clone], ids=["reopen", "retry", "clone"])
def test_rerun_work_survives_a_sigkill_exactly_once(stack, fake_claude, alice, begin):
    first = stack.worker("worker-a")
    task = begin(stack, alice)
    revision = Task.objects.get(pk=task.id).revision_count
    wait_for(
        lambda: ClaudeCall.objects.filter(task=task, turn=2, outcome="started").exists(),
        timeout=60,
        message="turn 2 to start",
    )
    first.signal(signal.SIGKILL)
    first.proc.wait(10)
    stack.worker("worker-b")
    wait_for_status(task.swarm_id, "completed", timeout=90)
    task.refresh_from_db()
    assert task.status == "completed" and task.attempts == (3 if begin is retry else 2)
    calls = ClaudeCall.objects.filter(task=task, role="agent", revision=revision)
    assert sorted(calls.filter(outcome="ok").values_list("turn", flat=True)) == [1, 2]
    assert list(calls.filter(outcome="lost").values_list("turn", flat=True)) == [2]
    first_turns = [
        r
        for r in fake_claude.requests
        if "Write the parser module" in r["text"] and len(r["body"]["messages"]) == 1
    ]
    assert len(first_turns) == 1  # turn 1 was stored before the kill: reused, not asked again
    assert not ClaudeCall.objects.filter(swarm_id=task.swarm_id, role="planner").exists()
