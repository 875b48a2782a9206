"""The swarm event stream over ``/ws``, resumable: the protocol state is kept here and driven by a
sync loop (websockets.sync) and an async one (websockets.asyncio).

The server replays every event after ``lastEventId`` from its database, then sends live events; a
replay of more than WS_REPLAY_MAX events ends with ``replay_truncated`` and the client subscribes
again from there. Across a dropped socket the client reconnects with backoff and subscribes from the
last event id it yielded, and drops anything at or below it, so nothing is lost or repeated.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from claudeflow._config import Settings
from claudeflow._http import USER_AGENT
from claudeflow.errors import AuthError, NotFound, PermissionDenied, StreamError, WaitTimeout
from claudeflow.models import Event

CLOSE_UNAUTHENTICATED = 4401
PING = '{"type": "ping"}'


@dataclass
class StreamOptions:
    until_finished: bool = True  # end after swarm.completed / failed / stopped
    ping_interval: float = 15.0  # the server closes clients silent for two heartbeats (default 60 s)
    max_reconnects: int = 10  # consecutive failed connections before giving up
    backoff: float = 0.5  # first reconnect delay; doubles up to max_backoff, with jitter
    max_backoff: float = 10.0
    open_timeout: float = 10.0
    deadline: float | None = None  # time.monotonic() past which WaitTimeout is raised


def ws_url(settings: Settings) -> tuple[str, dict[str, str]]:
    """The socket URL and its headers: an API key goes in X-API-Key, a JWT in ?token= (the server
    reads it from there only)."""
    base = settings.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    headers = {"User-Agent": USER_AGENT}
    query = ""
    if settings.api_key:
        headers["X-API-Key"] = settings.api_key
    elif settings.token:
        query = "?" + urlencode({"token": settings.token})
    return f"{base}/ws{query}", headers


class _Protocol:
    """What to do with each frame; knows the last event id delivered."""

    def __init__(self, swarm_id: str, last_event_id: int | None, options: StreamOptions) -> None:
        self.swarm_id, self.options = swarm_id, options
        self.last_event_id = last_event_id or 0
        self.failures = 0  # consecutive connections that failed before subscribing
        self.done = False

    def subscribe_frame(self) -> str:
        return json.dumps({"type": "subscribe", "swarmId": self.swarm_id, "lastEventId": self.last_event_id})

    def handle(self, text: str | bytes) -> tuple[Event | None, str | None]:
        """(an event to yield or None, a frame to send back or None)."""
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "swarm_event" and frame.get("swarmId") == self.swarm_id:
            event = Event.from_api(frame)
            if event.event_id <= self.last_event_id:
                return None, None  # delivered before the socket dropped
            self.last_event_id = event.event_id
            if event.terminal and self.options.until_finished:
                self.done = True
            return event, None
        if kind == "heartbeat":
            # the server closes a client silent for two heartbeats: answering each one keeps the
            # socket open whatever its WS_HEARTBEAT is (the timed ping covers lost heartbeats)
            return None, PING
        if kind == "subscribed":
            self.failures = 0
        elif kind == "replay_truncated":
            return None, self.subscribe_frame()  # page on from the last id we yielded
        elif kind == "swarm_deleted" and frame.get("swarmId") == self.swarm_id:
            self.done = True
        elif kind == "error":
            self._raise(frame)
        return None, None

    def _raise(self, frame: dict[str, Any]) -> None:
        code, message = frame.get("code", ""), frame.get("message", "stream error")
        body = {"error": code, "message": message}
        if code == "not_found":
            raise NotFound(404, body)
        if code == "forbidden":
            raise PermissionDenied(403, body)
        if code == "rate_limited":
            return  # our pings were too frequent; the server dropped one, nothing is lost
        raise StreamError(message, code=code, frame=frame)

    def on_closed(self, code: int | None) -> None:
        if code == CLOSE_UNAUTHENTICATED:
            raise AuthError(
                401, {"error": "Authentication required", "message": "The server closed the stream (4401)"}
            )

    def on_connect_failed(self, exc: BaseException) -> None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(exc, InvalidStatus) and status in (401, 403):
            raise AuthError(status, {"error": "Authentication required", "message": str(exc)}) from exc

    def next_delay(self, exc: BaseException) -> float:
        self.failures += 1
        if self.failures > self.options.max_reconnects:
            raise StreamError(
                f"The event stream of {self.swarm_id} failed {self.failures} times in a row: {exc}"
            ) from exc
        delay = min(self.options.max_backoff, self.options.backoff * 2 ** (self.failures - 1))
        return delay * (0.5 + random.random() / 2)

    def time_left(self) -> float | None:
        if self.options.deadline is None:
            return None
        left = self.options.deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"Swarm {self.swarm_id} did not finish in time")
        return left


RETRYABLE = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, asyncio.TimeoutError)


def sync_stream(
    settings: Settings,
    swarm_id: str,
    last_event_id: int | None,
    options: StreamOptions,
    *,
    on_connect: Callable[[], None] | None = None,
) -> Iterator[Event]:
    from websockets.sync.client import connect

    protocol = _Protocol(swarm_id, last_event_id, options)
    url, headers = ws_url(settings)
    while not protocol.done:
        try:
            with connect(
                url, additional_headers=headers, open_timeout=options.open_timeout, ping_interval=None
            ) as socket:
                if on_connect:
                    on_connect()
                socket.send(protocol.subscribe_frame())
                next_ping = time.monotonic() + options.ping_interval
                while not protocol.done:
                    left = protocol.time_left()
                    wait = max(0.0, next_ping - time.monotonic())
                    wait = min(wait, left) if left is not None else wait
                    try:
                        text = socket.recv(timeout=wait)
                    except TimeoutError:
                        if time.monotonic() >= next_ping:
                            socket.send(PING)
                            next_ping = time.monotonic() + options.ping_interval
                        continue
                    event, reply = protocol.handle(text)
                    if reply:
                        socket.send(reply)
                    if event is not None:
                        yield event
        except WaitTimeout:
            raise  # a TimeoutError, but ours: not a connection to retry
        except ConnectionClosed as exc:
            protocol.on_closed(exc.rcvd.code if exc.rcvd else None)
            _sleep_before_retry(protocol, exc)
        except RETRYABLE as exc:
            protocol.on_connect_failed(exc)
            _sleep_before_retry(protocol, exc)


def _sleep_before_retry(protocol: _Protocol, exc: BaseException) -> None:
    delay = protocol.next_delay(exc)
    left = protocol.time_left()
    time.sleep(min(delay, left) if left is not None else delay)


async def async_stream(
    settings: Settings, swarm_id: str, last_event_id: int | None, options: StreamOptions
) -> AsyncIterator[Event]:
    from websockets.asyncio.client import connect

    protocol = _Protocol(swarm_id, last_event_id, options)
    url, headers = ws_url(settings)
    while not protocol.done:
        try:
            async with connect(
                url, additional_headers=headers, open_timeout=options.open_timeout, ping_interval=None
            ) as socket:
                await socket.send(protocol.subscribe_frame())
                next_ping = time.monotonic() + options.ping_interval
                while not protocol.done:
                    left = protocol.time_left()
                    wait = max(0.0, next_ping - time.monotonic())
                    wait = min(wait, left) if left is not None else wait
                    try:
                        text = await asyncio.wait_for(socket.recv(), wait)
                    except TimeoutError:
                        if time.monotonic() >= next_ping:
                            await socket.send(PING)
                            next_ping = time.monotonic() + options.ping_interval
                        continue
                    event, reply = protocol.handle(text)
                    if reply:
                        await socket.send(reply)
                    if event is not None:
                        yield event
        except WaitTimeout:
            raise  # a TimeoutError, but ours: not a connection to retry
        except ConnectionClosed as exc:
            protocol.on_closed(exc.rcvd.code if exc.rcvd else None)
            await _async_sleep_before_retry(protocol, exc)
        except RETRYABLE as exc:
            protocol.on_connect_failed(exc)
            await _async_sleep_before_retry(protocol, exc)


async def _async_sleep_before_retry(protocol: _Protocol, exc: BaseException) -> None:
    delay = protocol.next_delay(exc)
    left = protocol.time_left()
    await asyncio.sleep(min(delay, left) if left is not None else delay)
