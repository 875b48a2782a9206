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


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latencyMs = serializers.FloatField()
    detail = serializers.CharField(help_text="what answered (e.g. the database vendor), or the error")


class ChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    redis = CheckSerializer(required=False, help_text="only when REDIS_URL is set")
    broker = CheckSerializer()


class ReadySerializer(serializers.Serializer):
    """GET /api/ready, 200 when every check passes, 503 otherwise."""

    status = serializers.ChoiceField(choices=["ready", "unavailable"])
    timestamp = serializers.DateTimeField()
    checks = ChecksSerializer(required=False, help_text="operators only")
    down = serializers.ListField(
        child=serializers.ChoiceField(choices=["database", "redis", "broker"]),
        required=False,
        help_text="operators only, when not ready: the failed checks",
    )


class ReadyApi(PublicApi):
    """Anyone gets the status (200/503); operators — METRICS_TOKEN, a request from this machine, or a
    staff session — also get each check's latency and error."""

    @extend_schema(
        responses={200: ReadySerializer, 503: ReadySerializer},
        description="`checks` and `down` are in the answer for operators only (METRICS_TOKEN, a request "
        "from this machine, or a staff session).",
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
