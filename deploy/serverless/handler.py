"""AWS Lambda entry point for the REST API (the spec's Method 3): `handler(event, context)`.

apig-wsgi turns an API Gateway event (REST API payload v1, HTTP API payload v2, or an ALB
target event) into one WSGI request for Django, and the response back into the proxy-integration
result (binary bodies base64-encoded). Django is set up once per execution environment (the cold
start, at import); every later invocation reuses it, and reuses the database connection too.

Why WSGI and not Mangum over the ASGI app: a Lambda environment serves one request at a time, on
the thread that calls the handler. Under WSGI the request runs on that thread, so its database
connection is kept for DB_CONN_MAX_AGE seconds and health-checked before reuse (one that died
while the environment was frozen is replaced). Django's ASGI handler runs each request's sync
code on a new thread (ThreadSensitiveContext), so a persistent connection is never reused there
(Django ticket #33497): every invocation would open a new PostgreSQL connection. The views are
all synchronous; nothing is lost.

What does not run here (README "Serverless (AWS Lambda)"):
- WebSockets (/ws/...): API Gateway's WebSocket APIs are a separate route set ($connect,
  $disconnect, $default) with their own connection ids, not an ASGI websocket; serve live
  events from the container deployment, or poll GET /api/swarm/{id}/logs.
- Workers: Dramatiq consumers are long-lived processes. This function only enqueues; workers
  run as containers (deploy/Dockerfile, role `worker`) consuming the same broker, e.g.
  BROKER_URL=sqs://... An API function with the in-process StubBroker or embedded workers would
  accept swarms that never run, so inside Lambda (AWS_LAMBDA_FUNCTION_NAME is set) that is
  refused at cold start with a one-line configuration error.
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claudeflow_site.settings")
os.environ.setdefault("EMBEDDED_WORKERS", "false")  # no worker threads in a function that freezes
os.environ.setdefault("CLAUDEFLOW_VAR_DIR", "/tmp/claudeflow")  # the package directory is read-only
os.environ.setdefault("LOG_FORMAT", "json")  # one line per record in CloudWatch

import django
from apig_wsgi import make_lambda_handler
from django.conf import settings
from django.core.wsgi import get_wsgi_application

from claudeflow_site.config import ConfigError


def check_function_settings() -> None:
    """What an API function needs: a broker that workers elsewhere consume, and no workers here."""
    if settings.EMBEDDED_WORKERS:
        raise ConfigError(
            "EMBEDDED_WORKERS=true cannot run in a Lambda function (it is frozen between requests); "
            "run workers as containers and leave EMBEDDED_WORKERS unset"
        )
    broker = settings.DRAMATIQ_BROKER["BROKER"]
    if broker.endswith("StubBroker"):
        raise ConfigError(
            "the API function needs a broker its workers consume: set BROKER_URL=sqs://... (or REDIS_URL)"
        )


try:
    django.setup()
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # set by the Lambda runtime
        check_function_settings()
except ConfigError as exc:  # one line naming the variable, not a traceback, in the function's log
    print(f"configuration error: {exc}", file=sys.stderr)
    raise

wsgi_app = get_wsgi_application()
# binary_support: a PNG or a workspace zip goes back base64-encoded (an HTTP API needs no set-up
# for it; a REST API needs binaryMediaTypes "*/*" on the API).
_adapter = make_lambda_handler(wsgi_app, binary_support=True)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _adapter(event, context)
