"""WebSocket `/ws`: subscribe to swarms, replay from `lastEventId`, never lose or repeat an event.

Protocol (JSON text frames):
  server → {"type": "connected", "clientId"} on connect, {"type": "heartbeat"} every WS_HEARTBEAT ms
  client → {"type": "subscribe", "swarmId", "lastEventId"?}  ← {"type": "subscribed", "swarmId", "lastEventId"}
           {"type": "unsubscribe", "swarmId"}                ← {"type": "unsubscribed", "swarmId"}
           {"type": "ping"}                                  ← {"type": "pong"}
           {"type": "command", "swarmId", "action": "pause"|"resume"|"stop"} ← {"type": "command_result", …}
  server → {"type": "swarm_event", "eventId", "seq", "swarmId", "eventType", "data", "timestamp"}
           {"type": "error", "code", "message"} for bad input (the socket stays open)

Each swarm's events carry a gap-free `seq`; a jump means the channel layer dropped a message
(channels-redis drops silently when a client's queue is full), and the gap is back-filled from the
database. Every heartbeat also checks the database for events after the last one delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from core.errors import ApplicationError
from events.stream import group_name
from ops import metrics, presence
from swarms import services, streams

logger = logging.getLogger(__name__)

COMMANDS = {"pause": services.swarm_pause, "resume": services.swarm_resume, "stop": services.swarm_stop}
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SILENT = 4408


class SwarmConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        if not settings.WS_ENABLED:
            await self.close()
            return
        auth = await database_sync_to_async(streams.authenticate)(**self._credentials())
        await self.accept()
        if auth is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user, self.permissions = auth
        self.client_id = uuid.uuid4().hex
        self.subscriptions: dict[str, int] = {}  # swarm id → seq of the last event delivered
        self.last_heard = time.monotonic()
        self.counted = await database_sync_to_async(presence.connected)()
        metrics.WS_CONNECTIONS.inc()
        self.heartbeat = asyncio.create_task(self._heartbeat())
        await self.send_json({"type": "connected", "clientId": self.client_id})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "heartbeat"):
            self.heartbeat.cancel()
        for swarm_id in list(getattr(self, "subscriptions", {})):
            await self.channel_layer.group_discard(group_name(swarm_id), self.channel_name)
        if getattr(self, "counted", False):
            await database_sync_to_async(presence.disconnected)()
        if hasattr(self, "client_id"):
            metrics.WS_CONNECTIONS.dec()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        self.last_heard = time.monotonic()
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self._error("bad_json", "Messages must be JSON objects")
            return
        if not isinstance(content, dict):
            await self._error("bad_message", "Messages must be JSON objects")
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "ping": self._ping,
            "command": self._command,
        }.get(content.get("type"))
        if handler is None:
            await self._error("unknown_type", f"Unknown message type {content.get('type')!r}")
            return
        await handler(content)

    # --- client messages ----------------------------------------------------------------------

    async def _ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "timestamp": time.time()})

    async def _subscribe(self, content: dict[str, Any]) -> None:
        swarm_id, after = content.get("swarmId"), content.get("lastEventId")
        if not isinstance(swarm_id, str) or (after is not None and (not isinstance(after, int) or after < 0)):
            await self._error(
                "bad_message", "subscribe needs a swarmId and, optionally, an integer lastEventId"
            )
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
            await self._replay(swarm_id, after)
        await self.send_json({"type": "subscribed", "swarmId": swarm_id, "seq": self.subscriptions[swarm_id]})

    async def _replay(self, swarm_id: str, after_id: int) -> None:
        while True:
            batch = await database_sync_to_async(streams.events_after_id)(swarm_id, after_id)
            for event in batch:
                await self._deliver(event)
            if len(batch) < streams.REPLAY_BATCH:
                return
            after_id = batch[-1]["eventId"]

    async def _unsubscribe(self, content: dict[str, Any]) -> None:
        swarm_id = content.get("swarmId")
        if self.subscriptions.pop(swarm_id, None) is not None:
            await self.channel_layer.group_discard(group_name(swarm_id), self.channel_name)
        await self.send_json({"type": "unsubscribed", "swarmId": swarm_id})

    async def _command(self, content: dict[str, Any]) -> None:
        swarm_id, action = content.get("swarmId"), content.get("action")
        if action not in COMMANDS or not isinstance(swarm_id, str):
            await self._error("bad_message", "command needs a swarmId and an action: pause, resume or stop")
            return
        if "write" not in self.permissions:
            await self._error("forbidden", "This API key lacks the 'write' permission", swarmId=swarm_id)
            return
        if await database_sync_to_async(streams.visible_swarm)(self.user, swarm_id) is None:
            await self._error("not_found", f"Swarm {swarm_id} not found", swarmId=swarm_id)
            return
        try:
            swarm = await database_sync_to_async(COMMANDS[action])(swarm_id=swarm_id)
        except ApplicationError as exc:
            await self._error("conflict", exc.message, swarmId=swarm_id, action=action)
            return
        await self.send_json(
            {"type": "command_result", "swarmId": swarm_id, "action": action, "status": swarm.status}
        )

    # --- group messages -------------------------------------------------------------------------

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
                    await self.close(code=CLOSE_SILENT)
                    return
                await self.send_json({"type": "heartbeat", "timestamp": time.time()})
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
        return {
            "api_key": api_key,
            "token": (query.get("token") or [None])[0],
            "session_user": self.scope.get("user"),
        }
