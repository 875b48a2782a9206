"""API keys and JWT tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.tokens import RefreshToken

from access.auth import permissions_of
from access.lockout import is_locked_out, lockout_seconds
from access.models import ApiKey
from access.services import apikey_create, apikey_revoke, refresh_token_rotate, refresh_token_use
from core.errors import NotFound
from core.lists import ListApi
from core.pagination import page_fields, paginate
from core.responses import ErrorSchema
from core.validation import StrictIntegerField, validated


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=100)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Permission.values),
        min_length=1,
        max_length=3,
        default=lambda: ["read", "write"],
    )
    expiresInDays = StrictIntegerField(min_value=1, max_value=3650, required=False)


class ApiKeySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    usageCount = serializers.IntegerField(source="usage_count")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    active = serializers.BooleanField(source="is_active")


class ApiKeyListApi(ListApi):
    queryset = ApiKey.objects.none()  # paged, no filters

    @property
    def required_permission(self) -> str:
        return "read" if self.request.method == "GET" else "admin"

    @extend_schema(
        responses={
            200: inline_serializer("ApiKeyList", {"keys": ApiKeySerializer(many=True), **page_fields()})
        },
    )
    def get(self, request: Request) -> Response:
        keys, window = self.query(ApiKey.objects.for_owner(request.user))
        page, fields = paginate(request, keys.order_by("-created_at", "id"), window)
        return Response({"keys": ApiKeySerializer(page, many=True).data, **fields})

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={
            201: inline_serializer(
                "ApiKeyCreated",
                {
                    "key": serializers.CharField(),
                    "data": ApiKeySerializer(),
                    "message": serializers.CharField(),
                },
            ),
            403: ErrorSchema,
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(ApiKeyCreateSerializer, request.data)
        expires = timezone.now() + timedelta(days=data["expiresInDays"]) if "expiresInDays" in data else None
        key, raw = apikey_create(
            owner=request.user,
            name=data["name"],
            permissions=data["permissions"],
            expires_at=expires,
            granted=permissions_of(request.auth),
        )
        return Response(
            {
                "key": raw,
                "data": ApiKeySerializer(key).data,
                "message": "Store this key now: it is shown only once",
            },
            status=201,
        )


class ApiKeyDetailApi(APIView):
    required_permission = "admin"

    @extend_schema(responses={200: ApiKeySerializer, 404: ErrorSchema, 409: ErrorSchema})
    def delete(self, request: Request, key_id: str) -> Response:
        keys = ApiKey.objects.all() if request.user.is_staff else ApiKey.objects.for_owner(request.user)
        if not keys.filter(pk=key_id).exists():
            raise NotFound(f"API key {key_id} not found")
        key = apikey_revoke(key_id=key_id)
        return Response(
            {
                "id": key.id,
                "status": "revoked",
                "message": "API key revoked",
                "data": ApiKeySerializer(key).data,
            }
        )


class TokenObtainApi(jwt_views.TokenObtainPairView):
    """POST {username, password} → {access, refresh}; rate limited per IP like every endpoint, and
    LOGIN_FAILURE_LIMIT failures for one account from one address lock that pair out (429)."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            if is_locked_out(request):
                raise Throttled(wait=lockout_seconds()) from None
            raise


class RefreshRotateSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        return refresh_token_rotate(token=RefreshToken(attrs["refresh"]))


class RefreshLogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)
    message = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh_token_use(token=RefreshToken(attrs["refresh"]))
        return {"message": "Logged out: this refresh token no longer works"}


class TokenRefreshApi(jwt_views.TokenRefreshView):
    """POST {refresh} → {access, refresh}; the refresh token used is blacklisted (rotation). Of
    parallel refreshes of one token exactly one succeeds; a password change ends every token."""

    serializer_class = RefreshRotateSerializer


class TokenLogoutApi(jwt_views.TokenBlacklistView):
    """POST {refresh} → the refresh token is blacklisted (its access tokens expire on their own)."""

    serializer_class = RefreshLogoutSerializer
