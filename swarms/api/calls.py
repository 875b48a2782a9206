"""The prompt trace under /api/swarm/{swarmId}/calls: every Claude call of a swarm, then one call's
request and response as stored (owner-only like every swarm object; a read key may read)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validated
from swarms import calls
from swarms.access import access_swarm
from swarms.api.swarms import ERRORS, MAX_OFFSET, _page_url
from tasks.models import ClaudeCall


class CallSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    taskId = serializers.CharField(source="task_id", allow_null=True)
    agentId = serializers.CharField(source="agent_id", allow_null=True)
    revision = serializers.IntegerField()
    attempt = serializers.IntegerField()
    turn = serializers.IntegerField()
    model = serializers.CharField()
    inputTokens = serializers.IntegerField(source="input_tokens", help_text="input not read from the cache")
    outputTokens = serializers.IntegerField(source="output_tokens")
    cacheReadTokens = serializers.IntegerField(source="cache_read_input_tokens")
    cacheCreationTokens = serializers.IntegerField(source="cache_creation_input_tokens")
    estimated = serializers.BooleanField(help_text="tokens estimated: in flight, cut short or lost")
    costUsd = serializers.SerializerMethodField()
    latencyMs = serializers.IntegerField(source="latency_ms")
    outcome = serializers.ChoiceField(choices=ClaudeCall.Outcome.values)
    errorType = serializers.CharField(source="error_type")
    createdAt = serializers.DateTimeField(source="created_at")

    def get_costUsd(self, call: ClaudeCall) -> float:
        return round(float(call.cost_usd), 6)


class CallTraceSerializer(CallSerializer):
    requestId = serializers.CharField(source="request_id")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    error = serializers.CharField()
    request = serializers.JSONField(
        allow_null=True, help_text="system, messages, tools, model, max_tokens as sent; null if not stored"
    )
    response = serializers.JSONField(
        source="trace_response",
        allow_null=True,
        help_text="content blocks, stop_reason and usage as received; null if none or not stored",
    )
    truncated = serializers.BooleanField(source="trace_truncated", help_text="cut to TRACE_MAX_BYTES")


class CallListQuerySerializer(serializers.Serializer):
    taskId = serializers.CharField(max_length=40, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class CallListApi(APIView):
    @extend_schema(
        operation_id="swarm_calls_list",
        parameters=[
            OpenApiParameter("taskId", str, description="only this task's calls"),
            OpenApiParameter("limit", int, description="page size, 1–500 (default 100)"),
            OpenApiParameter("offset", int, description=f"0–{MAX_OFFSET:,} (default 0)"),
        ],
        responses={
            200: inline_serializer(
                "CallList",
                {
                    "swarmId": serializers.CharField(),
                    "calls": CallSerializer(many=True),
                    "count": serializers.IntegerField(),
                    "limit": serializers.IntegerField(),
                    "offset": serializers.IntegerField(),
                    "next": serializers.CharField(allow_null=True),
                    "previous": serializers.CharField(allow_null=True),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        query = validated(CallListQuerySerializer, request.query_params)
        rows = calls.calls_of(swarm, task_id=query.get("taskId"))
        limit, offset = query["limit"], query["offset"]
        total = rows.count()
        page: Any = rows[offset : offset + limit]
        return Response(
            {
                "swarmId": swarm.id,
                "calls": CallSerializer(page, many=True).data,
                "count": total,
                "limit": limit,
                "offset": offset,
                "next": _page_url(request, limit, offset + limit) if offset + limit < total else None,
                "previous": _page_url(request, limit, max(0, offset - limit)) if offset else None,
            }
        )


class CallDetailApi(APIView):
    @extend_schema(
        operation_id="swarm_call_retrieve",
        responses={
            200: inline_serializer(
                "CallDetail", {"swarmId": serializers.CharField(), "call": CallTraceSerializer()}
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str, call_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        call = calls.call_of(swarm, call_id)
        return Response({"swarmId": swarm.id, "call": CallTraceSerializer(call).data})
