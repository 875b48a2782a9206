"""The Lambda entry point (deploy/serverless/handler.py), invoked with API Gateway events.

The events are the proxy-integration payloads API Gateway sends: REST API (payload v1) and HTTP
API (payload v2), from tests/data/apigateway/. Every request goes through the real handler:
Mangum, Django's ASGI handler, the middleware, authentication and the views.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db.backends.signals import connection_created

from access.services import apikey_create
from swarms.models import Swarm
from tests.conftest import OBJECTIVE, make_user

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS = ROOT / "deploy" / "serverless"
EVENTS = Path(__file__).parent / "data" / "apigateway"

pytestmark = pytest.mark.django_db(transaction=True)  # views run on asgiref's thread, not the test's


def load_handler() -> Any:
    spec = importlib.util.spec_from_file_location("claudeflow_lambda_handler", SERVERLESS / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lambda_handler() -> Any:
    return load_handler().handler


class Context:
    """The attributes of the Lambda context object that code reads."""

    function_name = "claude-flow-headless-dev-api"
    memory_limit_in_mb = 1024
    aws_request_id = "3c2a7d9e-7f0b-4bd2-9a7e-1f2e3d4c5b6a"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def rest_event(method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> dict:
    """An API Gateway REST API (payload v1) proxy event for `ANY /{proxy+}`."""
    event = json.loads((EVENTS / "rest_v1.json").read_text())
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = "/dev" + path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
        event["multiValueHeaders"]["content-type"] = ["application/json"]
    return event


def http_event(method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> dict:
    """An API Gateway HTTP API (payload v2) event for the route `ANY /{proxy+}`."""
    event = json.loads((EVENTS / "http_v2.json").read_text())
    event["routeKey"] = event["requestContext"]["routeKey"] = "ANY /{proxy+}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    event["headers"].update({name.lower(): value for name, value in (headers or {}).items()})
    if body is not None:
        raw = json.dumps(body)
        event["body"] = base64.b64encode(raw.encode()).decode()  # HTTP APIs may base64 any body
        event["isBase64Encoded"] = True
        event["headers"]["content-type"] = "application/json"
        event["headers"]["content-length"] = str(len(raw))
    return event


@pytest.fixture(autouse=True)
def _api_gateway_host(settings: Any) -> None:
    """serverless.yml's default ALLOWED_HOSTS: any execute-api host in the region."""
    settings.ALLOWED_HOSTS = [".execute-api.us-east-1.amazonaws.com"]


BUILDERS = {"rest-v1": rest_event, "http-v2": http_event}


@pytest.fixture(params=sorted(BUILDERS))
def event(request: pytest.FixtureRequest) -> Any:
    return BUILDERS[request.param]


def headers_of(result: dict) -> dict[str, str]:
    """Response headers from either payload shape (v1 may use multiValueHeaders)."""
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ", ".join(values))
    return headers


def body_of(result: dict) -> Any:
    raw = result["body"]
    if result.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


def test_health(lambda_handler, event):
    result = lambda_handler(event("GET", "/api/health"), Context())
    assert result["statusCode"] == 200
    assert headers_of(result)["content-type"] == "application/json"
    assert result["isBase64Encoded"] is False
    body = body_of(result)
    assert body["status"] == "healthy"
    assert body["service"] == "claude-flow-headless-api"


def test_create_swarm_with_a_key(lambda_handler, event):
    alice = make_user("alice")
    _, key = apikey_create(owner=alice, name="lambda", permissions=["read", "write"])
    result = lambda_handler(
        event("POST", "/api/swarm/create", {"X-API-Key": key}, {"objective": OBJECTIVE, "maxAgents": 3}),
        Context(),
    )
    assert result["statusCode"] == 201, result["body"]
    assert headers_of(result)["content-type"] == "application/json"
    body = body_of(result)
    assert body["status"] == "planning"
    swarm = Swarm.objects.get(pk=body["swarmId"])
    assert (swarm.owner, swarm.objective, swarm.max_agents) == (alice, OBJECTIVE, 3)

    # the same key reads it back through the handler
    got = lambda_handler(event("GET", f"/api/swarm/{swarm.id}", {"X-API-Key": key}), Context())
    assert got["statusCode"] == 200
    assert body_of(got)["swarmId"] == swarm.id


