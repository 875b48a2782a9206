"""The prompt trace under /api/swarm/{swarmId}/calls: every Claude call of a swarm, then one call's
request and response as stored (owner-only like every swarm object; a read key may read)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.lists import ListApi
from core.pagination import page_fields, paginate
from swarms import calls
from swarms.access import access_swarm
from swarms.api.swarms import ERRORS
from tasks.filters import CallFilter
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


class CallListApi(ListApi):
    queryset = ClaudeCall.objects.none()
    filterset_class = CallFilter

    @extend_schema(
        operation_id="swarm_calls_list",
        responses={
            200: inline_serializer(
                "CallList",
                {"swarmId": serializers.CharField(), "calls": CallSerializer(many=True), **page_fields()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        rows, window = self.query(calls.calls_of(swarm))
        page, fields = paginate(request, rows, window)
        return Response({"swarmId": swarm.id, "calls": CallSerializer(page, many=True).data, **fields})


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
