"""Issue 9, Claude calls: answers survive a Postgres outage, calls in flight are on record,
mid-stream errors keep their type, and an empty answer is asked again once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psycopg
import pytest

from engine.claude import policy, transport
from swarms.models import Swarm
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status
from tests.stack import ROOT, stack_env, start_worker

db = pytest.mark.django_db(transaction=True)


def run_one(alice, description: str) -> Task:
    swarm = build_swarm(
        alice, tasks=[{"name": "The task", "description": description}], options={"review": False}
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed", "failed", timeout=30)
    return Task.objects.get(swarm=swarm)


def agent_calls(task: Task) -> list[ClaudeCall]:
    """The calls of the task's first turn (a tool loop's later turns are not what these test)."""
    return list(ClaudeCall.objects.filter(task=task, role="agent", turn=1).order_by("id"))


def agent_requests(fake, task_name: str) -> list[dict]:
    """The requests of the task's first turn."""
    return [
        r
        for r in fake.requests
        if f"# Your task: {task_name}" in r["text"] and len(r["body"]["messages"]) == 1
    ]


# --- 7: mid-stream errors and empty answers ---------------------------------------------------


@db
def test_a_mid_stream_error_is_recorded_with_its_type_and_retried(workers, alice):
    task = run_one(alice, "Write the parser [[fake:stream-errorx1]]")
    broken, answered = agent_calls(task)
    assert task.status == "completed" and answered.outcome == "ok"
    assert (broken.outcome, broken.status_code, broken.error_type) == ("error", 529, "overloaded_error")
    assert broken.error.startswith("529 overloaded_error (mid-stream)")
    assert task.swarm.events.filter(type="task.retrying").count() == 1


def test_a_mid_stream_error_of_a_fatal_type_is_not_retried():
    request = httpx2.Request("POST", "http://claude.invalid/v1/messages")
    error = transport.StreamError("invalid_request_error", "prompt is too long", request, None)
    outcome = policy.classify(error)
    assert (outcome.retryable, outcome.status_code, outcome.error_type) == (
        False,
        400,
        "invalid_request_error",
    )


@db
def test_an_empty_answer_is_asked_again_once_and_never_reused(workers, fake_claude, alice):
    task = run_one(alice, "Write the parser [[fake:malformedx1]]")
    empty, answered = agent_calls(task)
    assert task.status == "completed" and task.output
    assert (empty.outcome, empty.error_type, empty.response) == ("error", "empty_answer", None)
    assert answered.outcome == "ok" and answered.response["text"]
    assert len(agent_requests(fake_claude, "The task")) == 2


@db
def test_two_empty_answers_fail_the_task_with_a_clear_reason(workers, alice):
    task = run_one(alice, "Write the parser [[fake:malformedx5]]")
    assert task.status == "failed" and task.failure_reason == "empty_answer"
    assert "empty answer" in task.error
    assert [c.error_type for c in agent_calls(task)] == ["empty_answer", "empty_answer"]
    assert not ClaudeCall.objects.filter(task=task, outcome="ok").exists()


@db
def test_an_empty_answer_stored_before_the_fix_is_not_reused(workers, fake_claude, alice):
    swarm = build_swarm(alice, options={"review": False}, tasks=[{"name": "Only", "description": "Write it"}])
    task = Task.objects.get(swarm=swarm)
    ClaudeCall.objects.create(
        swarm=swarm, task=task, role="agent", turn=1, model="m", outcome="ok", response={"text": " "}
    )
    Task.objects.filter(pk=task.id).update(attempts=1)  # a crashed run had claimed it once
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    assert len(agent_requests(fake_claude, "Only")) == 1
    assert Task.objects.get(pk=task.id).output


# --- 6: a call's row is written when it starts ------------------------------------------------


