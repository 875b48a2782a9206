"""Service-level endpoints: health and readiness probes, system stats."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.responses import now_iso
from core.version import VERSION
from ops import health, trust

STARTED = time.monotonic()


class PublicApi(APIView):
    """No credentials and no rate limit: probes must always get through."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[Any] = []


class HealthApi(PublicApi):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "service": serializers.CharField(),
                    "version": serializers.CharField(),
                    "timestamp": serializers.DateTimeField(),
                    "uptime": serializers.IntegerField(),
                    "environment": serializers.CharField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "status": "healthy",
                "service": "claude-flow-headless-api",
                "version": VERSION,
                "timestamp": now_iso(),
                "uptime": int(time.monotonic() - STARTED),
                "environment": settings.ENVIRONMENT,
            }
        )


class ReadyApi(PublicApi):
    """Anyone gets the status (200/503); operators — METRICS_TOKEN, a request from this machine, or a
    staff session — also get each check's latency and error."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "Ready", {"status": serializers.CharField(), "checks": serializers.DictField()}
            )
        }
    )
    def get(self, request: Request) -> Response:
        checks = health.check_dependencies()
        ready = all(check["ok"] for check in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "timestamp": now_iso()}
        # what is down and why (hosts, ports, error text) is for operators, not for anyone who asks
        if trust.is_operator(request._request):
            body["checks"] = checks
            if not ready:
                body["down"] = sorted(name for name, check in checks.items() if not check["ok"])
        return Response(body, status=200 if ready else 503)
