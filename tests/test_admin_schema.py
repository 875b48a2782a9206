"""Operators' admin and the OpenAPI schema."""

from __future__ import annotations

import pytest
import yaml
from openapi_spec_validator import validate

from swarms.models import Swarm
from swarms.services import swarm_add_task as task_create
from swarms.services import swarm_spawn_agent as agent_spawn
from tests.helpers import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model",
    [
        "swarms/swarm",
        "events/logentry",
        "events/event",
        "agents/agent",
        "tasks/task",
        "tasks/claudecall",
        "workspaces/workspacefile",
        "access/apikey",
    ],
)
def test_every_model_has_an_admin_list_with_filters_and_search(admin_client_logged_in, swarm_of_alice, model):
    response = admin_client_logged_in.get(f"/admin/{model}/?q=a")
    assert response.status_code == 200


def test_the_swarm_page_shows_agents_and_tasks_inline(admin_client_logged_in, swarm_of_alice):
    agent_spawn(swarm_id=swarm_of_alice.id, type="coder", name="inline-coder")
    task_create(
        swarm_id=swarm_of_alice.id, name="Inline task", description="Visible on the swarm page", type="coding"
    )
    page = admin_client_logged_in.get(admin_url(swarm_of_alice)).content.decode()
    assert "inline-coder" in page and "Inline task" in page


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        ("ready", "start_swarms", "executing"),
        ("executing", "pause_swarms", "paused"),
        ("paused", "resume_swarms", "executing"),
        ("executing", "stop_swarms", "stopped"),
    ],
)
def test_admin_actions_use_the_services(admin_client_logged_in, swarm_of_alice, status, action, expected):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(status=status)
    admin_client_logged_in.post(
        "/admin/swarms/swarm/", {"action": action, "_selected_action": [swarm_of_alice.id]}
    )
    swarm = Swarm.objects.get(pk=swarm_of_alice.id)
    assert swarm.status == expected
    assert swarm.events.filter(type__startswith="swarm.").count() >= 2  # created + the action's event


def test_an_illegal_admin_action_is_reported_not_applied(admin_client_logged_in, swarm_of_alice):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(status="completed")
    response = admin_client_logged_in.post(
        "/admin/swarms/swarm/",
        {"action": "resume_swarms", "_selected_action": [swarm_of_alice.id]},
        follow=True,
    )
    assert "Cannot resume" in response.content.decode()
    assert Swarm.objects.get(pk=swarm_of_alice.id).status == "completed"


def test_result_fields_are_read_only_in_the_admin(admin_client_logged_in, swarm_of_alice):
    task = task_create(
        swarm_id=swarm_of_alice.id, name="Read only", description="Results are the engine's", type="coding"
    )
    page = admin_client_logged_in.get(admin_url(task)).content.decode()
    assert 'name="output"' not in page and 'name="quality"' not in page
    assert 'name="name"' in page


def test_the_openapi_schema_is_valid_and_covers_every_endpoint(anon_client):
    response = anon_client.get("/api/schema")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate(schema)
    paths = set(schema["paths"])
    for path in [
        "/api/health",
        "/api/system/stats",
        "/api/swarm/create",
        "/api/swarms",
        "/api/swarm/{swarm_id}",
        "/api/swarm/{swarm_id}/start",
        "/api/swarm/{swarm_id}/pause",
        "/api/swarm/{swarm_id}/resume",
        "/api/swarm/{swarm_id}/stop",
        "/api/swarm/{swarm_id}/agents",
        "/api/swarm/{swarm_id}/agents/{agent_id}",
        "/api/swarm/{swarm_id}/tasks",
        "/api/swarm/{swarm_id}/tasks/{task_id}/assign",
        "/api/swarm/{swarm_id}/results",
        "/api/swarm/{swarm_id}/metrics",
        "/api/swarm/{swarm_id}/logs",
        "/api/keys",
        "/api/keys/{key_id}",
        "/api/auth/token",
        "/api/auth/token/refresh",
    ]:
        assert path in paths, path
    request = schema["components"]["schemas"]["SwarmCreateRequest"]
    assert request["required"] == ["objective"]
    assert request["properties"]["objective"]["minLength"] == 10
    assert request["properties"]["maxAgents"]["maximum"] == 50
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


def test_swagger_ui_is_served_without_a_cdn_or_inline_script(anon_client):
    page = anon_client.get("/api/docs")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
    assert b"cdn.jsdelivr" not in page.content
    assert "'unsafe-inline'" not in page["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    starter = anon_client.get("/api/docs?script=")
    assert starter.status_code == 200 and b"SwaggerUIBundle" in starter.content
