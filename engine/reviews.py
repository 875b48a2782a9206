"""Non-blocking reviews run on a small pool of their own, so a worker thread that stored a result
takes its next message at once instead of waiting for the score.

Outside hierarchical mode a review only scores: losing one (the process dies meanwhile) leaves
the task's quality empty and nothing else; a worker shutting down aborts the reviews still running
through their watchdogs, like every other call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pending: set[Future[Any]] = set()


def submit(job: Callable[..., Any], *args: Any) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.MAX_CONCURRENT_TASKS, thread_name_prefix="review")
        future = _pool.submit(_run, job, *args)
        _pending.add(future)
    future.add_done_callback(_forget)


def _run(job: Callable[..., Any], *args: Any) -> None:
    close_old_connections()
    try:
        job(*args)
    except Exception:
        logger.exception("review failed")
    finally:
        connection.close()  # the pool's threads outlive requests: leave no connection behind


def _forget(future: Future[Any]) -> None:
    with _lock:
        _pending.discard(future)


def drain(timeout_s: float) -> bool:
    """Waits for the reviews under way (tests, shutdown); True if none is left."""
    with _lock:
        pending = set(_pending)
    done, not_done = wait(pending, timeout=timeout_s)
    return not not_done
