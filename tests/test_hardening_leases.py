"""Issue 9, items 3–5: strikes count only lost workers, lost run messages come back within a lease
(at once after a broker outage), and the resource guard watches this process, not the machine."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core import jobs
from engine import actors
from events.models import Event
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status
from tests.outage import private_redis
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


@pytest.mark.django_db(transaction=True)
def test_a_run_message_lost_after_its_assignment_committed_is_sent_again_within_a_lease(
    workers, fake_claude, alice, monkeypatch, settings
):
    swarm = build_swarm(alice, options={"review": False}, tasks=[{"name": "Only", "description": "Write it"}])
    dropped: list[tuple] = []
    send = jobs.send

    def lose_the_first_run_message(actor_name, *args):
        if actor_name == jobs.RUN_TASK and not dropped:
            dropped.append((timezone.now(), *args))  # committed, but the message never reaches a worker
            return
        send(actor_name, *args)

    monkeypatch.setattr(jobs, "send", lose_the_first_run_message)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed", timeout=30)
    task = Task.objects.get(swarm=swarm)
    lost_at, task_id, seq = dropped[0]
    assert task_id == task.id
    assert task.started_at - lost_at <= timedelta(seconds=settings.TASK_LEASE_SECONDS)
    requests = len(fake_claude.requests)
    actors.run_task.send(task_id, seq)  # the lost message turns up after all: a no-op
    time.sleep(1)
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("completed", 1)
    assert len(fake_claude.requests) == requests
    assert ClaudeCall.objects.filter(task=task).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_assignments_lost_in_a_broker_outage_are_sent_again_when_it_returns(fake_claude, alice):
    """The worker assigns a task while Redis is down (its message is lost), Redis comes back
    empty: the task starts at once, not a lease period (30 s here) later."""
    with private_redis() as broker:
        env = stack_env(redis_url=broker.url, claude_url=fake_claude.url, TASK_LEASE_SECONDS="30")
        worker = start_worker(env, "worker")
        try:
            swarm = build_swarm(
                alice, options={"review": False}, tasks=[{"name": "Only", "description": "Write it"}]
            )
            broker.stop()
            swarm_start(swarm_id=swarm.id)  # the worker's housekeeping assigns it; the send fails
            wait_for(lambda: Task.objects.filter(swarm=swarm, status="assigned").exists(), timeout=30)
            time.sleep(1)
            broker.start()
            back_at = timezone.now()
            wait_for_status(swarm.id, "completed", timeout=60)
            task = Task.objects.get(swarm=swarm)
            assert task.started_at - back_at < timedelta(seconds=15), worker.output()[-3000:]
            assert (task.attempts, ClaudeCall.objects.filter(task=task).count()) == (1, 1)
            assert "the broker is reachable again" in worker.output()
        finally:
            worker.stop()
