"""Input and output shapes of the webhook API (the UI's form is validated by the same input)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.validation import StrictBooleanField, no_control_characters
from webhooks.models import Delivery


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, validators=[no_control_characters])
    events = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=30)
    active = StrictBooleanField(default=True)
    swarmId = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", validators=[no_control_characters]
    )

    @staticmethod
    def service_arguments(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": data["url"],
            "event_types": data["events"],
            "active": data["active"],
            "swarm_id": data["swarmId"],
            "description": data["description"],
        }


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False, validators=[no_control_characters])
    events = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=30, required=False
    )
    active = StrictBooleanField(required=False)
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[no_control_characters]
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give at least one of url, events, active, description")
        return attrs

    @staticmethod
    def service_arguments(data: dict[str, Any]) -> dict[str, Any]:
        names = {"url": "url", "events": "event_types", "active": "active", "description": "description"}
        return {names[key]: value for key, value in data.items()}


class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(source="event_types", child=serializers.CharField())
    swarmId = serializers.CharField(source="swarm_id", allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")
    disabledReason = serializers.CharField(source="disabled_reason", allow_blank=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class DeliveryAttemptSerializer(serializers.Serializer):
    attempt = serializers.IntegerField(source="number")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    latencyMs = serializers.IntegerField(source="latency_ms")
    error = serializers.CharField(allow_blank=True)
    ok = serializers.BooleanField()
    at = serializers.DateTimeField(source="created_at")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    eventId = serializers.IntegerField(source="event_id")
    eventType = serializers.CharField(source="event_type")
    swarmId = serializers.CharField(source="swarm_id")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error", allow_blank=True)
    nextAttemptAt = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    attemptLog = DeliveryAttemptSerializer(source="attempt_log", many=True)

    def get_nextAttemptAt(self, delivery: Delivery) -> str | None:
        if delivery.status != Delivery.Status.PENDING:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)
