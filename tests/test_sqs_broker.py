"""BROKER_URL=sqs://...: the Dramatiq broker on Amazon SQS (core/sqs.py), against a local
SQS-compatible server (moto in server mode, started here on a free port).

The URL is parsed by settings (claudeflow_site.config.sqs_broker_options); the broker is tested on
its own (send, receive, delay, depth, outage), then a real `rundramatiq` worker process and a
daphne web process on SQS (no Redis anywhere) run a swarm to `completed`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from botocore.config import Config
from dramatiq.errors import BrokerConnectionError

from claudeflow_site.config import ConfigError, sqs_broker_options
from tests.stack import ROOT, free_port, http, stack_env, start_web, start_worker

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- the URL ------------------------------------------------------------------------------------


def test_a_bare_url_uses_aws_with_the_default_prefix():
    options = sqs_broker_options("BROKER_URL", "sqs://", default_visibility=960)
    assert options == {"namespace": "claudeflow", "visibility_timeout": 960, "dead_letter": False}


def test_every_part_of_the_url():
    options = sqs_broker_options(
        "BROKER_URL",
        "sqs://AKIA%2Fkey:se%2Bcret@127.0.0.1:4566/claudeflow_dev?region=eu-west-1"
        "&visibility_timeout=120&dead_letter=true&tls=false",
        default_visibility=960,
    )
    assert options == {
        "namespace": "claudeflow_dev",
        "endpoint_url": "http://127.0.0.1:4566",
        "region_name": "eu-west-1",
        "aws_access_key_id": "AKIA/key",
        "aws_secret_access_key": "se+cret",
        "visibility_timeout": 120,
        "dead_letter": True,
    }
    assert (
        sqs_broker_options("BROKER_URL", "sqs://sqs.example.com/x", default_visibility=60)["endpoint_url"]
        == "https://sqs.example.com"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://x", "BROKER_URL must start with sqs://"),
        ("sqs:///bad.name", "the queue name prefix must be 1-60 letters, digits, - or _; got 'bad.name'"),
        ("sqs://?region=mars", "region must look like us-east-1; got 'mars'"),
        ("sqs://?visibility_timeout=0", "visibility_timeout must be 1 to 43200 seconds; got '0'"),
        ("sqs://?visibility_timeout=50000", "visibility_timeout must be 1 to 43200 seconds"),
        ("sqs://?visibility_timeout=ten", "visibility_timeout must be 1 to 43200 seconds"),
        ("sqs://?dead_letter=maybe", "dead_letter must be true or false; got 'maybe'"),
        ("sqs://host/?tls=perhaps", "tls must be true or false"),
        ("sqs://?queue=x", "unknown option(s) queue; known: region, visibility_timeout, dead_letter, tls"),
        ("sqs://keyonly@host/", "credentials must be KEY:SECRET (both), or neither"),
        ("sqs://host:port/", "the port must be a number"),
    ],
)
def test_a_bad_url_is_one_clear_error(url, message):
    with pytest.raises(ConfigError) as caught:
        sqs_broker_options("BROKER_URL", url, default_visibility=960)
    assert message in str(caught.value)
    assert str(caught.value).startswith("BROKER_URL")


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "BROKER_URL")}
    base.update(
        DJANGO_SETTINGS_MODULE="claudeflow_site.settings",
        SECRET_KEY="sqs-test-secret-key-0123456789-abcdefghijklmnopqrstu",
        ANTHROPIC_API_KEY="x",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=60, cwd=str(ROOT)
    )


def test_settings_pick_the_sqs_broker_and_no_embedded_workers():
    run = run_settings(
        {"BROKER_URL": "sqs:///cf?region=us-east-1", "TASK_TIMEOUT_MINUTES": "40"},
        "from django.conf import settings as s; import django; django.setup();"
        "print(s.DRAMATIQ_BROKER['BROKER'], s.DRAMATIQ_BROKER['OPTIONS']['visibility_timeout'],"
        " s.EMBEDDED_WORKERS, type(dramatiq.get_broker()).__name__) if (dramatiq := __import__('dramatiq')) else 0",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # hidden for longer than run_task may run: (40 + 5) minutes + 1 minute
    assert run.stdout.split() == ["core.sqs.SQSBroker", str(45 * 60 + 60), "False", "SQSBroker"]


def test_settings_refuse_another_scheme():
    run = run_settings({"BROKER_URL": "amqp://localhost"}, "import django; django.setup()")
    assert run.returncode != 0
    assert "BROKER_URL must start with sqs:// (leave it unset for REDIS_URL's Redis)" in run.stderr


# --- a local SQS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    """moto's server mode: the SQS API over HTTP on 127.0.0.1, in its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("moto server did not start") from None
            time.sleep(0.2)
    yield endpoint
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)


