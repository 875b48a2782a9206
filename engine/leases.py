"""Leases: a running task (or a plan) is held by one worker, which a watchdog thread proves alive.

The watchdog renews the lease beside each running call and aborts the call when it must stop.

It notices within about a second that the task was cancelled (stop, delete, agent terminated),
that its lease was taken over, or that it ran past its timeout, and fires the call's Abort.
The registry lets a worker that is shutting down let in-flight work finish, then abort the rest.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from engine.claude import Abort

logger = logging.getLogger(__name__)

_active: set[Watchdog] = set()
_shutting_down = threading.Event()
_active_lock = threading.Lock()


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)


def renew_interval() -> float:
    return min(1.0, settings.TASK_LEASE_SECONDS / 3)


class Watchdog:
    def __init__(
        self, *, name: str, renew: Callable[[], str | None], timeout_s: float | None, interval_s: float = 1.0
    ) -> None:
        self.name = name
        self.abort = Abort()
        self._renew = renew  # returns None while all is well, else the reason to abort
        self._timeout_s = timeout_s
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"watchdog-{name}", daemon=True)

    def __enter__(self) -> Watchdog:
        with _active_lock:
            _active.add(self)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with _active_lock:
            _active.discard(self)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self._interval_s):
                reason = self.check()
                if reason:
                    self.abort.trigger(reason)
                    return
        finally:
            connection.close()  # this thread's own connection

    def check_now(self) -> None:
        """Checks at once, between two steps of the work (a tool loop's turns), not only on the
        interval: a stop that came during a turn ends the loop before the next call starts."""
        reason = self.check()
        if reason:
            self.abort.trigger(reason)
        self.abort.raise_if_set()

    def check(self) -> str | None:
        if self._timeout_s is not None and time.monotonic() - self._started > self._timeout_s:
            return "timeout"
        try:
            close_old_connections()
            return self._renew()
        except Exception:  # a database blip must not kill the call; the lease covers it
            logger.warning("watchdog %s could not renew its lease", self.name, exc_info=True)
            return None


def active_count() -> int:
    with _active_lock:
        return len(_active)


def shutting_down() -> bool:
    return _shutting_down.is_set()


def resume() -> None:
    """A worker boots in this process (again: tests start one after another, each stopped at its
    end): tasks chain on their thread and leases renew as usual."""
    _shutting_down.clear()


def shutdown(grace_s: float) -> int:
    """Lets in-flight calls finish for up to grace_s, then aborts the rest; returns how many."""
    _shutting_down.set()
    deadline = time.monotonic() + grace_s
    while active_count() and time.monotonic() < deadline:
        time.sleep(0.1)
    with _active_lock:
        remaining = list(_active)
    for watchdog in remaining:
        watchdog.abort.trigger("shutdown")
    return len(remaining)
