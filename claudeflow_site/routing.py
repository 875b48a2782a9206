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


# Close codes RFC 6455 and the IANA registry let a server send; autobahn's sendClose() accepts only
# 1000 and 3000-4999 (daphne#374, autobahn-python#1642), so daphne could not say 1008 or 1013.
SERVER_CLOSE_CODES = {1001, 1008, 1011, 1012, 1013}


def allow_standard_close_codes() -> None:
    """Lets the consumer close with 1008 (policy) and 1013 (try again later) under daphne."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another ASGI server
        return
    if getattr(WebSocketProtocol, "standard_close_codes", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self: Any, code: int | None = None) -> None:
        if code in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=code)  # what daphne itself does for 1011
        else:
            original(self, code)

    WebSocketProtocol.serverClose = server_close
    WebSocketProtocol.standard_close_codes = True
