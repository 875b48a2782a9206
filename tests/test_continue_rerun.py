"""Continue and re-run: a task added to a finished swarm reopens it, a failed task is retried
(with what was cancelled because of it), a swarm is cloned with its plan."""

from __future__ import annotations

import pytest
from django.utils import timezone

from events.models import Event
from swarms.models import Swarm
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.conftest import client_for
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def finished_swarm(alice, status="completed", **extra):
    """A swarm that ran one task to the end (its output on record)."""
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Design", "description": "Design the schema"}],
        **extra,
    )
    now = timezone.now()
    Task.objects.filter(swarm=swarm).update(
        status="completed", output="THE-SCHEMA: users(id, email)", completed_at=now, attempts=1
    )
    Swarm.objects.filter(pk=swarm.id).update(status=status, started_at=now, completed_at=now)
    return swarm


def failed_chain(alice):
    """A failed swarm: Build failed, Test (after it) and Ship (after Test) were cancelled for it."""
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[
            {"name": "Build", "description": "Build the thing"},
            {"name": "Test", "description": "Test the thing", "depends_on": [0]},
            {"name": "Ship", "description": "Ship the thing", "depends_on": [1]},
            {"name": "Other", "description": "Unrelated task"},
        ],
    )
    now = timezone.now()
    Task.objects.filter(swarm=swarm, name="Build").update(
        status="failed", failure_reason="claude_error", error="boom", attempts=1, completed_at=now
    )
    Task.objects.filter(swarm=swarm, name__in=["Test", "Ship"]).update(
        status="cancelled", failure_reason="dependency_failed", completed_at=now
    )
    Task.objects.filter(swarm=swarm, name="Other").update(status="completed", output="done", completed_at=now)
    Swarm.objects.filter(pk=swarm.id).update(
        status="failed", failure_reason="1 of 4 tasks did not complete", started_at=now, completed_at=now
    )
    return swarm


def test_a_task_added_to_a_completed_swarm_reopens_it_and_reads_finished_outputs(workers, fake_claude, alice):
    client = client_for(alice)
    swarm = finished_swarm(alice)
    design = Task.objects.get(swarm=swarm)
    response = client.post(
        f"/api/swarm/{swarm.id}/tasks",
        {
            "name": "Migrate",
            "description": "Write the migration for it",
            "type": "coding",
            "dependencies": [design.id],
        },
        format="json",
    )
    assert response.status_code == 201
    swarm.refresh_from_db()
    assert swarm.status == "executing" and swarm.completed_at is None
    reopened = Event.objects.get(swarm=swarm, type="swarm.reopened").data
    assert reopened == {"status": "executing", "previousStatus": "completed", "reason": "task added"}
    wait_for_status(swarm.id, "completed")
    asked = [r for r in fake_claude.requests if "# Your task: Migrate" in r["text"]]
    assert asked and "THE-SCHEMA: users(id, email)" in asked[0]["text"]  # the finished task's output
    assert Task.objects.get(pk=design.id).attempts == 1  # the finished task did not run again
    assert not ClaudeCall.objects.filter(task=design).exists()


def test_a_failed_swarm_reopens_too_but_a_stopped_one_does_not(workers, fake_claude, alice):
    client = client_for(alice)
    body = {"name": "More", "description": "One more thing to do", "type": "coding"}
    failed = finished_swarm(alice, status="failed")
    assert client.post(f"/api/swarm/{failed.id}/tasks", body, format="json").status_code == 201
    wait_for_status(failed.id, "completed")  # every task completed now
    stopped = finished_swarm(alice, status="stopped")
    refused = client.post(f"/api/swarm/{stopped.id}/tasks", body, format="json")
    assert refused.status_code == 409 and "clone it" in refused.json()["message"]
    assert Task.objects.filter(swarm=stopped).count() == 1


def test_reopening_respects_the_active_swarm_quota(alice, settings):
    settings.MAX_SWARMS_PER_USER = 1
    build_swarm(alice)  # ready: active
    swarm = finished_swarm(alice)
    response = client_for(alice).post(
        f"/api/swarm/{swarm.id}/tasks",
        {"name": "More", "description": "One more thing to do", "type": "coding"},
        format="json",
    )
    assert response.status_code == 409 and "MAX_SWARMS_PER_USER" in response.json()["message"]
    assert Swarm.objects.get(pk=swarm.id).status == "completed"
    assert Task.objects.filter(swarm=swarm).count() == 1


def test_retrying_a_failed_task_reruns_it_and_what_was_cancelled_for_it(workers, fake_claude, alice):
    client = client_for(alice)
    swarm = failed_chain(alice)
    build = Task.objects.get(swarm=swarm, name="Build")
    response = client.post(f"/api/swarm/{swarm.id}/tasks/{build.id}/retry")
    assert response.status_code == 200 and response.json()["status"] == "pending"
    statuses = dict(Task.objects.filter(swarm=swarm).values_list("name", "status"))
    assert statuses["Build"] in ("pending", "assigned", "running")  # the workers may have taken it
    assert (statuses["Test"], statuses["Ship"], statuses["Other"]) == ("pending", "pending", "completed")
    retried = Task.objects.get(pk=build.id)
    assert (retried.error, retried.failure_reason, retried.revision_count) == ("", "", 1)
    assert Event.objects.get(swarm=swarm, type="swarm.reopened").data["previousStatus"] == "failed"
    wait_for_status(swarm.id, "completed")
    assert set(Task.objects.filter(swarm=swarm).values_list("status", flat=True)) == {"completed"}
    assert not ClaudeCall.objects.filter(task__name="Other", task__swarm=swarm).exists()
    reasons = Event.objects.filter(swarm=swarm, type="task.retrying").values_list("data__reason", flat=True)
    assert list(reasons) == ["retry_requested"] * 3


