"""WebSocket `/ws`: subscribe to swarms, replay from `lastEventId`, never lose or repeat an event.

Protocol (JSON text frames):
  server → {"type": "connected", "clientId"} on connect, {"type": "heartbeat"} every WS_HEARTBEAT ms
  client → {"type": "subscribe", "swarmId", "lastEventId"?}  ← {"type": "subscribed", "swarmId", "lastEventId"}
           {"type": "unsubscribe", "swarmId"}                ← {"type": "unsubscribed", "swarmId"}
           {"type": "ping"}                                  ← {"type": "pong"}
           {"type": "command", "swarmId", "action": "pause"|"resume"|"stop"} ← {"type": "command_result", …}
           {"type": "command", "swarmId", "action": "approve", "taskId"?}  (the plan, or a task's output)
           {"type": "command", "swarmId", "action": "reject", "taskId"?, "feedback" | "cancel": true}
  server → {"type": "swarm_event", "eventId", "seq", "swarmId", "eventType", "data", "timestamp"}
           {"type": "error", "code", "message"} for bad input (the socket stays open)
           {"type": "replay_truncated", "swarmId", "lastEventId", "message"} when more than WS_REPLAY_MAX
             events follow lastEventId: the socket is not subscribed; subscribe again from lastEventId

Guards: the credential is checked again every WS_AUTH_RECHECK seconds, on every subscribe and
command, and at once when a key or user changes (swarms/revocation.py): a revoked key, deactivated
user, ended session or expired JWT closes the socket with 4401. Per user at most
WS_MAX_CONNECTIONS_PER_USER sockets across web processes (error frame, then close 1008); per socket
WS_MAX_SUBSCRIPTIONS swarms and WS_MESSAGE_RATE messages (an error frame once per window; twice the
rate closes with 1008). When the channel layer (Redis) is unreachable, sockets are refused or closed
with 1013 (try again later) and the outage is logged once per process.

Each swarm's events carry a gap-free `seq`; a jump means the channel layer dropped a message
(channels-redis drops silently when a client's queue is full), and the gap is back-filled from the
database. Every heartbeat also checks the database for events after the last one delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from core.errors import ApplicationError, NotFound
from events.stream import group_name
from ops import metrics, presence
from swarms import services, streams
from swarms.serializers import RejectSerializer
from tasks.models import Task

logger = logging.getLogger(__name__)

COMMANDS = {"pause": services.swarm_pause, "resume": services.swarm_resume, "stop": services.swarm_stop}
GATE_COMMANDS = ("approve", "reject")
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SILENT = 4408
CLOSE_POLICY = 1008  # too many sockets, a message flood
CLOSE_TRY_LATER = 1013  # the channel layer (Redis) is unreachable
# the channel layer is down: Redis refuses or times out (channels-redis raises redis-py's errors)
LAYER_DOWN = (RedisError, OSError, asyncio.TimeoutError)
LAYER_TIMEOUT = 5  # seconds to reach the channel layer before a connection is refused
MAX_FRAME_CHARS = 64 * 1024  # no client message comes near this
SWARM_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_EVENT_ID = 2**63 - 1


class SwarmConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.accepted = self.released = False
        try:
            await super().__call__(scope, receive, send)
        except LAYER_DOWN as exc:  # not a traceback and a 1011 per attempt: a 1013 and one log line
            layer_health.failed(exc)
            await self._release()
            with contextlib.suppress(Exception):  # the client may be gone already
                if not self.accepted:
                    await self.accept()
                await self.close(code=CLOSE_TRY_LATER)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.accepted = True
        await super().accept(subprotocol, headers)

    async def connect(self) -> None:
        if not settings.WS_ENABLED:
            await self.close()
            return
        auth = await database_sync_to_async(streams.authenticate)(**self._credentials())
        if auth is None:
            await self._refuse(CLOSE_UNAUTHENTICATED, "unauthenticated")
            return
        self.user, self.permissions, self.credential = auth
        self.subscriptions: dict[str, int] = {}  # swarm id → seq of the last event delivered
        self.groups_joined: list[str] = []
        # the revocation groups; joining them is also the check that the channel layer is up
        for group in self.credential.groups():
            await asyncio.wait_for(self.channel_layer.group_add(group, self.channel_name), LAYER_TIMEOUT)
            self.groups_joined.append(group)
        layer_health.ok()
        limit = settings.WS_MAX_CONNECTIONS_PER_USER
        self.counted = await sync_to_async(presence.connected)(self.user.pk, limit)
        if not self.counted:
            message = f"At most {limit} WebSocket connections per user; close one first"
            await self._refuse(CLOSE_POLICY, "connections", error=("too_many_connections", message))
            return
        self.client_id = uuid.uuid4().hex
        self.rate = MessageRate(settings.WS_MESSAGE_RATE)
        self.last_heard = time.monotonic()
        metrics.WS_CONNECTIONS.inc()
        await self.accept()
        self.tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_credential())]
        await self.send_json({"type": "connected", "clientId": self.client_id})

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self.released or not hasattr(self, "rate"):
            return  # closing, or refused before it was set up
        self.last_heard = time.monotonic()
        verdict = self.rate.hit()
        if verdict != "ok":
            if verdict == "abuse":
                metrics.WS_REFUSED.labels("message_rate").inc()
                await self._close(CLOSE_POLICY)
            elif verdict == "limited":  # once per window; the messages are dropped
                await self._error("rate_limited", f"Too many messages (limit {settings.WS_MESSAGE_RATE})")
            return
        if text_data is None:
            await self._error("bad_message", "Messages must be JSON text frames")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error("too_large", f"Messages must be under {MAX_FRAME_CHARS} characters")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("bad_json", "Messages must be JSON objects")
            return
        if not isinstance(content, dict):
            await self._error("bad_message", "Messages must be JSON objects")
            return
        try:
            await self.receive_json(content)
        except LAYER_DOWN:
            raise  # → __call__: 1013
        except Exception:  # a bug must not close every socket with 1011: log it, tell the client
            logger.exception("WebSocket message %r failed", content.get("type"))
            await self._error("internal_error", "The server could not handle this message")

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
            "command": self._command,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            await self._error("unknown_type", f"Unknown message type {str(kind)[:40]!r}")
            return
        await handler(content)

    # --- client messages ----------------------------------------------------------------------

    async def _ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "timestamp": time.time()})

    async def _subscribe(self, content: dict[str, Any]) -> None:
        swarm_id, after = content.get("swarmId"), content.get("lastEventId")
        if not _is_swarm_id(swarm_id) or (
            after is not None and (type(after) is not int or not 0 <= after <= MAX_EVENT_ID)
        ):
            await self._error(
                "bad_message", "subscribe needs a swarmId and, optionally, an integer lastEventId"
            )
            return
        if not await self._allowed("read", swarm_id):
            return
        if swarm_id not in self.subscriptions and len(self.subscriptions) >= settings.WS_MAX_SUBSCRIPTIONS:
            message = f"At most {settings.WS_MAX_SUBSCRIPTIONS} subscriptions per connection"
            await self._error("too_many_subscriptions", message, swarmId=swarm_id)
            return
        swarm = await database_sync_to_async(streams.visible_swarm)(self.user, swarm_id)
        if swarm is None:
            await self._error("not_found", f"Swarm {swarm_id} not found", swarmId=swarm_id)
            return
        # join first, then read: an event published in between arrives live and is deduplicated
        await self.channel_layer.group_add(group_name(swarm_id), self.channel_name)
        if after is None:
            self.subscriptions[swarm_id] = await database_sync_to_async(streams.current_seq)(swarm_id)
        else:
            self.subscriptions[swarm_id] = 0
            last_sent = await self._replay(swarm_id, after)
            if last_sent is not None:  # more follow: the client pages by subscribing again
                del self.subscriptions[swarm_id]
                await self.channel_layer.group_discard(group_name(swarm_id), self.channel_name)
                await self.send_json(
                    {
                        "type": "replay_truncated",
                        "swarmId": swarm_id,
                        "lastEventId": last_sent,
                        "message": f"More than {settings.WS_REPLAY_MAX} events to replay: "
                        "subscribe again with this lastEventId for the next ones",
                    }
                )
                return
        await self.send_json({"type": "subscribed", "swarmId": swarm_id, "seq": self.subscriptions[swarm_id]})

    async def _replay(self, swarm_id: str, after_id: int) -> int | None:
        """Delivers up to WS_REPLAY_MAX events after `after_id`; the last id sent if more follow."""
        remaining = settings.WS_REPLAY_MAX
        while remaining:
            size = min(streams.REPLAY_BATCH, remaining)
            batch = await database_sync_to_async(streams.events_after_id)(swarm_id, after_id, size + 1)
            for event in batch[:size]:
                await self._deliver(event)
            if len(batch) <= size:
                return None
            remaining -= size
            after_id = batch[size - 1]["eventId"]
        return after_id

    async def _unsubscribe(self, content: dict[str, Any]) -> None:
        swarm_id = content.get("swarmId")
        if not _is_swarm_id(swarm_id):
            await self._error("bad_message", "unsubscribe needs a swarmId")
            return
        if self.subscriptions.pop(swarm_id, None) is not None:
            await self.channel_layer.group_discard(group_name(swarm_id), self.channel_name)
        await self.send_json({"type": "unsubscribed", "swarmId": swarm_id})

    async def _command(self, content: dict[str, Any]) -> None:
        swarm_id, action = content.get("swarmId"), content.get("action")
        known = isinstance(action, str) and (action in COMMANDS or action in GATE_COMMANDS)
        if not known or not _is_swarm_id(swarm_id):
            await self._error(
                "bad_message",
                "command needs a swarmId and an action: pause, resume, stop, approve or reject",
            )
            return
        command = COMMANDS.get(action) or _gate_command(action, content)
        if isinstance(command, str):
            await self._error("bad_message", command, swarmId=swarm_id, action=action)
            return
        if not await self._allowed("write", swarm_id):
            return
        if await database_sync_to_async(streams.visible_swarm)(self.user, swarm_id) is None:
            await self._error("not_found", f"Swarm {swarm_id} not found", swarmId=swarm_id)
            return
        try:
            result = await database_sync_to_async(command)(swarm_id=swarm_id)
        except ApplicationError as exc:
            code = "not_found" if exc.status_code == 404 else "conflict"
            await self._error(code, exc.message, swarmId=swarm_id, action=action)
            return
        reply = {"type": "command_result", "swarmId": swarm_id, "action": action, "status": result.status}
        if content.get("taskId") is not None:
            reply["taskId"] = result.id
        await self.send_json(reply)

    # --- group messages -------------------------------------------------------------------------

    async def swarm_events(self, message: dict[str, Any]) -> None:
        """A transaction's events (or several, merged by the pusher), in order."""
        for event in message["events"]:
            await self.swarm_event({"event": event})

    async def swarm_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        swarm_id = event["swarmId"]
        last = self.subscriptions.get(swarm_id)
        if last is None or event["seq"] <= last:
            return  # not subscribed, or already delivered (replay, back-fill)
        if event["seq"] > last + 1:
            for missed in await database_sync_to_async(streams.events_between_seq)(
                swarm_id, last, event["seq"]
            ):
                await self._deliver(missed)
        await self._deliver(event)

    async def swarm_deleted(self, message: dict[str, Any]) -> None:
        swarm_id = message["event"]["swarmId"]
        if self.subscriptions.pop(swarm_id, None) is not None:
            await self.channel_layer.group_discard(group_name(swarm_id), self.channel_name)
            await self.send_json(message["event"])

    async def access_recheck(self, message: dict[str, Any]) -> None:
        """A key or user of this socket changed (swarms/revocation.py): does the credential still hold?"""
        await self._recheck()

    # --- credential and limits --------------------------------------------------------------------

    async def _recheck(self) -> bool:
        permissions = await database_sync_to_async(streams.recheck)(self.credential)
        if permissions is None:
            metrics.WS_REFUSED.labels("revoked").inc()
            await self._close(CLOSE_UNAUTHENTICATED)
            return False
        self.permissions = permissions
        return True

    async def _allowed(self, permission: str, swarm_id: str) -> bool:
        """Every subscribe and command checks the credential again, and the permission it needs."""
        if not await self._recheck():
            return False
        if permission not in self.permissions:
            await self._error(
                "forbidden", f"This API key lacks the '{permission}' permission", swarmId=swarm_id
            )
            return False
        return True

    async def _watch_credential(self) -> None:
        try:
            while True:
                await asyncio.sleep(settings.WS_AUTH_RECHECK)
                try:
                    if not await self._recheck():
                        return
                except DatabaseError:  # Postgres down: nothing can be revoked meanwhile (that is a write)
                    continue
        except asyncio.CancelledError:
            return

    async def _refuse(self, code: int, reason: str, error: tuple[str, str] | None = None) -> None:
        """Accepts only to say why (a close before accept is an HTTP 403 without a code), then closes."""
        metrics.WS_REFUSED.labels(reason).inc()
        await self.accept()
        if error:
            await self._error(*error)
        await self._close(code)

    async def _close(self, code: int) -> None:
        await self._release()
        await self.close(code=code)

    async def _release(self) -> None:
        """Gives back what the socket holds, once: its tasks, groups and place in the counts."""
        if self.released:
            return
        self.released = True
        for task in getattr(self, "tasks", []):
            if task is not asyncio.current_task():
                task.cancel()
        groups = [group_name(s) for s in getattr(self, "subscriptions", {})] + getattr(
            self, "groups_joined", []
        )
        for group in groups:
            with contextlib.suppress(*LAYER_DOWN):  # groups expire by themselves in channels-redis
                await asyncio.wait_for(
                    self.channel_layer.group_discard(group, self.channel_name), LAYER_TIMEOUT
                )
        if getattr(self, "counted", False):
            await sync_to_async(presence.disconnected)(self.user.pk)
        if hasattr(self, "client_id"):
            metrics.WS_CONNECTIONS.dec()

    # --- helpers ----------------------------------------------------------------------------------

    async def _deliver(self, event: dict[str, Any]) -> None:
        swarm_id = event["swarmId"]
        if event["seq"] <= self.subscriptions.get(swarm_id, 0):
            return
        self.subscriptions[swarm_id] = event["seq"]
        await self.send_json(event)

    async def _heartbeat(self) -> None:
        interval = settings.WS_HEARTBEAT / 1000
        try:
            while True:
                await asyncio.sleep(interval)
                if time.monotonic() - self.last_heard > 2 * interval:
                    await self._close(CLOSE_SILENT)
                    return
                await self.send_json({"type": "heartbeat", "timestamp": time.time()})
                with contextlib.suppress(DatabaseError):  # Postgres down: catch up on a later beat
                    await self._catch_up()
        except asyncio.CancelledError:
            return

    async def _catch_up(self) -> None:
        """A message dropped after the last one a client got leaves no gap to notice: look."""
        for swarm_id, last in list(self.subscriptions.items()):
            for event in await database_sync_to_async(streams.events_between_seq)(swarm_id, last):
                await self._deliver(event)

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    def _credentials(self) -> dict[str, Any]:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        headers = dict(self.scope.get("headers", []))
        api_key = (query.get("api_key") or [None])[0] or headers.get(b"x-api-key", b"").decode() or None
        session = self.scope.get("session")
        return {
            "api_key": api_key,
            "token": (query.get("token") or [None])[0],
            "session_user": self.scope.get("user"),
            "session_key": session.session_key if session is not None else None,
        }


