"""API keys, JWT, the API_KEYS service account, AUTH_ENABLED=false and permissions."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from access.models import ApiKey, hash_key
from tests.conftest import OBJECTIVE, client_for

pytestmark = pytest.mark.django_db

AUTH_REQUIRED = {"error": "Authentication required", "message": "Provide valid API key or JWT token"}


def test_missing_credentials_are_401_with_the_spec_body(anon_client):
    response = anon_client.get("/api/swarms")
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


def test_an_unknown_key_is_401_saying_so(anon_client):
    anon_client.credentials(HTTP_X_API_KEY="cf_" + "0" * 64)
    response = anon_client.get("/api/swarms")
    assert response.status_code == 401
    assert response.json()["error"] == "Authentication required"
    assert response.json()["message"].startswith("Unknown API key")


def test_health_needs_no_credentials(anon_client):
    body = anon_client.get("/api/health").json()
    assert body["status"] == "healthy"
    assert body["service"] == "claude-flow-headless-api"
    assert set(body) == {"status", "service", "version", "timestamp", "uptime", "environment"}


def test_keys_are_stored_hashed_and_shown_once(client_of_alice, alice):
    response = client_of_alice.post("/api/keys", {"name": "ci", "permissions": ["read"]}, format="json")
    assert response.status_code == 201
    raw = response.json()["key"]
    assert raw.startswith("cf_") and len(raw) == 67
    key = ApiKey.objects.get(pk=response.json()["data"]["id"])
    assert key.key_hash == hash_key(raw) and raw not in (key.prefix, key.key_hash)
    assert raw.startswith(key.prefix)
    listing = client_of_alice.get("/api/keys").json()
    assert listing["count"] == 2
    assert raw not in str(listing)
    assert {k["name"] for k in listing["keys"]} == {"ci", "test"}


def test_key_usage_is_counted(client_of_alice):
    client_of_alice.get("/api/swarms")
    client_of_alice.get("/api/swarms")
    key = ApiKey.objects.get(key_hash=hash_key(client_of_alice.raw_key))
    assert key.usage_count == 2 and key.last_used_at is not None


def test_a_revoked_key_fails_on_the_very_next_request(client_of_alice):
    key = ApiKey.objects.get(key_hash=hash_key(client_of_alice.raw_key))
    other = client_of_alice.post("/api/keys", {"name": "second"}, format="json").json()
    victim = APIClient()
    victim.credentials(HTTP_X_API_KEY=other["key"])
    assert victim.get("/api/swarms").status_code == 200
    assert client_of_alice.delete(f"/api/keys/{other['data']['id']}").json()["status"] == "revoked"
    assert victim.get("/api/swarms").status_code == 401
    assert client_of_alice.delete(f"/api/keys/{other['data']['id']}").status_code == 409
    assert client_of_alice.delete(f"/api/keys/{key.id}").status_code == 200
    assert client_of_alice.get("/api/swarms").status_code == 401


def test_an_expired_key_is_refused(client_of_alice):
    from datetime import timedelta

    from django.utils import timezone

    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_of_alice.get("/api/swarms").status_code == 401


def test_nobody_revokes_another_users_key(client_of_alice, client_of_bob):
    bobs_key = ApiKey.objects.get(key_hash=hash_key(client_of_bob.raw_key))
    assert client_of_alice.delete(f"/api/keys/{bobs_key.id}").status_code == 404
    assert client_of_bob.get("/api/swarms").status_code == 200


def test_read_keys_cannot_change_anything(read_only_client_of_alice, swarm_of_alice):
    client = read_only_client_of_alice
    assert client.get(f"/api/swarm/{swarm_of_alice.id}").status_code == 200
    writes = [
        ("post", "/api/swarm/create", {"objective": OBJECTIVE}),
        ("post", f"/api/swarm/{swarm_of_alice.id}/stop", None),
        ("delete", f"/api/swarm/{swarm_of_alice.id}", None),
        ("post", f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "coder"}),
        (
            "post",
            f"/api/swarm/{swarm_of_alice.id}/tasks",
            {"name": "abc", "description": "x" * 20, "type": "coding"},
        ),
        ("post", "/api/keys", {"name": "escalate", "permissions": ["admin"]}),
    ]
    for method, url, body in writes:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["error"] == "Forbidden"
    assert client.get(f"/api/swarm/{swarm_of_alice.id}").json()["data"]["status"] == "planning"


def test_key_management_needs_the_admin_permission(alice):
    writer = client_for(alice, ("read", "write"))
    assert writer.post("/api/keys", {"name": "more"}, format="json").status_code == 403
    assert writer.get("/api/keys").status_code == 200


def test_a_key_cannot_grant_more_than_it_holds(alice):
    admin_only = client_for(alice, ("read", "admin"))
    response = admin_only.post("/api/keys", {"name": "more", "permissions": ["write"]}, format="json")
    assert response.status_code == 403 and "write" in response.json()["message"]


def test_jwt_obtain_use_and_rotate(alice, anon_client):
    tokens = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "pw-alice"}, format="json"
    ).json()
    assert set(tokens) == {"access", "refresh"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/swarms").status_code == 200
    rotated = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200 and rotated.json()["refresh"] != tokens["refresh"]
    reused = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert "blacklisted" in reused.json()["message"]
    fresh = anon_client.post("/api/auth/token/refresh", {"refresh": rotated.json()["refresh"]}, format="json")
    assert fresh.status_code == 200


def test_jwt_with_a_wrong_password_or_a_bad_token_is_401(alice, anon_client):
    response = anon_client.post("/api/auth/token", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401 and response.json()["error"] == "Authentication failed"
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anon_client.get("/api/swarms").json() == AUTH_REQUIRED


def test_keys_from_the_api_keys_variable_act_as_one_service_account(settings, anon_client):
    settings.API_KEYS = ["env-key-one", "env-key-two"]
    anon_client.credentials(HTTP_X_API_KEY="env-key-two")
    created = anon_client.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json")
    assert created.status_code == 201
    other = APIClient()
    other.credentials(HTTP_X_API_KEY="env-key-one")
    assert other.get("/api/swarms").json()["count"] == 1  # the same account
    other.credentials(HTTP_X_API_KEY="env-key-three")
    assert other.get("/api/swarms").status_code == 401


def test_auth_disabled_lets_anonymous_requests_act_as_the_local_user(settings, anon_client):
    settings.AUTH_ENABLED = False
    created = anon_client.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json")
    assert created.status_code == 201
    assert anon_client.get("/api/swarms").json()["swarms"][0]["id"] == created.json()["swarmId"]
    anon_client.credentials(HTTP_X_API_KEY="wrong")
    assert anon_client.get("/api/swarms").status_code == 401  # bad credentials stay bad


def test_createapikey_prints_the_key_alone_on_the_last_line(alice, capsys, anon_client):
    call_command("createapikey", "--user", "alice", "--name", "deploy", "--permissions", "read")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    key = ApiKey.objects.get(key_hash=hash_key(raw))
    assert (key.name, key.permissions, key.owner) == ("deploy", ["read"], alice)
    anon_client.credentials(HTTP_X_API_KEY=raw)
    assert anon_client.get("/api/swarms").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "does not exist"),
        (["--user", "alice", "--permissions", "read,root"], "--permissions"),
        (["--user", "alice", "--expires-in-days", "0"], "--expires-in-days"),
    ],
)
def test_createapikey_refuses_bad_arguments(alice, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("createapikey", *args)


def test_quickstart_creates_admin_once_and_keeps_one_key(db, capsys):
    call_command("quickstart")
    first = capsys.readouterr().out
    assert "Created superuser 'admin'" in first
    call_command("quickstart")
    second = capsys.readouterr().out
    assert "exists" in second
    keys = ApiKey.objects.filter(name="quickstart")
    assert keys.count() == 1 and keys.filter(revoked_at__isnull=True).count() == 1
    assert first.strip().splitlines()[-1] == second.strip().splitlines()[-1]
    assert keys.get().key_hash == hash_key(second.strip().splitlines()[-1])


def test_a_key_that_expires_later_works_until_then(client_of_alice):
    from datetime import timedelta

    from django.utils import timezone

    ApiKey.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    assert client_of_alice.get("/api/swarms").status_code == 200
    key = ApiKey.objects.get(key_hash=hash_key(client_of_alice.raw_key))
    assert key.usage_count == 1
