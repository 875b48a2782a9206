"""Webhook lifecycle, the fan-out of events into deliveries, and one delivery attempt.

Flow: a state change writes its events → `deliveries_write` (an events.stream writer, in the same
transaction: an outbox) writes one Delivery per matching active webhook → after commit each is
sent as `deliver_webhook` by id → the actor calls `delivery_attempt`, which claims the row with a
conditional update, POSTs the signed envelope and records the attempt; a failure is retried with
a growing delay (the message is sent again, delayed) until WEBHOOK_MAX_ATTEMPTS, then the delivery
fails. WEBHOOK_DISABLE_AFTER failed deliveries in a row disable the webhook and announce it with a
`system.alert`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import jobs
from core.errors import LimitExceeded, ValidationFailed
from events import catalogue
from events.models import Event
from events.stream import envelope, log, publish
from swarms.models import Swarm
from webhooks import signing, transport
from webhooks.models import Delivery, DeliveryAttempt, Webhook

logger = logging.getLogger(__name__)

DELIVER_WEBHOOK = "deliver_webhook"
EVENT_PATTERN = re.compile(r"^[a-z_.*]{1,40}$")
MAX_EVENT_TYPES = 30
LEASE_MARGIN = timedelta(seconds=30)  # beyond the request timeout: a claimed attempt is this long in flight
EARLY_SLACK = timedelta(seconds=1)  # a delayed message may arrive a little before its row is due


# --- validation --------------------------------------------------------------------------------


def check_event_types(event_types: list[str]) -> list[str]:
    """Globs that each match at least one type of the event catalogue; returned de-duplicated."""
    if not event_types:
        raise _invalid("events", "List at least one event type or glob (e.g. task.* or *)", event_types)
    if len(event_types) > MAX_EVENT_TYPES:
        raise _invalid("events", f"At most {MAX_EVENT_TYPES} event types", event_types)
    known = sorted(catalogue.TYPES)
    for pattern in event_types:
        if not isinstance(pattern, str) or not EVENT_PATTERN.match(pattern):
            raise _invalid("events", "An event type is lower case letters, dots, _ and * only", pattern)
        if not fnmatch.filter(known, pattern):
            raise _invalid("events", f"Matches no event type; known types: {', '.join(known)}", pattern)
    return list(dict.fromkeys(event_types))


def check_url(url: str) -> str:
    try:
        transport.resolve(url)
    except transport.UnsafeUrl as exc:
        raise _invalid("url", str(exc), url) from None
    return url


def _invalid(field: str, message: str, value: Any) -> ValidationFailed:
    return ValidationFailed(
        "Request is invalid", details=[{"field": field, "message": message, "value": value}]
    )


# --- lifecycle ----------------------------------------------------------------------------------


def webhook_create(
    *,
    owner: Any,
    url: str,
    event_types: list[str],
    swarm_id: str = "",
    description: str = "",
    active: bool = True,
) -> tuple[Webhook, str]:
    """Returns the webhook and its secret (stored to sign deliveries, shown to the caller only now)."""
    event_types = check_event_types(event_types)
    if swarm_id and not Swarm.objects.filter(pk=swarm_id, owner=owner).exists():
        raise _invalid("swarmId", f"Swarm {swarm_id} not found", swarm_id)
    check_url(url)
    secret = signing.new_secret()
    with transaction.atomic():
        # lock: two parallel creates must not both pass the limit
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        if Webhook.objects.for_owner(owner).count() >= settings.WEBHOOK_MAX_PER_USER:
            raise LimitExceeded(
                f"At most {settings.WEBHOOK_MAX_PER_USER} webhooks per user (WEBHOOK_MAX_PER_USER)"
            )
        webhook = Webhook.objects.create(
            owner=owner,
            url=url,
            event_types=event_types,
            swarm_id=swarm_id,
            description=description,
            active=active,
            secret=secret,
        )
        cache.invalidate_on_commit()
    return webhook, secret


def webhook_update(
    *,
    webhook_id: str,
    active: bool | None = None,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
) -> Webhook:
    """Changes what is given. Enabling a webhook clears its failure count and disabled reason."""
    if event_types is not None:
        event_types = check_event_types(event_types)
    if url is not None:
        check_url(url)
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
        if active is not None and active != webhook.active:
            webhook.active = active
            if active:
                webhook.consecutive_failures, webhook.disabled_reason = 0, ""
            else:
                webhook.disabled_reason = "disabled by its owner"
        for field, value in (("url", url), ("event_types", event_types), ("description", description)):
            if value is not None:
                setattr(webhook, field, value)
        webhook.save()
        cache.invalidate_on_commit()
    return webhook


def webhook_rotate_secret(*, webhook_id: str) -> tuple[Webhook, str]:
    """A new secret (returned, to be shown once); for WEBHOOK_SECRET_GRACE seconds deliveries are
    signed with the old one too, so receivers can switch without refusing a delivery."""
    secret = signing.new_secret()
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
        webhook.previous_secret, webhook.secret = webhook.secret, secret
        webhook.previous_secret_expires_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_GRACE)
        webhook.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return webhook, secret


def webhook_delete(*, webhook_id: str) -> None:
    """Deletes the webhook and its delivery log; deliveries in flight are dropped."""
    with transaction.atomic():
        Webhook.objects.filter(pk=webhook_id).delete()
        cache.invalidate_on_commit()


# --- fan-out ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    webhook_id: str
    owner_id: int
    swarm_id: str
    patterns: tuple[str, ...]

    def wants(self, owner_id: int | None, event: Event) -> bool:
        if self.swarm_id and self.swarm_id != event.swarm_id:
            return False
        return self.owner_id == owner_id and any(fnmatch.fnmatchcase(event.type, p) for p in self.patterns)


class _RouteCache:
    """This process's copy of the active webhooks, re-read at most every WEBHOOK_CACHE_SECONDS:
    with no webhooks, a committed event costs no query. Changes made in this process apply at once;
    other processes see them within WEBHOOK_CACHE_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: list[_Route] = []
        self._read_at: float | None = None
        self._owners: dict[str, int | None] = {}  # swarm id → owner id (an owner never changes)

    def routes(self) -> list[_Route]:
        with self._lock:
            fresh = (
                self._read_at is not None
                and time.monotonic() - self._read_at < settings.WEBHOOK_CACHE_SECONDS
            )
            if not fresh:
                rows = Webhook.objects.active().values_list("id", "owner_id", "swarm_id", "event_types")
                self._routes = [_Route(i, o, s, tuple(t)) for i, o, s, t in rows]
                self._read_at = time.monotonic()
            return self._routes

    def owner_of(self, swarm_id: str) -> int | None:
        if swarm_id not in self._owners:
            if len(self._owners) > 10_000:
                self._owners.clear()
            owner = Swarm.objects.filter(pk=swarm_id).values_list("owner_id", flat=True).first()
            self._owners[swarm_id] = owner
        return self._owners[swarm_id]

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = None

    def invalidate_on_commit(self) -> None:
        """Now (this thread reads its own transaction's change) and after commit (no other thread
        keeps what it read in between)."""
        self.invalidate()
        transaction.on_commit(self.invalidate)


