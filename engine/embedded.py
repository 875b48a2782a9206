"""The embedded shape: worker threads inside the server process, and (with no Claude key) the
local fake Claude, so `bin/run` runs a first swarm end to end with no other service."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)
_started = threading.Event()


def start_if_enabled() -> None:
    if not settings.EMBEDDED_WORKERS or _started.is_set():
        return
    _started.set()
    if needs_fake_claude():
        start_fake_claude()
    start_workers()


def needs_fake_claude() -> bool:
    if settings.FAKE_CLAUDE == "on":
        return True
    return (
        settings.FAKE_CLAUDE == "auto" and not settings.ANTHROPIC_API_KEY and not settings.ANTHROPIC_BASE_URL
    )


def start_fake_claude() -> str:
    from fakeclaude import FakeClaude

    low, high = settings.FAKE_CLAUDE_LATENCY_MS
    # plausible: objective-specific plans, so the offline demo reads like a real run
    fake = FakeClaude(latency_ms=low, latency_max_ms=high, chunk_delay_ms=15, plausible=True)
    url = fake.start()
    settings.ANTHROPIC_BASE_URL = url
    settings.ANTHROPIC_API_KEY = settings.ANTHROPIC_API_KEY or "fake-key"
    logger.warning(
        "No ANTHROPIC_API_KEY: using the local fake Claude at %s (answers are canned, %d-%d ms each)",
        url,
        low,
        high,
    )
    return url


def start_workers() -> None:
    import dramatiq
    from dramatiq import Worker

    import engine.actors  # noqa: F401 — registers the actors on the broker

    broker = dramatiq.get_broker()
    broker.emit_after("process_boot")  # arms TimeLimit and friends, as a real worker process does
    worker = Worker(broker, worker_threads=settings.EMBEDDED_WORKER_THREADS, worker_timeout=100)
    worker.start()
    logger.info(
        "embedded workers started: %d threads on %s", settings.EMBEDDED_WORKER_THREADS, type(broker).__name__
    )
