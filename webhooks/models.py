"""Webhooks: an owner's HTTP endpoint for the event stream, its deliveries and their attempts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.ids import new_id


def webhook_id() -> str:
    return new_id("wh")


class WebhookQuerySet(models.QuerySet["Webhook"]):
    def for_owner(self, user: models.Model) -> WebhookQuerySet:
        return self.filter(owner=user)

    def active(self) -> WebhookQuerySet:
        return self.filter(active=True)


class Webhook(models.Model):
    """Events of the owner's swarms (or of one swarm) whose type matches `event_types` (globs) are
    POSTed to `url`, signed with `secret` (Standard Webhooks). `secret` is shown once, at creation."""

    id = models.CharField(primary_key=True, max_length=40, default=webhook_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="Globs over event types, e.g. task.* or *")
    # no foreign key: a deleted swarm's filter matches nothing, rather than widening to every swarm
    swarm_id = models.CharField(max_length=64, blank=True, help_text="Only this swarm's events; empty = all")
    secret = models.CharField(max_length=64, editable=False)
    # after a rotation, deliveries are signed with the old secret too until it expires
    previous_secret = models.CharField(max_length=64, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0, help_text="Failed deliveries in a row")
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="webhook_owner_created_idx")
        ]  # serves GET /api/webhooks

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.event_types)})"

    def signing_secrets(self) -> list[str]:
        """The secret, and the previous one while its grace period after a rotation lasts."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > timezone.now():
            return [self.secret, self.previous_secret]
        return [self.secret]


class Delivery(models.Model):
    """One event to one webhook: sent until a 2xx answer, at most WEBHOOK_MAX_ATTEMPTS times."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its next attempt (or in one)
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # every attempt failed, or the URL was refused
        CANCELLED = "cancelled"  # the webhook was disabled before it went out

    id = models.BigAutoField(primary_key=True)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event_id = models.PositiveBigIntegerField()
    event_type = models.CharField(max_length=40)
    swarm_id = models.CharField(max_length=64)  # no foreign key: the log outlives a deleted swarm
    payload = models.JSONField()  # the event envelope, the same bytes on every attempt
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # when the next attempt is due; while an attempt runs, the end of its lease
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="webhooks_delivery_once_per_event")
        ]
        indexes = [
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_idx"),  # the delivery log
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),  # resend_due()
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_id} → {self.webhook_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: its answer's status code (none on a network error), latency, error."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhooks_attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.status_code or self.error[:40]}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
