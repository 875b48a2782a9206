"""Approval gates over the WebSocket: `approve` and `reject` commands, for the plan and for a
task's output, with the REST API's rules (write permission, tenancy, feedback or cancel)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm
from tests.conftest import client_for
from tests.test_websocket import connected_as

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gates(alice, bob):
    """A plan awaiting approval, and an executing swarm whose task output awaits approval."""
    plan = build_swarm(alice, tasks=[{"name": "Design", "description": "Design the schema"}])
    Swarm.objects.filter(pk=plan.id).update(status="awaiting_approval", approval_since=timezone.now())
    outputs = build_swarm(
        alice,
        tasks=[
            {"name": "Draft", "description": "Draft the plan", "requires_approval": True},
            {"name": "Other", "description": "Draft another plan", "requires_approval": True},
        ],
    )
    Swarm.objects.filter(pk=outputs.id).update(
        status="executing", started_at=timezone.now(), approval_since=timezone.now()
    )
    Task.objects.filter(swarm=outputs).update(
        status="awaiting_approval", output="the draft", awaiting_since=timezone.now()
    )
    return {
        "plan": plan,
        "outputs": outputs,
        "draft": Task.objects.get(swarm=outputs, name="Draft"),
        "other": Task.objects.get(swarm=outputs, name="Other"),
        "alice": client_for(alice).raw_key,
        "reader": client_for(alice, ("read",)).raw_key,
        "bob": client_for(bob).raw_key,
    }


@database_sync_to_async
def row(model, pk):
    return model.objects.get(pk=pk)


async def reply_to(communicator, **content):
    await communicator.send_json_to({"type": "command", **content})
    while True:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] in ("command_result", "error"):
            return message


async def test_the_plan_is_approved_over_the_socket(gates):
    plan = gates["plan"]
    socket = await connected_as(gates["alice"])
    result = await reply_to(socket, swarmId=plan.id, action="approve")
    assert result == {"type": "command_result", "swarmId": plan.id, "action": "approve", "status": "ready"}
    assert (await row(Swarm, plan.id)).status == "ready"
    again = await reply_to(socket, swarmId=plan.id, action="approve")
    assert again["code"] == "conflict" and "it is ready" in again["message"]
    await socket.disconnect()


async def test_the_plan_is_rejected_with_feedback_or_cancelled_over_the_socket(gates):
    plan = gates["plan"]
    socket = await connected_as(gates["alice"])
    missing = await reply_to(socket, swarmId=plan.id, action="reject")
    assert missing["code"] == "bad_message" and "feedback" in missing["message"]
    result = await reply_to(socket, swarmId=plan.id, action="reject", feedback="Use one agent only")
    assert result["status"] == "planning"
    swarm = await row(Swarm, plan.id)
    assert (swarm.plan_feedback, swarm.plan_revisions) == ("Use one agent only", 1)
    await database_sync_to_async(Swarm.objects.filter(pk=plan.id).update)(status="awaiting_approval")
    stopped = await reply_to(socket, swarmId=plan.id, action="reject", cancel=True)
    assert stopped["status"] == "stopped"
    await socket.disconnect()


async def test_task_outputs_are_approved_and_rejected_over_the_socket(gates):
    swarm, draft, other = gates["outputs"], gates["draft"], gates["other"]
    socket = await connected_as(gates["alice"])
    approved = await reply_to(socket, swarmId=swarm.id, action="approve", taskId=draft.id)
    assert approved == {
        "type": "command_result", "swarmId": swarm.id, "action": "approve", "status": "completed",
        "taskId": draft.id,
    }  # fmt: skip
    assert (await row(Swarm, swarm.id)).approval_since is not None  # Other still waits
    rejected = await reply_to(socket, swarmId=swarm.id, action="reject", taskId=other.id, feedback="Shorter")
    assert rejected["status"] == "pending" and rejected["taskId"] == other.id
    task = await row(Task, other.id)
    assert (task.review_feedback, task.feedback_from, task.revision_count) == ("Shorter", "approver", 1)
    assert (await row(Swarm, swarm.id)).approval_since is None  # no gate open: the clock runs again
    await socket.disconnect()


async def test_gate_commands_need_write_permission_and_the_callers_swarm(gates):
    swarm, draft, plan = gates["outputs"], gates["draft"], gates["plan"]
    reader = await connected_as(gates["reader"])
    refused = await reply_to(reader, swarmId=swarm.id, action="approve", taskId=draft.id)
    assert refused["code"] == "forbidden"
    outsider = await connected_as(gates["bob"])
    hidden = await reply_to(outsider, swarmId=plan.id, action="approve")
    assert hidden["code"] == "not_found"
    owner = await connected_as(gates["alice"])
    elsewhere = await reply_to(owner, swarmId=plan.id, action="approve", taskId=draft.id)
    assert elsewhere["code"] == "not_found" and draft.id in elsewhere["message"]
    bad = await reply_to(owner, swarmId=swarm.id, action="reject", taskId=draft.id, feedback="x", cancel=True)
    assert bad["code"] == "bad_message"
    assert (await row(Task, draft.id)).status == "awaiting_approval"
    assert (await row(Swarm, plan.id)).status == "awaiting_approval"
    for socket in (reader, outsider, owner):
        await socket.disconnect()
