"""The spec's resource guard: above MEMORY_THRESHOLD (this process's RSS) or CPU_THRESHOLD
(machine-wide CPU share) a worker process defers new dispatch and raises an alert event."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import psutil
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ops.health import RESOURCE_GUARD_KEY

logger = logging.getLogger(__name__)

_PROCESS = psutil.Process(os.getpid())
_state: dict[str, Any] = {"deferring": False}
_lock = threading.Lock()


def guard_state() -> dict[str, Any]:
    with _lock:
        return dict(_state)


def sample() -> dict[str, float]:
    return {"memory": float(_PROCESS.memory_info().rss), "cpu": psutil.cpu_percent(interval=None) / 100}


def update_guard(reading: dict[str, float] | None = None) -> dict[str, Any]:
    """Measures (or takes a reading), flips the guard, and alerts executing swarms on a change."""
    if not settings.RESOURCE_MONITORING:
        return guard_state()
    reading = reading or sample()
    reasons = []
    if reading["memory"] > settings.MEMORY_THRESHOLD:
        reasons.append(f"memory {int(reading['memory'])} B > MEMORY_THRESHOLD {settings.MEMORY_THRESHOLD} B")
    if reading["cpu"] > settings.CPU_THRESHOLD:
        reasons.append(f"cpu {reading['cpu']:.2f} > CPU_THRESHOLD {settings.CPU_THRESHOLD}")
    state = {
        "deferring": bool(reasons),
        "reason": "; ".join(reasons),
        "memory": int(reading["memory"]),
        "cpu": round(reading["cpu"], 3),
        "memoryThreshold": settings.MEMORY_THRESHOLD,
        "cpuThreshold": settings.CPU_THRESHOLD,
        "enabled": True,
        "process": f"{socket.gethostname()}:{os.getpid()}",
        "checkedAt": timezone.now().isoformat(),
    }
    with _lock:
        changed = state["deferring"] != _state.get("deferring")
        _state.clear()
        _state.update(state)
    try:
        cache.set(RESOURCE_GUARD_KEY, state, timeout=max(60, int(settings.HOUSEKEEPING_INTERVAL_SECONDS * 3)))
    except Exception:  # reporting must not break the guard
        logger.warning("could not publish the resource guard state", exc_info=True)
    if changed:
        _alert(state)
    return state


def _alert(state: dict[str, Any]) -> None:
    from events import catalogue
    from events.stream import log, publish
    from swarms.models import Swarm

    level = "warn" if state["deferring"] else "info"
    message = (
        f"Resource guard: deferring new dispatch ({state['reason']})"
        if state["deferring"]
        else "Resource guard: resources back under thresholds, dispatch resumes"
    )
    logger.log(logging.WARNING if state["deferring"] else logging.INFO, message)
    for swarm_id in Swarm.objects.filter(status=Swarm.Status.EXECUTING).values_list("id", flat=True):
        with transaction.atomic():
            publish(swarm_id, catalogue.system_alert(level=level, message=message, state=state))
            log(swarm_id, level, "ResourceMonitor", message)