@db
def test_a_call_is_on_record_while_in_flight_and_completed_after(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Slow", "description": "Write it [[fake:slow=100]]"}],
    )
    swarm_start(swarm_id=swarm.id)
    request = wait_for(lambda: agent_requests(fake_claude, "Slow"))[0]
    in_flight = ClaudeCall.objects.get(task__swarm=swarm, turn=1)
    assert (in_flight.outcome, in_flight.estimated) == ("started", True)
    assert in_flight.output_tokens == request["body"]["max_tokens"] and in_flight.input_tokens > 0
    assert Swarm.objects.get(pk=swarm.id).total_tokens == 0  # not spend until it ends
    wait_for_status(swarm.id, "completed")
    done = ClaudeCall.objects.get(pk=in_flight.pk)
    assert (done.outcome, done.estimated) == ("ok", False)
    assert done.output_tokens < request["body"]["max_tokens"]
    swarm.refresh_from_db()
    calls = ClaudeCall.objects.filter(task__swarm=swarm)
    assert swarm.total_tokens == sum(c.input_tokens + c.output_tokens for c in calls)


@db
def test_calls_in_flight_count_against_the_budget(workers, fake_claude, alice, settings):
    settings.CLAUDE_MAX_TOKENS = 4096
    swarm = build_swarm(
        alice,
        agents=[("coder", "one"), ("coder", "two")],
        options={"review": False, "budget": {"maxTokens": 6000}},
        tasks=[
            {"name": "Left", "description": "Write the left half [[fake:slow=60]]"},
            {"name": "Right", "description": "Write the right half [[fake:slow=60]]"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for(lambda: agent_requests(fake_claude, "Left") and agent_requests(fake_claude, "Right"))
    asked = [r["body"]["max_tokens"] for r in fake_claude.requests]
    inputs = ClaudeCall.objects.filter(swarm=swarm).values_list("input_tokens", flat=True)
    assert sum(asked) + sum(inputs) <= 6000  # together they cannot overshoot the budget
    wait_for_status(swarm.id, "completed")


@db
def test_a_rerun_marks_the_dead_runs_call_lost_and_counts_its_estimate(workers, fake_claude, alice):
    from datetime import timedelta

    from django.utils import timezone

    swarm = build_swarm(alice, options={"review": False}, tasks=[{"name": "Only", "description": "Write it"}])
    task = Task.objects.get(swarm=swarm)
    dead = ClaudeCall.objects.create(  # as a worker killed mid-call leaves it
        swarm=swarm, task=task, role="agent", model="m", outcome="started", estimated=True,
        input_tokens=100, output_tokens=4096, cost_usd="0.0617",
    )  # fmt: skip
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(pk=task.id).update(
        status="running", attempts=1, assignment_seq=1, assigned_agent=swarm.agents.first(),
        lease_owner="dead-host:1:1", lease_expires_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    swarm.agents.update(status="busy")
    wait_for_status(swarm.id, "completed", timeout=15)
    dead.refresh_from_db()
    assert (dead.outcome, dead.estimated) == ("lost", True)
    answered = ClaudeCall.objects.filter(task=task, outcome="ok")  # the tool loop's turns
    swarm.refresh_from_db()
    task.refresh_from_db()
    expected = 100 + 4096 + sum(c.input_tokens + c.output_tokens for c in answered)
    assert swarm.total_tokens == expected
    assert task.input_tokens + task.output_tokens == expected


@db
def test_housekeeping_counts_a_call_whose_task_will_not_run_again(alice):
    from datetime import timedelta

    from django.utils import timezone

    from engine import housekeeping

    swarm = build_swarm(alice, tasks=[{"name": "Only", "description": "Write it"}])
    task = Task.objects.get(swarm=swarm)
    Task.objects.filter(pk=task.id).update(status="failed", failure_reason="worker_lost")
    dead = ClaudeCall.objects.create(
        swarm=swarm, task=task, role="agent", model="m", outcome="started", estimated=True,
        input_tokens=100, output_tokens=4096, cost_usd="0.0617",
    )  # fmt: skip
    ClaudeCall.objects.filter(pk=dead.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    housekeeping.tick()
    housekeeping.tick()  # counted once
    dead.refresh_from_db()
    swarm.refresh_from_db()
    assert dead.outcome == "lost"
    assert (swarm.total_tokens, str(swarm.cost_usd)) == (4196, "0.061700")


# --- 6 with a real SIGKILL, 2 with a real Postgres outage -------------------------------------


@db
@pytest.mark.redis
@pytest.mark.slow
def test_a_call_in_flight_when_its_worker_is_killed_counts_as_spend(stack, fake_claude, alice):
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Long", "description": "Write it [[fake:slow=150]]"}],
    )
    first = stack.worker("worker-a")
    stack.api("POST", f"/api/swarm/{swarm.id}/start")
    request = wait_for(lambda: agent_requests(fake_claude, "Long"), timeout=30)[0]
    time.sleep(0.5)
    first.signal(signal.SIGKILL)
    first.proc.wait(10)
    stack.worker("worker-b")
    wait_for_status(swarm.id, "completed", timeout=60)
    lost, answered = ClaudeCall.objects.filter(task__swarm=swarm, turn=1).order_by("id")
    assert (lost.outcome, lost.estimated, lost.output_tokens) == ("lost", True, request["body"]["max_tokens"])
    assert answered.outcome == "ok"
    swarm.refresh_from_db()
    calls = ClaudeCall.objects.filter(task__swarm=swarm)  # the first turn's two, then the loop's next
    assert swarm.total_tokens == sum(c.input_tokens + c.output_tokens for c in calls)
    assert Task.objects.get(swarm=swarm).cost_usd == swarm.cost_usd == sum(c.cost_usd for c in calls)


SETUP = """
import json
from django.contrib.auth import get_user_model
from swarms.services import swarm_start
from tests.builders import build_swarm
owner = get_user_model().objects.create_user(username="alice", password="pw-alice-outage")
swarm = build_swarm(
    owner,
    agents=[("coder", f"coder-{i}") for i in range(4)],
    options={"review": False},
    tasks=[{"name": f"Part {i}", "description": f"Write part {i} of it [[fake:slow=200]]"} for i in range(4)],
)
swarm_start(swarm_id=swarm.id)
print(json.dumps({"swarm": swarm.id}))
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _postgres_available() -> bool:
    return os.geteuid() == 0 and any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.mark.slow
@pytest.mark.skipif(not _postgres_available(), reason="needs PostgreSQL binaries and root (runuser)")
def test_answers_that_arrive_while_postgres_is_down_are_recorded_once(fake_claude):
    from tests.outage import private_postgres, private_redis

    with private_postgres() as pg, private_redis() as redis:
        url = pg.createdb("outage")
        env = stack_env(
            redis_url=redis.url, claude_url=fake_claude.url, DATABASE_URL=url, TASK_LEASE_SECONDS="20"
        )
        manage(env, "migrate", "--no-input")
        worker = start_worker(env, "worker")
        try:
            swarm_id = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])["swarm"]
            names = [f"Part {i}" for i in range(4)]
            wait_for(lambda: all(agent_requests(fake_claude, n) for n in names), timeout=30)
            time.sleep(1)
            pg.stop()  # the four answers stream in (~5 s) while the database is down
            time.sleep(8)
            pg.start()
            with psycopg.connect(url, autocommit=True) as conn:

                def swarm_status() -> str:
                    return conn.execute(
                        "SELECT status FROM swarms_swarm WHERE id = %s", [swarm_id]
                    ).fetchone()[0]

                wait_for(lambda: swarm_status() in ("completed", "failed"), timeout=60)
                assert swarm_status() == "completed"
                tasks = conn.execute(
                    "SELECT status, attempts FROM tasks_task WHERE swarm_id = %s", [swarm_id]
                ).fetchall()
                calls = conn.execute(
                    "SELECT outcome FROM tasks_claudecall WHERE swarm_id = %s AND role = 'agent' AND turn = 1",
                    [swarm_id],
                ).fetchall()
                retries = conn.execute(
                    "SELECT count(*) FROM swarms_event WHERE swarm_id = %s AND type = 'task.retrying'",
                    [swarm_id],
                ).fetchone()[0]
        finally:
            worker.stop()
    assert [len(agent_requests(fake_claude, n)) for n in names] == [1, 1, 1, 1]  # each answer bought once
    assert sorted(tasks) == [("completed", 1)] * 4  # no re-run: nobody waited for a lease to expire
    assert calls == [("ok",)] * 4
    assert retries == 0
    assert "stopped renewing the lease" not in worker.output()
