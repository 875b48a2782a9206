"""Prometheus metrics: `/metrics` on the web process, a metrics port on worker processes.

Counters and histograms are recorded where things happen (HTTP middleware, execution bridge,
Claude calls, event publishing, WebSocket consumer). Swarms by status and queue depth are read
when scraped. Worker processes started by `rundramatiq` share one port through prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by that command): the first to bind serves all.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from ops import trust

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("claudeflow_http_requests", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "claudeflow_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASKS = Counter("claudeflow_tasks", "Tasks that ended, by outcome", ["outcome"])
TASK_DURATION = Histogram(
    "claudeflow_task_duration_seconds",
    "Execution time of completed tasks",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
)
CLAUDE_CALLS = Counter("claudeflow_claude_calls", "Claude API calls", ["model", "role", "outcome"])
CLAUDE_LATENCY = Histogram(
    "claudeflow_claude_call_duration_seconds",
    "Claude call latency",
    ["model", "role"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
CLAUDE_TOKENS = Counter("claudeflow_claude_tokens", "Tokens billed by Claude", ["model", "kind"])
CLAUDE_COST = Counter("claudeflow_claude_cost_usd", "Cost of Claude calls in USD", ["model"])
CLAUDE_RETRIES = Counter("claudeflow_claude_retries", "Claude calls retried", ["model", "role"])
WS_CONNECTIONS = Gauge(
    "claudeflow_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
WS_REFUSED = Counter(
    "claudeflow_websocket_refused", "WebSocket connections refused or closed by a guard", ["reason"]
)
EVENTS = Counter("claudeflow_events_published", "Swarm events published", ["type"])
RATELIMIT_FAIL_OPEN = Counter(
    "claudeflow_ratelimit_fail_open", "Requests let through unlimited because the rate-limit cache failed"
)


def record_call(
    model: str, role: str, outcome: str, usage: dict[str, int], cost: float, latency_ms: int
) -> None:
    CLAUDE_CALLS.labels(model, role, outcome).inc()
    CLAUDE_LATENCY.labels(model, role).observe(latency_ms / 1000)
    for kind in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        if usage.get(kind):
            CLAUDE_TOKENS.labels(model, kind.removesuffix("_tokens")).inc(usage[kind])
    if cost:
        CLAUDE_COST.labels(model).inc(cost)


def task_ended(outcome: str, seconds: float | None = None, *, count: int = 1) -> None:
    """Counted after commit, so a rolled-back transaction counts nothing."""

    def record() -> None:
        if count:
            TASKS.labels(outcome).inc(count)
        if seconds is not None:
            TASK_DURATION.observe(seconds)

    transaction.on_commit(record)


_swarm_counter: Callable[[], dict[str, int]] | None = None


def count_swarms_with(counter: Callable[[], dict[str, int]]) -> None:
    """The swarms app registers how to count swarms by status (ops sits below it)."""
    global _swarm_counter
    _swarm_counter = counter


class StateCollector(Collector):
    """Read at scrape time: swarms by status (database) and queue depth (broker)."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # names only: registering must not touch the database (it may not exist yet)
        yield GaugeMetricFamily("claudeflow_swarms", "Swarms by status", labels=["status"])
        yield GaugeMetricFamily(
            "claudeflow_queue_depth", "Messages waiting per Dramatiq queue", labels=["queue"]
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield self._swarms()
        yield self._queues()

    def _swarms(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("claudeflow_swarms", "Swarms by status", labels=["status"])
        for status, count in (_swarm_counter() if _swarm_counter else {}).items():
            family.add_metric([status], count)
        return family

    def _queues(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "claudeflow_queue_depth", "Messages waiting per Dramatiq queue", labels=["queue"]
        )
        for queue, depth in queue_depths().items():
            family.add_metric([queue], depth)
        return family


def queue_depths() -> dict[str, int]:
    import dramatiq

    broker = dramatiq.get_broker()
    depths: dict[str, int] = {}
    for queue in sorted(broker.get_declared_queues()):
        client = getattr(broker, "client", None)
        if client is not None:  # RedisBroker: the queue is a list under "<namespace>:<queue>"
            depths[queue] = int(client.llen(f"{broker.namespace}:{queue}"))
        elif hasattr(broker, "queue_depth"):  # core.sqs.SQSBroker
            depths[queue] = broker.queue_depth(queue)
        elif hasattr(broker, "queues"):  # StubBroker
            depths[queue] = broker.queues[queue].qsize()
    return depths


_state_collector = StateCollector()
REGISTRY.register(_state_collector)


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_state_collector)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.ENABLE_METRICS:
        return HttpResponse(status=404)
    if not trust.may_read_metrics(request.META):
        status, body = _refusal()
        return JsonResponse(body, status=status, headers=_challenge(status))
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def _refusal() -> tuple[int, dict[str, str]]:
    if settings.METRICS_TOKEN:
        return 401, {
            "error": "Authentication required",
            "message": "Metrics need the header Authorization: Bearer <METRICS_TOKEN>",
        }
    return 403, {
        "error": "Forbidden",
        "message": "Without METRICS_TOKEN, metrics are served only to requests from this machine",
    }


def _challenge(status: int) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {}


def start_worker_exporter() -> bool:
    """Serves this worker process's metrics (all processes', in multiprocess mode) on
    WORKER_METRICS_HOST:WORKER_METRICS_PORT (127.0.0.1 unless configured; METRICS_TOKEN, when
    set, is required there too); another process of the same worker may already hold the port."""
    if not settings.ENABLE_METRICS or not settings.WORKER_METRICS_PORT:
        return False
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    host, port = settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT
    try:
        server = make_server(
            host, port, _guarded(make_wsgi_app(registry)), _server_class(host), _QuietHandler
        )
    except OSError:
        return False  # a sibling process serves them
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    logger.info("worker metrics on %s:%d", host, port)
    return True


def _guarded(app: Callable[..., Any]) -> Callable[..., Any]:
    """The exporter's own check: the bearer token when METRICS_TOKEN is set (its bind address
    keeps everyone else out when it is not)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if settings.METRICS_TOKEN and not trust.has_metrics_token(environ):
            status, body = _refusal()
            headers = [("Content-Type", "application/json"), *_challenge(status).items()]
            start_response(f"{status} Unauthorized", headers)
            return [json.dumps(body).encode()]
        return app(environ, start_response)

    return guarded


def _server_class(host: str) -> type[WSGIServer]:
    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return Server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not worth a log line
        pass


class MetricsMiddleware:
    """Counts requests by route pattern (not raw path, which would explode the label set)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        match: Any = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        if route != "metrics":
            HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            HTTP_LATENCY.labels(request.method, route).observe(time.monotonic() - started)
        return response
