"""ASGI entry point, served by daphne in every shape: HTTP through Django, /ws through Channels."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claudeflow_site.settings")

import django

from claudeflow_site.config import ConfigError

try:
    django.setup()
except ConfigError as exc:  # one line naming the variable, not a traceback
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(2)

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

from claudeflow_site.routing import allow_standard_close_codes, websocket_application
from core.logging import redact_daphne_access_log
from engine import embedded

allow_standard_close_codes()
redact_daphne_access_log()  # before daphne serves the first request

application = ProtocolTypeRouter({"http": get_asgi_application(), "websocket": websocket_application()})

embedded.start_if_enabled()
