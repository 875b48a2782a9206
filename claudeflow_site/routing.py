"""The WebSocket side of the ASGI application."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from swarms.consumers import SwarmConsumer


class BrowserOriginValidator(OriginValidator):
    """Cross-site WebSocket hijacking only concerns browsers, which always send Origin: refuse a
    foreign Origin, but let non-browser clients (no Origin, key or token auth) through."""

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)


def allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    origins = [o.split("://", 1)[1] for o in settings.CORS_ALLOWED_ORIGINS]
    return hosts + origins + [o.split("://", 1)[1] for o in settings.CSRF_TRUSTED_ORIGINS]


def websocket_application() -> Any:
    router = URLRouter([path("ws", SwarmConsumer.as_asgi())])
    return BrowserOriginValidator(AuthMiddlewareStack(router), allowed_origins())
