"""Typed exceptions. Every API error carries the server's JSON error body.

The server answers errors as ``{"error": <title>, "message": <sentence>, "details"?: [...]}``; a 429
adds ``retryAfter`` and a ``Retry-After`` header.
"""

from __future__ import annotations

from typing import Any


class ClaudeFlowError(Exception):
    """Base class of every exception this library raises."""


class ConfigurationError(ClaudeFlowError):
    """No server URL or credentials could be found, or the config file is invalid."""


class APIConnectionError(ClaudeFlowError):
    """The server could not be reached (refused, reset, timed out)."""


class APIError(ClaudeFlowError):
    """An HTTP error answer of the API."""

    status_code: int = 0

    def __init__(
        self,
        status_code: int,
        body: Any,
        *,
        method: str = "",
        url: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.method, self.url = method, url
        self.headers = headers or {}
        if isinstance(body, dict):
            self.error = str(body.get("error") or "")
            self.message = str(body.get("message") or self.error or f"HTTP {status_code}")
        else:
            self.error = ""
            self.message = f"HTTP {status_code}" + (f": {str(body)[:200]}" if body else "")
        super().__init__(f"{status_code} {self.error}: {self.message}" if self.error else self.message)


class ValidationError(APIError):
    """400: the request is invalid. ``details`` lists ``{"field", "message", "value"}`` per problem."""

    @property
    def details(self) -> list[dict[str, Any]]:
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return list(details) if isinstance(details, list) else []

    def __str__(self) -> str:
        lines = [super().__str__()]
        for item in self.details:
            lines.append(f"  {item.get('field', '?')}: {item.get('message', '')}")
        return "\n".join(lines)


class AuthError(APIError):
    """401: no, a bad, a revoked or an expired credential (also a WebSocket closed with 4401)."""


class PermissionDenied(APIError):
    """403: the credential lacks the permission (e.g. a ``read`` key asked to change something)."""


class NotFound(APIError):
    """404: no such object, or one that belongs to another user."""


class Conflict(APIError):
    """409: an illegal state transition (e.g. resuming a completed swarm)."""


class LimitExceeded(Conflict):
    """409 ``Limit exceeded``: a deployment limit (swarms, agents, tasks) is reached."""


class PayloadTooLarge(APIError):
    """413: the JSON body is over the server's limit."""


class RateLimited(APIError):
    """429: over the rate limit; ``retry_after`` is the number of seconds to wait."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_of(self.headers, self.body)


class ServerError(APIError):
    """5xx: the server failed (quote the request id in its message when reporting it)."""


class ServiceUnavailable(ServerError):
    """503: a backing service (database, Redis) is down; ``retry_after`` seconds suggested."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_of(self.headers, self.body)


class StreamError(ClaudeFlowError):
    """The event stream failed for good: an error frame, or too many failed reconnects in a row."""

    def __init__(self, message: str, *, code: str = "", frame: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.frame = code, frame or {}


class WaitTimeout(ClaudeFlowError, TimeoutError):
    """``swarms.wait(timeout=…)`` ran out before the swarm finished."""


class WebhookVerificationError(ClaudeFlowError):
    """A webhook's signature, id or timestamp does not check out."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(
    status_code: int, body: Any, *, method: str = "", url: str = "", headers: dict[str, str] | None = None
) -> APIError:
    cls = _BY_STATUS.get(status_code)
    if cls is Conflict and isinstance(body, dict) and body.get("error") == "Limit exceeded":
        cls = LimitExceeded
    if cls is None:
        cls = ServerError if status_code >= 500 else APIError
    return cls(status_code, body, method=method, url=url, headers=headers)


def retry_after_of(headers: dict[str, str], body: Any) -> float | None:
    """Seconds to wait: the ``Retry-After`` header (seconds), else the body's ``retryAfter``."""
    for value in (headers.get("retry-after"), body.get("retryAfter") if isinstance(body, dict) else None):
        try:
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return None
