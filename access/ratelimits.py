"""Rate limits on a shared cache, through django-ratelimit, as DRF throttles.

Limits count per user (keys from API_KEYS all act as the one service account), so minting
more keys buys nothing; anonymous requests, failed authentication and refused swarm creations
count against the client's IP (`access.network` resolves it, trusting only TRUSTED_PROXIES).
DRF turns a refusal into `Throttled(wait)`, which the exception handler renders as a 429 with
`Retry-After` set to the seconds left in the current window.

The limiter fails open: when the cache (Redis) is unreachable a request goes through, a metric
counts it and a warning is logged at most once a minute; the cache is left alone for a few
seconds after a failure, so a dead Redis costs no connection attempt per request.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from access.network import client_ip
from ops.metrics import RATELIMIT_FAIL_OPEN

logger = logging.getLogger(__name__)

GENERAL = "api"
SWARM_CREATE = "swarm-create"
RETRY_CACHE_AFTER_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0


def rate_key(group: str, request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return ip_key(group, request)


def ip_key(group: str, request: Any) -> str:
    return f"ip:{client_ip(request)}"


def general_rate() -> str:
    return f"{settings.RATE_LIMIT_MAX}/{max(1, settings.RATE_LIMIT_WINDOW // 1000)}s"


class _CacheBreaker:
    """Remembers a cache failure for a few seconds and rate-limits the warning about it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.warned_at = float("-inf")

    def is_open(self) -> bool:
        return time.monotonic() < self.down_until

    def failed(self, exc: BaseException | None) -> None:
        now = time.monotonic()
        RATELIMIT_FAIL_OPEN.inc()
        with self._lock:
            if exc is not None:
                self.down_until = now + RETRY_CACHE_AFTER_SECONDS
            warn = now - self.warned_at >= WARN_EVERY_SECONDS
            if warn:
                self.warned_at = now
        if warn:
            logger.warning(
                "rate limits fail open: the rate-limit cache is unreachable (%s); requests go through unlimited",
                exc or "no answer",
            )


breaker = _CacheBreaker()


def usage(
    request: Any, *, group: str, rate: str, key: Callable[[str, Any], str] = rate_key, increment: bool
) -> dict[str, Any] | None:
    """django-ratelimit's usage of a bucket, or None when the cache failed (the caller allows)."""
    if breaker.is_open():
        breaker.failed(None)
        return None
    try:
        found = get_usage(request, group=group, key=key, rate=rate, increment=increment)
    except Exception as exc:  # noqa: BLE001 — whatever the cache raises, a limiter must not fail the request
        breaker.failed(exc)
        return None
    if found is None:  # RATELIMIT_FAIL_OPEN: the cache answered nothing
        breaker.failed(None)
    return found


class _RateLimit(BaseThrottle):
    group = ""

    @abstractmethod
    def rate(self) -> str: ...

    def allow_request(self, request: Request, view: Any) -> bool:
        found = usage(request, group=self.group, rate=self.rate(), increment=True)
        self._time_left = found["time_left"] if found else 0
        return not (found and found["should_limit"])

    def wait(self) -> float:
        return max(1, self._time_left)


class GeneralRateLimit(_RateLimit):
    """RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW milliseconds, per user (or IP if anonymous)."""

    group = GENERAL

    def rate(self) -> str:
        return general_rate()


class SwarmCreateRateLimit(BaseThrottle):
    """SWARM_CREATE_RATE swarm creations (default 10/h) per user. Only created swarms count
    (see `counted_creation`); an IP whose refused attempts exhausted its general budget is refused too."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self._time_left = 0
        for found in (
            usage(request, group=SWARM_CREATE, rate=settings.SWARM_CREATE_RATE, increment=False),
            usage(request, group=GENERAL, rate=general_rate(), key=ip_key, increment=False),
        ):
            if found and found["count"] >= found["limit"]:  # a peek: the next one would be over
                self._time_left = found["time_left"]
                return False
        return True

    def wait(self) -> float:
        return max(1, self._time_left)


@contextmanager
def counted_creation(request: Request) -> Iterator[None]:
    """A swarm created counts against the user's SWARM_CREATE_RATE; a refused attempt (invalid,
    over a quota) counts against the client's IP instead, so typos never lock a user out."""
    try:
        yield
    except Exception:
        usage(request, group=GENERAL, rate=general_rate(), key=ip_key, increment=True)
        raise
    usage(request, group=SWARM_CREATE, rate=settings.SWARM_CREATE_RATE, increment=True)


def refuse_failed_authentication(request: Request) -> None:
    """Failed authentication counts against the client's IP; past the general limit it is a 429."""
    found = usage(request, group=GENERAL, rate=general_rate(), key=ip_key, increment=True)
    if found and found["should_limit"]:
        raise Throttled(wait=max(1, found["time_left"]))
