"""An in-memory channel layer that worker threads can publish to (embedded shape).

Channels' in-memory layer keeps asyncio queues that belong to the event loop serving the
WebSockets. Worker threads publish through `async_to_sync`, i.e. from another loop, and a
`put` from there would not wake a consumer waiting on its queue. This layer runs every send
on the loop that receives, so delivery is immediate from any thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    _home: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> dict[str, Any]:
        current = asyncio.get_running_loop()
        if self._home is None or self._home.is_closed():
            self._home = current
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._at_home(partial(InMemoryChannelLayer.send, self, channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._at_home(partial(InMemoryChannelLayer.group_send, self, group, message))

    async def _at_home(self, operation: Callable[[], Awaitable[None]]) -> None:
        home, current = self._home, asyncio.get_running_loop()
        if home is None or home is current or home.is_closed() or not home.is_running():
            await operation()
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(operation(), home))