def _gate_command(action: str, content: dict[str, Any]) -> Any:
    """approve / reject of the plan, or of a task's output (taskId): the service to call, or
    what is wrong with the message (checked as the REST API checks its body)."""
    task_id = content.get("taskId")
    if task_id is not None and not _is_swarm_id(task_id):
        return "taskId must be a task id"
    arguments: dict[str, Any] = {}
    if action == "reject":
        serializer = RejectSerializer(data={k: content[k] for k in ("feedback", "cancel") if k in content})
        if not serializer.is_valid():
            errors = serializer.errors
            return "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in errors.items())
        arguments = dict(serializer.validated_data)
    if task_id is None:
        service = services.swarm_approve if action == "approve" else services.swarm_reject
        return partial(service, **arguments)
    service = services.swarm_approve_task if action == "approve" else services.swarm_reject_task
    return partial(_on_task, service, task_id=task_id, **arguments)


def _on_task(service: Any, *, swarm_id: str, task_id: str, **arguments: Any) -> Any:
    """A task of this swarm (a task of another is a 404, as in the REST API)."""
    try:
        return service(swarm_id=swarm_id, task_id=task_id, **arguments)
    except Task.DoesNotExist:
        raise NotFound(f"Task {task_id} not found in swarm {swarm_id}") from None


