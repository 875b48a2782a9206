"""Issue 9, items 3–5: strikes count only lost workers, lost run messages come back within a lease
(at once after a broker outage), and the resource guard watches this process, not the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core import jobs
from engine import actors, housekeeping, resources, scheduler
from events.models import Event
from swarms.models import Swarm
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
    assert ClaudeCall.objects.filter(task=task, outcome="ok", turn=1).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_message_lost_after_its_assignment_committed_is_sent_again_within_a_lease(
    workers, fake_claude, alice, monkeypatch, settings
):
    # two agents, two tasks: the worker that fills runs the first itself and sends the other's message
    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-1"), ("coder", "coder-2")],
        options={"review": False},
        tasks=[{"name": "One", "description": "Write it"}, {"name": "Two", "description": "Write that"}],
    )
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
    lost_at, task_id, seq = dropped[0]
    task = Task.objects.get(pk=task_id, swarm=swarm)
    resent_at = task.assigned_at  # the re-send stamps it
    assert timedelta(0) < resent_at - lost_at <= timedelta(seconds=settings.TASK_LEASE_SECONDS)
    requests = len(fake_claude.requests)
    actors.run_task.send(task_id, seq)  # the lost message turns up after all: a no-op
    time.sleep(1)
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("completed", 1)
    assert len(fake_claude.requests) == requests
    assert list(ClaudeCall.objects.filter(task=task).values_list("turn", flat=True)) == [1, 2]


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
            assert (task.attempts, ClaudeCall.objects.filter(task=task).count()) == (1, 2)  # two turns
            assert "the broker is reachable again" in worker.output()
        finally:
            worker.stop()


# --- the resource guard -------------------------------------------------------------------------

OVER_CPU = {"memory": 0.0, "cpu": 0.99}
CALM = {"memory": 0.0, "cpu": 0.01}


@pytest.fixture
def guard(settings):
    """The guard on, with fresh state; readings are given to it (a controllable sampler)."""
    settings.RESOURCE_MONITORING = True
    settings.CPU_THRESHOLD = 0.5
    settings.RESOURCE_GUARD_SAMPLES = 3
    settings.RESOURCE_ALERT_INTERVAL = 60
    resources.reset_guard()
    yield resources
    resources.reset_guard()


def executing_swarm(owner, **fields):
    swarm = build_swarm(owner, tasks=[{"name": "Waits", "description": "Write it"}])
    Swarm.objects.filter(pk=swarm.id).update(
        **{"status": "executing", "started_at": timezone.now(), **fields}
    )
    return swarm


def alerts(swarm) -> list[str]:
    return [e.data["level"] for e in Event.objects.filter(swarm=swarm, type="system.alert").order_by("id")]


@pytest.mark.django_db
def test_the_guard_defers_only_after_readings_in_a_row_agree(guard):
    assert not guard.update_guard(OVER_CPU)["deferring"]
    assert not guard.update_guard(OVER_CPU)["deferring"]
    assert not guard.update_guard(CALM)["deferring"]  # a spike: the streak starts again
    verdicts = [guard.update_guard(OVER_CPU)["deferring"] for _ in range(3)]
    assert verdicts == [False, False, True]
    state = guard.update_guard(CALM)
    assert state["deferring"] and "CPU_THRESHOLD" in state["reason"]
    verdicts = [guard.update_guard(CALM)["deferring"] for _ in range(2)]
    assert verdicts == [True, False]


@pytest.mark.django_db
def test_a_flapping_resource_alerts_once_per_interval(guard, alice, settings):
    settings.RESOURCE_GUARD_SAMPLES = 1
    swarm = executing_swarm(alice)
    for _ in range(5):
        assert guard.update_guard(OVER_CPU)["deferring"]
        assert not guard.update_guard(CALM)["deferring"]
    assert alerts(swarm) == ["warn", "info"]  # one alert and its all-clear, not ten
    assert Event.objects.get(swarm=swarm, type="system.alert", data__level="warn").data["resource"] == "cpu"
    settings.RESOURCE_ALERT_INTERVAL = 0
    guard.update_guard(OVER_CPU)
    guard.update_guard(CALM)
    assert alerts(swarm) == ["warn", "info", "warn", "info"]


@pytest.mark.django_db
def test_each_resource_is_rate_limited_on_its_own(guard, alice, settings):
    settings.RESOURCE_GUARD_SAMPLES = 1
    swarm = executing_swarm(alice)
    guard.update_guard(OVER_CPU)
    guard.update_guard({"memory": settings.MEMORY_THRESHOLD * 2.0, "cpu": 0.99})
    state = guard.update_guard({"memory": settings.MEMORY_THRESHOLD * 2.0, "cpu": 0.01})
    assert state["deferring"] and "MEMORY_THRESHOLD" in state["reason"]
    assert alerts(swarm) == ["warn", "warn", "info"]  # cpu over, memory over, cpu back (still deferring)


@pytest.mark.django_db
def test_the_swarm_timeout_clock_stops_while_dispatch_is_deferred(guard, alice, settings):
    settings.RESOURCE_GUARD_SAMPLES = 1
    swarm = executing_swarm(alice, timeout_ms=30_000, started_at=timezone.now() - timedelta(seconds=29))
    guard.update_guard(OVER_CPU)
    for _ in range(6):  # 3 s of deferred dispatch, one reading per housekeeping tick
        time.sleep(0.5)
        guard.update_guard(OVER_CPU)
    guard.update_guard(CALM)
    swarm.refresh_from_db()
    assert swarm.deferred_ms >= 2500
    assert housekeeping.enforce_swarm_timeouts() == 0  # 32 s since the start, 29 of them counted
    assert Swarm.objects.get(pk=swarm.id).status == "executing"
    Swarm.objects.filter(pk=swarm.id).update(deferred_ms=0)
    assert housekeeping.enforce_swarm_timeouts() == 1


@pytest.mark.django_db
def test_processes_deferring_at_once_count_each_second_once(alice):
    now = timezone.now()
    swarm = executing_swarm(alice, started_at=now - timedelta(minutes=1))
    assert resources.stop_clocks(since=now - timedelta(seconds=10), until=now) == 1
    assert resources.stop_clocks(since=now - timedelta(seconds=8), until=now) == 0  # another process
    assert resources.stop_clocks(since=now - timedelta(seconds=8), until=now + timedelta(seconds=2)) == 1
    swarm.refresh_from_db()
    assert swarm.deferred_ms == 12_000


def spin_forever() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@pytest.mark.django_db
def test_a_busy_neighbour_process_does_not_defer_dispatch(guard, alice, settings):
    settings.RESOURCE_GUARD_SAMPLES = 1
    swarm = executing_swarm(alice)
    neighbours = [spin_forever() for _ in range(os.cpu_count() or 2)]  # the whole machine busy
    try:
        guard.update_guard()
        for _ in range(4):
            time.sleep(0.5)
            state = guard.update_guard()
            assert not state["deferring"], state
    finally:
        for neighbour in neighbours:
            neighbour.kill()
            neighbour.wait()
    assert scheduler.fill().assigned
    assert Task.objects.get(swarm=swarm).status == "assigned"


@pytest.mark.django_db
def test_this_process_burning_cpu_defers_dispatch(guard, alice, settings):
    settings.RESOURCE_GUARD_SAMPLES = 1
    settings.CPU_THRESHOLD = 0.2
    swarm = executing_swarm(alice)
    done = threading.Event()

    def burn() -> None:
        while not done.is_set():
            pass

    burner = threading.Thread(target=burn, daemon=True)
    burner.start()
    try:
        guard.update_guard()

        def deferring() -> bool:
            time.sleep(0.5)
            return guard.update_guard()["deferring"]

        wait_for(deferring, timeout=15, message="the guard to see this process busy")
    finally:
        done.set()
        burner.join()
    assert not scheduler.fill().assigned
    assert Task.objects.get(swarm=swarm).status == "pending"
