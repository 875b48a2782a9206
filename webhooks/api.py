"""Webhook endpoints: /api/webhooks (list, create), /api/webhooks/{id} (get, patch, delete),
/api/webhooks/{id}/deliveries (the delivery log). Owner-scoped: another user's webhook is a 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.lists import ListApi
from core.pagination import ShortPageQuerySerializer, paginate
from core.responses import ErrorSchema
from core.validation import validated
from webhooks import services
from webhooks.filters import DeliveryFilter
from webhooks.models import Delivery, Webhook
from webhooks.selectors import access_webhook, delivery_log
from webhooks.serializers import (
    DeliverySerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)

ERRORS = {400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema}


class WebhookListApi(APIView):
    @extend_schema(
        operation_id="webhooks_list",
        responses={
            200: inline_serializer(
                "WebhookList", {"webhooks": WebhookSerializer(many=True), "count": serializers.IntegerField()}
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = WebhookSerializer(Webhook.objects.for_owner(request.user), many=True).data
        return Response({"webhooks": data, "count": len(data)})

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookCreateSerializer,
        responses={
            201: inline_serializer(
                "WebhookCreated",
                {
                    "secret": serializers.CharField(),
                    "data": WebhookSerializer(),
                    "message": serializers.CharField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(WebhookCreateSerializer, request.data)
        webhook, secret = services.webhook_create(
            owner=request.user, **WebhookCreateSerializer.service_arguments(data)
        )
        return Response(
            {
                "secret": secret,
                "data": WebhookSerializer(webhook).data,
                "message": "Store this secret now: it is shown only once. Verify each delivery's webhook-signature with it",
            },
            status=201,
        )


class WebhookDetailApi(APIView):
    @extend_schema(
        responses={200: inline_serializer("WebhookDetail", {"data": WebhookSerializer()}), **ERRORS}
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(
            {"data": WebhookSerializer(access_webhook(user=request.user, webhook_id=webhook_id)).data}
        )

    @extend_schema(
        request=WebhookUpdateSerializer,
        responses={200: inline_serializer("WebhookUpdated", {"data": WebhookSerializer()}), **ERRORS},
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        data = validated(WebhookUpdateSerializer, request.data)
        webhook = services.webhook_update(
            webhook_id=webhook.id, **WebhookUpdateSerializer.service_arguments(data)
        )
        return Response({"data": WebhookSerializer(webhook).data})

    @extend_schema(
        responses={
            200: inline_serializer(
                "WebhookDeleted",
                {
                    "id": serializers.CharField(),
                    "status": serializers.CharField(),
                    "message": serializers.CharField(),
                },
            ),
            **ERRORS,
        }
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        services.webhook_delete(webhook_id=webhook.id)
        return Response(
            {"id": webhook.id, "status": "deleted", "message": "Webhook and its delivery log deleted"}
        )


class WebhookDeliveriesApi(ListApi):
    queryset = Delivery.objects.none()
    filterset_class = DeliveryFilter
    window_class = ShortPageQuerySerializer

    @extend_schema(
        operation_id="webhook_deliveries_list",
        responses={
            200: inline_serializer(
                "WebhookDeliveries",
                {
                    "deliveries": DeliverySerializer(many=True),
                    "count": serializers.IntegerField(),
                    "limit": serializers.IntegerField(),
                    "offset": serializers.IntegerField(),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        deliveries, window = self.query(delivery_log(webhook))
        page, fields = paginate(request, deliveries, window)
        # no next/previous links here (the log's shape predates them): the next page exists
        # while offset + len(deliveries) < count
        return Response(
            {
                "deliveries": DeliverySerializer(page, many=True).data,
                **{name: fields[name] for name in ("count", "limit", "offset")},
            }
        )


class WebhookRotateSecretApi(APIView):
    @extend_schema(
        operation_id="webhook_rotate_secret",
        request=None,
        responses={
            200: inline_serializer(
                "WebhookSecretRotated",
                {
                    "secret": serializers.CharField(),
                    "data": WebhookSerializer(),
                    "message": serializers.CharField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        webhook = access_webhook(user=request.user, webhook_id=webhook_id)
        webhook, secret = services.webhook_rotate_secret(webhook_id=webhook.id)
        return Response(
            {
                "secret": secret,
                "data": WebhookSerializer(webhook).data,
                "message": "Store this secret now: it is shown only once. Until "
                f"{webhook.previous_secret_expires_at.isoformat()} deliveries carry a signature with the old one too",
            }
        )