def _is_swarm_id(value: Any) -> bool:
    return isinstance(value, str) and SWARM_ID.fullmatch(value) is not None


class MessageRate:
    """A fixed window per socket: over `rate` the messages are dropped, over twice it the socket closes."""

    def __init__(self, rate: str) -> None:
        count, _, period = rate.partition("/")
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[-1]]
        self.limit, self.seconds = int(count), int(period[:-1] or 1) * unit
        self.window_end, self.count = 0.0, 0

    def hit(self) -> str:
        """ "ok", "limited" (the first message over the limit in this window), "dropped" or "abuse"."""
        now = time.monotonic()
        if now >= self.window_end:
            self.window_end, self.count = now + self.seconds, 0
        self.count += 1
        if self.count <= self.limit:
            return "ok"
        if self.count > 2 * self.limit:
            return "abuse"
        return "limited" if self.count == self.limit + 1 else "dropped"


class _LayerHealth:
    """Logs an unreachable channel layer once per outage and process, not once per connection."""

    down = False

    def failed(self, exc: BaseException) -> None:
        metrics.WS_REFUSED.labels("channel_layer_down").inc()
        if not self.down:
            self.down = True
            logger.warning(
                "Channel layer unreachable (%s: %s): WebSocket connections are closed with 1013 until it returns",
                type(exc).__name__,
                exc,
            )

    def ok(self) -> None:
        if self.down:
            self.down = False
            logger.warning("Channel layer reachable again: WebSocket connections accepted")


layer_health = _LayerHealth()
