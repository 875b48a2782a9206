"""Open WebSocket connections across all web processes, per user and in total, in the shared cache.

Each process counts its own sockets in memory (exact) and publishes them as one cache entry that
expires after `WS_PRESENCE_TTL` seconds unless a refresher thread renews it: a web process that
crashes stops renewing, and its sockets drop out of every count within that time. A registry key
lists the processes; a lost registry write (two processes updating it at once) heals on the next
renewal. Counts are approximate across processes only in races (two processes admitting a user's
last socket at once). In the embedded shape the cache is local memory and there is one process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

PROCESS = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
REGISTRY_KEY = "claudeflow:ws:processes"
ENTRY_PREFIX = "claudeflow:ws:process:"

_lock = threading.Lock()
_users: Counter[str] = Counter()  # this process's open sockets by user id
_refresher: threading.Thread | None = None
_cache_failing = False


def connected(user_id: Any, limit: int) -> bool:
    """Counts a socket of `user_id`, unless the user already holds `limit` of them anywhere."""
    uid = str(user_id)
    elsewhere = _other_processes().get(uid, 0)
    with _lock:
        if elsewhere + _users[uid] >= limit:
            return False
        _users[uid] += 1
    _publish()
    _start_refresher()
    return True


def disconnected(user_id: Any) -> None:
    uid = str(user_id)
    with _lock:
        _users[uid] -= 1
        if _users[uid] <= 0:
            del _users[uid]
    _publish()


def total() -> int:
    """Open sockets in all live web processes."""
    with _lock:
        here = sum(_users.values())
    return here + sum(_other_processes().values())


def _other_processes() -> Counter[str]:
    counts: Counter[str] = Counter()
    try:
        others = [ENTRY_PREFIX + p for p in cache.get(REGISTRY_KEY, ()) if p != PROCESS]
        for entry in cache.get_many(others).values():
            counts.update(entry)
    except Exception as exc:  # noqa: BLE001 — a count must never refuse or break a connection
        _cache_failed(exc)
    return counts


def _publish() -> None:
    """Writes this process's entry (and registers the process if the registry lost it)."""
    with _lock:
        entry = dict(_users)
    try:
        cache.set(ENTRY_PREFIX + PROCESS, entry, timeout=settings.WS_PRESENCE_TTL)
        registry = set(cache.get(REGISTRY_KEY, ()))
        if PROCESS not in registry:
            cache.set(REGISTRY_KEY, registry | {PROCESS}, timeout=None)
    except Exception as exc:  # noqa: BLE001
        _cache_failed(exc)
        return
    _cache_ok()


def _prune() -> None:
    """Drops processes whose entry expired (they crashed) from the registry."""
    try:
        registry = set(cache.get(REGISTRY_KEY, ()))
        alive = {
            key.removeprefix(ENTRY_PREFIX) for key in cache.get_many([ENTRY_PREFIX + p for p in registry])
        }
        if alive != registry:
            cache.set(REGISTRY_KEY, alive | {PROCESS}, timeout=None)
    except Exception as exc:  # noqa: BLE001
        _cache_failed(exc)


def _start_refresher() -> None:
    global _refresher
    with _lock:
        if _refresher is not None and _refresher.is_alive():
            return
        _refresher = threading.Thread(target=_refresh_forever, name="ws-presence", daemon=True)
        _refresher.start()


def _refresh_forever() -> None:
    while True:
        time.sleep(settings.WS_PRESENCE_TTL / 3)
        _publish()
        _prune()


def _cache_failed(exc: Exception) -> None:
    global _cache_failing
    if not _cache_failing:  # once per outage, without a traceback
        logger.warning("WebSocket presence counts unavailable (%s: %s)", type(exc).__name__, exc)
    _cache_failing = True


def _cache_ok() -> None:
    global _cache_failing
    if _cache_failing:
        logger.warning("WebSocket presence counts available again")
    _cache_failing = False
