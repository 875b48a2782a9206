"""API key lifecycle, and the use of JWT refresh tokens (rotation, logout)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from access.models import ApiKey, generate_raw_key, hash_key
from core.errors import Conflict, Forbidden


def apikey_create(
    *,
    owner: Any,
    name: str,
    permissions: list[str],
    expires_at: datetime | None = None,
    granted: tuple[str, ...] = ("read", "write", "admin"),
) -> tuple[ApiKey, str]:
    """Returns the stored key and the raw key, which exists only in this return value.

    `granted` is what the caller holds: a key can never mint a stronger key."""
    beyond = sorted(set(permissions) - set(granted))
    if beyond:
        raise Forbidden(f"You cannot grant permissions you do not hold: {', '.join(beyond)}")
    raw = generate_raw_key()
    key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=raw[:11],
        key_hash=hash_key(raw),
        permissions=sorted(set(permissions), key=["read", "write", "admin"].index),
        expires_at=expires_at,
    )
    return key, raw


def apikey_revoke(*, key_id: str) -> ApiKey:
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id)
        if key.revoked_at is not None:
            raise Conflict(f"API key {key.id} is already revoked")
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


# --- JWT refresh tokens ----------------------------------------------------------------------------


def token_user(token: Token) -> Any:
    """The active user a token stands for, issued under the user's current password (simplejwt's
    CHECK_REVOKE_TOKEN claim), so a password change or deactivation ends every token."""
    try:
        user = get_user_model().objects.get(**{api_settings.USER_ID_FIELD: token[api_settings.USER_ID_CLAIM]})
    except (KeyError, ValueError, ObjectDoesNotExist):
        raise AuthenticationFailed("The token's user does not exist", code="user_not_found") from None
    if not api_settings.USER_AUTHENTICATION_RULE(user):
        raise AuthenticationFailed("No active account found for the given token", code="no_active_account")
    if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise AuthenticationFailed("The user's password has been changed", code="password_changed")
    return user


def refresh_token_use(*, token: RefreshToken) -> None:
    """Blacklists a refresh token, once: of parallel uses of one token only the first succeeds
    (the outstanding-token row is locked, then the blacklist row written); the rest raise."""
    jti = token[api_settings.JTI_CLAIM]
    with transaction.atomic():
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=jti,
            defaults={
                "user": get_user_model().objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first(),
                "token": str(token),
                "expires_at": datetime_from_epoch(token["exp"]),
            },
        )
        outstanding = OutstandingToken.objects.select_for_update().get(pk=outstanding.pk)
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            raise InvalidToken("Token is blacklisted")
        BlacklistedToken.objects.create(token=outstanding)


def refresh_token_rotate(*, token: RefreshToken) -> dict[str, str]:
    """A valid refresh token → a new access token and a new refresh token; the old one dies."""
    token_user(token)
    refresh_token_use(token=token)
    access = str(token.access_token)
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    return {"access": access, "refresh": str(token)}
