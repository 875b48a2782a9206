"""The Python client library (clients/python) against a real daphne server: every REST call, typed
results, typed errors carrying the API's error body, paging, 429 retried after Retry-After."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from claudeflow import (
    AsyncClient,
    AuthError,
    Client,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    Swarm,
    ValidationError,
)
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from access.services import apikey_create
from tests.client_server import live_server
from tests.conftest import OBJECTIVE, make_user

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("server_settled"),
]


@pytest.fixture(scope="module")
def server(django_db_setup: None, fake_server: Any) -> Iterator[str]:
    with live_server(fake_server.url) as base:
        yield base


def key_of(user: Any, *permissions: str) -> str:
    return apikey_create(
        owner=user, name="client", permissions=list(permissions or ("read", "write", "admin"))
    )[1]


@pytest.fixture
def client(server: str, alice: Any, fake_claude: Any) -> Iterator[Client]:
    with Client(server, api_key=key_of(alice)) as client:
        yield client


def test_a_swarm_runs_to_completion_and_every_read_is_typed(client: Client) -> None:
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=2, name="api test")
    assert isinstance(swarm, Swarm) and swarm.id.startswith("swarm_") and swarm.start_requested
    assert swarm.objective == OBJECTIVE and swarm.max_agents == 2 and swarm.name == "api test"

    final = client.swarms.wait(swarm.id, timeout=60)
    assert final.status == "completed" and final.finished
    assert final.progress.total_tasks > 0 and final.progress.completed_tasks == final.progress.total_tasks
    assert final.spend.total_tokens > 0 and final.completed_at is not None

    results = client.swarms.results(swarm.id)
    tasks = client.tasks.list(swarm.id)
    assert results.status == "completed" and set(results.outputs) == {t.id for t in tasks}
    assert all(t.status == "completed" and t.result and t.result.output for t in tasks)
    assert results.spend.cost_usd == pytest.approx(final.spend.cost_usd)
    assert set(results.spend.by_task) == {t.id for t in tasks}

    metrics = client.swarms.metrics(swarm.id)
    assert (
        metrics.swarm_id == swarm.id
        and metrics.tasks["completed"] == len(tasks)
        and metrics.reliability == 1.0
    )

    logs = client.swarms.logs(swarm.id, limit=1000)
    assert any(entry.message == "Swarm completed" for entry in logs)
    assert all(entry.level in ("warn", "error") for entry in client.swarms.logs(swarm.id, level="warn"))

    agents = client.agents.list(swarm.id)
    assert agents and all(agent.swarm_id == swarm.id for agent in agents)
    assert client.agents.get(swarm.id, agents[0].id) == agents[0]

    files = client.workspace.list(swarm.id)
    assert [entry.path for entry in files] == [entry.path for entry in results.workspace]
    if files:
        file = client.workspace.read(swarm.id, files[0].path)
        assert file.size == len(file.content.encode()) and file.version == files[0].version
        assert client.workspace.history(swarm.id, files[0].path)[-1].version >= 1
    assert client.workspace.zip(swarm.id)[:2] == b"PK"

    calls = list(client.calls.list(swarm.id, page_size=2))
    assert len(calls) == client.calls.page(swarm.id, limit=1).count > 2  # every page was read
    assert client.calls.get(swarm.id, calls[0].id)["id"] == calls[0].id

    assert client.swarms.get(swarm.id) == final
    assert swarm.id in {s.id for s in client.swarms.list(status="completed")}


def test_lifecycle_commands_and_their_conflicts(client: Client, fake_claude: Any) -> None:
    fake_claude.configure(latency_ms=400)  # the swarm runs for seconds: it cannot end before the pause
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
    paused = client.swarms.pause(swarm.id) if client.swarms.get(swarm.id).status != "planning" else None
    if paused is None:  # still planning: pause needs an executing swarm, so wait for the plan
        deadline = time.monotonic() + 20
        while client.swarms.get(swarm.id).status == "planning" and time.monotonic() < deadline:
            time.sleep(0.1)
        paused = client.swarms.pause(swarm.id)
    assert paused.status == "paused" and paused.swarm_id == swarm.id and paused.message
    assert client.swarms.resume(swarm.id).status == "executing"
    stopped = client.swarms.stop(swarm.id)
    assert stopped.status == "stopped"

    with pytest.raises(Conflict) as conflict:
        client.swarms.resume(swarm.id)
    assert conflict.value.status_code == 409 and conflict.value.body["error"] == "Conflict"
    assert conflict.value.message

    assert client.swarms.delete(swarm.id).status == "deleted"
    with pytest.raises(NotFound) as missing:
        client.swarms.get(swarm.id)
    assert missing.value.body == {"error": "Not found", "message": missing.value.message}


def test_agents_and_tasks_are_created_assigned_and_terminated(client: Client) -> None:
    swarm = client.swarms.create(OBJECTIVE, strategy="microservices", max_agents=10)
    agent = client.agents.spawn(swarm.id, "coder", name="extra-coder", capabilities={"languages": ["go"]})
    assert agent.name == "extra-coder" and agent.type == "coder" and agent.swarm_id == swarm.id
    assert agent.capabilities["languages"] == ["go"] and agent.capabilities["codeGeneration"]

    task = client.tasks.create(
        swarm.id,
        name="Write the client",
        description="Write a Go client for the API",
        type="coding",
        priority="high",
        requirements={"permissions": ["read", "write"]},
    )
    assert task.name == "Write the client" and task.priority == "high" and task.status == "pending"
    assigned = client.tasks.assign(swarm.id, task.id, agent.id)
    assert assigned["taskId"] == task.id and assigned["agentId"] == agent.id
    assert next(t for t in client.tasks.list(swarm.id) if t.id == task.id).pinned
    assert [t.id for t in client.tasks.list(swarm.id, status="pending")].count(task.id) == 1

    terminated = client.agents.terminate(swarm.id, agent.id)
    assert terminated.status == "terminated" and terminated.terminated_at is not None
    assert agent.id not in {a.id for a in client.agents.list(swarm.id, status="idle")}


def test_a_refused_request_raises_a_typed_error_with_the_api_body(
    client: Client, server: str, bob: Any
) -> None:
    with pytest.raises(ValidationError) as invalid:
        client.swarms.create("too short", max_agents=99)
    fields = {item["field"] for item in invalid.value.details}
    assert {"objective", "maxAgents"} <= fields and invalid.value.status_code == 400
    assert next(d for d in invalid.value.details if d["field"] == "maxAgents")["value"] == 99
    assert "maxAgents" in str(invalid.value)

    with pytest.raises(NotFound):
        client.swarms.get("swarm_does_not_exist")
    bobs = Client(server, api_key=key_of(bob)).swarms.create(OBJECTIVE)
    with pytest.raises(NotFound):  # another user's swarm is the same 404
        client.swarms.results(bobs.id)

    with pytest.raises(AuthError) as unauthenticated:
        Client(server, api_key="cf_not_a_key").swarms.page()
    assert unauthenticated.value.body["error"] == "Authentication required"

    reader = Client(server, api_key=key_of(bob, "read"))
    with pytest.raises(PermissionDenied):
        reader.swarms.create(OBJECTIVE)
    with pytest.raises(PermissionDenied):
        reader.keys.create("more")


def test_keys_are_created_listed_and_revoked(client: Client, server: str) -> None:
    created = client.keys.create("ci", permissions=["read"], expires_in_days=30)
    assert created.key.startswith(created.api_key.prefix) and created.api_key.permissions == ["read"]
    assert created.api_key.expires_at is not None
    listed = {key.id: key for key in client.keys.list()}
    assert listed[created.api_key.id].active and listed[created.api_key.id].name == "ci"

    ci = Client(server, api_key=created.key)
    assert ci.swarms.page().count == 0
    revoked = client.keys.revoke(created.api_key.id)
    assert revoked.revoked_at is not None and not revoked.active
    with pytest.raises(AuthError):
        ci.swarms.page()
    with pytest.raises(NotFound):
        client.keys.revoke("key_missing")


def test_list_iterates_every_page(client: Client, alice: Any) -> None:
    ids = [client.swarms.create(f"{OBJECTIVE} number {n}").id for n in range(5)]
    first = client.swarms.page(limit=2)
    assert first.count == 5 and len(first.items) == 2 and first.next and first.previous is None
    assert [s.id for s in client.swarms.list(page_size=2)] == ids[::-1]  # newest first, over 3 pages
    assert [s.id for s in client.swarms.list(page_size=2, limit=3)] == ids[::-1][:3]


def test_a_jwt_token_works_for_rest_and_the_stream(server: str, fake_claude: Any) -> None:
    user = make_user("carol")
    user.password = PBKDF2PasswordHasher().encode("pw-carol", PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])  # daphne runs the production hashers

    tokens = Client(server).auth.token("carol", "pw-carol")
    carol = Client(server, token=tokens.access)
    swarm = carol.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
    assert carol.swarms.wait(swarm.id, timeout=60).status == "completed"  # the stream took ?token=

    renewed = carol.auth.refresh(tokens.refresh)
    assert renewed.access != tokens.access
    with pytest.raises(AuthError):  # a used refresh token is refused
        carol.auth.refresh(tokens.refresh)
    carol.auth.logout(renewed.refresh)
    with pytest.raises(AuthError):
        Client(server).auth.token("carol", "wrong password")


def test_the_client_reads_its_url_and_key_from_the_environment(
    server: str, alice: Any, fake_claude: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDEFLOW_URL", server)
    monkeypatch.setenv("CLAUDEFLOW_API_KEY", key_of(alice))
    client = Client()
    assert client.base_url == server and client.health()["status"] == "healthy"
    assert client.swarms.page().count == 0
    assert client.system_stats()["server"]["activeSwarms"] >= 0


async def test_the_async_client_runs_streams_and_waits(server: str, alice: Any, fake_claude: Any) -> None:
    from asgiref.sync import sync_to_async

    key = await sync_to_async(key_of)(alice)
    async with AsyncClient(server, api_key=key) as client:
        swarm = await client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
        events = [event async for event in client.swarms.stream(swarm.id)]
        assert events[0].event_type == "swarm.created" and events[-1].event_type == "swarm.completed"
        ids = [event.event_id for event in events]
        assert ids == sorted(set(ids))
        assert (await client.swarms.wait(swarm.id, timeout=30)).status == "completed"
        assert [s.id async for s in client.swarms.list(page_size=1)] == [swarm.id]
        assert (await client.swarms.results(swarm.id)).outputs
        with pytest.raises(NotFound):
            await client.swarms.get("swarm_missing")


# --- 429 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_server(django_db_setup: None, fake_server: Any) -> Iterator[str]:
    """3 requests per 2-second window per user."""
    with live_server(fake_server.url, RATE_LIMIT_MAX="3", RATE_LIMIT_WINDOW="2000") as base:
        yield base


def test_429_is_retried_after_retry_after(limited_server: str, alice: Any) -> None:
    key = key_of(alice)
    patient = Client(limited_server, api_key=key, max_retries=3)
    started = time.monotonic()
    # 7 requests cannot fit in two 3-request windows: at least one waits (Retry-After is ≥ 1 s)
    pages = [patient.swarms.page() for _ in range(7)]
    assert len(pages) == 7 and time.monotonic() - started >= 1

    impatient = Client(limited_server, api_key=key, max_retries=0)
    with pytest.raises(RateLimited) as limited:
        for _ in range(8):
            impatient.swarms.page()
    assert limited.value.status_code == 429 and 0 < limited.value.retry_after <= 2
    assert limited.value.body["error"] == "Too many requests" and limited.value.body["retryAfter"] >= 1

    waits: list[float] = []
    capped = Client(limited_server, api_key=key, max_retries=2)
    capped._transport.sleep = lambda seconds: waits.append(seconds)  # count the waits, do not sleep
    with pytest.raises(RateLimited):
        for _ in range(8):
            capped.swarms.page()
    assert len(waits) == 2  # retried max_retries times, then raised
