"""Agent types and strategies in the browser UI and the admin: same rules as the API."""

from __future__ import annotations

import pytest

from agents.models import AgentType
from swarms.models import Strategy, Swarm
from tests.conftest import OBJECTIVE
from tests.helpers import admin_url
from tests.test_ui import assert_harmless, logged_in

pytestmark = pytest.mark.django_db

FORM = {
    "name": "sql-expert",
    "description": "Writes SQL",
    "system_prompt": "You are a SQL expert. Answer with one query.",
    "capabilities": "sql, analysis",
    "model": "claude-haiku-4-5",
    "tools": ["read_file", "submit_result"],
    "max_turns": "4",
}


def test_the_page_lists_the_builtins_and_the_users_own_types_and_strategies(alice, bob):
    AgentType.objects.create(owner=bob, name="bobs-type", system_prompt="You are Bob's.", capabilities=["x"])
    Strategy.objects.create(owner=alice, name="mine", guidance="Plan it my way, please.")
    Strategy.objects.create(owner=bob, name="bobs", guidance="Plan it Bob's way, please.")
    page = logged_in(alice).get("/agent-types")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-agent-type="coder"' in html and "bobs-type" not in html
    assert 'data-strategy="microservices"' in html and 'data-strategy="mine"' in html
    assert 'data-strategy="bobs"' not in html
    assert 'aria-current="page"' in html


def test_the_form_creates_a_type_with_the_apis_rules(alice):
    client = logged_in(alice)
    response = client.post("/agent-types", FORM)
    assert response.status_code == 302
    row = AgentType.objects.get(owner=alice, name="sql-expert")
    assert (row.capabilities, row.model, row.tools, row.max_turns) == (
        ["sql", "analysis"],
        "claude-haiku-4-5",
        ["read_file", "submit_result"],
        4,
    )
    assert 'data-agent-type="sql-expert"' in client.get("/agent-types").content.decode()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"system_prompt": "short"}, "at least 10"),
        ({"capabilities": "has space"}, "letters"),
        ({"name": "<script>x</script>"}, "letters"),
        ({"max_turns": "999"}, "TASK_MAX_TURNS"),
    ],
)
def test_the_form_shows_the_apis_errors(alice, change, words):
    response = logged_in(alice).post("/agent-types", {**FORM, **change})
    assert response.status_code == 400
    html = response.content.decode()
    assert words in html
    assert_harmless(html)
    assert not AgentType.objects.filter(owner=alice).exists()


def test_a_builtin_name_is_refused_on_the_form(alice):
    response = logged_in(alice).post("/agent-types", {**FORM, "name": "coder"})
    assert response.status_code == 400 and "built-in" in response.content.decode()


def test_the_dashboard_offers_the_users_own_strategies(alice, bob):
    Strategy.objects.create(owner=alice, name="mine", guidance="Plan it my way, please.")
    Strategy.objects.create(owner=bob, name="bobs", guidance="Plan it Bob's way, please.")
    client = logged_in(alice)
    html = client.get("/").content.decode()
    assert 'value="mine"' in html and 'value="bobs"' not in html
    response = client.post(
        "/", {"objective": OBJECTIVE, "strategy": "mine", "mode": "centralized", "max_agents": 3}
    )
    assert response.status_code == 302
    assert Swarm.objects.get(owner=alice).strategy == "mine"
    assert (
        logged_in(bob)
        .post("/", {"objective": OBJECTIVE, "strategy": "mine", "mode": "centralized", "max_agents": 3})
        .status_code
        == 400
    )


# --- admin -----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    return client


@pytest.mark.parametrize("model", ["agents/agenttype", "swarms/strategy"])
def test_the_admin_lists_them(admin_client, model):
    assert admin_client.get(f"/admin/{model}/?q=a").status_code == 200


def test_builtins_are_read_only_in_the_admin(admin_client):
    coder = AgentType.objects.get(owner=None, name="coder")
    page = admin_client.get(admin_url(coder))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(admin_url(coder), {"description": "x"}).status_code == 403
    assert admin_client.post(admin_url(coder, "delete"), {"post": "yes"}).status_code == 403
    auto = Strategy.objects.get(owner=None, name="auto")
    assert admin_client.post(admin_url(auto, "delete"), {"post": "yes"}).status_code == 403


def test_the_admin_creates_a_users_type_with_the_apis_rules(admin_client, alice):
    fields = {
        "name": "sql-expert",
        "owner": alice.pk,
        "description": "",
        "system_prompt": "You are a SQL expert. One query.",
        "capabilities": '["sql"]',
        "model": "",
        "tools": '["submit_result"]',
        "max_turns": "",
    }
    bad = admin_client.post("/admin/agents/agenttype/add/", {**fields, "model": "gpt-4"})
    assert bad.status_code == 200 and "Unknown model" in bad.content.decode()
    assert admin_client.post("/admin/agents/agenttype/add/", fields).status_code == 302
    assert AgentType.objects.get(owner=alice, name="sql-expert").tools == ["submit_result"]


def test_the_admin_checks_a_strategys_template(admin_client, alice):
    fields = {
        "name": "broken",
        "owner": alice.pk,
        "description": "",
        "guidance": "",
        "template": '{"agents": []}',
    }
    bad = admin_client.post("/admin/swarms/strategy/add/", fields)
    assert bad.status_code == 200 and "non-empty" in bad.content.decode()
    assert not Strategy.objects.filter(name="broken").exists()
