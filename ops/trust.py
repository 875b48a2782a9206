"""Who may read operational detail (/metrics, the worker exporter, /api/ready's details).

With METRICS_TOKEN set: whoever sends `Authorization: Bearer <METRICS_TOKEN>`. Without it: only
requests from this machine — the peer is a loopback address and no proxy forwarded the request
(a proxy on the same host makes every client look local; the forwarding header gives it away).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def has_metrics_token(meta: Mapping[str, Any]) -> bool:
    """`meta`: a Django request's META or a WSGI environ."""
    token = settings.METRICS_TOKEN
    sent = str(meta.get("HTTP_AUTHORIZATION", ""))
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def is_local(meta: Mapping[str, Any]) -> bool:
    return meta.get("REMOTE_ADDR") in LOOPBACK and not any(meta.get(h) for h in FORWARDING_HEADERS)


def may_read_metrics(meta: Mapping[str, Any]) -> bool:
    return has_metrics_token(meta) if settings.METRICS_TOKEN else is_local(meta)


def is_operator(request: Any) -> bool:
    """The metrics token, a local request, or a signed-in staff user (admin session).
    `request`: Django's HttpRequest."""
    if has_metrics_token(request.META) or is_local(request.META):
        return True
    try:  # from the session itself: probe views skip DRF authentication (request.user is anonymous there)
        user = get_user(request)
        return bool(user.is_authenticated and user.is_staff)
    except Exception:  # noqa: BLE001 — the session store may be what is down: no details then
        return False
