"""Dependency checks for /api/ready and process readings for /api/system/stats."""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from ops import presence

_PROCESS = psutil.Process(os.getpid())
RESOURCE_GUARD_KEY = "claudeflow:resource-guard"


def check_dependencies() -> dict[str, dict[str, Any]]:
    checks = {"database": _timed(_check_database)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_check_redis)
    checks["broker"] = _timed(_check_broker)
    return checks


def _timed(check: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # noqa: BLE001 — any failure means "down", and the body says why
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "latencyMs": round((time.monotonic() - started) * 1000, 1), "detail": detail}


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "pong"


def _check_broker() -> str:
    import dramatiq

    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is not None:  # RedisBroker
        client.ping()
    elif hasattr(broker, "ping"):  # core.sqs.SQSBroker
        broker.ping()
    return type(broker).__name__


def memory() -> dict[str, int]:
    info = _PROCESS.memory_info()
    return {
        "rss": info.rss,
        "vms": info.vms,
        "systemTotal": psutil.virtual_memory().total,
        "systemAvailable": psutil.virtual_memory().available,
    }


def cpu() -> dict[str, Any]:
    return {
        "processPercent": _PROCESS.cpu_percent(interval=None),
        "systemPercent": psutil.cpu_percent(interval=None),
        "count": psutil.cpu_count(),
    }


def connected_clients() -> int:
    return presence.total()  # never raises: a stats page must not fail because the cache is down


def resource_guard_status() -> dict[str, Any]:
    status = cache.get(RESOURCE_GUARD_KEY) if settings.RESOURCE_MONITORING else None
    return status or {
        "deferring": False,
        "enabled": settings.RESOURCE_MONITORING,
        "memoryThreshold": settings.MEMORY_THRESHOLD,
        "cpuThreshold": settings.CPU_THRESHOLD,
    }
