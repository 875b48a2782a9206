"""Rate limits on a shared cache, through django-ratelimit, as DRF throttles.

Throttles run after authentication, so the limit is per API key, else per user, else per IP.
DRF turns a refusal into `Throttled(wait)`, which the exception handler renders as a 429 with
`Retry-After` set to the seconds left in the current window.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from access.auth import EnvApiKey
from access.models import ApiKey


def rate_key(group: str, request: Request) -> str:
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey | EnvApiKey):
        return f"key:{auth.id}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class _RateLimit(BaseThrottle):
    group = ""

    @abstractmethod
    def rate(self) -> str: ...

    def allow_request(self, request: Request, view: Any) -> bool:
        usage = get_usage(request, group=self.group, key=rate_key, rate=self.rate(), increment=True)
        self._time_left = usage["time_left"] if usage else 0
        return not (usage and usage["should_limit"])

    def wait(self) -> float:
        return max(1, self._time_left)


class GeneralRateLimit(_RateLimit):
    """RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW milliseconds."""

    group = "api"

    def rate(self) -> str:
        return f"{settings.RATE_LIMIT_MAX}/{max(1, settings.RATE_LIMIT_WINDOW // 1000)}s"


class SwarmCreateRateLimit(_RateLimit):
    """SWARM_CREATE_RATE swarm creations (default 10/h)."""

    group = "swarm-create"

    def rate(self) -> str:
        return settings.SWARM_CREATE_RATE
