"""Issue 9, items 3–5: strikes count only lost workers, lost run messages come back within a lease
(at once after a broker outage), and the resource guard watches this process, not the machine."""

from __future__ import annotations

import signal

import pytest

from events.models import Event
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status
from tests.stack import stack_env, start_worker


def agent_requests(fake, task_name: str) -> list[dict]:
    return [r for r in fake.requests if f"# Your task: {task_name}" in r["text"]]


@pytest.fixture
def start_workers(redis_url, fake_claude):
    """`rundramatiq` processes on the test Redis; they find the work through their housekeeping."""
    env = stack_env(redis_url=redis_url, claude_url=fake_claude.url, WORKER_GRACE_SECONDS="1")
    processes = []

    def start(name: str):
        worker = start_worker(env, name)
        processes.append(worker)
        return worker

    yield start
    for process in processes:
        process.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_graceful_hand_overs_are_not_strikes(start_workers, fake_claude, alice):
    """Two SIGTERM hand-overs then one SIGKILL: one lost worker, so the task runs again."""
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Long", "description": "Write a long module [[fake:slow=1200]]"}],
    )
    worker = start_workers("worker-a")
    swarm_start(swarm_id=swarm.id)
    for run, name in enumerate(("worker-b", "worker-c", "worker-d"), start=1):
        wait_for(
            lambda run=run: Task.objects.filter(swarm=swarm, status="running", attempts=run).exists(),
            timeout=30,
            message=f"run {run} to start",
        )
        wait_for(lambda run=run: len(agent_requests(fake_claude, "Long")) >= run, message="the stream")
        successor = start_workers(name)
        if run < 3:
            worker.signal(signal.SIGTERM)  # a graceful hand-over
            assert worker.proc.wait(30) == 0
        else:
            worker.signal(signal.SIGKILL)  # a lost worker: its lease expires
            worker.proc.wait(10)
        worker = successor
    wait_for_status(swarm.id, "completed", "failed", timeout=90)
    task = Task.objects.get(swarm=swarm)
    assert (task.status, task.attempts, task.lease_expiries) == ("completed", 4, 1)
    reasons = [
        e.data["reason"] for e in Event.objects.filter(swarm=swarm, type="task.retrying").order_by("id")
    ]
    assert reasons == ["worker_shutdown", "worker_shutdown", "lease_expired"]
    assert ClaudeCall.objects.filter(task=task, outcome="ok").count() == 1
