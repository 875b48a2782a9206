"""Webhook signatures, Standard Webhooks scheme (https://www.standardwebhooks.com/).

The server signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 under the secret
(``whsec_`` + base64 of 32 random bytes) and sends ``webhook-signature: v1,<base64 digest>`` (several
space-separated signatures are allowed, e.g. during a secret rotation). A receiver checks the
signature over the raw body, and that the timestamp is within ``tolerance`` seconds of now, which
stops a captured request from being replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from claudeflow.errors import WebhookVerificationError

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("The webhook secret is not whsec_ followed by base64") from exc


def _bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)


def sign(secret: str, msg_id: str, timestamp: int, payload: bytes | str) -> str:
    """The ``webhook-signature`` value the server sends for this message: ``v1,<base64>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + _bytes(payload)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"Missing header {name}")


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """Checks a delivery and returns its JSON body (the event envelope); raises
    WebhookVerificationError for a missing header, a bad or old timestamp, or no matching signature.

    Pass the body exactly as received (bytes): re-serialised JSON would not match.
    """
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"Invalid webhook-timestamp {stamp[:40]!r}") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("Message timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("Message timestamp too new")
    expected = sign(secret, msg_id, timestamp, payload).partition(",")[2]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            break
    else:
        raise WebhookVerificationError("No matching signature found")
    try:
        return json.loads(_bytes(payload))
    except ValueError as exc:
        raise WebhookVerificationError("The signed body is not JSON") from exc