cache = _RouteCache()


def deliveries_write(written: list[Event]) -> list[int]:
    """In the events' own transaction (an outbox): a Delivery per (matching active webhook,
    event), so the deliveries commit or roll back with the state change; each is sent to the
    workers after commit, and a message lost in between (a crash right after the commit) is
    re-sent by the housekeeping (`resend_due`)."""
    ids = _insert_deliveries(written)
    if ids:
        transaction.on_commit(partial(_send_all, ids))
    return ids


def _insert_deliveries(written: list[Event]) -> list[int]:
    routes = cache.routes()
    wanted = [
        (route.webhook_id, event)
        for event in written
        for route in routes
        if route.wants(cache.owner_of(event.swarm_id), event)
    ]
    if not wanted:
        return []
    present = _kept({webhook_id for webhook_id, _ in wanted})
    rows = [
        Delivery(
            webhook_id=webhook_id,
            event_id=event.id,
            event_type=event.type,
            swarm_id=event.swarm_id,
            payload=envelope(event),
        )
        for webhook_id, event in wanted
        if webhook_id in present
    ]
    if any(webhook_id not in present for webhook_id, _ in wanted):
        cache.invalidate()  # another process deleted one since this process read them
    return [row.id for row in Delivery.objects.bulk_create(rows)] if rows else []


def _kept(webhook_ids: set[str]) -> set[str]:
    """Those of the webhooks that still exist, kept from deletion until this transaction ends (the
    foreign key is checked only at commit: a webhook deleted meanwhile would undo the state change).
    SQLite needs no lock: this transaction already holds its write lock."""
    quote = connection.ops.quote_name
    table, pk = quote(Webhook._meta.db_table), quote(Webhook._meta.pk.column)
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    marks = ", ".join(["%s"] * len(webhook_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}){lock}", list(webhook_ids))
        return {row[0] for row in cursor.fetchall()}


def _send_all(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        jobs.send(DELIVER_WEBHOOK, delivery_id)


# --- delivery -----------------------------------------------------------------------------------


def delivery_attempt(*, delivery_id: int) -> DeliveryAttempt | None:
    """Makes the delivery's next attempt, if it is due and nobody else is making it; None otherwise.

    Safe to run twice for one message: the conditional update lets one caller claim an attempt."""
    now = timezone.now()
    delivery = Delivery.objects.filter(pk=delivery_id).select_related("webhook").first()
    if (
        delivery is None
        or delivery.status != Delivery.Status.PENDING
        or delivery.next_attempt_at > now + EARLY_SLACK
    ):
        return None
    if not delivery.webhook.active:
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.CANCELLED, finished_at=now, last_error="the webhook is disabled"
        )
        return None
    number = delivery.attempts + 1
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=number, next_attempt_at=lease)
    if claimed != 1:
        return None  # another worker claimed this attempt
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.headers(delivery.webhook.signing_secrets(), str(delivery.event_id), body)
    answer = transport.post(delivery.webhook.url, body, headers)
    return _record(delivery, number, answer)


