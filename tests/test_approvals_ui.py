"""Approval gates, retry and clone on the server-rendered swarm page and in the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm
from tests.helpers import admin_url
from tests.test_ui import assert_harmless, logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice: Any) -> Client:
    return logged_in(alice)


def awaiting_plan(alice: Any) -> Swarm:
    swarm = build_swarm(
        alice,
        tasks=[
            {"name": "Design", "description": "Design the schema"},
            {
                "name": "Build",
                "description": "Build it <script>x</script>",
                "depends_on": [0],
                "requires_approval": True,
            },
        ],
    )
    Swarm.objects.filter(pk=swarm.id).update(
        status="awaiting_approval",
        approval_since=timezone.now(),
        plan_estimate={
            "lowUsd": 0.012,
            "highUsd": 0.34,
            "lowTokens": 900,
            "highTokens": 40000,
            "planningSpentUsd": 0.01,
        },
    )
    return swarm


def awaiting_output(alice: Any) -> tuple[Swarm, Task]:
    swarm = build_swarm(
        alice, tasks=[{"name": "Draft", "description": "Draft it", "requires_approval": True}]
    )
    Swarm.objects.filter(pk=swarm.id).update(
        status="executing", started_at=timezone.now(), approval_since=timezone.now()
    )
    Task.objects.filter(swarm=swarm).update(
        status="awaiting_approval",
        output="## The draft\n<img src=x onerror=alert(1)>",
        awaiting_since=timezone.now(),
    )
    return swarm, Task.objects.get(swarm=swarm)


def test_the_page_shows_a_waiting_plan_with_its_estimate_and_buttons(alice, alice_client):
    swarm = awaiting_plan(alice)
    page = alice_client.get(f"/swarms/{swarm.id}").content.decode()
    assert 'id="plan-approval"' in page and "$0.012 – $0.34" in page
    assert "after 1" in page and "its output needs your approval" in page
    assert "Approve and start" in page and "Reject and plan again" in page and "Reject and stop" in page
    assert_harmless(page)


def test_approving_and_rejecting_a_plan_from_the_page(alice, alice_client):
    swarm = awaiting_plan(alice)
    response = alice_client.post(f"/swarms/{swarm.id}/approve", {"start": "1"})
    assert response.status_code == 302
    swarm.refresh_from_db()
    assert swarm.status == "executing" and swarm.start_requested

    other = awaiting_plan(alice)
    empty = alice_client.post(f"/swarms/{other.id}/reject", {"feedback": ""}, follow=True)
    assert "Say what to change" in empty.content.decode()
    assert Swarm.objects.get(pk=other.id).status == "awaiting_approval"
    alice_client.post(f"/swarms/{other.id}/reject", {"feedback": "Fewer tasks"})
    other.refresh_from_db()
    assert (other.status, other.plan_feedback) == ("planning", "Fewer tasks")

    third = awaiting_plan(alice)
    alice_client.post(f"/swarms/{third.id}/reject", {"feedback": "ignored", "cancel": "1"})
    assert Swarm.objects.get(pk=third.id).status == "stopped"


def test_a_waiting_output_is_shown_safely_and_approved_from_the_page(alice, alice_client):
    swarm, task = awaiting_output(alice)
    page = alice_client.get(f"/swarms/{swarm.id}").content.decode()
    assert 'id="output-approvals"' in page and "<h2>The draft</h2>" in page
    assert "Approve output" in page and "Send back for a revision" in page
    assert_harmless(page)
    alice_client.post(f"/swarms/{swarm.id}/tasks/{task.id}/approve")
    assert Task.objects.get(pk=task.id).status == "completed"


def test_a_waiting_output_is_sent_back_from_the_page(alice, alice_client):
    swarm, task = awaiting_output(alice)
    alice_client.post(f"/swarms/{swarm.id}/tasks/{task.id}/reject", {"feedback": "Add tests"})
    task.refresh_from_db()
    assert (task.status, task.review_feedback, task.revision_count) == ("pending", "Add tests", 1)


def test_another_users_gates_are_not_found(alice, bob):
    swarm, task = awaiting_output(alice)
    client = logged_in(bob)
    assert client.post(f"/swarms/{swarm.id}/tasks/{task.id}/approve").status_code == 404
    assert client.post(f"/swarms/{swarm.id}/approve").status_code == 404
    assert client.post(f"/swarms/{swarm.id}/clone").status_code == 404
    assert Task.objects.get(pk=task.id).status == "awaiting_approval"


def test_retry_and_clone_from_the_page(alice, alice_client):
    swarm = build_swarm(alice, tasks=[{"name": "Flaky", "description": "Sometimes fails"}])
    Task.objects.filter(swarm=swarm).update(status="failed", error="boom", failure_reason="claude_error")
    Swarm.objects.filter(pk=swarm.id).update(status="failed", started_at=timezone.now())
    task = Task.objects.get(swarm=swarm)
    page = alice_client.get(f"/swarms/{swarm.id}").content.decode()
    assert 'id="retry-panel"' in page and 'id="clone-form"' in page
    alice_client.post(f"/swarms/{swarm.id}/tasks/{task.id}/retry")
    assert Task.objects.get(pk=task.id).status == "pending"
    assert Swarm.objects.get(pk=swarm.id).status == "executing"
    response = alice_client.post(f"/swarms/{swarm.id}/clone")
    clone = Swarm.objects.get(cloned_from=swarm.id)
    assert response["Location"] == f"/swarms/{clone.id}" and clone.status == "ready"


def test_the_create_form_can_ask_for_plan_approval(alice, alice_client):
    from tests.test_ui import valid_form

    alice_client.post("/", valid_form(approve_plan="on"))
    assert Swarm.objects.get(owner=alice).options.get("approvePlan") is True


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    return client


def run_action(client, action, swarm):
    return client.post(
        "/admin/swarms/swarm/", {"action": action, "_selected_action": [swarm.id]}, follow=True
    ).content.decode()


def test_admin_actions_approve_retry_and_clone(admin_client, alice):
    plan = awaiting_plan(alice)
    run_action(admin_client, "approve_plans", plan)
    assert Swarm.objects.get(pk=plan.id).status == "ready"
    stop = awaiting_plan(alice)
    run_action(admin_client, "reject_plans", stop)
    assert Swarm.objects.get(pk=stop.id).status == "stopped"

    swarm, task = awaiting_output(alice)
    run_action(admin_client, "approve_outputs", swarm)
    assert Task.objects.get(pk=task.id).status == "completed"
    assert "no task output awaiting approval" in run_action(admin_client, "approve_outputs", swarm)

    Task.objects.filter(pk=task.id).update(status="failed")
    Swarm.objects.filter(pk=swarm.id).update(status="failed")
    run_action(admin_client, "retry_failed_tasks", swarm)
    assert Task.objects.get(pk=task.id).status == "pending"

    page = run_action(admin_client, "clone_swarms", swarm)
    clone = Swarm.objects.get(cloned_from=swarm.id)
    assert f"as {clone.id}" in page and clone.owner.username == "root"
    detail = admin_client.get(admin_url(plan)).content.decode()
    assert "Plan estimate" in detail


def test_admin_sends_waiting_outputs_back_with_feedback(admin_client, alice):
    swarm, task = awaiting_output(alice)
    ask = {"action": "send_back_outputs", "_selected_action": [swarm.id]}
    page = admin_client.post("/admin/swarms/swarm/", ask).content.decode()
    assert "Send task outputs back for a revision" in page and "1 output(s) awaiting approval" in page
    assert Task.objects.get(pk=task.id).status == "awaiting_approval"  # nothing happens before the form

    refused = admin_client.post("/admin/swarms/swarm/", {**ask, "apply": "1", "feedback": "bad \x07 bell"})
    assert "control character (U+0007)" in refused.content.decode()
    blank = admin_client.post("/admin/swarms/swarm/", {**ask, "apply": "1", "feedback": "  "})
    assert "This field is required" in blank.content.decode()
    assert Task.objects.get(pk=task.id).status == "awaiting_approval"

    done = admin_client.post(
        "/admin/swarms/swarm/",
        {**ask, "apply": "1", "feedback": "Name the tables in the plural"},
        follow=True,
    ).content.decode()
    assert "Sent back 1 task output(s) for a revision." in done
    revised = Task.objects.get(pk=task.id)
    assert revised.status == "pending" and revised.revision_count == 1
    assert revised.review_feedback == "Name the tables in the plural" and revised.feedback_from == "approver"
    again = admin_client.post("/admin/swarms/swarm/", {**ask, "apply": "1", "feedback": "More"}, follow=True)
    assert "has no task output awaiting approval" in again.content.decode()
