"""GET /api/system/stats: this process, the deployment's active swarms, sockets and the resource guard."""

from __future__ import annotations

import platform
import time

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.responses import now_iso
from ops import health
from ops.api import STARTED
from swarms.models import Swarm


class SystemStatsApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "SystemStats",
                {
                    "system": inline_serializer(
                        "SystemInfo",
                        {
                            "pythonVersion": serializers.CharField(),
                            "platform": serializers.CharField(),
                            "architecture": serializers.CharField(),
                            "uptime": serializers.IntegerField(
                                help_text="seconds since this process started"
                            ),
                            "memory": inline_serializer(
                                "SystemMemory",
                                {
                                    "rss": serializers.IntegerField(help_text="bytes, this process"),
                                    "vms": serializers.IntegerField(),
                                    "systemTotal": serializers.IntegerField(),
                                    "systemAvailable": serializers.IntegerField(),
                                },
                            ),
                            "cpu": inline_serializer(
                                "SystemCpu",
                                {
                                    "processPercent": serializers.FloatField(),
                                    "systemPercent": serializers.FloatField(),
                                    "count": serializers.IntegerField(allow_null=True),
                                },
                            ),
                        },
                    ),
                    "server": inline_serializer(
                        "ServerInfo",
                        {
                            "activeSwarms": serializers.IntegerField(),
                            "connectedClients": serializers.IntegerField(),
                            "resourceGuard": serializers.DictField(
                                help_text="the resource guard's state: deferring, enabled, thresholds and, "
                                "while monitoring, the latest readings (README: resource guard)"
                            ),
                        },
                    ),
                    "timestamp": serializers.DateTimeField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "system": {
                    "pythonVersion": platform.python_version(),
                    "platform": platform.system().lower(),
                    "architecture": platform.machine(),
                    "uptime": int(time.monotonic() - STARTED),
                    "memory": health.memory(),
                    "cpu": health.cpu(),
                },
                "server": {
                    "activeSwarms": Swarm.objects.active().count(),
                    "connectedClients": health.connected_clients(),
                    "resourceGuard": health.resource_guard_status(),
                },
                "timestamp": now_iso(),
            }
        )
