"""Reads for the API and the UI: a webhook its owner may see (else a 404), its delivery log."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from webhooks.models import Delivery, DeliveryAttempt, Webhook


def access_webhook(*, user: Any, webhook_id: str) -> Webhook:
    """Owner-scoped for everyone, staff included: another user's webhook is a 404, never a 403."""
    webhook = Webhook.objects.for_owner(user).filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return webhook


def delivery_log(webhook: Webhook) -> QuerySet[Delivery]:
    """Newest first, each with its attempts (two queries per page, whatever its size)."""
    return (
        Delivery.objects.filter(webhook=webhook)
        .order_by("-id")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number")))
    )
