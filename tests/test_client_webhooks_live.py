"""`client.webhooks` and `claudeflow webhooks` against a real daphne server (embedded workers deliver):
CRUD, rotation, tenancy, validation errors with details, the delivery log over pages, and a real
receiver on a thread whose deliveries `claudeflow.webhooks.verify` accepts with the secret that
`create` returned."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import claudeflow.webhooks
import pytest
from claudeflow import (
    AsyncClient,
    Client,
    Delivery,
    NotFound,
    ValidationError,
    Webhook,
    WebhookVerificationError,
)

from access.services import apikey_create
from tests.client_server import live_server
from tests.conftest import OBJECTIVE
from tests.helpers import wait_for
from tests.receiver import running_receiver
from tests.test_client_cli import cli, cli_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("server_settled"),
]

UNUSED_URL = "http://127.0.0.1:9/hook"  # accepted (private networks allowed); nothing listens there


@pytest.fixture(scope="module")
def server(django_db_setup: None, fake_server: Any) -> Iterator[str]:
    # the receivers are on 127.0.0.1; retries come quickly
    with live_server(
        fake_server.url, WEBHOOK_ALLOW_PRIVATE_NETWORKS="true", WEBHOOK_RETRY_DELAY="100"
    ) as base:
        yield base


def key_of(user: Any) -> str:
    return apikey_create(owner=user, name="client", permissions=["read", "write", "admin"])[1]


@pytest.fixture
def client(server: str, alice: Any, fake_claude: Any) -> Iterator[Client]:
    with Client(server, api_key=key_of(alice)) as client:
        yield client


def test_create_list_get_update_rotate_delete(client: Client) -> None:
    created = client.webhooks.create(UNUSED_URL, events=["task.*", "swarm.completed"], description="ci")
    assert isinstance(created, Webhook) and created.id
    assert created.url == UNUSED_URL and created.events == ["task.*", "swarm.completed"]
    assert created.description == "ci" and created.active and created.swarm_id is None
    assert created.consecutive_failures == 0 and created.disabled_reason == ""
    assert created.created_at is not None and created.updated_at is not None
    assert created.secret and created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"))) == 32

    fetched = client.webhooks.get(created.id)
    assert fetched.secret is None  # shown once
    assert fetched == Webhook(**{**created.__dict__, "secret": None})
    assert [w.id for w in client.webhooks.list()] == [created.id]
    assert client.webhooks.list()[0].secret is None

    updated = client.webhooks.update(created.id, active=False, events=["swarm.*"])
    assert not updated.active and updated.events == ["swarm.*"] and updated.description == "ci"
    assert client.webhooks.get(created.id) == updated
    assert client.webhooks.update(created.id, description="renamed").active is False  # only what is given

    rotated = client.webhooks.rotate_secret(created.id)
    assert rotated.id == created.id and rotated.secret and rotated.secret.startswith("whsec_")
    assert rotated.secret != created.secret

    assert client.webhooks.delete(created.id) is None
    with pytest.raises(NotFound):
        client.webhooks.get(created.id)
    assert client.webhooks.list() == []
    with pytest.raises(NotFound):
        client.webhooks.delete(created.id)


def test_a_swarm_filter_must_name_your_own_swarm(client: Client, server: str, bob: Any) -> None:
    swarm = client.swarms.create(OBJECTIVE, strategy="development", max_agents=2)
    hook = client.webhooks.create(UNUSED_URL, events=["*"], swarm_id=swarm.id)
    assert hook.swarm_id == swarm.id and client.webhooks.get(hook.id).swarm_id == swarm.id
    with Client(server, api_key=key_of(bob)) as other, pytest.raises(ValidationError) as refused:
        other.webhooks.create(UNUSED_URL, events=["*"], swarm_id=swarm.id)
    assert refused.value.details[0]["field"] == "swarmId"


def test_another_users_webhook_is_not_found(client: Client, server: str, bob: Any) -> None:
    with Client(server, api_key=key_of(bob)) as other:
        theirs = other.webhooks.create(UNUSED_URL, events=["task.*"])
        calls = [
            lambda: client.webhooks.get(theirs.id),
            lambda: client.webhooks.update(theirs.id, active=False),
            lambda: client.webhooks.rotate_secret(theirs.id),
            lambda: list(client.webhooks.deliveries(theirs.id)),
            lambda: client.webhooks.delete(theirs.id),
        ]
        for call in calls:
            with pytest.raises(NotFound) as missing:
                call()
            assert missing.value.status_code == 404
        assert client.webhooks.list() == []
        still = other.webhooks.get(theirs.id)  # untouched by alice's attempts
        assert still.active and [w.id for w in other.webhooks.list()] == [theirs.id]


@pytest.mark.parametrize(
    ("url", "events", "field", "says"),
    [
        (UNUSED_URL, ["task.nothing*"], "events", "Matches no event type"),
        (UNUSED_URL, ["Task.*"], "events", "lower case"),
        (UNUSED_URL, [], "events", ""),
        ("ftp://example.com/hook", ["task.*"], "url", "http"),
        ("not a url", ["task.*"], "url", ""),
    ],
)
def test_bad_input_is_a_validation_error_with_details(
    client: Client, url: str, events: list[str], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        client.webhooks.create(url, events=events)
    error = refused.value
    assert error.status_code == 400 and error.details, error.body
    assert error.details[0]["field"] == field and says in error.details[0]["message"]
    assert client.webhooks.list() == []


def test_an_update_is_validated_too(client: Client) -> None:
    hook = client.webhooks.create(UNUSED_URL, events=["task.*"])
    with pytest.raises(ValidationError) as bad_glob:
        client.webhooks.update(hook.id, events=["nope.*"])
    assert bad_glob.value.details[0]["field"] == "events"
    with pytest.raises(ValidationError) as nothing:
        client.webhooks.update(hook.id)  # no field given
    assert "at least one" in json.dumps(nothing.value.body)
    with pytest.raises(ValidationError) as scheme:
        client.webhooks.update(hook.id, url="file:///etc/passwd")
    assert scheme.value.details[0]["field"] == "url"
    assert client.webhooks.get(hook.id).events == ["task.*"]


def _run_to_completion(client: Client) -> str:
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
    assert client.swarms.wait(swarm.id, timeout=90).status == "completed"
    return swarm.id


def test_a_real_receiver_gets_signed_deliveries_that_verify_accepts(client: Client) -> None:
    with running_receiver() as receiver:
        receiver.answers = [500, 200]  # the first delivery is retried
        hook = client.webhooks.create(receiver.url, events=["swarm.*"])
        secret = hook.secret
        assert secret
        swarm_id = _run_to_completion(client)
        wait_for(lambda: "swarm.completed" in receiver.event_types(), timeout=30, message="delivery")

        for request in receiver.requests:
            envelope = claudeflow.webhooks.verify(request.body, request.headers, secret)
            assert envelope == json.loads(request.body) and envelope["swarmId"] == swarm_id
            assert request.headers["webhook-id"] == str(envelope["eventId"])
            assert client.webhooks.verify(request.body, request.headers, secret) == envelope
            with pytest.raises(WebhookVerificationError):
                claudeflow.webhooks.verify(request.body + b" ", request.headers, secret)
        completed = next(r.json() for r in receiver.requests if r.json()["eventType"] == "swarm.completed")
        assert completed["data"] == {"status": "completed"}
        delivered = set(receiver.event_types())
        assert {"swarm.created", "swarm.started", "swarm.completed"} <= delivered
        assert all(t.startswith("swarm.") for t in delivered)

        # the delivery log, typed, over pages of 2
        wait_for(
            lambda: not list(client.webhooks.deliveries(hook.id, status="pending")),
            timeout=30,
            message="no delivery left pending",
        )
        log = list(client.webhooks.deliveries(hook.id, page_size=2))
        assert all(isinstance(d, Delivery) for d in log)
        assert len(log) == client.webhooks.deliveries_page(hook.id, limit=1).count == len(delivered)
        assert len({d.id for d in log}) == len(log) > 2  # more than one page, nothing twice
        assert {d.event_type for d in log} == delivered and {d.swarm_id for d in log} == {swarm_id}
        assert all(d.status == "succeeded" and d.last_status_code == 200 for d in log)
        retried = [d for d in log if d.attempts == 2]
        assert len(retried) == 1
        assert [a.status_code for a in retried[0].attempt_log] == [500, 200]
        assert [a.ok for a in retried[0].attempt_log] == [False, True]
        assert retried[0].next_attempt_at is None and retried[0].finished_at is not None
        assert list(client.webhooks.deliveries(hook.id, status="failed")) == []
        assert len(list(client.webhooks.deliveries(hook.id, limit=2))) == 2


def test_after_a_rotation_both_secrets_verify_during_the_grace_period(client: Client) -> None:
    with running_receiver() as receiver:
        old = client.webhooks.create(receiver.url, events=["swarm.completed"])
        new = client.webhooks.rotate_secret(old.id)
        assert old.secret and new.secret and old.secret != new.secret
        _run_to_completion(client)
        request = wait_for(lambda: next(iter(receiver.requests), None), timeout=30, message="the delivery")
        signatures = request.headers["webhook-signature"].split()
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        for secret in (new.secret, old.secret):  # each matches one of the two signatures
            assert claudeflow.webhooks.verify(request.body, request.headers, secret)["eventType"] == (
                "swarm.completed"
            )
        for one in signatures:  # and each signature alone is checked, not just "some header present"
            alone = {**request.headers, "webhook-signature": one}
            accepted = []
            for secret in (new.secret, old.secret):
                try:
                    claudeflow.webhooks.verify(request.body, alone, secret)
                    accepted.append(secret)
                except WebhookVerificationError:
                    pass
            assert len(accepted) == 1
        stranger = client.webhooks.create(UNUSED_URL, events=["task.*"]).secret
        assert stranger
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            claudeflow.webhooks.verify(request.body, request.headers, stranger)


def test_the_async_client_has_the_same_calls(server: str, alice: Any, fake_claude: Any) -> None:
    key = key_of(alice)

    async def scenario() -> None:
        async with AsyncClient(server, api_key=key) as client:
            hook = await client.webhooks.create(UNUSED_URL, events=["task.*"], description="async")
            assert hook.secret and hook.description == "async"
            assert [w.id for w in await client.webhooks.list()] == [hook.id]
            assert (await client.webhooks.get(hook.id)).secret is None
            assert (await client.webhooks.update(hook.id, active=False)).active is False
            rotated = await client.webhooks.rotate_secret(hook.id)
            assert rotated.secret and rotated.secret != hook.secret
            assert [d async for d in client.webhooks.deliveries(hook.id)] == []
            with pytest.raises(ValidationError):
                await client.webhooks.create("gopher://x", events=["task.*"])
            await client.webhooks.delete(hook.id)
            with pytest.raises(NotFound):
                await client.webhooks.get(hook.id)

    asyncio.run(scenario())


# --- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def env(server: str, alice: Any, fake_claude: Any, tmp_path: Any) -> dict[str, str]:
    return {
        **os.environ,
        "CLAUDEFLOW_URL": server,
        "CLAUDEFLOW_API_KEY": key_of(alice),
        "CLAUDEFLOW_CONFIG": str(tmp_path / "no-config.toml"),
        "COLUMNS": "160",
        "NO_COLOR": "1",
    }


def test_cli_webhooks_create_ls_deliveries_rm(env: dict[str, str], client: Client) -> None:
    assert cli_json(env, "webhooks", "ls") == []
    plain = cli(env, "webhooks", "create", UNUSED_URL, "--events", "task.*, swarm.*")
    assert plain.returncode == 0, plain.stderr
    secret = plain.stdout.strip()
    assert secret.startswith("whsec_") and "\n" not in secret  # the secret alone on stdout
    assert "Store its secret now" in plain.stderr

    swarm = client.swarms.create(OBJECTIVE, strategy="development", max_agents=2)
    created = cli_json(
        env, "webhooks", "create", UNUSED_URL, "--events", "task.completed", "--swarm", swarm.id
    )
    assert created["secret"].startswith("whsec_") and created["secret"] != secret
    assert created["data"]["events"] == ["task.completed"] and created["data"]["swarmId"] == swarm.id

    listed = cli_json(env, "webhooks", "ls")
    assert {w["id"] for w in listed} == {w.id for w in client.webhooks.list()}
    assert len(listed) == 2 and all("secret" not in w for w in listed)
    first = next(w for w in listed if w["id"] != created["data"]["id"])
    assert first["events"] == ["task.*", "swarm.*"] and first["url"] == UNUSED_URL

    table = cli(env, "webhooks", "ls")
    assert (
        table.returncode == 0 and created["data"]["id"] in table.stdout and "task.completed" in table.stdout
    )

    # the swarm created above is planning: its swarm.* and task.* events go to the first webhook (port 9: refused)
    rows = cli_json(env, "webhooks", "deliveries", first["id"])
    assert all(r["swarmId"] == swarm.id and r["eventType"].startswith(("swarm.", "task.")) for r in rows)
    assert cli(env, "webhooks", "deliveries", first["id"]).returncode == 0
    assert cli(env, "webhooks", "rm", first["id"]).returncode == 0
    assert [w["id"] for w in cli_json(env, "webhooks", "ls")] == [created["data"]["id"]]
    gone = cli(env, "webhooks", "rm", first["id"])
    assert gone.returncode == 1 and "404" in gone.stderr
    wait_for(lambda: client.swarms.get(swarm.id).status != "planning", 60)  # no writes left at the flush


def test_cli_webhooks_refusals_exit_2(env: dict[str, str]) -> None:
    bad_glob = cli(env, "webhooks", "create", UNUSED_URL, "--events", "nope.*")
    assert bad_glob.returncode == 2 and "events" in bad_glob.stderr
    bad_url = cli(env, "webhooks", "create", "ftp://example.com", "--events", "task.*")
    assert bad_url.returncode == 2 and "url" in bad_url.stderr
    no_events = cli(env, "webhooks", "create", UNUSED_URL)
    assert no_events.returncode == 2 and "--events" in no_events.stderr
    empty = cli(env, "webhooks", "create", UNUSED_URL, "--events", " , ")
    assert empty.returncode == 2
    assert cli_json(env, "webhooks", "ls") == []


def test_cli_deliveries_of_a_real_run(env: dict[str, str], client: Client) -> None:
    with running_receiver() as receiver:
        hook = client.webhooks.create(receiver.url, events=["swarm.completed"])
        _run_to_completion(client)
        wait_for(
            lambda: [d for d in client.webhooks.deliveries(hook.id) if d.status == "succeeded"],
            timeout=30,
            message="a succeeded delivery",
        )
        rows = cli_json(env, "webhooks", "deliveries", hook.id, "--status", "succeeded")
        assert [r["eventType"] for r in rows] == ["swarm.completed"]
        assert rows[0]["attemptLog"][0]["statusCode"] == 200
        table = cli(env, "webhooks", "deliveries", hook.id)
        assert table.returncode == 0 and "swarm.completed" in table.stdout and "succeeded" in table.stdout
        assert cli_json(env, "webhooks", "deliveries", hook.id, "--status", "failed") == []


def test_cli_webhooks_show_disable_enable_rotate(env: dict[str, str], client: Client) -> None:
    hook = client.webhooks.create(UNUSED_URL, events="task.failed", description="pager")
    assert hook.events == ["task.failed"]  # one glob given as a string is not split into letters
    shown = cli_json(env, "webhooks", "show", hook.id)
    assert shown["id"] == hook.id and shown["description"] == "pager" and "secret" not in shown
    text = cli(env, "webhooks", "show", hook.id)
    assert text.returncode == 0 and UNUSED_URL in text.stdout and "active" in text.stdout

    assert cli_json(env, "webhooks", "disable", hook.id)["active"] is False
    assert client.webhooks.get(hook.id).active is False
    enabled = cli(env, "webhooks", "enable", hook.id)
    assert enabled.returncode == 0 and f"{hook.id}: enabled" in enabled.stdout
    assert client.webhooks.get(hook.id).active is True

    rotated = cli(env, "webhooks", "rotate-secret", hook.id)
    assert rotated.returncode == 0 and "old one still signs" in rotated.stderr
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("whsec_") and new_secret != hook.secret
    again = cli_json(env, "webhooks", "rotate-secret", hook.id)
    assert again["data"]["id"] == hook.id and again["secret"] not in (new_secret, hook.secret)

    missing = cli(env, "webhooks", "show", "wh_nope")
    assert missing.returncode == 1 and "404" in missing.stderr