def test_a_retried_task_pinned_to_an_agent_since_terminated_goes_to_any_agent(workers, fake_claude, alice):
    from django.db import transaction

    from agents.models import Agent
    from agents.services import agent_spawn
    from events.stream import batch

    swarm = failed_chain(alice)
    build = Task.objects.get(swarm=swarm, name="Build")
    gone = Agent.objects.filter(swarm=swarm).first()
    with transaction.atomic(), batch(swarm.id):
        agent_spawn(swarm=swarm, type="coder", name="coder-two")
    Task.objects.filter(pk=build.id).update(pinned=True, assigned_agent=gone)
    Agent.objects.filter(pk=gone.pk).update(status="terminated")
    response = client_for(alice).post(f"/api/swarm/{swarm.id}/tasks/{build.id}/retry")
    assert response.status_code == 200
    wait_for_status(swarm.id, "completed")  # it did not wait for the terminated agent for ever
    build.refresh_from_db()
    assert build.status == "completed" and not build.pinned and build.assigned_agent_id != gone.pk


def test_only_a_failed_or_cancelled_task_can_be_retried(alice):
    client = client_for(alice)
    swarm = finished_swarm(alice)
    done = Task.objects.get(swarm=swarm)
    refused = client.post(f"/api/swarm/{swarm.id}/tasks/{done.id}/retry")
    assert refused.status_code == 409 and "only a failed or cancelled task" in refused.json()["message"]
    other = finished_swarm(alice)
    elsewhere = client.post(f"/api/swarm/{other.id}/tasks/{done.id}/retry")
    assert elsewhere.status_code == 404
    Swarm.objects.filter(pk=swarm.id).update(status="stopped")
    Task.objects.filter(pk=done.id).update(status="cancelled")
    stopped = client.post(f"/api/swarm/{swarm.id}/tasks/{done.id}/retry")
    assert stopped.status_code == 409 and "it is stopped" in stopped.json()["message"]


def test_a_clone_has_the_objective_options_and_plan_and_runs_without_planning(workers, fake_claude, alice):
    client = client_for(alice)
    source = failed_chain(alice)
    Swarm.objects.filter(pk=source.id).update(plan_estimate={"lowUsd": 0.1, "highUsd": 0.5})
    response = client.post(f"/api/swarm/{source.id}/clone")
    assert response.status_code == 201
    body = response.json()
    assert body["clonedFrom"] == source.id and body["status"] == "ready"
    clone = Swarm.objects.get(pk=body["swarmId"])
    assert (clone.objective, clone.options, clone.mode, clone.max_agents) == (
        source.objective, source.options, source.mode, source.max_agents,
    )  # fmt: skip
    assert clone.cloned_from == source.id and clone.plan_estimate == {"lowUsd": 0.1, "highUsd": 0.5}
    copies = {t.name: t for t in Task.objects.filter(swarm=clone).prefetch_related("dependencies")}
    assert {name: [d.name for d in t.dependencies.all()] for name, t in copies.items()} == {
        "Build": [], "Test": ["Build"], "Ship": ["Test"], "Other": [],
    }  # fmt: skip
    assert {t.status for t in copies.values()} == {"pending"} and not any(t.output for t in copies.values())
    assert list(clone.agents.values_list("name", "type")) == list(source.agents.values_list("name", "type"))
    assert client.get(f"/api/swarm/{clone.id}").json()["data"]["clonedFrom"] == source.id
    assert "swarm.cloned" in set(Event.objects.filter(swarm=clone).values_list("type", flat=True))
    swarm_start(swarm_id=clone.id)
    wait_for_status(clone.id, "completed")
    assert not ClaudeCall.objects.filter(swarm=clone, role="planner").exists()
    assert Swarm.objects.get(pk=source.id).status == "failed"  # the source is untouched


def test_a_swarm_still_planning_cannot_be_cloned(alice):
    swarm = Swarm.objects.create(owner=alice, objective="Write a haiku about queues", name="p")
    response = client_for(alice).post(f"/api/swarm/{swarm.id}/clone")
    assert response.status_code == 409 and "no plan yet" in response.json()["message"]


def test_a_task_added_after_a_failed_one_cannot_hold_the_reopened_swarm_open(workers, fake_claude, alice):
    swarm = failed_chain(alice)
    build = Task.objects.get(swarm=swarm, name="Build")
    response = client_for(alice).post(
        f"/api/swarm/{swarm.id}/tasks",
        {"name": "Deploy", "description": "Deploy the build", "type": "coding", "dependencies": [build.id]},
        format="json",
    )
    assert response.status_code == 201
    wait_for_status(swarm.id, "failed")  # settled again at once, not left executing until its timeout
    assert Task.objects.get(swarm=swarm, name="Deploy").failure_reason == "dependency_failed"
    assert not ClaudeCall.objects.filter(swarm=swarm).exists()
