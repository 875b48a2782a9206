"""The results page's "Spend by agent" adds up (issue 13, item 7): the calls no agent made
(planning, reviews outside hierarchical mode) have rows of their own; the live page's state JSON
carries task spend, so the page can catch up after a stop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from tasks.models import ClaudeCall
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def call(swarm, role, *, agent=None, task=None, cost="0.001000", tokens=(100, 50)):
    return ClaudeCall.objects.create(
        swarm=swarm,
        task=task,
        agent=agent,
        role=role,
        model="m",
        outcome="ok",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=Decimal(cost),
    )


def test_spend_by_agent_lists_the_planner_and_reviewer_calls_of_no_agent(alice, alice_client):
    swarm = build_swarm(alice, tasks=[{"name": "Write it"}])
    task = swarm.tasks.get()
    call(swarm, "planner", cost="0.002500", tokens=(1000, 200))
    call(swarm, "reviewer", task=task, cost="0.000700")
    call(swarm, "reviewer", task=task, cost="0.000300")
    call(swarm, "agent", task=task, agent=swarm.agents.get(), cost="0.004000")  # billed to its agent
    page = alice_client.get(f"/swarms/{swarm.id}/results").content.decode()
    section = page[page.index("Spend by agent") : page.index("agent-spend-note")]
    assert '<td>Planning (no agent)</td><td class="num">1200</td><td class="num">$0.0025</td>' in section
    assert '<td>Reviews (no agent)</td><td class="num">300</td><td class="num">$0.0010</td>' in section
    assert "Calls of agents since removed" not in section  # every agent call has its agent
    assert "Swarm total" in section


def test_no_rows_for_calls_that_cost_nothing(alice, alice_client):
    swarm = build_swarm(alice)
    page = alice_client.get(f"/swarms/{swarm.id}/results").content.decode()
    assert "(no agent)" not in page


def test_the_state_json_carries_each_tasks_spend(alice, alice_client):
    swarm = build_swarm(alice, tasks=[{"name": "Write it"}])
    task = swarm.tasks.get()
    type(task).objects.filter(pk=task.pk).update(input_tokens=7, output_tokens=3, cost_usd=Decimal("0.5"))
    body = alice_client.get(f"/swarms/{swarm.id}/state").json()
    assert body["tasks"] == [
        {
            "id": task.id,
            "spend": {
                "inputTokens": 7,
                "outputTokens": 3,
                "totalTokens": 10,
                "costUsd": 0.5,
                "text": "10 tokens · $0.5000",
            },
        }
    ]
    assert set(body) == {"swarm", "agents", "tasks"}