def test_no_key_is_401_and_nothing_is_created(lambda_handler, event):
    result = lambda_handler(event("POST", "/api/swarm/create", body={"objective": OBJECTIVE}), Context())
    assert result["statusCode"] == 401
    headers = headers_of(result)
    assert headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert headers["content-type"] == "application/json"
    assert body_of(result)["error"] == "Authentication required"
    assert not Swarm.objects.exists()


def test_a_wrong_key_is_401(lambda_handler, event):
    _, key = apikey_create(owner=make_user("alice"), name="lambda", permissions=["read"])
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    result = lambda_handler(event("GET", "/api/swarms", {"X-API-Key": wrong}), Context())
    assert result["statusCode"] == 401
    assert body_of(result)["error"] == "Authentication required"  # an unknown key is no credential


def test_unknown_path_and_unknown_swarm_are_json_404s(lambda_handler, event):
    alice = make_user("alice")
    _, key = apikey_create(owner=alice, name="lambda", permissions=["read"])
    unknown = lambda_handler(event("GET", "/api/no-such-endpoint", {"X-API-Key": key}), Context())
    assert unknown["statusCode"] == 404
    assert headers_of(unknown)["content-type"] == "application/json"
    assert body_of(unknown) == {"error": "Not found", "message": "No API endpoint at /api/no-such-endpoint"}

    missing = lambda_handler(event("GET", "/api/swarm/swarm_0_000000000", {"X-API-Key": key}), Context())
    assert missing["statusCode"] == 404
    assert body_of(missing)["error"]


def test_the_database_connection_is_reused_across_invocations(lambda_handler, event, settings):
    """A warm function opens no new connection per request (DB_CONN_MAX_AGE keeps it)."""
    database = settings.DATABASES["default"]
    saved = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 60
    opened: list[Any] = []

    def count(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection)

    alice = make_user("alice")
    _, key = apikey_create(owner=alice, name="lambda", permissions=["read"])
    connection_created.connect(count)
    try:
        for _ in range(4):
            result = lambda_handler(event("GET", "/api/swarms", {"X-API-Key": key}), Context())
            assert result["statusCode"] == 200
    finally:
        connection_created.disconnect(count)
        database["CONN_MAX_AGE"] = saved
    assert len(opened) <= 1, f"{len(opened)} connections opened for 4 invocations"


def test_binary_responses_come_back_base64_encoded(lambda_handler, event):
    """A non-text response (here a workspace zip) must reach API Gateway base64-encoded."""
    from swarms.services import swarm_create

    alice = make_user("alice")
    _, key = apikey_create(owner=alice, name="lambda", permissions=["read"])
    swarm = swarm_create(owner=alice, objective=OBJECTIVE, strategy="development", max_agents=2)
    result = lambda_handler(
        event("GET", f"/api/swarm/{swarm.id}/workspace.zip", {"X-API-Key": key}), Context()
    )
    assert result["statusCode"] == 200
    assert headers_of(result)["content-type"] == "application/zip"
    assert result["isBase64Encoded"] is True
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(result["body"])))
    assert archive.testzip() is None


# --- cold start and configuration, in a fresh interpreter as Lambda starts one -----------------

