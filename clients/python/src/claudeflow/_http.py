"""The HTTP core shared by Client and AsyncClient: one operation = one request description (`Op`)
and a parser; the sync and async transports send it, retry 429 (and 503 on reads) after
``Retry-After``, and turn error answers into typed exceptions."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from claudeflow._config import Settings
from claudeflow._version import __version__
from claudeflow.errors import APIConnectionError, APIError, error_for, retry_after_of

USER_AGENT = f"claudeflow-client/{__version__}"
RETRYABLE_READ_STATUSES = frozenset({502, 503, 504})


def seg(value: str) -> str:
    """One path segment, escaped (ids never contain '/', but a typo must not change the path)."""
    return quote(str(value), safe="")


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    parse: Callable[[Any], Any] = lambda body: body
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    raw: bool = False  # the answer's bytes, not JSON


@dataclass(frozen=True)
class RetryPolicy:
    """429 is retried for every method (the server refused before doing anything); 502/503/504 and
    connection errors only for GET. ``max_wait`` caps one wait: a longer Retry-After is raised."""

    max_retries: int = 3
    max_wait: float = 60.0
    backoff: float = 0.5

    def delay(
        self, op: Op, attempt: int, status: int | None, headers: dict[str, str], body: Any
    ) -> float | None:
        if attempt >= self.max_retries:
            return None
        if status == 429 or (op.method == "GET" and (status in RETRYABLE_READ_STATUSES or status is None)):
            wait = retry_after_of(headers, body) if status is not None else None
            if wait is None:
                wait = min(self.max_wait, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
            return wait if wait <= self.max_wait else None
        return None


def auth_headers(settings: Settings) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if settings.api_key:
        headers["X-API-Key"] = settings.api_key
    elif settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    return headers


def _params(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in op.params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _result(op: Op, response: httpx.Response) -> Any:
    if response.is_success:
        return op.parse(response.content if op.raw else _body(response))
    raise error_for(
        response.status_code,
        _body(response),
        method=op.method,
        url=str(response.request.url),
        headers=_headers(response),
    )


class SyncTransport:
    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float,
        retry: RetryPolicy,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.settings, self.retry = settings, retry
        self.http = http_client or httpx.Client(timeout=timeout, follow_redirects=False)
        self.http.headers.update(auth_headers(settings))
        self.sleep = time.sleep

    def call(self, op: Op) -> Any:
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    op.method, self.settings.base_url + op.path, params=_params(op), json=op.json
                )
            except httpx.TransportError as exc:
                wait = self.retry.delay(op, attempt, None, {}, None)
                if wait is None:
                    raise APIConnectionError(f"{op.method} {op.path}: {exc}") from exc
            else:
                try:
                    return _result(op, response)
                except APIError as exc:
                    wait = self.retry.delay(op, attempt, exc.status_code, exc.headers, exc.body)
                    if wait is None:
                        raise
            self.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self.http.close()


class AsyncTransport:
    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float,
        retry: RetryPolicy,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings, self.retry = settings, retry
        self.http = http_client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.http.headers.update(auth_headers(settings))

    async def call(self, op: Op) -> Any:
        attempt = 0
        while True:
            try:
                response = await self.http.request(
                    op.method, self.settings.base_url + op.path, params=_params(op), json=op.json
                )
            except httpx.TransportError as exc:
                wait = self.retry.delay(op, attempt, None, {}, None)
                if wait is None:
                    raise APIConnectionError(f"{op.method} {op.path}: {exc}") from exc
            else:
                try:
                    return _result(op, response)
                except APIError as exc:
                    wait = self.retry.delay(op, attempt, exc.status_code, exc.headers, exc.body)
                    if wait is None:
                        raise
            await asyncio.sleep(wait)
            attempt += 1

    async def close(self) -> None:
        await self.http.aclose()
