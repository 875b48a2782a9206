"""Shared fixtures: users alice (owner), bob (outsider) and staff; API clients for each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError
from rest_framework.test import APIClient

from access.services import apikey_create
from swarms.models import Swarm
from swarms.services import swarm_create
from tests.helpers import wait_for
from webhooks.models import Webhook

OBJECTIVE = "Build a REST API for user management"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()  # rate-limit counters must not leak between tests
    yield


def make_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def alice(db: None) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> Any:
    return make_user("bob")


@pytest.fixture
def staff(db: None) -> Any:
    return make_user("operator", is_staff=True)


def client_for(user: Any, permissions: tuple[str, ...] = ("read", "write", "admin")) -> APIClient:
    _, raw = apikey_create(owner=user, name="test", permissions=list(permissions))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    client.raw_key = raw  # type: ignore[attr-defined]
    return client


@pytest.fixture
def client_of_alice(alice: Any) -> APIClient:
    return client_for(alice)


@pytest.fixture
def client_of_bob(bob: Any) -> APIClient:
    return client_for(bob)


@pytest.fixture
def client_of_staff(staff: Any) -> APIClient:
    return client_for(staff)


@pytest.fixture
def read_only_client_of_alice(alice: Any) -> APIClient:
    return client_for(alice, ("read",))


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def swarm_of_alice(alice: Any) -> Swarm:
    return swarm_create(owner=alice, objective=OBJECTIVE, strategy="development", max_agents=5)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[Any]:
    from fakeclaude import FakeClaude

    fake = FakeClaude()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_claude(fake_server: Any, settings: Any) -> Any:
    """The local fake Claude, reached through the real anthropic SDK."""
    fake_server.reset()
    settings.ANTHROPIC_BASE_URL = fake_server.url
    settings.ANTHROPIC_API_KEY = "test-key"
    return fake_server


@pytest.fixture
def workers(transactional_db: None, fake_claude: Any) -> Iterator[Any]:
    """Dramatiq worker threads on the StubBroker, as in the embedded shape."""
    import dramatiq
    from dramatiq import Worker

    import engine.actors  # noqa: F401

    broker = dramatiq.get_broker()
    broker.flush_all()
    if not getattr(broker, "_booted_for_tests", False):  # once per process, as in a real worker
        broker.emit_after("process_boot")
        broker._booted_for_tests = True
    worker = Worker(broker, worker_threads=8, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop(timeout=15_000)
    from engine import leases, reviews

    reviews.drain(15)
    leases.resume()  # the stop set the process's shutdown flag: later tests run as a live worker
    broker.flush_all()
    # each Worker registers its own middleware; drop it so stopped workers get no more signals
    broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != "_WorkerMiddleware"]


@pytest.fixture
def empty_queue() -> Iterator[None]:
    """The StubBroker's queues empty before and after: `queued()` shows only this test's messages."""
    import dramatiq

    broker = dramatiq.get_broker()
    broker.flush_all()
    yield
    broker.flush_all()


def require_service(name: str, available: bool) -> None:
    """Skip when a real service is missing on a developer machine; fail in CI (REQUIRE_SERVICES=1)."""
    from django.conf import settings

    if available:
        return
    if settings.REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{name} not available")


@pytest.fixture
def redis_url() -> str:
    """The real Redis (TEST_REDIS_URL), emptied for the test."""
    import redis
    from django.conf import settings

    url = settings.TEST_REDIS_URL
    require_service("Redis (TEST_REDIS_URL)", bool(url))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.ConnectionError:
        require_service(f"Redis at {url}", False)
    finally:
        client.close()
    return url


@pytest.fixture
def stack(redis_url: str, fake_claude: Any, alice: Any) -> Iterator[Any]:
    """A daphne web process and (on demand) `rundramatiq` workers on the test Redis and database."""
    from tests.stack import free_port, http, stack_env, start_web, start_worker

    metrics_port = free_port()
    env = stack_env(
        redis_url=redis_url,
        claude_url=fake_claude.url,
        WORKER_GRACE_SECONDS="1",
        WORKER_METRICS_PORT=str(metrics_port),
    )
    _, key = apikey_create(owner=alice, name="stack", permissions=["read", "write"])
    processes = []

    class Stack:
        def __init__(self) -> None:
            self.env, self.key, self.metrics_port = env, key, metrics_port
            web, self.base = start_web(env)
            processes.append(web)

        def worker(self, name: str = "worker") -> Any:
            worker = start_worker(env, name)
            processes.append(worker)
            return worker

        def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
            return http(method, self.base + path, key, body)

    yield Stack()
    for process in processes:
        process.stop()


@pytest.fixture
def server_settled() -> Iterator[None]:
    """For tests against a live server (`tests.client_server`), which works on after a test returns:
    it plans or runs the test's swarms and retries webhook deliveries. The test's flush truncates
    every table while those transactions hold locks on some and wait for others; PostgreSQL breaks
    that deadlock by failing the flush, and the next test starts with the last one's rows. So the
    webhooks go (their deliveries with them: a retry that comes later finds nothing and writes
    nothing) and the swarms settle before the flush. The delete is tried again when a delivery
    attempt the server wrote meanwhile makes its commit fail (the cascade had not seen it)."""
    yield
    wait_for(_webhooks_deleted, 30, message="the webhooks to be deleted")
    busy = [Swarm.Status.PLANNING, Swarm.Status.EXECUTING]
    wait_for(lambda: not Swarm.objects.filter(status__in=busy).exists(), 60)


def _webhooks_deleted() -> bool:
    try:
        Webhook.objects.all().delete()
    except IntegrityError:  # an attempt of a delivery being deleted was inserted meanwhile
        return False
    return True


@pytest.fixture(scope="session")
def static_root() -> str:
    """collectstatic once, into a temporary STATIC_ROOT, as a deployment does."""
    import subprocess
    import sys
    import tempfile

    from tests.stack import ROOT, stack_env

    root = tempfile.mkdtemp(prefix="claudeflow-static-")
    env = stack_env(redis_url="", claude_url="http://127.0.0.1:9", STATIC_ROOT=root)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, plus: before the test database is dropped, end the sessions that background
    threads (worker pools, the event pusher, presence) still hold, so the drop does not fail."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
