"""Rate limits: per user (or IP when anonymous), 429 with the real seconds left, health never limited."""

from __future__ import annotations

import time

import pytest

from tests.conftest import OBJECTIVE, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings):
    settings.RATE_LIMIT_MAX = 3
    settings.RATE_LIMIT_WINDOW = 60_000
    return settings


def test_the_general_limit_answers_429_with_retry_after(client_of_alice, strict):
    for _ in range(3):
        assert client_of_alice.get("/api/swarms").status_code == 200
    response = client_of_alice.get("/api/swarms")
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["error"] == "Too many requests" and body["retryAfter"] == retry_after
    if retry_after > 3:  # a real count-down to the end of the window, not a constant
        time.sleep(2.1)
        later = int(client_of_alice.get("/api/swarms")["Retry-After"])
        assert retry_after - 3 <= later <= retry_after - 2


def test_the_limit_is_per_user_so_new_keys_buy_nothing(alice, bob, strict):
    first, second = client_for(alice), client_for(alice)
    for _ in range(3):
        first.get("/api/swarms")
    assert first.get("/api/swarms").status_code == 429
    assert second.get("/api/swarms").status_code == 429  # another key of the same user
    minted = client_for(alice)
    assert minted.get("/api/swarms").status_code == 429
    assert client_for(bob).get("/api/swarms").status_code == 200


def test_anonymous_requests_are_limited_per_ip(alice, anon_client, strict):
    for _ in range(3):
        anon_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    response = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "pw-alice"}, format="json"
    )
    assert response.status_code == 429


def test_health_is_never_limited(anon_client, strict):
    for _ in range(10):
        assert anon_client.get("/api/health").status_code == 200


def test_swarm_creation_has_its_own_limit(client_of_alice, settings):
    settings.SWARM_CREATE_RATE = "2/h"
    for _ in range(2):
        assert (
            client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").status_code
            == 201
        )
    refused = client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert client_of_alice.get("/api/swarms").json()["count"] == 2  # other endpoints still answer
