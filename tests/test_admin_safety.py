"""A safe admin (issue 13, item 9): every change through the services, the engine's records
read-only, the missing actions, links between a swarm's pages, and a site header."""

from __future__ import annotations

import re

import pytest

from access.models import ApiKey
from access.services import apikey_create
from agents.models import Agent
from events.models import Event, LogEntry
from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm, stored_answer
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "", "pw")


@pytest.fixture
def admin(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def graph(alice):
    return build_swarm(
        alice,
        agents=[("coder", "coder-one"), ("tester", "tester-one")],
        tasks=[{"name": "Write it"}, {"name": "Test it", "type": "testing", "depends_on": [0]}],
    )


def add_swarm(admin, root, **fields):
    data = {
        "owner": root.pk,
        "objective": "Build a REST API for user management",
        "name": "",
        "strategy": "development",
        "mode": "centralized",
        "max_agents": 3,
        "timeout_ms": "",
        "parallel": "on",
        **fields,
    }
    return admin.post("/admin/swarms/swarm/add/", data, follow=True)


def test_the_admin_has_a_site_header_and_no_empty_dramatiq_page(admin):
    page = admin.get("/admin/").content.decode()
    assert "Claude-Flow server administration" in page
    assert "django_dramatiq" not in page and "Django Dramatiq" not in page
    assert admin.get("/admin/django_dramatiq/task/").status_code == 404


def test_add_swarm_offers_the_strategies_not_free_text(admin):
    page = admin.get("/admin/swarms/swarm/add/").content.decode()
    assert re.search(r'<select name="strategy"', page)
    for strategy in ("auto", "development", "security-audit"):
        assert f'<option value="{strategy}"' in page


def test_add_swarm_goes_through_the_service(admin, root):
    response = add_swarm(admin, root)
    assert response.status_code == 200
    swarm = Swarm.objects.get()
    assert (swarm.owner, swarm.strategy, swarm.max_agents, swarm.status) == (
        root,
        "development",
        3,
        "planning",
    )
    assert swarm.name  # made from the objective, as the API does
    assert swarm.events.filter(type="swarm.created").exists()  # the service's event
    assert swarm.logs.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"strategy": "developement"}, "Select a valid choice"),
        ({"objective": "short"}, "at least 10 characters"),
        ({"max_agents": 999}, "less than or equal to 50"),
        ({"timeout_ms": 5}, "greater than or equal to 30000"),
    ],
)
def test_add_swarm_refuses_what_the_api_refuses(admin, root, fields, message):
    response = add_swarm(admin, root, **fields)
    assert message in response.content.decode()
    assert not Swarm.objects.exists()


def test_add_swarm_beyond_a_quota_says_so_and_creates_nothing(admin, root, settings):
    settings.MAX_SWARMS = 0
    response = add_swarm(admin, root)
    assert "Swarm not created" in response.content.decode()
    assert not Swarm.objects.exists()


def test_a_swarms_engine_fields_are_read_only_and_only_its_name_is_editable(admin, graph):
    page = admin.get(admin_url(graph)).content.decode()
    assert 'name="name"' in page
    for field in ("status", "objective", "strategy", "max_agents", "cost_usd", "owner"):
        assert f'name="{field}"' not in page
    # no agents or tasks added past the services: the inline formsets allow no new rows
    assert 'name="agents-MAX_NUM_FORMS" value="0"' in page and 'name="tasks-MAX_NUM_FORMS" value="0"' in page
    data = {"name": "renamed", "agents-TOTAL_FORMS": 0, "agents-INITIAL_FORMS": 2, "tasks-TOTAL_FORMS": 0}
    data.update({"tasks-INITIAL_FORMS": 2, "status": "completed", "strategy": "x"})
    admin.post(admin_url(graph), data)
    graph.refresh_from_db()
    assert graph.name == "renamed" and graph.status == "ready" and graph.strategy == "auto"


def test_the_swarm_page_links_its_tasks_agents_calls_and_events(admin, graph):
    stored_answer(graph.tasks.first(), {"content": []})
    page = admin.get(admin_url(graph)).content.decode()
    for model, count in (
        ("tasks/task", "2 tasks"),
        ("agents/agent", "2 agents"),
        ("tasks/claudecall", "1 Claude"),
    ):
        assert f"/admin/{model}/?swarm__id__exact={graph.id}" in page and count in page
    assert f"/admin/events/event/?swarm__id__exact={graph.id}" in page
    assert f"/swarms/{graph.id}" in page  # the live page
    build_swarm(graph.owner, tasks=[{"name": "Elsewhere"}])
    listing = admin.get(f"/admin/tasks/task/?swarm__id__exact={graph.id}")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "Write it" in body and "Test it" in body
    assert "Elsewhere" not in body  # another swarm's task


def test_deleting_a_swarm_goes_through_the_service_and_takes_its_records(admin, graph):
    stored_answer(graph.tasks.first(), {"content": []})
    Swarm.objects.filter(pk=graph.id).update(status="executing")
    confirm = admin.get(admin_url(graph, "delete")).content.decode()
    assert "Are you sure" in confirm and "permission to delete" not in confirm
    admin.post(admin_url(graph, "delete"), {"post": "yes"})
    assert not Swarm.objects.filter(pk=graph.id).exists()
    assert not Event.objects.filter(swarm_id=graph.id).exists()