COLD_START_SCRIPT = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import importlib.util
import io
spec = importlib.util.spec_from_file_location("handler", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter()
event = json.loads(open(sys.argv[3]).read())
result = module.handler(event, None)
first = time.perf_counter()
result = module.handler(event, None)
warm = time.perf_counter()
# VmHWM, not getrusage's maxrss: Linux carries maxrss across exec from the forking parent
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({
    "status": result["statusCode"],
    "import_s": imported - started,
    "first_request_s": first - imported,
    "warm_request_s": warm - first,
    "max_rss_mb": peak_kb / 1024,
    "modules": len(sys.modules),
    "anthropic_loaded": "anthropic" in sys.modules,
}))
"""


def lambda_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "claude-flow-headless-dev-api",
        "AWS_REGION": "us-east-1",
        "SECRET_KEY": "lambda-test-secret-key-0123456789-abcdefghijklmnop",
        "ANTHROPIC_API_KEY": "test-key",
        "ALLOWED_HOSTS": ".execute-api.us-east-1.amazonaws.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CLAUDEFLOW_VAR_DIR": str(tmp_path / "var"),
        "SECURE_SSL": "false",
    }
    env.update(extra)
    return env


def run_cold_start(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(http_event("GET", "/api/health")))
    return subprocess.run(
        [sys.executable, "-c", COLD_START_SCRIPT, str(ROOT), str(SERVERLESS / "handler.py"), str(event_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cold_start_fits_the_budget(tmp_path):
    """Import + first request in a fresh interpreter, with the production settings and a broker
    (a Redis URL: the broker connects lazily, so nothing is reached at import)."""
    run = run_cold_start(lambda_env(tmp_path, REDIS_URL="redis://127.0.0.1:1/0"), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    print("cold start:", figures)
    assert figures["status"] == 200
    # The budget (README "Serverless (AWS Lambda)"). Seconds depend on the machine's load, so the
    # firm limits are on what is loaded: the API function must not import the anthropic SDK
    # (only workers call Claude) nor grow back to the ~5,000 modules it loaded before that.
    assert figures["anthropic_loaded"] is False, figures
    assert figures["modules"] < 2500, figures
    assert figures["max_rss_mb"] < 200, figures
    assert figures["import_s"] + figures["first_request_s"] < 20.0, figures
    assert figures["warm_request_s"] < 1.0, figures


def test_inside_lambda_without_a_shared_broker_the_cold_start_refuses(tmp_path):
    run = run_cold_start(lambda_env(tmp_path), tmp_path)
    assert run.returncode != 0
    assert (
        "configuration error: the API function needs a broker its workers consume: set BROKER_URL=sqs://"
        in run.stderr
    )


def test_inside_lambda_embedded_workers_are_refused(tmp_path):
    run = run_cold_start(
        lambda_env(tmp_path, REDIS_URL="redis://127.0.0.1:1/0", EMBEDDED_WORKERS="true"), tmp_path
    )
    assert run.returncode != 0
    assert "configuration error: EMBEDDED_WORKERS=true cannot run in a Lambda function" in run.stderr


# --- serverless.yml -----------------------------------------------------------------------------


def test_serverless_yml_has_the_specs_shape():
    config = yaml.safe_load((SERVERLESS / "serverless.yml").read_text())
    provider = config["provider"]
    assert provider["name"] == "aws"
    assert provider["runtime"].startswith("python3.")
    assert isinstance(provider["timeout"], int) and 1 <= provider["timeout"] <= 30  # HTTP APIs stop at 30 s
    assert isinstance(provider["memorySize"], int) and 128 <= provider["memorySize"] <= 10240
    api = config["functions"]["api"]
    assert api["handler"] == "deploy/serverless/handler.handler"
    routes = [e["httpApi"] for e in api["events"] if "httpApi" in e]
    assert {"method": "*", "path": "/{proxy+}"} in routes  # the proxy route
    assert (SERVERLESS / "handler.py").is_file()
    env = provider["environment"]
    for name in ("DATABASE_URL", "BROKER_URL", "SECRET_KEY", "ANTHROPIC_API_KEY", "ALLOWED_HOSTS"):
        assert name in env, name
    assert env["BROKER_URL"].startswith("sqs://")


def test_serverless_yml_sets_only_variables_the_code_reads():
    from tests.test_deploy_files import is_read

    env = yaml.safe_load((SERVERLESS / "serverless.yml").read_text())["provider"]["environment"]
    unread = [name for name in env if name != "DJANGO_SETTINGS_MODULE" and not is_read(name)]
    assert not unread, f"serverless.yml sets variables nothing reads: {unread}"


def test_the_function_may_call_what_the_sqs_broker_calls():
    """The function's IAM role: dramatiq-sqs creates its queues on first use, sends, and the
    readiness check lists queues."""
    statements = yaml.safe_load((SERVERLESS / "serverless.yml").read_text())["provider"]["iam"]["role"][
        "statements"
    ]
    allowed = {action for statement in statements for action in statement["Action"]}
    assert {
        "sqs:GetQueueUrl",
        "sqs:CreateQueue",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:ListQueues",
    } <= allowed


def test_a_v1_event_copy_is_not_mutated_by_the_handler(lambda_handler):
    event = rest_event("GET", "/api/health")
    before = copy.deepcopy(event)
    lambda_handler(event, Context())
    assert event == before


def test_the_functions_requirements_are_the_projects_dependencies():
    import tomllib

    listed = [
        line.strip()
        for line in (SERVERLESS / "requirements-lambda.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert listed == dependencies