def _record(delivery: Delivery, number: int, answer: transport.Answer) -> DeliveryAttempt | None:
    now = timezone.now()
    gone = answer.status_code == 410  # the receiver asks to stop: no retry, the webhook is disabled
    final = answer.ok or gone or number >= settings.WEBHOOK_MAX_ATTEMPTS
    status = Delivery.Status.SUCCEEDED if answer.ok else Delivery.Status.FAILED
    delay_ms = 0 if final else retry_delay_ms(number)
    disabled: Webhook | None = None
    with transaction.atomic():
        if not Delivery.objects.select_for_update().filter(pk=delivery.pk).exists():
            logger.info("webhook %s was deleted during an attempt", delivery.webhook_id)
            return None
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            error=answer.error,
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status if final else Delivery.Status.PENDING,
            last_status_code=answer.status_code,
            last_error=answer.error,
            next_attempt_at=now + timedelta(milliseconds=delay_ms),
            finished_at=now if final else None,
        )
        if answer.ok:
            Webhook.objects.filter(pk=delivery.webhook_id, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
        elif final:
            disabled = _count_failure(delivery, error=answer.error, gone=gone)
        else:
            jobs.send_later_on_commit(DELIVER_WEBHOOK, delivery.pk, delay_ms=delay_ms)
    if disabled is not None:
        _announce_disabled(disabled, swarm_id=delivery.swarm_id)
    log_level = logging.INFO if answer.ok else logging.WARNING
    logger.log(
        log_level,
        "webhook %s: %s #%s attempt %d → %s",
        delivery.webhook_id,
        delivery.event_type,
        delivery.event_id,
        number,
        answer.status_code or answer.error,
    )
    return attempt


def retry_delay_ms(attempt: int) -> int:
    """Before attempt `attempt + 1`: WEBHOOK_RETRY_DELAY, four times longer each time, capped."""
    return min(settings.WEBHOOK_RETRY_DELAY_MS * 4 ** (attempt - 1), settings.WEBHOOK_MAX_RETRY_DELAY_MS)


def _count_failure(delivery: Delivery, *, error: str, gone: bool = False) -> Webhook | None:
    """A failed delivery; the WEBHOOK_DISABLE_AFTER-th in a row (or a 410 Gone) disables the
    webhook, once: then it is returned, to be announced after this transaction."""
    Webhook.objects.filter(pk=delivery.webhook_id).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.WEBHOOK_DISABLE_AFTER
    webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
    if not webhook.active or not (gone or (limit and webhook.consecutive_failures >= limit)):
        return None
    webhook.active = False
    if gone:
        webhook.disabled_reason = "the endpoint answered 410 Gone"
    else:
        webhook.disabled_reason = (
            f"{webhook.consecutive_failures} deliveries in a row failed (last: {error})"[:300]
        )
    webhook.save(update_fields=["active", "disabled_reason", "updated_at"])
    cache.invalidate_on_commit()
    return webhook


def _announce_disabled(webhook: Webhook, *, swarm_id: str) -> None:
    """A `system.alert` and a log line in the swarm whose delivery tipped it, if it still exists."""
    url = transport.redacted(webhook.url)
    message = (
        f"Webhook {webhook.id} ({url}) disabled: {webhook.disabled_reason}; enable it again "
        "(PATCH active=true) once the endpoint answers"
    )
    logger.warning(message)
    state = {"webhookId": webhook.id, "url": url, "consecutiveFailures": webhook.consecutive_failures}
    with transaction.atomic():
        # the swarm's row lock: it cannot be deleted between this check and the commit
        if not Swarm.objects.select_for_update().filter(pk=swarm_id).exists():
            logger.info("swarm %s is gone: the webhook alert is only logged", swarm_id)
            return
        publish(
            swarm_id,
            catalogue.system_alert(
                level="error", message=message, state=state, resource="webhook", kind="webhook"
            ),
        )
        log(swarm_id, "error", "Webhooks", message)


def resend_due(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Housekeeping: re-sends deliveries whose message was lost (a broker outage, a worker killed
    mid-attempt); due for more than `older_than`. The claim keeps a re-send from doubling a request."""
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lt=timezone.now() - older_than
    ).values_list("id", flat=True)[:500]
    ids = list(due)
    for delivery_id in ids:
        jobs.send(DELIVER_WEBHOOK, delivery_id)
    return len(ids)