def test_bulk_delete_of_swarms_goes_through_the_service(admin, alice, graph):
    second = build_swarm(alice)
    admin.post(
        "/admin/swarms/swarm/",
        {"action": "delete_selected", "_selected_action": [graph.id, second.id], "post": "yes"},
    )
    assert not Swarm.objects.exists()


@pytest.mark.parametrize("model", ["events/event", "events/logentry", "tasks/claudecall"])
def test_audit_rows_cannot_be_added_changed_or_deleted(admin, graph, model):
    stored_answer(graph.tasks.first(), {"content": []})
    row = {"events/event": Event, "events/logentry": LogEntry}.get(model)
    if row is None:
        from tasks.models import ClaudeCall as row
    if not row.objects.exists():
        LogEntry.objects.create(swarm=graph, level=20, source="test", message="a line")
    obj = row.objects.first()
    assert admin.get(f"/admin/{model}/add/").status_code == 403
    assert admin.get(admin_url(obj, "delete")).status_code == 403
    page = admin.get(admin_url(obj)).content.decode()
    assert 'name="_save"' not in page
    listing = admin.get(f"/admin/{model}/").content.decode()
    assert "delete_selected" not in listing
    count = row.objects.count()
    admin.post(f"/admin/{model}/", {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert row.objects.count() == count


def test_a_tasks_graph_and_results_are_read_only(admin, graph):
    task = graph.tasks.get(name="Test it")
    page = admin.get(admin_url(task)).content.decode()
    for field in ("name", "description", "priority"):
        assert f'name="{field}"' in page
    for field in ("dependencies", "swarm", "assigned_agent", "status", "pinned", "type", "output"):
        assert f'name="{field}"' not in page  # no picker listing every swarm's tasks
    assert "Write it" in page  # its dependency, shown
    assert admin.get("/admin/tasks/task/add/").status_code == 403
    assert admin.get(admin_url(task, "delete")).status_code == 403
    assert f"/admin/tasks/claudecall/?task__id__exact={task.id}" in page


def test_agents_are_read_only_and_terminated_through_the_service(admin, graph):
    agent = Agent.objects.get(name="coder-one")
    Task.objects.filter(swarm=graph, name="Write it").update(status="running", assigned_agent=agent)
    page = admin.get(admin_url(agent)).content.decode()
    assert 'name="status"' not in page and 'name="_save"' not in page
    response = admin.post(
        "/admin/agents/agent/", {"action": "terminate_agents", "_selected_action": [agent.id]}, follow=True
    )
    assert "Terminated 1 agent" in response.content.decode()
    agent.refresh_from_db()
    assert agent.status == "terminated"
    assert Task.objects.get(swarm=graph, name="Write it").status == "pending"  # handed back, as the API does
    again = admin.post(
        "/admin/agents/agent/", {"action": "terminate_agents", "_selected_action": [agent.id]}, follow=True
    )
    assert "already terminated" in again.content.decode()


def test_api_keys_are_revoked_with_an_action_not_by_editing_a_date(admin, alice):
    key, _ = apikey_create(owner=alice, name="ci", permissions=["read"])
    page = admin.get(admin_url(key)).content.decode()
    assert 'name="revoked_at"' not in page and 'name="key_hash"' not in page
    assert 'type="checkbox" name="permissions" value="write"' in page
    response = admin.post(
        "/admin/access/apikey/", {"action": "revoke_keys", "_selected_action": [key.id]}, follow=True
    )
    assert "Revoked 1 API key" in response.content.decode()
    assert ApiKey.objects.get(pk=key.id).revoked_at is not None
    again = admin.post(
        "/admin/access/apikey/", {"action": "revoke_keys", "_selected_action": [key.id]}, follow=True
    )
    assert "already revoked" in again.content.decode()


def test_api_key_permissions_are_chosen_not_typed(admin, alice):
    key, _ = apikey_create(owner=alice, name="ci", permissions=["read"])
    data = {"name": "ci", "permissions": ["write", "read"], "expires_at_0": "", "expires_at_1": ""}
    admin.post(admin_url(key), data)
    assert ApiKey.objects.get(pk=key.id).permissions == ["read", "write"]
    bad = admin.post(admin_url(key), {**data, "permissions": ["root"]})
    assert "Select a valid choice" in bad.content.decode()
    assert ApiKey.objects.get(pk=key.id).permissions == ["read", "write"]


def test_an_id_the_admin_would_misread_raw_still_links_and_opens(admin, alice, monkeypatch):
    from core import ids
    from core.adminkit import change_url

    real = ids.new_id
    monkeypatch.setattr(
        ids, "new_id", lambda prefix: "swarm_mx_23abcdefg" if prefix == "swarm" else real(prefix)
    )
    swarm = build_swarm(alice, tasks=[{"name": "Write it"}])
    assert swarm.id == "swarm_mx_23abcdefg"  # unquoted, `_23` reads as "#"
    assert admin.get(f"/admin/swarms/swarm/{swarm.id}/change/").status_code == 302  # "does not exist"
    task_page = admin.get(admin_url(swarm.tasks.get())).content.decode()
    assert f'href="{change_url(swarm)}"' in task_page  # the task links to its swarm, quoted
    swarm_page = admin.get(change_url(swarm))
    assert swarm_page.status_code == 200 and "swarm_mx_23abcdefg" in swarm_page.content.decode()
