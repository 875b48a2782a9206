"""Issue 9, access part: the limiter fails open, limits count per user, quotas per user, login
lockouts, trusted proxies only, and refresh tokens that rotate once and die on logout."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from tests.conftest import OBJECTIVE
from tests.outage import private_redis

pytestmark = pytest.mark.django_db


def _fail_open_count() -> float:
    return REGISTRY.get_sample_value("claudeflow_ratelimit_fail_open_total") or 0.0


def test_a_redis_outage_lets_requests_through_the_limiter(settings, client_of_alice, caplog):
    with private_redis() as redis:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}
        }
        assert client_of_alice.get("/api/swarms").status_code == 200
        redis.stop()
        before = _fail_open_count()
        with caplog.at_level(logging.WARNING, logger="access.ratelimits"):
            for _ in range(5):
                response = client_of_alice.get("/api/swarms")
                assert response.status_code == 200, response.content[:300]
        assert _fail_open_count() - before == 5
        warnings = [r for r in caplog.records if r.name == "access.ratelimits"]
        assert len(warnings) == 1 and "fail" in warnings[0].getMessage().lower()


@pytest.fixture(autouse=True)
def _close_the_breaker():
    from access.ratelimits import breaker

    yield
    breaker.down_until = 0.0
    breaker.warned_at = float("-inf")


# --- 11: limits by user; failures count against the IP ---------------------------------------------


def test_invalid_creates_do_not_use_up_the_users_creation_budget(client_of_alice, settings):
    settings.SWARM_CREATE_RATE = "2/h"
    for _ in range(10):  # a newcomer's typos
        assert client_of_alice.post("/api/swarm/create", {"objective": "x"}, format="json").status_code == 400
    for _ in range(2):
        created = client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json")
        assert created.status_code == 201
    assert (
        client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").status_code == 429
    )


def test_invalid_creates_count_against_the_ip(client_of_alice, client_of_bob, settings):
    settings.RATE_LIMIT_MAX = 5
    for _ in range(5):
        client_of_alice.post("/api/swarm/create", {"objective": "x"}, format="json", REMOTE_ADDR="10.1.1.1")
    refused = client_of_alice.post(
        "/api/swarm/create", {"objective": OBJECTIVE}, format="json", REMOTE_ADDR="10.1.1.1"
    )
    assert refused.status_code == 429
    elsewhere = client_of_bob.post(
        "/api/swarm/create", {"objective": OBJECTIVE}, format="json", REMOTE_ADDR="10.2.2.2"
    )
    assert elsewhere.status_code == 201


def test_failed_authentication_counts_against_the_ip_not_the_user(client_of_alice, anon_client, settings):
    settings.RATE_LIMIT_MAX = 3
    anon_client.credentials(HTTP_X_API_KEY="cf_" + "0" * 64)
    statuses = [anon_client.get("/api/swarms", REMOTE_ADDR="10.9.9.9").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer forged")
    assert anon_client.get("/api/swarms", REMOTE_ADDR="10.9.9.9").status_code == 429
    # the user with a valid key on the same address is counted as herself
    assert client_of_alice.get("/api/swarms", REMOTE_ADDR="10.9.9.9").status_code == 200


def test_requests_without_credentials_count_against_the_ip(client_of_alice, anon_client, settings):
    settings.RATE_LIMIT_MAX = 3
    statuses = [anon_client.get("/api/swarms", REMOTE_ADDR="10.9.9.8").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert anon_client.get("/api/swarms", REMOTE_ADDR="10.9.9.7").status_code == 401  # another address
    assert client_of_alice.get("/api/swarms", REMOTE_ADDR="10.9.9.8").status_code == 200


# --- 12: X-Forwarded-For only from TRUSTED_PROXIES -------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),  # default: nobody is trusted
        ("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"], "203.0.113.9"),  # the peer is no trusted proxy
        ("10.0.0.2", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),  # a spoofed leftmost entry
        ("10.0.0.2", "1.2.3.4, 10.0.0.7", ["10.0.0.0/8"], "1.2.3.4"),  # two proxies deep
        ("10.0.0.2", "garbage", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_the_client_address_trusts_forwarded_for_only_from_trusted_proxies(peer, forwarded, trusted, client):
    import ipaddress

    from access.network import resolve_client

    assert resolve_client(peer, forwarded, [ipaddress.ip_network(n) for n in trusted]) == client


def test_a_spoofed_forwarded_for_does_not_escape_the_ip_limit(anon_client, settings):
    settings.RATE_LIMIT_MAX = 2
    codes = [
        anon_client.post(
            "/api/auth/token",
            {"username": "nobody", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}",
        ).status_code
        for n in range(4)
    ]
    assert codes[-1] == 429


def test_bad_trusted_proxies_stop_start_up(monkeypatch):
    from claudeflow_site.config import ConfigError, env_networks

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, not-an-ip")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        env_networks("TRUSTED_PROXIES")


# --- 10: per-user quotas; ready swarms expire ---------------------------------------------------------


def test_a_user_holds_at_most_max_swarms_per_user_active_swarms(client_of_alice, client_of_bob, settings):
    settings.MAX_SWARMS_PER_USER = 2
    ids = [
        client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").json()["swarmId"]
        for _ in range(2)
    ]
    refused = client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"] == "Limit exceeded" and "MAX_SWARMS_PER_USER" in refused.json()["message"]
    assert client_of_bob.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").status_code == 201
    assert client_of_alice.post(f"/api/swarm/{ids[0]}/stop").status_code == 200
    assert (
        client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").status_code == 201
    )


def test_swarms_left_ready_expire_after_ready_swarm_ttl(alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    from engine.housekeeping import expire_ready_swarms
    from events.models import Event
    from swarms.models import Swarm
    from swarms.services import swarm_create

    settings.READY_SWARM_TTL = 3600
    old, fresh, running = (swarm_create(owner=alice, objective=OBJECTIVE) for _ in range(3))
    long_ago = timezone.now() - timedelta(seconds=3601)
    Swarm.objects.filter(pk=old.pk).update(status="ready", updated_at=long_ago)
    Swarm.objects.filter(pk=fresh.pk).update(status="ready")
    Swarm.objects.filter(pk=running.pk).update(
        status="executing", started_at=timezone.now(), updated_at=long_ago
    )

    assert expire_ready_swarms() == 1
    old.refresh_from_db()
    assert old.status == "stopped" and "expired" in old.failure_reason
    event = Event.objects.filter(swarm=old, type="swarm.stopped").get()
    assert event.data["reason"] == old.failure_reason
    assert Swarm.objects.get(pk=fresh.pk).status == "ready"
    assert Swarm.objects.get(pk=running.pk).status == "executing"
    assert expire_ready_swarms() == 0


# --- 15: refresh tokens rotate once, die on logout and on a password change ---------------------------


def _tokens(client, username: str = "alice") -> dict[str, str]:
    response = client.post(
        "/api/auth/token", {"username": username, "password": "pw-" + username}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _post_json(url: str, body: dict) -> int:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_parallel_refreshes_of_one_token_yield_one_successor(live_server, alice, anon_client):
    import threading

    refresh = _tokens(anon_client)["refresh"]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def race() -> None:
        barrier.wait()
        statuses.append(_post_json(f"{live_server.url}/api/auth/token/refresh", {"refresh": refresh}))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] + [401] * 7


def test_logout_blacklists_the_refresh_token(alice, anon_client):
    refresh = _tokens(anon_client)["refresh"]
    response = anon_client.post("/api/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 200 and response.json()["message"]
    again = anon_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert again.status_code == 401 and again.json()["error"] == "Authentication failed"
    bad = anon_client.post("/api/auth/logout", {"refresh": "not-a-token"}, format="json")
    assert bad.status_code == 401 and set(bad.json()) == {"error", "message"}


def test_a_password_change_invalidates_the_users_tokens(alice, anon_client):
    from rest_framework.test import APIClient

    tokens = _tokens(anon_client)
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert bearer.get("/api/swarms").status_code == 200
    alice.set_password("a-new-long-password")
    alice.save()
    assert bearer.get("/api/swarms").status_code == 401
    refreshed = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    fresh = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "a-new-long-password"}, format="json"
    )
    assert fresh.status_code == 200


def test_deactivated_or_deleted_users_cannot_refresh(alice, bob, anon_client):
    alices, bobs = _tokens(anon_client), _tokens(anon_client, "bob")
    alice.is_active = False
    alice.save()
    bob.delete()
    for tokens in (alices, bobs):
        refreshed = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
        assert refreshed.status_code == 401, refreshed.content


# --- 12: password guessing locks out the account from that address ---------------------------------


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return settings


def test_token_guessing_locks_the_account_out_from_that_address(alice, anon_client, lockout):
    def attempt(password: str, ip: str = "10.5.5.5"):
        return anon_client.post(
            "/api/auth/token", {"username": "alice", "password": password}, format="json", REMOTE_ADDR=ip
        )

    assert [attempt("wrong").status_code for _ in range(2)] == [401, 401]
    locked = attempt("wrong")
    assert locked.status_code == 429
    body = locked.json()
    assert body["error"] == "Too many requests" and int(locked["Retry-After"]) > 0
    assert attempt("pw-alice").status_code == 429  # even the right password, during the lockout
    assert attempt("pw-alice", ip="10.6.6.6").status_code == 200  # another address is not locked out
    call_command("axes_reset_ip_username", "10.5.5.5", "alice")  # an operator unlocks the pair
    assert attempt("pw-alice").status_code == 200


def test_ui_login_guessing_shows_a_readable_lockout_page(alice, client, lockout):
    statuses = [
        client.post("/login", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.7.7.7").status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    locked = client.post("/login", {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR="10.7.7.7")
    assert locked.status_code == 429
    assert "text/html" in locked["Content-Type"] and "Too many failed logins" in locked.content.decode()


def test_logins_without_a_request_still_work(alice, client, lockout):
    assert client.login(username="alice", password="pw-alice")  # nothing to lock out without an address


def test_admin_login_guessing_is_locked_out_too(staff, client, lockout):
    for _ in range(3):
        client.post("/admin/login/", {"username": "operator", "password": "wrong"}, REMOTE_ADDR="10.8.8.8")
    locked = client.post(
        "/admin/login/", {"username": "operator", "password": "pw-operator"}, REMOTE_ADDR="10.8.8.8"
    )
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()


# --- the same with real processes: daphne on a private Redis that goes away -------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_daphne_keeps_answering_when_redis_dies_and_locks_out_guessers(alice, fake_claude, static_root):
    import re
    import urllib.error
    import urllib.parse
    import urllib.request
    from http.cookiejar import CookieJar

    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from access.services import apikey_create
    from tests.stack import http, stack_env, start_web

    alice.password = PBKDF2PasswordHasher().encode("pw-alice", PBKDF2PasswordHasher().salt())
    alice.save()  # the web process refuses the test settings' MD5 hashes
    _, key = apikey_create(owner=alice, name="stack", permissions=["read", "write"])
    with private_redis() as redis:
        web, base = start_web(
            stack_env(
                redis_url=redis.url,
                claude_url=fake_claude.url,
                LOGIN_FAILURE_LIMIT="2",
                STATIC_ROOT=static_root,
            )
        )
        try:
            assert http("GET", base + "/api/swarms", key)[0] == 200

            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

            def login(password: str) -> tuple[int, str]:
                form = opener.open(base + "/login").read().decode()
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
                data = urllib.parse.urlencode(
                    {"username": "alice", "password": password, "csrfmiddlewaretoken": token}
                ).encode()
                try:
                    with opener.open(urllib.request.Request(base + "/login", data=data)) as response:
                        return response.status, response.read().decode()
                except urllib.error.HTTPError as exc:
                    return exc.code, exc.read().decode()

            assert login("wrong")[0] == 200
            status, page = login("wrong")
            assert status == 429 and "Too many failed logins" in page

            redis.stop()
            for _ in range(3):
                status, body = http("GET", base + "/api/swarms", key)
                assert status == 200 and body["count"] == 0
            token = http("POST", base + "/api/auth/token", "", {"username": "alice", "password": "pw-alice"})
            assert token[0] == 200  # the lockout's cache is gone with Redis: it fails open too
            assert web.output().count("rate limits fail open") == 1
        finally:
            web.stop()
