"""API key lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

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
