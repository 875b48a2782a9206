"""The asynchronous client: the same operations as `Client`, awaited; list calls and `stream` are
async iterators."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2 as httpx

from claudeflow import _ops as ops
from claudeflow import webhooks as _webhooks
from claudeflow._config import Settings, resolve
from claudeflow._http import AsyncTransport, Op, RetryPolicy
from claudeflow._stream import StreamOptions, async_stream
from claudeflow.models import (
    ActionResult,
    Agent,
    ApiKey,
    ClaudeCall,
    CreatedApiKey,
    Event,
    LogEntry,
    Metrics,
    Page,
    Results,
    Swarm,
    Task,
    Tokens,
    Webhook,
    WorkspaceEntry,
    WorkspaceFile,
)


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _call(self, op: Op) -> Any:
        return await self._client._transport.call(op)


async def _pages(fetch: Any, page_size: int, limit: int | None) -> AsyncIterator[Any]:
    offset = yielded = 0
    while True:
        page: Page[Any] = await fetch(page_size, offset)
        for item in page.items:
            yield item
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if not page.next or not page.items:
            return
        offset += len(page.items)


class AsyncSwarms(_Resource):
    async def create(self, objective: str, **options: Any) -> Swarm:
        return await self._call(ops.swarm_create(objective, **options))

    async def run(self, objective: str, **options: Any) -> Swarm:
        swarm = await self.create(objective, **options)
        started = await self.start(swarm.id)
        return dataclasses.replace(swarm, status=started.status, start_requested=True)

    def list(
        self, *, status: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> AsyncIterator[Swarm]:
        return _pages(
            lambda size, offset: self.page(status=status, limit=size, offset=offset), page_size, limit
        )

    async def page(self, *, status: str | None = None, limit: int = 20, offset: int = 0) -> Page[Swarm]:
        return await self._call(ops.swarm_page(status=status, limit=limit, offset=offset))

    async def get(self, swarm_id: str) -> Swarm:
        return await self._call(ops.swarm_get(swarm_id))

    async def start(self, swarm_id: str) -> ActionResult:
        return await self._call(ops.swarm_action(swarm_id, "start"))

    async def pause(self, swarm_id: str) -> ActionResult:
        return await self._call(ops.swarm_action(swarm_id, "pause"))

    async def resume(self, swarm_id: str) -> ActionResult:
        return await self._call(ops.swarm_action(swarm_id, "resume"))

    async def stop(self, swarm_id: str) -> ActionResult:
        return await self._call(ops.swarm_action(swarm_id, "stop"))

    async def delete(self, swarm_id: str) -> ActionResult:
        return await self._call(ops.swarm_delete(swarm_id))

    async def results(self, swarm_id: str) -> Results:
        return await self._call(ops.swarm_results(swarm_id))

    async def metrics(self, swarm_id: str) -> Metrics:
        return await self._call(ops.swarm_metrics(swarm_id))

    async def logs(
        self, swarm_id: str, *, limit: int | None = None, level: str | None = None
    ) -> list[LogEntry]:
        return await self._call(ops.swarm_logs(swarm_id, limit=limit, level=level))

    def stream(
        self,
        swarm_id: str,
        last_event_id: int | None = None,
        *,
        until_finished: bool = True,
        options: StreamOptions | None = None,
    ) -> AsyncIterator[Event]:
        opts = dataclasses.replace(options or StreamOptions(), until_finished=until_finished)
        return async_stream(self._client.settings, swarm_id, last_event_id, opts)

    async def wait(self, swarm_id: str, *, timeout: float | None = None) -> Swarm:
        swarm = await self.get(swarm_id)
        if swarm.finished:
            return swarm
        deadline = time.monotonic() + timeout if timeout is not None else None
        async for _ in async_stream(self._client.settings, swarm_id, 0, StreamOptions(deadline=deadline)):
            pass
        return await self.get(swarm_id)


class AsyncAgents(_Resource):
    async def list(self, swarm_id: str, *, status: str | None = None) -> list[Agent]:
        return await self._call(ops.agent_list(swarm_id, status=status))

    async def spawn(
        self, swarm_id: str, type: str, *, name: str | None = None, capabilities: dict[str, Any] | None = None
    ) -> Agent:
        return await self._call(ops.agent_spawn(swarm_id, type, name=name, capabilities=capabilities))

    async def get(self, swarm_id: str, agent_id: str) -> Agent:
        return await self._call(ops.agent_get(swarm_id, agent_id))

    async def terminate(self, swarm_id: str, agent_id: str) -> Agent:
        return await self._call(ops.agent_terminate(swarm_id, agent_id))


class AsyncTasks(_Resource):
    async def list(self, swarm_id: str, *, status: str | None = None) -> list[Task]:
        return await self._call(ops.task_list(swarm_id, status=status))

    async def create(self, swarm_id: str, *, name: str, description: str, type: str, **extra: Any) -> Task:
        return await self._call(
            ops.task_create(swarm_id, name=name, description=description, type=type, **extra)
        )

    async def assign(self, swarm_id: str, task_id: str, agent_id: str) -> dict[str, Any]:
        return await self._call(ops.task_assign(swarm_id, task_id, agent_id))


class AsyncWorkspace(_Resource):
    async def list(self, swarm_id: str) -> list[WorkspaceEntry]:
        return await self._call(ops.workspace_list(swarm_id))

    async def read(self, swarm_id: str, path: str, *, version: int | None = None) -> WorkspaceFile:
        return await self._call(ops.workspace_read(swarm_id, path, version=version))

    async def history(self, swarm_id: str, path: str) -> list[WorkspaceEntry]:
        return await self._call(ops.workspace_history(swarm_id, path))

    async def zip(self, swarm_id: str) -> bytes:
        return await self._call(ops.workspace_zip(swarm_id))


class AsyncCalls(_Resource):
    def list(
        self, swarm_id: str, *, task_id: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> AsyncIterator[ClaudeCall]:
        return _pages(
            lambda size, offset: self.page(swarm_id, task_id=task_id, limit=size, offset=offset),
            page_size,
            limit,
        )

    async def page(
        self, swarm_id: str, *, task_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page[ClaudeCall]:
        return await self._call(ops.call_page(swarm_id, task_id=task_id, limit=limit, offset=offset))

    async def get(self, swarm_id: str, call_id: int) -> dict[str, Any]:
        return await self._call(ops.call_get(swarm_id, call_id))


class AsyncKeys(_Resource):
    async def list(self) -> list[ApiKey]:
        return await self._call(ops.key_list())

    async def create(
        self, name: str, *, permissions: list[str] | None = None, expires_in_days: int | None = None
    ) -> CreatedApiKey:
        return await self._call(
            ops.key_create(name, permissions=permissions, expires_in_days=expires_in_days)
        )

    async def revoke(self, key_id: str) -> ApiKey:
        return await self._call(ops.key_revoke(key_id))


class AsyncAuth(_Resource):
    async def token(self, username: str, password: str) -> Tokens:
        return await self._call(ops.auth_token(username, password))

    async def refresh(self, refresh: str) -> Tokens:
        return await self._call(ops.auth_refresh(refresh))

    async def logout(self, refresh: str) -> None:
        await self._call(ops.auth_logout(refresh))


class AsyncWebhooks(_Resource):
    async def create(
        self, url: str, *, events: list[str] | None = None, active: bool | None = None
    ) -> Webhook:
        return await self._call(ops.webhook_create(url, events=events, active=active))

    async def list(self) -> list[Webhook]:
        return await self._call(ops.webhook_list())

    async def delete(self, webhook_id: str) -> None:
        await self._call(ops.webhook_delete(webhook_id))

    @staticmethod
    def verify(payload: bytes | str, headers: Mapping[str, str], secret: str, **kwargs: Any) -> Any:
        return _webhooks.verify(payload, headers, secret, **kwargs)


class AsyncClient:
    """Asynchronous client; same configuration as `Client`. Use `async with AsyncClient() as c:`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or resolve(base_url, api_key, token)
        self._transport = AsyncTransport(
            self.settings,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait),
            http_client=http_client,
        )
        self.swarms = AsyncSwarms(self)
        self.agents = AsyncAgents(self)
        self.tasks = AsyncTasks(self)
        self.workspace = AsyncWorkspace(self)
        self.calls = AsyncCalls(self)
        self.keys = AsyncKeys(self)
        self.auth = AsyncAuth(self)
        self.webhooks = AsyncWebhooks(self)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    async def health(self) -> dict[str, Any]:
        return await self._transport.call(ops.health())

    async def ready(self) -> dict[str, Any]:
        return await self._transport.call(ops.ready())

    async def system_stats(self) -> dict[str, Any]:
        return await self._transport.call(ops.system_stats())

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