def sqs_url(endpoint: str, namespace: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in {"region": "us-east-1", "tls": "false", **query}.items())
    return f"sqs://{endpoint.removeprefix('http://')}/{namespace}?{params}"


@pytest.fixture
def broker(sqs_endpoint: str, aws_env: None, request: pytest.FixtureRequest) -> Iterator[Any]:
    from core.sqs import SQSBroker

    namespace = f"t{os.getpid()}_{request.node.name[:20]}".replace("[", "_").replace("]", "_")
    options = sqs_broker_options("BROKER_URL", sqs_url(sqs_endpoint, namespace), default_visibility=30)
    broker = SQSBroker(middleware=[], **options)
    previous = dramatiq.get_broker()
    yield broker
    dramatiq.set_broker(previous)


def test_a_message_goes_round_trip(broker):
    broker.declare_queue("default")
    message = dramatiq.Message(
        queue_name="default", actor_name="schedule", args=("a",), kwargs={}, options={}
    )
    broker.enqueue(message)
    assert broker.queue_depth("default") == 1
    consumer = broker.consume("default", prefetch=1, timeout=1000)
    received = next(m for m in consumer if m is not None)
    assert (received.actor_name, received.args, received.message_id) == (
        "schedule",
        ("a",),
        message.message_id,
    )
    consumer.ack(received)
    assert broker.queue_depth("default") == 0
    assert broker.ping() == "sqs"


def test_a_delay_beyond_fifteen_minutes_is_shortened_not_refused(broker):
    broker.declare_queue("default")
    message = dramatiq.Message(queue_name="default", actor_name="schedule", args=(), kwargs={}, options={})
    broker.enqueue(message, delay=3 * 3600 * 1000)  # dramatiq-sqs alone raises MessageDelayTooLong
    queue = broker.queues["default"]
    queue.load()
    assert queue.attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert broker.queue_depth("default") == 1


def test_an_unreachable_sqs_is_a_broker_connection_error(aws_env):
    from core.sqs import SQSBroker

    dead = f"127.0.0.1:{free_port()}"
    options = sqs_broker_options(
        "BROKER_URL", f"sqs://{dead}/x?region=us-east-1&tls=false", default_visibility=30
    )
    quick = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1)
    broker = SQSBroker(middleware=[], config=quick, **options)
    broker.declare_queue("default")
    message = dramatiq.Message(queue_name="default", actor_name="schedule", args=(), kwargs={}, options={})
    with pytest.raises(BrokerConnectionError, match="SQS unreachable"):
        broker.ping()
    with pytest.raises(BrokerConnectionError, match="SQS unreachable"):
        broker.enqueue(message)
    with pytest.raises(BrokerConnectionError):
        broker.consume("default")


