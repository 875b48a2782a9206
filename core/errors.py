"""One error hierarchy for services and one DRF exception handler that renders it.

Services raise `Conflict("swarm is completed")`; views never build error bodies by hand.
Body shape (the spec's): {"error": <short title>, "message": <sentence>, "details"?: [...]}.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import dramatiq.errors
import redis.exceptions
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

AUTH_REQUIRED = {"error": "Authentication required", "message": "Provide valid API key or JWT token"}
# AuthenticationFailed(message, code=CREDENTIALS_REFUSED) (access.auth): credentials were sent and
# refused, and the message says why (an unknown, revoked or expired key); the 401 body carries it.
CREDENTIALS_REFUSED = "credentials_refused"


class ApplicationError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    title = "Bad request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.title, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(ApplicationError):
    title = "Validation failed"

    def body(self) -> dict[str, Any]:
        return {"error": self.title, "message": self.message, "details": self.details or []}


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    title = "Not found"


class Conflict(ApplicationError):
    """An illegal state transition or a cross-swarm reference."""

    status_code = status.HTTP_409_CONFLICT
    title = "Conflict"


class LimitExceeded(ApplicationError):
    """A deployment limit (maxSwarms, maxAgentsPerSwarm) is reached."""

    status_code = status.HTTP_409_CONFLICT
    title = "Limit exceeded"


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    title = "Forbidden"


class PayloadTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    title = "Payload too large"


class ServiceUnavailable(ApplicationError):
    """A backing service (PostgreSQL, or Redis for the job queue) cannot be reached: try again later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    title = "Service unavailable"
    retry_after = 5


# Outages of the backing services, as they surface in a request: the database's driver errors, and
# Redis (the broker, the cache) refusing or dropping the connection.
DATABASE_DOWN = (OperationalError, InterfaceError)
REDIS_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    dramatiq.errors.BrokerConnectionError,
)


def outage_error(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 an outage of a backing service deserves, or None for any other exception."""
    if isinstance(exc, DATABASE_DOWN):
        return ServiceUnavailable("The database is unavailable; try again shortly")
    if isinstance(exc, REDIS_DOWN):
        return ServiceUnavailable("A backing service (Redis) is unavailable; try again shortly")
    return None


def error_response(error: ApplicationError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, ServiceUnavailable) else None
    return Response(error.body(), status=error.status_code, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return error_response(exc)
    outage = outage_error(exc)
    if outage is not None:
        logger.warning("%s: %s", outage.message, exc)
        return error_response(outage)
    if isinstance(exc, DataError):  # a value the database cannot hold: the request's fault, not a crash
        logger.warning("database refused a value: %s", exc)
        return Response(
            {"error": "Bad request", "message": "The request holds a value that cannot be stored"}, status=400
        )
    if isinstance(exc, exceptions.AuthenticationFailed) and _is_token_view(context):
        return Response({"error": "Authentication failed", "message": _detail(exc)}, status=401)
    if isinstance(exc, ObjectDoesNotExist) and _is_token_view(context):
        # simplejwt looks the token's user up with .get(): a deleted user's refresh token lands here
        message = "No active account found for the given token"
        return Response({"error": "Authentication failed", "message": message}, status=401)
    if isinstance(exc, exceptions.AuthenticationFailed) and exc.get_codes() == CREDENTIALS_REFUSED:
        body = {"error": AUTH_REQUIRED["error"], "message": _detail(exc)}
        return Response(body, status=401, headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Response(AUTH_REQUIRED, status=401, headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, int(exc.wait or 1))
        body = {
            "error": "Too many requests",
            "message": f"Rate limit exceeded; retry in {wait} s",
            "retryAfter": wait,
        }
        return Response(body, status=429, headers={"Retry-After": str(wait)})
    if isinstance(exc, exceptions.ParseError):
        return Response({"error": "Invalid JSON", "message": str(exc.detail)}, status=400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response({"error": "Unsupported media type", "message": str(exc.detail)}, status=415)
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            ValidationFailed("Request is invalid", details=flatten_errors(exc.detail)).body(), status=400
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response({"error": "Not found", "message": "Resource not found"}, status=404)
    if isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
        message = str(getattr(exc, "detail", "") or exc) or "You do not have permission to do this"
        return Response({"error": "Forbidden", "message": message}, status=403)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"error": response.status_text, "message": str(detail)}
    return response


def _is_token_view(context: dict[str, Any]) -> bool:
    from rest_framework_simplejwt.views import TokenViewBase

    return isinstance(context.get("view"), TokenViewBase)


def _detail(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", next(iter(detail.values()), ""))
    return str(detail)


def flatten_errors(detail: Any, data: Any = None, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested error dict → the spec's [{field, message, value}] list."""
    items: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                field = prefix or "body"
            sub = data.get(key) if isinstance(data, dict) else None
            items.extend(flatten_errors(value, sub if key != "non_field_errors" else data, field))
    elif isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        for message in detail:
            items.append({"field": prefix or "body", "message": str(message), "value": _jsonable(data)})
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                sub = data[index] if isinstance(data, list) and index < len(data) else None
                items.extend(flatten_errors(value, sub, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items.append({"field": prefix or "body", "message": str(detail), "value": _jsonable(data)})
    return items


ECHO_MAX_CHARS = 200  # a refused value is echoed back at most this long


def _jsonable(value: Any) -> Any:
    """The refused value as the client sent it, bounded: a 60 KB string is not sent back whole."""
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, list | dict):
        return value if len(json.dumps(value, default=str)) <= ECHO_MAX_CHARS else None
    text = str(value)
    return text if len(text) <= ECHO_MAX_CHARS else text[:ECHO_MAX_CHARS] + "…"


# --- errors outside DRF's reach: Django's error handlers and unexpected exceptions ---------------
# Under /api/ every error is JSON in the same shape, never Django's HTML page (nor, in DEBUG, its
# debug page); elsewhere (the browser UI, the admin) Django's pages stay.


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def json_error(status_code: int, title: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": title, "message": message}, status=status_code)
    if status_code == 503:
        response["Retry-After"] = str(ServiceUnavailable.retry_after)
    return response


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The last /api/ route: an unknown API path is a JSON 404."""
    return json_error(404, "Not found", f"No API endpoint at {request.path}")


def unexpected_error(request: HttpRequest, exc: BaseException | None) -> JsonResponse:
    """An outage of a backing service is a 503; anything else a 500 that names the request id."""
    outage = outage_error(exc) if exc is not None else None
    if outage is not None:
        return json_error(503, outage.title, outage.message)
    request_id = getattr(request, "request_id", "")
    message = "An unexpected error occurred" + (f"; quote request id {request_id}" if request_id else "")
    return json_error(500, "Internal server error", message)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(400, "Bad request", "The request could not be understood")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(403, "Forbidden", "You do not have permission to do this")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this inside its `except` block (DEBUG=false), so the exception is at hand."""
    exc = sys.exception()
    if is_api(request):
        return (
            unexpected_error(request, exc)
            if exc is not None
            else json_error(500, "Internal server error", "")
        )
    return defaults.server_error(request)
