"""People in the loop: the plan gate (options.approvePlan) and the task gate (requiresApproval),
through the REST API, with the real planner, runner and fake Claude."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from engine import housekeeping
from engine import plans as planning
from events.models import Event
from swarms.models import Strategy, Swarm
from swarms.services import swarm_start
from swarms.strategies import BuiltinStrategy, TaskTemplate
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.conftest import client_for
from tests.helpers import wait_for, wait_for_status
from tests.test_planning import GOOD_PLAN

pytestmark = pytest.mark.django_db(transaction=True)
OBJECTIVE = "Build a REST API for user management"


def create_gated(client, **options):
    response = client.post(
        "/api/swarm/create",
        {"objective": OBJECTIVE, "options": {"approvePlan": True, "review": False, **options}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["swarmId"]


def planner_requests(fake):
    return [r for r in fake.requests if r["body"].get("tool_choice", {}).get("name") == "submit_plan"]


def event_types(swarm_id):
    return list(Event.objects.filter(swarm_id=swarm_id).order_by("seq").values_list("type", flat=True))


def gated_task_swarm(alice, **extra):
    """A reviewed output gates B: A needs approval, B builds on it."""
    return build_swarm(
        alice,
        options={"review": False},
        tasks=[
            {"name": "Draft", "description": "Draft the migration plan", "requires_approval": True},
            {"name": "Apply", "description": "Apply the migration plan", "depends_on": [0]},
        ],
        **extra,
    )


# --- the plan gate ------------------------------------------------------------------------------


def test_a_plan_waits_for_approval_with_its_graph_and_cost_estimate(workers, fake_claude, client_of_alice):
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    swarm_id = create_gated(client_of_alice)
    wait_for_status(swarm_id, "awaiting_approval")
    data = client_of_alice.get(f"/api/swarm/{swarm_id}").json()["data"]
    assert data["status"] == "awaiting_approval" and data["awaitingApprovalSince"]
    plan = data["plan"]
    assert [(a["name"], a["type"]) for a in plan["agents"]] == [
        ("designer", "architect"),
        ("builder", "coder"),
    ]
    names = {t["id"]: t["name"] for t in plan["tasks"]}
    # each task's dependencies in their sequence order
    assert [(t["name"], [names[d] for d in t["dependencies"]]) for t in plan["tasks"]] == [
        ("Design", []),
        ("Implement", ["Design"]),
        ("Document", ["Design", "Implement"]),
    ]
    estimate = plan["estimatedCost"]
    assert 0 < estimate["lowUsd"] < estimate["highUsd"] and estimate["tasks"] == 3
    assert estimate["models"]["agent"] == "claude-sonnet-5-5" and estimate["planningSpentUsd"] > 0
    types = event_types(swarm_id)
    assert types.index("swarm.planned") < types.index("swarm.awaiting_approval")
    assert "swarm.started" not in types
    waiting = Event.objects.get(swarm_id=swarm_id, type="swarm.awaiting_approval").data
    assert waiting["plan"]["estimatedCost"] == estimate and len(waiting["plan"]["tasks"]) == 3
    assert len(fake_claude.requests) == 1  # nothing runs before approval

    response = client_of_alice.post(f"/api/swarm/{swarm_id}/approve")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and "start it" in response.json()["message"]
    assert Swarm.objects.get(pk=swarm_id).approval_since is None
    assert client_of_alice.post(f"/api/swarm/{swarm_id}/start").status_code == 200
    wait_for_status(swarm_id, "completed")
    assert "swarm.approved" in event_types(swarm_id)
    ran = (
        ClaudeCall.objects.filter(swarm_id=swarm_id).exclude(role="planner").aggregate(c=Sum("cost_usd"))["c"]
    )
    assert estimate["lowUsd"] <= float(ran) <= estimate["highUsd"]  # the range held for this run


def test_a_start_requested_before_approval_runs_on_approval(workers, fake_claude, client_of_alice):
    swarm_id = create_gated(client_of_alice)
    swarm_start(swarm_id=swarm_id)  # during planning: remembered
    wait_for_status(swarm_id, "awaiting_approval")
    again = client_of_alice.post(f"/api/swarm/{swarm_id}/start")
    assert again.status_code == 409 and "already requested" in again.json()["message"]
    response = client_of_alice.post(f"/api/swarm/{swarm_id}/approve")
    assert response.json()["status"] == "executing"
    wait_for_status(swarm_id, "completed")


def test_rejecting_a_plan_with_feedback_plans_once_more_and_the_planner_sees_it(
    workers, fake_claude, client_of_alice
):
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    swarm_id = create_gated(client_of_alice)
    wait_for_status(swarm_id, "awaiting_approval")
    first_ids = set(Task.objects.filter(swarm_id=swarm_id).values_list("id", flat=True))
    feedback = "Drop the documentation task and use a tester for the endpoints"
    response = client_of_alice.post(f"/api/swarm/{swarm_id}/reject", {"feedback": feedback}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "planning"
    wait_for_status(swarm_id, "awaiting_approval")

    asked = planner_requests(fake_claude)
    assert len(asked) == 2  # exactly one more planning call
    assert feedback not in asked[0]["text"]
    assert feedback in asked[1]["text"]
    assert (
        "rejected the previous plan" in asked[1]["text"]
        and "3. Document (coder), after 1, 2" in asked[1]["text"]
    )
    assert list(
        ClaudeCall.objects.filter(swarm_id=swarm_id, role="planner").values_list("revision", flat=True)
    ) == [0, 2]  # a new logical call: the rejected plan's answer is not reused
    assert not Task.objects.filter(pk__in=first_ids).exists()  # the rejected plan's tasks are gone
    plan = client_of_alice.get(f"/api/swarm/{swarm_id}").json()["data"]["plan"]
    assert plan["revisions"] == 1 and plan["feedback"] == feedback
    rejected = Event.objects.get(swarm_id=swarm_id, type="swarm.rejected").data
    assert rejected == {"status": "planning", "feedback": feedback, "replan": True}


def test_rejecting_a_plan_with_cancel_stops_the_swarm(workers, fake_claude, client_of_alice):
    swarm_id = create_gated(client_of_alice)
    wait_for_status(swarm_id, "awaiting_approval")
    response = client_of_alice.post(f"/api/swarm/{swarm_id}/reject", {"cancel": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "stopped"
    swarm = Swarm.objects.get(pk=swarm_id)
    assert swarm.failure_reason == "plan rejected"
    assert set(Task.objects.filter(swarm=swarm).values_list("status", flat=True)) == {"cancelled"}
    assert len(planner_requests(fake_claude)) == 1


def test_a_reject_needs_feedback_or_cancel_and_only_a_waiting_plan_can_be_judged(client_of_alice, alice):
    swarm = build_swarm(alice)  # ready: no plan awaits approval
    Swarm.objects.filter(pk=swarm.id).update(status="awaiting_approval")
    url = f"/api/swarm/{swarm.id}/reject"
    empty = client_of_alice.post(url, {}, format="json")
    assert empty.status_code == 400 and empty.json()["details"][0]["field"] == "feedback"
    both = client_of_alice.post(url, {"feedback": "x", "cancel": True}, format="json")
    assert both.status_code == 400 and both.json()["details"][0]["field"] == "cancel"
    typo = client_of_alice.post(url, {"feedbak": "x"}, format="json")
    assert typo.status_code == 400 and typo.json()["details"][0]["field"] == "feedbak"
    Swarm.objects.filter(pk=swarm.id).update(status="ready")
    approve = client_of_alice.post(f"/api/swarm/{swarm.id}/approve")
    assert approve.status_code == 409 and "it is ready" in approve.json()["message"]
    assert client_of_alice.post(url, {"feedback": "More tests"}, format="json").status_code == 409


def test_only_writers_may_approve_or_reject(alice, bob, client_of_bob):
    swarm = gated_task_swarm(alice)
    Swarm.objects.filter(pk=swarm.id).update(status="awaiting_approval")
    task = Task.objects.get(swarm=swarm, name="Draft")
    Task.objects.filter(pk=task.id).update(status="awaiting_approval", output="draft")
    reader = client_for(alice, ("read",))
    base = f"/api/swarm/{swarm.id}"
    commands = [
        (f"{base}/approve", {}),
        (f"{base}/reject", {"feedback": "No"}),
        (f"{base}/tasks/{task.id}/approve", {}),
        (f"{base}/tasks/{task.id}/reject", {"feedback": "No"}),
        (f"{base}/tasks/{task.id}/retry", {}),
        (f"{base}/clone", {}),
    ]
    for url, body in commands:
        refused = reader.post(url, body, format="json")
        assert refused.status_code == 403, url
        assert "lacks the 'write' permission" in refused.json()["message"]
        assert client_of_bob.post(url, body, format="json").status_code == 404, url  # another tenant's
    assert reader.get(base).status_code == 200  # reading the plan is allowed
    assert Swarm.objects.get(pk=swarm.id).status == "awaiting_approval"
    assert Task.objects.get(pk=task.id).status == "awaiting_approval"


# --- the task gate ------------------------------------------------------------------------------


def test_a_task_output_waits_for_approval_and_its_dependents_wait_with_it(workers, fake_claude, alice):
    client = client_for(alice)
    swarm = gated_task_swarm(alice)
    swarm_start(swarm_id=swarm.id)
    draft = wait_for(
        lambda: Task.objects.filter(swarm=swarm, name="Draft", status="awaiting_approval").first()
    )
    listed = {t["name"]: t for t in client.get(f"/api/swarm/{swarm.id}/tasks").json()["tasks"]}
    assert listed["Draft"]["requiresApproval"] is True and listed["Draft"]["result"]["output"]
    assert listed["Apply"]["status"] == "pending"
    swarm.refresh_from_db()
    assert swarm.status == "executing" and swarm.approval_since is not None
    assert Event.objects.get(swarm=swarm, type="task.awaiting_approval").data["id"] == draft.id
    assert not Event.objects.filter(swarm=swarm, type="task.completed").exists()

    response = client.post(f"/api/swarm/{swarm.id}/tasks/{draft.id}/approve")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    wait_for_status(swarm.id, "completed")
    types = event_types(swarm.id)
    assert types.index("task.approved") < types.index("task.completed")
    swarm.refresh_from_db()
    assert swarm.approval_since is None and swarm.approval_waited_ms > 0
    again = client.post(f"/api/swarm/{swarm.id}/tasks/{draft.id}/approve")
    assert again.status_code == 409 and "only a task awaiting approval" in again.json()["message"]


def test_a_rejected_output_is_revised_once_with_the_feedback_in_its_prompt(workers, fake_claude, alice):
    client = client_for(alice)
    swarm = gated_task_swarm(alice)
    swarm_start(swarm_id=swarm.id)
    draft = wait_for(
        lambda: Task.objects.filter(swarm=swarm, name="Draft", status="awaiting_approval").first()
    )
    earlier = draft.output
    feedback = "Add a rollback step for every migration"
    response = client.post(
        f"/api/swarm/{swarm.id}/tasks/{draft.id}/reject", {"feedback": feedback}, format="json"
    )
    assert response.status_code == 200 and response.json()["data"]["revisions"] == 1
    wait_for(lambda: Task.objects.filter(pk=draft.id, status="awaiting_approval", revision_count=1).exists())
    revision = [
        r for r in fake_claude.requests if "# Your task: Draft" in r["text"] and feedback in r["text"]
    ]
    assert len(revision) >= 1 and "rejected your earlier answer" in revision[0]["text"]
    assert earlier[:80] in revision[0]["text"]  # the revision sees what was rejected
    assert Task.objects.get(swarm=swarm, name="Apply").status == "pending"
    assert Event.objects.get(swarm=swarm, type="task.rejected").data["feedback"] == feedback
    client.post(f"/api/swarm/{swarm.id}/tasks/{draft.id}/approve")
    wait_for_status(swarm.id, "completed")
    assert set(
        ClaudeCall.objects.filter(task=draft, role="agent", turn=1).values_list("revision", flat=True)
    ) == {0, 1}


def test_a_rejected_and_cancelled_output_cancels_its_dependents(workers, fake_claude, alice):
    client = client_for(alice)
    swarm = gated_task_swarm(alice)
    swarm_start(swarm_id=swarm.id)
    draft = wait_for(
        lambda: Task.objects.filter(swarm=swarm, name="Draft", status="awaiting_approval").first()
    )
    response = client.post(f"/api/swarm/{swarm.id}/tasks/{draft.id}/reject", {"cancel": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_for_status(swarm.id, "failed")
    assert Task.objects.get(pk=draft.id).failure_reason == "rejected"
    assert Task.objects.get(swarm=swarm, name="Apply").failure_reason == "dependency_failed"


def test_tasks_get_the_gate_from_the_api_the_planner_and_templates(
    workers, fake_claude, client_of_alice, alice
):
    swarm = build_swarm(alice)
    created = client_of_alice.post(
        f"/api/swarm/{swarm.id}/tasks",
        {"name": "Risky", "description": "Drop the old tables", "type": "coding", "requiresApproval": True},
        format="json",
    )
    assert created.status_code == 201 and created.json()["data"]["requiresApproval"] is True
    bad = client_of_alice.post(
        f"/api/swarm/{swarm.id}/tasks",
        {"name": "Risky", "description": "Drop the old tables", "type": "coding", "requiresApproval": "yes"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "requiresApproval"

    plan = copy.deepcopy(GOOD_PLAN)
    plan["tasks"][1]["requiresApproval"] = True
    fake_claude.enqueue({"tool_input": plan})
    swarm_id = client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").json()[
        "swarmId"
    ]
    wait_for_status(swarm_id, "ready")
    gated = dict(Task.objects.filter(swarm_id=swarm_id).values_list("name", "requires_approval"))
    assert gated == {"Design": False, "Implement": True, "Document": False}
    assert (
        "requiresApproval"
        in planning.plan_tool(Swarm.objects.get(pk=swarm_id))["input_schema"]["properties"]["tasks"]["items"][
            "properties"
        ]
    )

    builtin = BuiltinStrategy(
        "gated",
        agents=(("coder", "coder"),),
        tasks=(TaskTemplate("Deploy", "Deploy to production", "coding", "coder", requires_approval=True),),
    )
    template = Strategy(name="gated", template=builtin.template())  # a template row, as stored
    planned = planning.from_template(template, Swarm.objects.get(pk=swarm_id))
    assert [t.requires_approval for t in planned.tasks] == [True]


# --- timeouts -----------------------------------------------------------------------------------


def test_a_gate_waiting_past_approval_timeout_fails_the_swarm(alice, settings):
    plan_gate = build_swarm(alice)
    Swarm.objects.filter(pk=plan_gate.id).update(
        status="awaiting_approval", approval_since=timezone.now() - timedelta(seconds=30)
    )
    task_gate = gated_task_swarm(alice)
    Swarm.objects.filter(pk=task_gate.id).update(status="executing", started_at=timezone.now())
    Task.objects.filter(swarm=task_gate, name="Draft").update(
        status="awaiting_approval", awaiting_since=timezone.now() - timedelta(seconds=30)
    )
    fresh = gated_task_swarm(alice)
    Swarm.objects.filter(pk=fresh.id).update(
        status="awaiting_approval", approval_since=timezone.now() - timedelta(seconds=5)
    )
    settings.APPROVAL_TIMEOUT = None
    assert housekeeping.enforce_approval_timeouts() == 0  # the default: gates wait as long as it takes
    settings.APPROVAL_TIMEOUT = 20
    assert housekeeping.enforce_approval_timeouts() == 2
    for swarm in (plan_gate, task_gate):
        swarm.refresh_from_db()
        assert (swarm.status, swarm.failure_reason) == ("failed", "approval_timeout")
    failed = Event.objects.get(swarm=task_gate, type="swarm.failed").data
    assert failed["reason"] == "approval_timeout" and failed["approvalTimeout"] == 20 and failed["taskId"]
    assert Task.objects.get(swarm=task_gate, name="Draft").status == "cancelled"
    assert Swarm.objects.get(pk=fresh.id).status == "awaiting_approval"


def test_an_approval_that_came_first_wins_over_the_timeout(alice, settings):
    from swarms.services import swarm_approve, swarm_expire_approval

    settings.APPROVAL_TIMEOUT = 20
    long_ago = timezone.now() - timedelta(seconds=30)
    swarm = build_swarm(alice)
    Swarm.objects.filter(pk=swarm.id).update(status="awaiting_approval", approval_since=long_ago)
    swarm_approve(swarm_id=swarm.id)  # between the housekeeping's read and its lock
    assert swarm_expire_approval(swarm_id=swarm.id, waiting_before=timezone.now()) is False
    assert Swarm.objects.get(pk=swarm.id).status == "ready"


def test_time_spent_waiting_for_approval_does_not_count_toward_the_timeout(alice):
    now = timezone.now()
    swarm = gated_task_swarm(alice)
    # 100 s since it started, a 60 s timeout, but a gate open for the last 90 s: 10 s used
    Swarm.objects.filter(pk=swarm.id).update(
        status="executing", started_at=now - timedelta(seconds=100), timeout_ms=60_000,
        approval_since=now - timedelta(seconds=90),
    )  # fmt: skip
    assert housekeeping.enforce_swarm_timeouts() == 0
    # the gate closed after 90 s of waiting: 10 s used
    Swarm.objects.filter(pk=swarm.id).update(approval_since=None, approval_waited_ms=90_000)
    assert housekeeping.enforce_swarm_timeouts() == 0
    # without that wait, the same swarm is past its timeout
    Swarm.objects.filter(pk=swarm.id).update(approval_waited_ms=0)
    assert housekeeping.enforce_swarm_timeouts() == 1
    assert Swarm.objects.get(pk=swarm.id).failure_reason == "timeout"


def test_the_estimate_follows_the_configured_prices_and_the_plan(alice, settings):
    from engine.estimates import plan_cost
    from engine.plans import PlannedTask

    swarm = build_swarm(alice, options={"review": False})
    design = PlannedTask(
        name="Design", description="Design the schema", type="design", agent_type="architect"
    )
    build = PlannedTask(
        name="Build", description="Build it", type="coding", agent_type="coder", dependencies=[0]
    )
    settings.CLAUDE_PRICES = {"claude-sonnet-5-5": [3, 15]}
    one, two = plan_cost(swarm, [design]), plan_cost(swarm, [design, build])
    assert 0 < one["lowUsd"] < two["lowUsd"] and one["highUsd"] < two["highUsd"]
    settings.CLAUDE_PRICES = {"claude-sonnet-5-5": [6, 30]}
    doubled = plan_cost(swarm, [design, build])
    assert doubled["lowUsd"] == pytest.approx(2 * two["lowUsd"], rel=0.01)
    assert doubled["highUsd"] == pytest.approx(2 * two["highUsd"], rel=0.01)
    assert doubled["lowTokens"] == two["lowTokens"]


def test_the_estimate_prices_a_custom_type_at_its_own_model_and_turns(alice, settings):
    from agents.services import agent_type_create
    from engine.estimates import plan_cost
    from engine.plans import PlannedTask

    swarm = build_swarm(alice, options={"review": False})
    agent_type_create(
        owner=alice, name="cheap-writer", system_prompt="You write short, plain answers.",
        capabilities=["documentation"], model="claude-haiku-4-5", max_turns=2,
    )  # fmt: skip
    settings.CLAUDE_PRICES = {"claude-sonnet-5-5": [3, 15], "claude-haiku-4-5": [1, 5]}
    task = {"name": "Write", "description": "Write the guide", "type": "custom"}
    default = plan_cost(swarm, [PlannedTask(**task, agent_type="documenter")])
    cheap = plan_cost(swarm, [PlannedTask(**task, agent_type="cheap-writer")])
    assert cheap["highUsd"] < default["highUsd"] / 3  # a third of the price, and 2 turns at most, not 6
    assert cheap["highTokens"] < default["highTokens"]
