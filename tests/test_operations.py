"""Operating it: readiness, Prometheus metrics, structured logs, the resource guard, CORS, check --deploy."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from core.logging import ContextFilter, JsonFormatter, TextFormatter, log_context
from engine import resources
from events.models import Event
from ops import health
from swarms.models import Swarm
from swarms.services import swarm_start
from tasks.models import Task
from tests.builders import build_swarm
from tests.helpers import wait_for_status

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_ready_is_200_when_everything_answers(anon_client):
    body = anon_client.get("/api/ready").json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


@pytest.mark.django_db
def test_ready_reports_redis_down(anon_client, settings):
    settings.REDIS_URL = CLOSED_PORT
    response = anon_client.get("/api/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert "Connection" in response.json()["checks"]["redis"]["detail"]


@pytest.mark.django_db
def test_ready_reports_the_broker_down(anon_client, monkeypatch):
    from dramatiq.brokers.redis import RedisBroker

    broken = RedisBroker(url=CLOSED_PORT)
    monkeypatch.setattr("dramatiq.get_broker", lambda: broken)
    response = anon_client.get("/api/ready")
    assert response.status_code == 503 and response.json()["down"] == ["broker"]


@pytest.mark.django_db
def test_ready_reports_the_database_down(anon_client, monkeypatch):
    default = connections["default"]
    params = {**default.settings_dict}
    if default.vendor == "postgresql":
        params["PORT"] = 1  # nothing listens there: a real refused connection
    else:
        params["NAME"] = "/nonexistent/dir/db.sqlite3"
    broken = type(default)(params, alias="broken")
    monkeypatch.setattr(health, "connection", broken)
    response = anon_client.get("/api/ready")
    assert response.status_code == 503 and response.json()["down"] == ["database"]
    broken.close()


@pytest.mark.django_db
def test_health_stays_200_while_dependencies_are_down(anon_client, settings):
    settings.REDIS_URL = CLOSED_PORT
    assert anon_client.get("/api/health").status_code == 200


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.django_db(transaction=True)
def test_metrics_appear_after_a_swarm_runs(workers, alice, client, client_of_alice):
    before = client.get("/metrics").content.decode()
    swarm = build_swarm(
        alice, tasks=[{"name": "One", "description": "Write it"}, {"name": "Two", "description": "Too"}]
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    client_of_alice.get("/api/swarms")
    text = client.get("/metrics").content.decode()
    done = metric(text, "claudeflow_tasks_total", outcome="completed") - metric(
        before, "claudeflow_tasks_total", outcome="completed"
    )
    assert done == 2
    assert metric(text, "claudeflow_swarms", status="completed") == 1
    assert metric(text, "claudeflow_claude_calls_total", role="agent", outcome="ok") >= 2
    assert metric(text, "claudeflow_claude_tokens_total", kind="output") > 0
    assert metric(text, "claudeflow_claude_cost_usd_total") > 0
    assert metric(text, "claudeflow_events_published_total", type="task.completed") >= 2
    assert metric(text, "claudeflow_task_duration_seconds_count") >= 2
    assert metric(text, "claudeflow_http_requests_total", route="api/swarms", status="200") >= 1
    assert 'claudeflow_queue_depth{queue="default"}' in text
    assert "claudeflow_websocket_connections" in text


@pytest.mark.django_db
def test_metrics_can_require_a_token_or_be_off(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    settings.ENABLE_METRICS = False
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 404


def record(message: str = "hello") -> logging.LogRecord:
    entry = logging.LogRecord("claudeflow.test", logging.INFO, __file__, 1, message, None, None)
    ContextFilter().filter(entry)
    return entry


def test_json_log_lines_carry_request_swarm_and_task_ids():
    with log_context(request_id="req-1"), log_context(swarm_id="swarm_1", task_id="task_1"):
        line = json.loads(JsonFormatter().format(record()))
    assert line["message"] == "hello" and line["level"] == "info"
    assert (line["request_id"], line["swarm_id"], line["task_id"]) == ("req-1", "swarm_1", "task_1")
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_text_log_lines_are_readable():
    with log_context(swarm_id="swarm_1"):
        line = TextFormatter().format(record("started"))
    assert "INFO" in line and "started" in line and "swarm=swarm_1" in line


@pytest.mark.django_db
def test_requests_get_and_echo_a_request_id(anon_client):
    assert len(anon_client.get("/api/health")["X-Request-ID"]) == 32
    assert anon_client.get("/api/health", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert anon_client.get("/api/health", HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"] != "bad id!"


def settings_value(expression: str, **env: str) -> str:
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LOG_FORMAT", "LOG_LEVEL", "DEBUG")
    }
    environment = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        "SECRET_KEY": "s" * 50,
        "ANTHROPIC_API_KEY": "k",
        **env,
    }
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()


def test_log_level_and_format_follow_the_environment():
    assert settings_value('settings.LOGGING["root"]["level"]', LOG_LEVEL="warn") == "WARNING"
    assert settings_value('settings.LOGGING["root"]["level"]', LOG_LEVEL="debug") == "DEBUG"
    assert settings_value("settings.LOG_FORMAT", DEBUG="false") == "json"
    assert settings_value("settings.LOG_FORMAT", DEBUG="true") == "text"


@pytest.mark.django_db(transaction=True)
def test_the_resource_guard_defers_dispatch_and_alerts(workers, alice, client_of_alice, settings):
    settings.RESOURCE_MONITORING = True
    settings.RESOURCE_GUARD_SAMPLES = 1  # no debounce: each reading given here decides
    resources.reset_guard()
    swarm = build_swarm(alice, tasks=[{"name": "Waits", "description": "Write it"}])
    Swarm.objects.filter(pk=swarm.id).update(status="executing")
    state = resources.update_guard({"memory": settings.MEMORY_THRESHOLD * 2, "cpu": 0.1})
    assert state["deferring"] and "MEMORY_THRESHOLD" in state["reason"]
    alert = Event.objects.get(swarm=swarm, type="system.alert")
    assert alert.data["deferring"] is True
    stats = client_of_alice.get("/api/system/stats").json()["server"]["resourceGuard"]
    assert stats["deferring"] is True
    from engine import scheduler

    scheduler.fill()
    assert Task.objects.get(swarm=swarm).status == "pending"
    resources.update_guard({"memory": 0, "cpu": 0.1})
    settings.RESOURCE_MONITORING = False  # stop the housekeeping's own readings from flipping it back
    scheduler.fill()
    wait_for_status(swarm.id, "completed")
    assert Event.objects.filter(swarm=swarm, type="system.alert").count() == 2


@pytest.mark.django_db
def test_cors_allows_only_the_configured_origins(anon_client, settings):
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    allowed = anon_client.get("/api/health", HTTP_ORIGIN="https://app.example.com")
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    refused = anon_client.get("/api/health", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in refused


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        "DEBUG": "false",
        "SECURE_SSL": "true",
        "SECRET_KEY": "x7Gk2pQ9vL4mN8rT1wY6zB3cF5hJ0dS-aE_uI9oP2lK7jH4gF1dS8aQ3wE6rT9yU",
        "ALLOWED_HOSTS": "claudeflow.example.com",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CSRF_TRUSTED_ORIGINS": "https://claudeflow.example.com",
        "CORS_ORIGINS": "https://app.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
