"""Connected WebSocket clients across all web processes, counted in the shared cache."""

from __future__ import annotations

import logging

from django.core.cache import cache

from ops.health import CONNECTED_CLIENTS_KEY

logger = logging.getLogger(__name__)


def connected() -> bool:
    try:
        cache.add(CONNECTED_CLIENTS_KEY, 0, timeout=None)
        cache.incr(CONNECTED_CLIENTS_KEY)
        return True
    except Exception:  # a count must never refuse a connection
        logger.warning("could not count a WebSocket connection", exc_info=True)
        return False


def disconnected() -> None:
    try:
        cache.decr(CONNECTED_CLIENTS_KEY)
    except Exception:  # a count must never break a disconnect
        logger.warning("could not uncount a WebSocket connection", exc_info=True)
