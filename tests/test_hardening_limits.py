"""Issue 9, items 13 and 18: bounded `options`, a planning call within budget, tasks per swarm,
and what /metrics, the worker exporter, /api/ready and the access log give away."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from engine import planner
from engine import plans as planning
from events.models import LogEntry
from swarms.models import Swarm
from tasks.models import ClaudeCall
from tests.conftest import OBJECTIVE

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/api/swarm/create", {"objective": OBJECTIVE, **body}, format="json")


def details(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed"
    return {d["field"]: d for d in body["details"]}


# --- item 13: options against a schema ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"evil": "x" * 5000}, "options.evil"),
        ({"includeTest": True}, "options.includeTest"),  # a typo is refused, not ignored
        ({"budget": {"maxTokens": 1000, "maxTokenz": 5}}, "options.budget.maxTokenz"),
        ({"budget": {"maxCostUsd": "5"}}, "options.budget.maxCostUsd"),
        ({"budget": {"maxTokens": 10**12}}, "options.budget.maxTokens"),
        ({"includeTests": "yes"}, "options.includeTests"),
        ({"verbosity": "chatty"}, "options.verbosity"),
        ({"languages": ["python"] * 11}, "options.languages"),
        ({"languages": ["x" * 41]}, "options.languages.0"),
        ({"notes": "n" * 1001}, "options.notes"),
        ({"notes": "a\x00b"}, "options.notes"),
    ],
)
def test_options_are_validated_against_a_schema(client_of_alice, options, field):
    found = details(create(client_of_alice, options=options))
    assert field in found, found
    assert found[field]["message"]
    assert Swarm.objects.count() == 0


def test_an_unknown_option_is_named_with_the_known_ones(client_of_alice):
    found = details(create(client_of_alice, options={"autoScale": True}))
    assert "Unknown option" in found["options.autoScale"]["message"]
    assert "includeTests" in found["options.autoScale"]["message"]


def test_known_options_are_stored_as_given(client_of_alice):
    options = {
        "includeTests": True,
        "includeDocumentation": False,
        "verbosity": "normal",
        "languages": ["python", "typescript"],
        "notes": "Target Python 3.11",
        "review": False,
        "budget": {"maxTokens": 200000, "maxCostUsd": 5},
    }
    response = create(client_of_alice, options=options)
    assert response.status_code == 201, response.content
    assert Swarm.objects.get(pk=response.json()["swarmId"]).options == options


def test_the_planning_prompt_shows_only_known_valid_options(alice):
    # a swarm stored before options were validated may hold anything: none of it reaches Claude
    swarm = Swarm.objects.create(
        owner=alice,
        objective=OBJECTIVE,
        options={
            "includeTests": True,
            "languages": ["python"],
            "evil": "E" * 100_000,
            "verbosity": "V" * 5000,
            "budget": {"maxTokens": 999_999},
        },
    )
    _, messages = planning.plan_messages(swarm, "guidance")
    prompt = messages[0]["content"]
    assert '"includeTests": true' in prompt and '"languages": ["python"]' in prompt
    assert "EEEE" not in prompt and "VVVV" not in prompt and "999999" not in prompt
    assert len(prompt) < 5000


# --- item 13: the planning call respects the budget ----------------------------------------------


def planning_swarm(owner, **budget):
    return Swarm.objects.create(owner=owner, objective=OBJECTIVE, max_agents=5, options={"budget": budget})


@pytest.mark.django_db(transaction=True)
def test_planning_asks_only_for_what_the_budget_has_left_after_the_prompt(fake_claude, alice):
    swarm = planning_swarm(alice, maxTokens=4000)
    planner.plan(swarm_id=swarm.id)
    call = ClaudeCall.objects.get(swarm=swarm, role="planner")
    asked = fake_claude.requests[0]["body"]["max_tokens"]
    assert call.input_tokens + asked <= 4000  # the prompt is paid whatever the answer
    assert asked >= planner.PLAN_MIN_OUTPUT_TOKENS


@pytest.mark.django_db(transaction=True)
def test_a_planning_prompt_that_leaves_no_room_for_a_plan_is_not_sent(fake_claude, alice):
    swarm = planning_swarm(alice, maxTokens=1500)
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert (swarm.status, swarm.failure_reason) == ("failed", "budget_exhausted")
    assert fake_claude.requests == [] and not ClaudeCall.objects.filter(swarm=swarm).exists()
    assert swarm.total_tokens == 0
    assert swarm.events.filter(type="budget.exceeded").count() == 1
    assert swarm.logs.filter(level=LogEntry.Level.ERROR, message__contains="prompt tokens").exists()


@pytest.mark.django_db(transaction=True)
def test_a_cost_budget_below_the_planning_prompt_is_not_spent(fake_claude, alice):
    swarm = planning_swarm(alice, maxCostUsd=0.001)
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert (swarm.status, swarm.failure_reason) == ("failed", "budget_exhausted")
    assert fake_claude.requests == [] and swarm.cost_usd == 0


@pytest.mark.django_db(transaction=True)
def test_a_swarm_whose_budget_is_spent_does_not_plan(fake_claude, alice):
    swarm = planning_swarm(alice, maxTokens=50_000)
    Swarm.objects.filter(pk=swarm.pk).update(input_tokens=50_000)
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert (swarm.status, swarm.failure_reason) == ("failed", "budget_exhausted")
    assert fake_claude.requests == []


# --- item 18: MAX_TASKS_PER_SWARM ----------------------------------------------------------------

TASK = {"name": "Write docs", "description": "Write the user documentation", "type": "custom"}


def test_adding_a_task_beyond_the_cap_is_refused(client_of_alice, swarm_of_alice, settings):
    settings.MAX_TASKS_PER_SWARM = 2
    url = f"/api/swarm/{swarm_of_alice.id}/tasks"
    assert client_of_alice.post(url, TASK, format="json").status_code == 201
    assert client_of_alice.post(url, TASK, format="json").status_code == 201
    response = client_of_alice.post(url, TASK, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "Limit exceeded" and "maximum per swarm is 2" in body["message"]
    assert swarm_of_alice.tasks.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_plan_with_more_tasks_than_the_cap_is_repaired_or_refused(fake_claude, alice, settings):
    from tests.test_planning import GOOD_PLAN  # three tasks

    settings.MAX_TASKS_PER_SWARM = 2
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    swarm = Swarm.objects.create(owner=alice, objective=OBJECTIVE, max_agents=5)
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert swarm.status == "failed"
    assert swarm.failure_reason == "invalid plan: the plan has 3 tasks; at most 2 are allowed"
    first = fake_claude.requests[0]["body"]
    assert first["tools"][0]["input_schema"]["properties"]["tasks"]["maxItems"] == 2
    assert "at most 2 are allowed" in str(fake_claude.requests[1]["body"]["messages"][-1])
    assert not swarm.tasks.exists()


@pytest.mark.django_db(transaction=True)
def test_a_template_with_more_tasks_than_the_cap_fails_planning(fake_claude, alice, settings):
    settings.MAX_TASKS_PER_SWARM = 2
    swarm = Swarm.objects.create(owner=alice, objective=OBJECTIVE, strategy="microservices", max_agents=5)
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert swarm.status == "failed" and "MAX_TASKS_PER_SWARM" in swarm.failure_reason
    assert not swarm.tasks.exists()


# --- item 18: /metrics and the worker exporter -----------------------------------------------------

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


def test_metrics_without_a_token_are_served_only_to_this_machine(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", **REMOTE)
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden" and "METRICS_TOKEN" in response.json()["message"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    # a proxy on this host makes every client look local; its forwarding header gives it away
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forwarded.status_code == 403


def test_metrics_with_a_token_need_it_from_everywhere(client, settings):
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert local.status_code == 401 and local.json()["error"] == "Authentication required"
    assert local["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **REMOTE).status_code == 401
    good = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789", **REMOTE)
    assert good.status_code == 200 and b"claudeflow_" in good.content


def exporter(settings, **overrides):
    from ops import metrics
    from tests.stack import free_port

    settings.WORKER_METRICS_PORT = free_port()
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert metrics.start_worker_exporter()
    return settings.WORKER_METRICS_PORT


def listening_addresses(port):
    import psutil

    return {
        c.laddr.ip
        for c in psutil.Process().net_connections("tcp")
        if c.laddr.port == port and c.status == "LISTEN"
    }


def get(url, **headers):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_worker_exporter_listens_on_loopback_by_default(settings):
    port = exporter(settings, METRICS_TOKEN="")
    assert listening_addresses(port) == {"127.0.0.1"}
    status, body = get(f"http://127.0.0.1:{port}/")
    assert status == 200 and b"claudeflow_" in body


def test_the_worker_exporter_requires_the_token_when_one_is_set(settings):
    port = exporter(settings, METRICS_TOKEN="metrics-token-0123456789")
    status, body = get(f"http://127.0.0.1:{port}/")
    assert status == 401 and b"METRICS_TOKEN" in body
    assert get(f"http://127.0.0.1:{port}/", Authorization="Bearer nope")[0] == 401
    status, body = get(f"http://127.0.0.1:{port}/", Authorization="Bearer metrics-token-0123456789")
    assert status == 200 and b"claudeflow_" in body


def test_the_exporter_default_and_its_exposure_are_configured_safely():
    from tests.test_operations import settings_value

    exporting = {"ENABLE_METRICS": "true", "WORKER_METRICS_PORT": "9191"}
    assert settings_value("settings.WORKER_METRICS_HOST", **exporting) == "127.0.0.1"
    with pytest.raises(subprocess.CalledProcessError) as refused:
        settings_value(
            "settings.WORKER_METRICS_HOST", WORKER_METRICS_HOST="0.0.0.0", METRICS_TOKEN="", **exporting
        )
    assert "METRICS_TOKEN" in refused.value.stderr
    exposed = settings_value(
        "settings.WORKER_METRICS_HOST", WORKER_METRICS_HOST="0.0.0.0", METRICS_TOKEN="t" * 32
    )
    assert exposed == "0.0.0.0"


def probe_commands():
    import yaml

    from tests.test_deploy_files import COMPOSE, main_container

    compose = yaml.safe_load(COMPOSE.read_text())["services"]["worker"]["healthcheck"]["test"]
    k8s = main_container("claudeflow-worker")["livenessProbe"]["exec"]["command"]
    return {"compose": compose[1:], "k8s": k8s}


@pytest.mark.parametrize("where", ["compose", "k8s"])
@pytest.mark.parametrize("token", ["", "metrics-token-0123456789"])
def test_the_worker_health_checks_pass_the_exporter_with_or_without_a_token(settings, where, token):
    import os
    import sys

    port = exporter(settings, METRICS_TOKEN=token)
    command = probe_commands()[where]
    assert command[0] == "python"
    env = {**os.environ, "WORKER_METRICS_PORT": str(port), "METRICS_TOKEN": token}
    assert subprocess.run([sys.executable, *command[1:]], env=env, timeout=30).returncode == 0
    if token:  # and the probe is not passing by accident
        env["METRICS_TOKEN"] = "wrong"
        failed = subprocess.run([sys.executable, *command[1:]], env=env, timeout=30, capture_output=True)
        assert failed.returncode != 0


# --- item 18: /api/ready tells anonymous callers only whether it is ready --------------------------

CLOSED_PORT = "redis://127.0.0.1:1/0"


def test_ready_gives_anonymous_callers_no_hosts_or_errors(anon_client, settings):
    settings.REDIS_URL = CLOSED_PORT
    response = anon_client.get("/api/ready", **REMOTE)
    assert response.status_code == 503
    assert set(response.json()) == {"status", "timestamp"} and response.json()["status"] == "unavailable"
    assert b"127.0.0.1" not in response.content and b"redis" not in response.content.lower()


@pytest.mark.parametrize("who", ["token", "staff", "local"])
def test_ready_gives_operators_the_details(anon_client, settings, staff, who):
    settings.REDIS_URL = CLOSED_PORT
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    extra = dict(REMOTE)
    if who == "token":
        extra["HTTP_AUTHORIZATION"] = "Bearer metrics-token-0123456789"
    elif who == "staff":
        anon_client.force_login(staff)
    else:
        extra["REMOTE_ADDR"] = "127.0.0.1"
    body = anon_client.get("/api/ready", **extra).json()
    assert body["down"] == ["redis"] and "Connection" in body["checks"]["redis"]["detail"]


def test_ready_hides_the_details_from_a_signed_in_user_who_is_not_staff(anon_client, settings, alice):
    settings.REDIS_URL = CLOSED_PORT
    anon_client.force_login(alice)
    assert set(anon_client.get("/api/ready", **REMOTE).json()) == {"status", "timestamp"}


# --- item 18: access logs never record api_key= (or token=) values ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_web_access_log_redacts_credentials_in_query_strings(fake_claude):
    import urllib.request

    from websockets.sync.client import connect

    from tests.stack import stack_env, start_web

    web, base = start_web(stack_env(redis_url="", claude_url=fake_claude.url, LOG_LEVEL="info"))
    try:
        urllib.request.urlopen(f"{base}/api/health?api_key=cf_HTTPSECRET123&x=1", timeout=5).read()
        ws = base.replace("http://", "ws://")
        for query in ("api_key=cf_WSSECRET456", "token=eyJWSSECRET789"):
            try:
                with connect(f"{ws}/ws?{query}", open_timeout=5) as socket:
                    socket.recv(timeout=5)
            except Exception:  # noqa: BLE001 — refused or closed: either way the request was logged
                pass
        web.wait_for_output("/api/health?")
    finally:
        web.stop()
    log = web.output()
    assert "HTTPSECRET123" not in log and "WSSECRET456" not in log and "WSSECRET789" not in log, log
    assert "api_key=[redacted]&x=1" in log


def test_log_lines_redact_credentials_whatever_logged_them():
    import logging

    from core.logging import JsonFormatter, TextFormatter

    entry = logging.LogRecord(
        "django.channels.server",
        logging.INFO,
        __file__,
        1,
        "HTTP GET %s 200",
        ("/ws?token=abc.def&api_key=cf_x",),
        None,
    )
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(entry)
        assert "abc.def" not in line and "cf_x" not in line
        assert "token=[redacted]&api_key=[redacted]" in line


@pytest.mark.django_db(transaction=True)
def test_a_dollar_only_budget_caps_what_a_task_call_may_answer(workers, fake_claude, alice):
    from engine.claude import client
    from swarms.services import swarm_start
    from tests.builders import build_swarm
    from tests.helpers import wait_for_status

    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-one")],
        options={"review": False, "budget": {"maxCostUsd": 0.01}},
        tasks=[{"name": "Small task", "description": "Write a tiny helper"}],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed", "failed")
    first = ClaudeCall.objects.filter(swarm=swarm, role="agent").order_by("id").first()
    asked = next(r for r in fake_claude.requests if "# Your task: Small task" in r["text"])["body"][
        "max_tokens"
    ]
    affordable = client.output_tokens_for(first.model, Decimal("0.01"))  # before the prompt is paid
    assert asked < 4096  # the dollars, not CLAUDE_MAX_TOKENS, set it: what is left after the prompt
    assert affordable // 2 < asked < affordable
