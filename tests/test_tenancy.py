"""Every swarm belongs to its creator: an outsider gets 404 on every endpoint × method with an id."""

from __future__ import annotations

import pytest

from access.models import ApiKey, hash_key
from swarms.models import Swarm
from swarms.services import swarm_add_task as task_create
from swarms.services import swarm_spawn_agent as agent_spawn
from workspaces.services import file_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_world(swarm_of_alice):
    agent = agent_spawn(swarm_id=swarm_of_alice.id, type="coder")
    task = task_create(
        swarm_id=swarm_of_alice.id, name="A task", description="Do something useful", type="coding"
    )
    file_write(swarm_id=swarm_of_alice.id, path="src/app.py", content="print('secret')\n")
    return swarm_of_alice, agent, task


def endpoints(swarm, agent, task):
    s = f"/api/swarm/{swarm.id}"
    return [
        ("get", s, None),
        ("delete", s, None),
        ("post", f"{s}/start", None),
        ("post", f"{s}/pause", None),
        ("post", f"{s}/resume", None),
        ("post", f"{s}/stop", None),
        ("get", f"{s}/agents", None),
        ("post", f"{s}/agents", {"type": "coder"}),
        ("get", f"{s}/agents/{agent.id}", None),
        ("delete", f"{s}/agents/{agent.id}", None),
        ("get", f"{s}/tasks", None),
        ("post", f"{s}/tasks", {"name": "Sneaky", "description": "An injected task", "type": "coding"}),
        ("post", f"{s}/tasks/{task.id}/assign", {"agentId": agent.id}),
        ("get", f"{s}/results", None),
        ("get", f"{s}/metrics", None),
        ("get", f"{s}/logs", None),
        ("get", f"{s}/workspace", None),
        ("get", f"{s}/workspace/src/app.py", None),
        ("get", f"{s}/workspace/src/app.py?raw=1", None),
        ("get", f"{s}/workspace/src/app.py?history=1", None),
        ("get", f"{s}/workspace.zip", None),
    ]


def test_an_outsider_gets_404_everywhere_and_changes_nothing(client_of_bob, alices_world):
    swarm, agent, task = alices_world
    for method, url, body in endpoints(swarm, agent, task):
        response = getattr(client_of_bob, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["error"] == "Not found"
        assert swarm.id not in str(response.json().get("details", ""))
    swarm.refresh_from_db()
    assert swarm.status == "planning"
    assert swarm.agents.count() == 1 and swarm.tasks.count() == 1


def test_an_outsider_does_not_see_the_swarm_in_lists(client_of_bob, alices_world):
    assert client_of_bob.get("/api/swarms").json()["count"] == 0


def test_an_outsider_404_matches_a_missing_swarm_404(client_of_bob, alices_world):
    swarm = alices_world[0]
    real = client_of_bob.get(f"/api/swarm/{swarm.id}").json()
    missing = client_of_bob.get("/api/swarm/swarm_doesnotexist_000000000").json()
    assert real["error"] == missing["error"] and real.keys() == missing.keys()


def test_an_agent_or_task_of_another_swarm_under_this_swarm_path_is_404(client_of_alice, alices_world, alice):
    from swarms.services import swarm_create

    _, agent, task = alices_world
    other = swarm_create(owner=alice, objective="A second objective of alice")
    assert client_of_alice.get(f"/api/swarm/{other.id}/agents/{agent.id}").status_code == 404
    assert client_of_alice.delete(f"/api/swarm/{other.id}/agents/{agent.id}").status_code == 404


def test_staff_see_and_manage_every_swarm(client_of_staff, alices_world):
    swarm, agent, task = alices_world
    for method, url, _body in endpoints(swarm, agent, task):
        if method == "get":
            assert getattr(client_of_staff, method)(url).status_code == 200, url
    assert client_of_staff.get("/api/swarms").json()["count"] == 1
    assert client_of_staff.post(f"/api/swarm/{swarm.id}/stop").status_code == 200
    assert Swarm.objects.get(pk=swarm.id).status == "stopped"


def test_api_keys_are_private_to_their_owner(client_of_alice, client_of_bob):
    listing = client_of_bob.get("/api/keys").json()
    alices = ApiKey.objects.get(key_hash=hash_key(client_of_alice.raw_key))
    assert alices.id not in str(listing)


def test_a_task_or_agent_of_a_swarm_one_cannot_see_is_404_not_a_conflict(
    client_of_bob, client_of_staff, bob, staff, alices_world
):
    """Assigning across swarms is a 409 only when the caller can see the other swarm: an outsider
    learns nothing of it (404), staff see every swarm (409)."""
    from swarms.services import swarm_create

    _, agent, task = alices_world
    for client, owner in ((client_of_bob, bob), (client_of_staff, staff)):
        own = swarm_create(owner=owner, objective="An objective of their own")
        own_agent = agent_spawn(swarm_id=own.id, type="coder")
        own_task = task_create(swarm_id=own.id, name="Own", description="Their own task", type="coding")
        url = f"/api/swarm/{own.id}/tasks"
        foreign_task = client.post(f"{url}/{task.id}/assign", {"agentId": own_agent.id}, format="json")
        foreign_agent = client.post(f"{url}/{own_task.id}/assign", {"agentId": agent.id}, format="json")
        expected = 409 if owner.is_staff else 404
        assert (foreign_task.status_code, foreign_agent.status_code) == (expected, expected), owner
        if expected == 404:
            assert task.swarm_id not in str(foreign_task.json()) + str(foreign_agent.json())
