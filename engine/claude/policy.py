"""The retry policy, in one place: what is retryable, and how long to wait before trying again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import anthropic
from django.conf import settings
from django.utils import timezone

from engine.claude import transport
from tasks.models import ClaudeCall

FATAL_STATUS = {400, 401, 403, 404, 413, 422}
# The HTTP status each API error type comes with: an `error` event inside a 200 stream carries
# only the type, and is recorded and retried as that status would be.
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
EMPTY_ANSWER = "empty_answer"


@dataclass
class Outcome:
    retryable: bool
    message: str
    status_code: int | None = None
    retry_after: float | None = None
    kind: str = ClaudeCall.Outcome.ERROR
    error_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def classify(error: BaseException | None) -> Outcome:
    if isinstance(error, transport.StreamError):
        status = STATUS_OF_TYPE.get(error.error_type, 500)
        text = f"{status} {error.error_type} (mid-stream): {error.error_message}"
        return Outcome(
            retryable=status not in FATAL_STATUS,
            message=text,
            status_code=status,
            error_type=error.error_type,
        )
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        retry_after = _retry_after(error.response.headers) if error.response is not None else None
        kind = _error_type(error)
        text = f"{status} {kind}: {_error_message(error)}"
        return Outcome(
            retryable=status not in FATAL_STATUS,
            message=text,
            status_code=status,
            retry_after=retry_after,
            error_type=kind,
        )
    if isinstance(error, anthropic.APITimeoutError):
        return Outcome(
            retryable=True, message="timeout: Claude did not answer in time", kind=ClaudeCall.Outcome.TIMEOUT
        )
    if isinstance(error, anthropic.APIConnectionError):
        return Outcome(retryable=True, message=f"connection error: {error}")
    if type(error).__module__.startswith(("httpx", "httpcore")):  # a stream cut mid-way
        kind = ClaudeCall.Outcome.TIMEOUT if "Timeout" in type(error).__name__ else ClaudeCall.Outcome.ERROR
        return Outcome(
            retryable=True, message=f"stream interrupted: {type(error).__name__}: {error}", kind=kind
        )
    if isinstance(error, anthropic.APIError):  # e.g. an `error` event after the 200
        return Outcome(retryable=True, message=f"stream error: {error}")
    return Outcome(retryable=False, message=f"{type(error).__name__}: {error}")


def backoff(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, at least what the server asked for, at most the cap."""
    cap = settings.MAX_RETRY_DELAY_MS / 1000
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    base = settings.RETRY_DELAY_MS / 1000 * 2 ** (attempt - 1)
    return min(cap, base / 2 + random.uniform(0, base / 2))


def _retry_after(headers: Any) -> float | None:
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def _error_type(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return (body.get("error") or {}).get("type", type(error).__name__)


def _error_message(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return (body.get("error") or {}).get("message", str(error))
