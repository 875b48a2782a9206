"""Small helpers for the spec's response envelopes."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response


def now_iso() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


def envelope(status_code: int = 200, **fields: Any) -> Response:
    return Response({**fields, "timestamp": now_iso()}, status=status_code)


class ActionResponseSchema(serializers.Serializer):
    """{"swarmId", "status", "message", "timestamp"} — the answer to a lifecycle command."""

    swarmId = serializers.CharField()
    status = serializers.CharField()
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()


class ErrorDetailSchema(serializers.Serializer):
    """One problem of a 400: where (a dotted path into the body, or `body`), what, and the value sent."""

    field = serializers.CharField()
    message = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="the value sent (cut to a sane size)")


class ErrorSchema(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    details = ErrorDetailSchema(many=True, required=False, help_text="400: one item per problem")
    retryAfter = serializers.IntegerField(required=False, help_text="429: seconds to wait")


class SpendSerializer(serializers.Serializer):
    inputTokens = serializers.IntegerField()
    outputTokens = serializers.IntegerField()
    totalTokens = serializers.IntegerField()
    costUsd = serializers.FloatField()


def spend_of(row: Any) -> dict[str, Any]:
    return {
        "inputTokens": row.input_tokens,
        "outputTokens": row.output_tokens,
        "totalTokens": row.input_tokens + row.output_tokens,
        "costUsd": round(float(row.cost_usd), 6),
    }
