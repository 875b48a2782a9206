"""Dramatiq middleware: housekeeping in every worker process, and a graceful shutdown.

On SIGTERM dramatiq stops handing out messages and waits for its threads; before that, this
lets in-flight tasks run for WORKER_GRACE_SECONDS, then aborts the rest, whose bridge hands
them back (pending again) so another worker starts them at once instead of after a lease expiry.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


class Housekeeping(dramatiq.Middleware):
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        # The actors import the engine lazily (processes that only send work never load it); a
        # worker loads it now, so its first messages do not wait seconds for the anthropic SDK.
        from engine import housekeeping, leases, planner, runner, scheduler, settle  # noqa: F401
        from engine.claude import client

        leases.resume()  # a worker stopped earlier in this process set the shutdown flag

        client.client()  # the SDK client (its HTTP pool) too
        if not settings.EMBEDDED_WORKERS:  # embedded: the web process's /metrics covers it
            from ops.metrics import start_worker_exporter

            start_worker_exporter()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        # Not blocking here: dramatiq next tells its threads to take no new message, and only
        # then may the grace period end in aborts, or a thread could pick the handed-back task up.
        self._stop.set()
        threading.Thread(target=self._wind_down, name="shutdown-grace", daemon=True).start()

    def _wind_down(self) -> None:
        from engine import leases as watchdog

        handed_back = watchdog.shutdown(settings.WORKER_GRACE_SECONDS)
        if handed_back:
            logger.warning("shutdown: handed %d unfinished task(s) back to the queue", handed_back)

    def _loop(self) -> None:
        from engine import housekeeping

        try:
            while not self._stop.wait(settings.HOUSEKEEPING_INTERVAL_SECONDS):
                close_old_connections()
                housekeeping.tick()
        finally:
            connection.close()
