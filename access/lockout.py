"""Login lockouts (django-axes on the shared cache): LOGIN_FAILURE_LIMIT failed logins for one
account from one address lock that pair out for LOGIN_LOCKOUT_MINUTES, on /login, /admin/login/
and /api/auth/token alike.

Like the rate limits, the lockout fails open: with the cache unreachable, logins (which need only
the database) keep working, and `access.ratelimits.breaker` logs and counts it.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.cache import AxesCacheHandler
from django.conf import settings

from access.ratelimits import breaker


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out account+address before the password is checked. A login without a
    request (a shell, a management command, Django's test client) has no address to lock out."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class FailOpenCacheHandler(AxesCacheHandler):
    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        if breaker.is_open():
            breaker.failed(None)
            return 0
        try:
            return super().get_failures(request, credentials)
        except Exception as exc:  # noqa: BLE001 — a cache outage must not stop people logging in
            breaker.failed(exc)
            return 0

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        if breaker.is_open():
            breaker.failed(None)
            return
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except Exception as exc:  # noqa: BLE001 — as above: the failure goes uncounted, the login answers
            breaker.failed(exc)


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def is_locked_out(request: Any) -> bool:
    """Whether axes locked this login attempt out (it flags the request it was given, which for a
    DRF view is the DRF request, so its middleware never sees it there)."""
    return bool(getattr(request, "axes_locked_out", False))