# --- the production shape on SQS ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_swarm_completes_with_the_sqs_broker(sqs_endpoint, fake_claude, alice):
    """daphne and a `rundramatiq` worker process, both with BROKER_URL=sqs://... and no Redis."""
    from access.services import apikey_create
    from tasks.models import Task

    _, key = apikey_create(owner=alice, name="sqs", permissions=["read", "write"])
    metrics_port = free_port()
    env = stack_env(
        redis_url="",
        claude_url=fake_claude.url,
        BROKER_URL=sqs_url(sqs_endpoint, f"e2e{os.getpid()}"),
        WORKER_GRACE_SECONDS="1",
        WORKER_METRICS_PORT=str(metrics_port),
        **AWS_ENV,
    )
    processes = []
    try:
        web, base = start_web(env)
        processes.append(web)
        processes.append(start_worker(env, "sqs-worker"))
        status, ready = http("GET", base + "/api/ready", key)
        assert status == 200, ready
        status, created = http(
            "POST",
            base + "/api/swarm/create",
            key,
            {"objective": "Build a REST API for user management", "strategy": "development", "maxAgents": 3},
        )
        assert status == 201, created
        swarm_id = created["swarmId"]
        assert http("POST", base + f"/api/swarm/{swarm_id}/start", key)[0] == 200
        deadline = time.monotonic() + 90
        while http("GET", base + f"/api/swarm/{swarm_id}", key)[1]["data"]["status"] != "completed":
            assert time.monotonic() < deadline, (
                "the swarm did not complete:\n" + processes[-1].output()[-3000:]
            )
            time.sleep(0.5)
        tasks = Task.objects.filter(swarm_id=swarm_id)
        assert tasks.count() >= 1
        assert set(tasks.values_list("status", flat=True)) == {"completed"}
        worker_metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=5).read().decode()
        )
        assert f'claudeflow_tasks_total{{outcome="completed"}} {float(tasks.count())}' in worker_metrics
        # the web process's view of the queues: SQS's counts, all drained
        web_metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        assert 'claudeflow_queue_depth{queue="default"} 0.0' in web_metrics
    finally:
        for process in processes:
            with contextlib.suppress(Exception):
                process.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_hands_the_task_over_on_sqs(sqs_endpoint, fake_claude, alice):
    """A worker stopped mid-task gives its task back through SQS, and the other worker finishes it."""
    from access.services import apikey_create
    from events.models import Event
    from tests.builders import build_swarm
    from tests.helpers import wait_for, wait_for_status

    # latency: the Claude call waits 6 s before its first byte, so the task is mid-call when stopped
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Long", "description": "Write a long module [[fake:latency=6000]]"}],
    )
    _, key = apikey_create(owner=alice, name="sqs", permissions=["read", "write"])
    env = stack_env(
        redis_url="",
        claude_url=fake_claude.url,
        BROKER_URL=sqs_url(sqs_endpoint, f"term{os.getpid()}"),
        WORKER_GRACE_SECONDS="1",
        WORKER_METRICS_PORT="0",
        **AWS_ENV,
    )
    processes = []
    try:
        web, base = start_web(env)
        processes.append(web)
        workers = [start_worker(env, "sqs-worker-a"), start_worker(env, "sqs-worker-b")]
        processes.extend(workers)
        assert http("POST", base + f"/api/swarm/{swarm.id}/start", key)[0] == 200
        started = wait_for(lambda: Event.objects.filter(swarm=swarm, type="task.started").first(), timeout=60)
        pid = int(started.data["worker"].split(":")[1])
        (running,) = [w for w in workers if pid in w.pids()]
        (other,) = [w for w in workers if w is not running]
        running.signal(signal.SIGTERM)
        assert running.proc.wait(30) == 0
        wait_for_status(swarm.id, "completed", timeout=90)
        retry = Event.objects.get(swarm=swarm, type="task.retrying")
        assert retry.data["reason"] == "worker_shutdown"
        starts = list(Event.objects.filter(swarm=swarm, type="task.started").order_by("id"))
        assert len(starts) == 2
        assert int(starts[1].data["worker"].split(":")[1]) in other.pids()
    finally:
        for process in processes:
            with contextlib.suppress(Exception):
                process.stop()


LAMBDA_LOOP = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import importlib.util
spec = importlib.util.spec_from_file_location("handler", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("ready", flush=True)
for line in sys.stdin:  # one API Gateway event per line, as Lambda invokes a warm environment
    print(json.dumps(module.handler(json.loads(line), None)), flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_serverless_shape_runs_a_swarm(sqs_endpoint, fake_claude, alice):
    """The Lambda handler (one warm environment, HTTP API v2 events) takes the requests and queues
    on SQS; a worker process consumes and completes the swarm. They share SQS and the database."""
    import json

    from access.services import apikey_create
    from tests.test_serverless import SERVERLESS, http_event

    _, key = apikey_create(owner=alice, name="lambda", permissions=["read", "write"])
    env = stack_env(
        redis_url="",
        claude_url=fake_claude.url,
        BROKER_URL=sqs_url(sqs_endpoint, f"fn{os.getpid()}"),
        WORKER_METRICS_PORT="0",
        **AWS_ENV,
    )
    function_env = {
        **env,
        "AWS_LAMBDA_FUNCTION_NAME": "claude-flow-headless-test-api",
        "ALLOWED_HOSTS": ".execute-api.us-east-1.amazonaws.com",
    }
    worker = start_worker(env, "sqs-worker")
    function = subprocess.Popen(
        [sys.executable, "-c", LAMBDA_LOOP, str(ROOT), str(SERVERLESS / "handler.py")],
        env=function_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def invoke(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        function.stdin.write(json.dumps(http_event(method, path, {"X-API-Key": key}, body)) + "\n")
        function.stdin.flush()
        result = json.loads(function.stdout.readline())
        return result["statusCode"], json.loads(result["body"])

    try:
        assert function.stdout.readline().strip() == "ready", function.stderr.read()
        status, ready = invoke("GET", "/api/ready")
        assert status == 200, ready
        status, created = invoke(
            "POST",
            "/api/swarm/create",
            {"objective": "Build a small command-line calculator", "maxAgents": 2},
        )
        assert status == 201, created
        swarm_id = created["swarmId"]
        deadline = time.monotonic() + 90
        while invoke("GET", f"/api/swarm/{swarm_id}")[1]["data"]["status"] != "ready":
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.5)
        assert invoke("POST", f"/api/swarm/{swarm_id}/start")[0] == 200
        while invoke("GET", f"/api/swarm/{swarm_id}")[1]["data"]["status"] != "completed":
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.5)
        status, results = invoke("GET", f"/api/swarm/{swarm_id}/results")
        assert status == 200 and results["results"]["outputs"]
    finally:
        function.stdin.close()
        function.wait(10)
        worker.stop()
