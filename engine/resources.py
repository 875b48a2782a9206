"""The spec's resource guard: a worker process that uses too much memory (its RSS above
MEMORY_THRESHOLD) or CPU (above CPU_THRESHOLD of one CPU, or of its cgroup's CPU quota when that
is smaller) defers new dispatch and alerts the executing swarms.

It measures this process, never the machine, so a busy neighbour cannot stop the swarms. A
resource turns over (or back under) its threshold only after RESOURCE_GUARD_SAMPLES readings in a
row agree (one per housekeeping tick), so a spike does not pause dispatch; each resource alerts
at most once per RESOURCE_ALERT_INTERVAL seconds (with one all-clear after an alert that went
out). While dispatch is deferred the swarms waiting for it do not age: the time goes to their
deferred_ms, which their timeout leaves out.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from ops.health import RESOURCE_GUARD_KEY

logger = logging.getLogger(__name__)

RESOURCES = ("memory", "cpu")


@dataclass
class _Resource:
    over: bool = False  # the debounced verdict
    streak: int = 0  # readings in a row that disagree with it
    alerted_at: float | None = None  # monotonic time of its last "over" alert
    announced: bool = False  # an "over" alert went out: its all-clear is due


_state: dict[str, Any] = {"deferring": False}
_resources: dict[str, _Resource] = {}
_deferring_since: list[datetime] = []  # set while deferring
_lock = threading.Lock()


def reset_guard() -> None:
    """Forgets every reading (tests; a fresh process starts this way)."""
    with _lock:
        _state.clear()
        _state["deferring"] = False
        _resources.clear()
        _resources.update({name: _Resource() for name in RESOURCES})
        _deferring_since.clear()


reset_guard()


def guard_state() -> dict[str, Any]:
    with _lock:
        return dict(_state)


def sample() -> dict[str, float]:
    """This process's RSS, and its CPU time per second since the previous reading, as a share of
    the CPU it may use."""
    process = _process(os.getpid())  # by pid: a forked worker process measures itself
    cpu = process.cpu_percent(interval=None) / 100
    return {"memory": float(process.memory_info().rss), "cpu": cpu / cpu_capacity()}


@functools.cache
def _process(pid: int) -> psutil.Process:
    return psutil.Process(pid)  # kept: it remembers the CPU times of the previous reading


@functools.cache
def cpu_capacity() -> float:
    """One CPU (Python runs one thread of a process at a time), or less under a cgroup quota."""
    quotas = [1.0]
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2: "max 100000" or "<quota> <period>"
            quota, _, period = _read(f"/sys/fs/cgroup{path.rstrip('/')}/cpu.max").partition(" ")
        elif "cpu" in controllers.split(","):  # cgroup v1
            base = f"/sys/fs/cgroup/{controllers}{path.rstrip('/')}"
            quota, period = _read(f"{base}/cpu.cfs_quota_us"), _read(f"{base}/cpu.cfs_period_us")
        else:
            continue
        if quota.strip().isdigit() and period.strip().isdigit() and int(period) > 0:
            quotas.append(int(quota) / int(period))
    return min(quotas)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def update_guard(reading: dict[str, float] | None = None) -> dict[str, Any]:
    """Takes a reading (one per housekeeping tick), updates the debounced verdict, alerts on a
    change (rate-limited) and stops the timeout clock of the swarms waiting for dispatch."""
    if not settings.RESOURCE_MONITORING:
        return guard_state()
    reading = reading or sample()
    now = timezone.now()
    with _lock:
        changed = _debounce(reading)
        deferring = any(_resources[name].over for name in RESOURCES)
        previous = _deferring_since[0] if _deferring_since else None
        since = previous or now
        _deferring_since[:] = [since] if deferring else []
        state = _describe(reading, deferring, since if deferring else None, now)
        alerts = [_alert_for(name, state) for name in changed]
        _state.clear()
        _state.update(state)
    try:
        cache.set(RESOURCE_GUARD_KEY, state, timeout=max(60, int(settings.HOUSEKEEPING_INTERVAL_SECONDS * 3)))
    except Exception:  # reporting must not break the guard
        logger.warning("could not publish the resource guard state", exc_info=True)
    if deferring or previous is not None:  # deferring, or just stopped: the waiting swarms do not age
        try:
            stop_clocks(since=since, until=now)
        except Exception:  # the alerts still go out; a later reading while deferring counts it again
            logger.exception("could not stop the timeout clocks of the deferred swarms")
    for alert in alerts:
        if alert is not None:
            _publish_alert(*alert, state)
    return state


def _debounce(reading: dict[str, float]) -> list[str]:
    """Resources whose verdict flips: RESOURCE_GUARD_SAMPLES readings in a row disagreed with it."""
    over = {
        "memory": reading["memory"] > settings.MEMORY_THRESHOLD,
        "cpu": reading["cpu"] > settings.CPU_THRESHOLD,
    }
    changed = []
    for name in RESOURCES:
        resource = _resources[name]
        resource.streak = resource.streak + 1 if over[name] != resource.over else 0
        if resource.streak >= settings.RESOURCE_GUARD_SAMPLES:
            resource.over, resource.streak = over[name], 0
            changed.append(name)
    return changed


def _describe(reading: dict[str, float], deferring: bool, since: datetime | None, now: datetime) -> dict:
    reasons = []
    if _resources["memory"].over:
        reasons.append(f"memory {int(reading['memory'])} B > MEMORY_THRESHOLD {settings.MEMORY_THRESHOLD} B")
    if _resources["cpu"].over:
        reasons.append(f"cpu {reading['cpu']:.2f} > CPU_THRESHOLD {settings.CPU_THRESHOLD}")
    return {
        "deferring": deferring,
        "reason": "; ".join(reasons),
        "memory": int(reading["memory"]),
        "cpu": round(reading["cpu"], 3),
        "memoryThreshold": settings.MEMORY_THRESHOLD,
        "cpuThreshold": settings.CPU_THRESHOLD,
        "enabled": True,
        "process": f"{socket.gethostname()}:{os.getpid()}",
        "checkedAt": now.isoformat(),
        "deferringSince": since.isoformat() if since else None,
    }


def _alert_for(name: str, state: dict[str, Any]) -> tuple[str, str, str] | None:
    """(resource, level, message) to announce, or None: at most one "over" alert per resource per
    RESOURCE_ALERT_INTERVAL, and an all-clear only after an alert that went out."""
    resource = _resources[name]
    if resource.over:
        clock = time.monotonic()
        if resource.alerted_at is not None and clock - resource.alerted_at < settings.RESOURCE_ALERT_INTERVAL:
            logger.info("resource guard: %s over its threshold again (alert suppressed)", name)
            return None
        resource.alerted_at, resource.announced = clock, True
        return name, "warn", f"Resource guard: deferring new dispatch ({state['reason']})"
    if not resource.announced:
        return None
    resource.announced = False
    if state["deferring"]:
        return (
            name,
            "info",
            f"Resource guard: {name} back under its threshold; still deferring ({state['reason']})",
        )
    return name, "info", f"Resource guard: {name} back under its threshold, dispatch resumes"


def _publish_alert(resource: str, level: str, message: str, state: dict[str, Any]) -> None:
    from events import catalogue
    from events.stream import log, publish
    from swarms.models import Swarm

    logger.log(logging.WARNING if level == "warn" else logging.INFO, message)
    for swarm_id in Swarm.objects.filter(status=Swarm.Status.EXECUTING).values_list("id", flat=True):
        with transaction.atomic():
            publish(
                swarm_id, catalogue.system_alert(level=level, message=message, state=state, resource=resource)
            )
            log(swarm_id, level, "ResourceMonitor", message)


def stop_clocks(*, since: datetime, until: datetime) -> int:
    """Executing swarms with work waiting for dispatch do not age between `since` and `until`: the
    time goes to their deferred_ms, beyond what was counted already (deferred_until), so processes
    deferring at the same time count each second once. Returns the swarms updated."""
    from swarms.models import Swarm
    from tasks.models import Task

    waiting = Task.objects.filter(swarm=OuterRef("pk"), status=Task.Status.PENDING)
    rows = (
        Swarm.objects.filter(status=Swarm.Status.EXECUTING, started_at__isnull=False)
        .filter(Exists(waiting))
        .values_list("id", "started_at", "deferred_until")
    )
    stopped = 0
    for swarm_id, started_at, counted_until in rows:
        start = max(moment for moment in (since, started_at, counted_until) if moment is not None)
        if until <= start:
            continue
        added = int((until - start).total_seconds() * 1000)
        stopped += Swarm.objects.filter(pk=swarm_id, deferred_until=counted_until).update(
            deferred_ms=F("deferred_ms") + added, deferred_until=until
        )
    return stopped
