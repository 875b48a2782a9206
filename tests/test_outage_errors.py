"""Real outages seen through a real daphne: reads and Postgres-only writes keep working while
Redis is down, work that needs the job queue is refused with a 503 and leaves nothing behind, and
with PostgreSQL down every /api/ answer is a JSON 503 (or 404), never an HTML page."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import pytest

from access.services import apikey_create
from swarms.models import Swarm
from tests.builders import build_swarm
from tests.outage import private_postgres, private_redis
from tests.stack import Process, http, stack_env, start_web

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CREATE = {"objective": "Build a REST API for user management"}


def raw_post(url, data: bytes):
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def assert_unavailable(status, body):
    assert status == 503, body
    assert body["error"] == "Service unavailable" and body["message"], body


def test_with_redis_down_reads_work_and_queue_work_is_a_503(fake_claude, alice):
    ready = build_swarm(alice)
    executing = build_swarm(alice)
    Swarm.objects.filter(pk=executing.pk).update(status=Swarm.Status.EXECUTING)
    _, key = apikey_create(owner=alice, name="outage", permissions=["read", "write"])
    with private_redis() as redis_server:
        env = stack_env(redis_url=redis_server.url, claude_url=fake_claude.url, RATE_LIMIT_MAX="100")
        web, base = start_web(env)
        try:
            assert http("GET", f"{base}/api/swarms", key)[0] == 200
            redis_server.stop()

            status, body = http("GET", f"{base}/api/swarms", key)
            assert status == 200 and body["count"] == 2
            assert http("GET", f"{base}/api/swarm/{ready.id}", key)[0] == 200
            assert http("GET", f"{base}/api/swarm/{ready.id}/logs", key)[0] == 200

            assert_unavailable(*http("POST", f"{base}/api/swarm/{ready.id}/start", key))
            assert Swarm.objects.get(pk=ready.pk).status == Swarm.Status.READY  # nothing changed
            assert_unavailable(*http("POST", f"{base}/api/swarm/create", key, CREATE))
            assert Swarm.objects.count() == 2

            status, body = http("POST", f"{base}/api/swarm/{executing.id}/pause", key)
            assert status == 200 and body["status"] == "paused"  # PostgreSQL alone is enough
            assert_unavailable(*http("POST", f"{base}/api/swarm/{executing.id}/resume", key))
            assert http("GET", f"{base}/api/no/such/path", key) == (
                404,
                {"error": "Not found", "message": "No API endpoint at /api/no/such/path"},
            )

            redis_server.start()  # recovery, same port
            status, body = http("POST", f"{base}/api/swarm/{ready.id}/start", key)
            assert status == 200 and body["status"] == "executing"
            print("\n".join(line for line in web.output().splitlines() if not line.startswith(" ")))
            assert "Internal Server Error" not in web.output()
        finally:
            web.stop()


def test_with_postgres_down_every_api_answer_is_json(fake_claude, tmp_path):
    service_key = "outage-service-key-0123456789-abcdefghijklmnop"
    with private_postgres() as pg, private_redis() as redis_server:
        env = stack_env(
            redis_url=redis_server.url,
            claude_url=fake_claude.url,
            DATABASE_URL=pg.createdb("claudeflow"),
            API_KEYS=service_key,
        )
        migrate = Process("migrate", [sys.executable, "manage.py", "migrate", "--noinput"], env)
        assert migrate.proc.wait(120) == 0, migrate.output()
        web, base = start_web(env)
        try:
            assert http("GET", f"{base}/api/swarms", service_key)[0] == 200
            # crafted input through daphne, on PostgreSQL: JSON 4xx, not a crash
            assert http("GET", f"{base}/api/swarm/swarm_x%00y", service_key)[0] == 404
            assert (
                raw_post(f"{base}/api/auth/token", b'{"username": ' + b"[" * 1000 + b"]" * 1000 + b"}")[0]
                == 400
            )
            status, body = raw_post(f"{base}/api/auth/token", b'{"username": "a\\u0000", "password": "b"}')
            assert status == 400 and body["error"] == "Validation failed"
            pg.stop()

            assert_unavailable(*http("GET", f"{base}/api/swarms", service_key))
            assert_unavailable(*http("POST", f"{base}/api/swarm/create", service_key, CREATE))
            assert_unavailable(
                *http("POST", f"{base}/api/auth/token", "", {"username": "a", "password": "b"})
            )
            assert http("GET", f"{base}/api/nope", service_key)[0] == 404
            with urllib.request.urlopen(f"{base}/api/health", timeout=5) as response:
                assert response.status == 200  # liveness does not depend on the database

            pg.start()
            assert http("GET", f"{base}/api/swarms", service_key)[0] == 200
        finally:
            web.stop()
