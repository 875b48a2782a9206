"""`client.webhooks.verify`: Standard Webhooks signatures (webhook-id, webhook-timestamp,
webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">), checked against a signature
computed here independently of the library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

import pytest
from claudeflow import Client, WebhookVerificationError
from claudeflow.webhooks import sign, verify

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = json.dumps(
    {
        "type": "swarm_event",
        "eventId": 42,
        "seq": 7,
        "swarmId": "swarm_1",
        "eventType": "task.completed",
        "data": {},
    }
).encode()


def headers_for(body: bytes, secret: str = SECRET, msg_id: str = "42", timestamp: int | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def test_a_genuine_delivery_verifies_and_returns_the_event() -> None:
    event = Client("http://127.0.0.1:9", api_key="k").webhooks.verify(BODY, headers_for(BODY), SECRET)
    assert event["eventId"] == 42 and event["eventType"] == "task.completed"
    assert verify(BODY.decode(), headers_for(BODY), SECRET)["seq"] == 7  # str payloads too
    capitalised = {key.title(): value for key, value in headers_for(BODY).items()}
    assert verify(BODY, capitalised, SECRET)["swarmId"] == "swarm_1"  # header names in any case


def test_the_library_signs_as_the_scheme_says() -> None:
    headers = headers_for(BODY, timestamp=1_700_000_000)
    assert sign(SECRET, "42", 1_700_000_000, BODY) == headers["webhook-signature"]


def test_a_tampered_body_is_refused() -> None:
    headers = headers_for(BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(BODY.replace(b"task.completed", b"task.failed"), headers, SECRET)


def test_a_wrong_secret_is_refused() -> None:
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(BODY, headers_for(BODY), other)
    with pytest.raises(WebhookVerificationError, match="not whsec_"):
        verify(BODY, headers_for(BODY), "whsec_not base64!")


def test_an_old_or_future_timestamp_is_refused_even_when_signed() -> None:
    old = headers_for(BODY, timestamp=int(time.time()) - 6 * 60)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, old, SECRET)
    future = headers_for(BODY, timestamp=int(time.time()) + 6 * 60)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(BODY, future, SECRET)
    assert verify(BODY, headers_for(BODY, timestamp=int(time.time()) - 4 * 60), SECRET)  # inside 5 min


def test_the_id_and_timestamp_are_signed_too() -> None:
    headers = headers_for(BODY)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, {**headers, "webhook-id": "43"}, SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}, SECRET)


def test_missing_or_malformed_headers_are_refused() -> None:
    headers = headers_for(BODY)
    for name in headers:
        with pytest.raises(WebhookVerificationError, match=f"Missing header {name}"):
            verify(BODY, {k: v for k, v in headers.items() if k != name}, SECRET)
    with pytest.raises(WebhookVerificationError, match="Invalid webhook-timestamp"):
        verify(BODY, {**headers, "webhook-timestamp": "yesterday"}, SECRET)
    with pytest.raises(WebhookVerificationError):  # an unknown scheme version is no signature
        verify(
            BODY, {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}, SECRET
        )


def test_one_matching_signature_among_several_is_enough() -> None:
    """During a secret rotation the sender signs with both secrets, space-separated."""
    headers = headers_for(BODY)
    other = headers_for(BODY, secret="whsec_" + base64.b64encode(os.urandom(32)).decode())
    rotated = {**headers, "webhook-signature": f"{other['webhook-signature']} {headers['webhook-signature']}"}
    assert verify(BODY, rotated, SECRET)["eventId"] == 42
