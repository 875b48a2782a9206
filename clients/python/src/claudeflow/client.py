"""The synchronous client: ``Client(base_url=…, api_key=…)`` or from CLAUDEFLOW_URL / CLAUDEFLOW_API_KEY."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx2 as httpx

from claudeflow import _ops as ops
from claudeflow import webhooks as _webhooks
from claudeflow._config import Settings, resolve
from claudeflow._http import Op, RetryPolicy, SyncTransport
from claudeflow._stream import StreamOptions, sync_stream
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
    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, op: Op) -> Any:
        return self._client._transport.call(op)


def _pages(fetch: Any, page_size: int, limit: int | None) -> Iterator[Any]:
    """Every item over all pages (offset paging), at most `limit` of them."""
    offset = yielded = 0
    while True:
        page: Page[Any] = fetch(page_size, offset)
        for item in page.items:
            yield item
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if not page.next or not page.items:
            return
        offset += len(page.items)


class Swarms(_Resource):
    def create(self, objective: str, **options: Any) -> Swarm:
        """POST /api/swarm/create. Keyword arguments: strategy, mode, max_agents, timeout (ms),
        parallel, name, options (dict), budget_usd, budget_tokens. The swarm starts planning."""
        return self._call(ops.swarm_create(objective, **options))

    def run(self, objective: str, **options: Any) -> Swarm:
        """Create and start: execution begins as soon as the plan lands."""
        swarm = self.create(objective, **options)
        started = self.start(swarm.id)
        return dataclasses.replace(swarm, status=started.status, start_requested=True)

    def list(
        self, *, status: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> Iterator[Swarm]:
        """Your swarms, newest first, over every page (each page is one request)."""
        return _pages(
            lambda size, offset: self.page(status=status, limit=size, offset=offset), page_size, limit
        )

    def page(self, *, status: str | None = None, limit: int = 20, offset: int = 0) -> Page[Swarm]:
        return self._call(ops.swarm_page(status=status, limit=limit, offset=offset))

    def get(self, swarm_id: str) -> Swarm:
        return self._call(ops.swarm_get(swarm_id))

    def start(self, swarm_id: str) -> ActionResult:
        return self._call(ops.swarm_action(swarm_id, "start"))

    def pause(self, swarm_id: str) -> ActionResult:
        return self._call(ops.swarm_action(swarm_id, "pause"))

    def resume(self, swarm_id: str) -> ActionResult:
        return self._call(ops.swarm_action(swarm_id, "resume"))

    def stop(self, swarm_id: str) -> ActionResult:
        return self._call(ops.swarm_action(swarm_id, "stop"))

    def delete(self, swarm_id: str) -> ActionResult:
        """Deletes the swarm (a running one is stopped first)."""
        return self._call(ops.swarm_delete(swarm_id))

    def results(self, swarm_id: str) -> Results:
        return self._call(ops.swarm_results(swarm_id))

    def metrics(self, swarm_id: str) -> Metrics:
        return self._call(ops.swarm_metrics(swarm_id))

    def logs(self, swarm_id: str, *, limit: int | None = None, level: str | None = None) -> list[LogEntry]:
        """The latest `limit` (1–1000, default 100) entries at `level` (debug, info, warn, error) or above."""
        return self._call(ops.swarm_logs(swarm_id, limit=limit, level=level))

    def stream(
        self,
        swarm_id: str,
        last_event_id: int | None = None,
        *,
        until_finished: bool = True,
        options: StreamOptions | None = None,
    ) -> Iterator[Event]:
        """The swarm's events in order: those after `last_event_id` (None = from the first), then live
        ones. Reconnects with backoff after a dropped socket and resumes after the last event
        yielded: nothing lost, nothing twice. Ends after the swarm's terminal event unless
        `until_finished=False`."""
        opts = dataclasses.replace(options or StreamOptions(), until_finished=until_finished)
        return sync_stream(self._client.settings, swarm_id, last_event_id, opts)

    def wait(self, swarm_id: str, *, timeout: float | None = None) -> Swarm:
        """Blocks until the swarm is completed, failed or stopped (over the event stream, not by
        polling) and returns it; raises WaitTimeout after `timeout` seconds."""
        swarm = self.get(swarm_id)
        if swarm.finished:
            return swarm
        deadline = time.monotonic() + timeout if timeout is not None else None
        for _ in sync_stream(self._client.settings, swarm_id, 0, StreamOptions(deadline=deadline)):
            pass
        return self.get(swarm_id)


class Agents(_Resource):
    def list(self, swarm_id: str, *, status: str | None = None) -> list[Agent]:
        return self._call(ops.agent_list(swarm_id, status=status))

    def spawn(
        self, swarm_id: str, type: str, *, name: str | None = None, capabilities: dict[str, Any] | None = None
    ) -> Agent:
        return self._call(ops.agent_spawn(swarm_id, type, name=name, capabilities=capabilities))

    def get(self, swarm_id: str, agent_id: str) -> Agent:
        return self._call(ops.agent_get(swarm_id, agent_id))

    def terminate(self, swarm_id: str, agent_id: str) -> Agent:
        """Its running task goes back to pending."""
        return self._call(ops.agent_terminate(swarm_id, agent_id))


class Tasks(_Resource):
    def list(self, swarm_id: str, *, status: str | None = None) -> list[Task]:
        return self._call(ops.task_list(swarm_id, status=status))

    def create(self, swarm_id: str, *, name: str, description: str, type: str, **extra: Any) -> Task:
        """Keyword arguments also: priority (low normal high critical), requirements, dependencies."""
        return self._call(ops.task_create(swarm_id, name=name, description=description, type=type, **extra))

    def assign(self, swarm_id: str, task_id: str, agent_id: str) -> dict[str, Any]:
        """Pins a pending task to an agent."""
        return self._call(ops.task_assign(swarm_id, task_id, agent_id))


class Workspace(_Resource):
    def list(self, swarm_id: str) -> list[WorkspaceEntry]:
        return self._call(ops.workspace_list(swarm_id))

    def read(self, swarm_id: str, path: str, *, version: int | None = None) -> WorkspaceFile:
        return self._call(ops.workspace_read(swarm_id, path, version=version))

    def history(self, swarm_id: str, path: str) -> list[WorkspaceEntry]:
        return self._call(ops.workspace_history(swarm_id, path))

    def zip(self, swarm_id: str) -> bytes:
        """The latest version of every file, zipped in a folder `<swarmId>-workspace/`."""
        return self._call(ops.workspace_zip(swarm_id))


class Calls(_Resource):
    def list(
        self, swarm_id: str, *, task_id: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> Iterator[ClaudeCall]:
        """Every Claude call of the swarm, oldest first, over every page."""
        return _pages(
            lambda size, offset: self.page(swarm_id, task_id=task_id, limit=size, offset=offset),
            page_size,
            limit,
        )

    def page(
        self, swarm_id: str, *, task_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page[ClaudeCall]:
        return self._call(ops.call_page(swarm_id, task_id=task_id, limit=limit, offset=offset))

    def get(self, swarm_id: str, call_id: int) -> dict[str, Any]:
        """One call's full trace (request and response as stored)."""
        return self._call(ops.call_get(swarm_id, call_id))


class Keys(_Resource):
    def list(self) -> list[ApiKey]:
        return self._call(ops.key_list())

    def create(
        self, name: str, *, permissions: list[str] | None = None, expires_in_days: int | None = None
    ) -> CreatedApiKey:
        """Needs an `admin` key (or a JWT). The secret is in the answer only: store it."""
        return self._call(ops.key_create(name, permissions=permissions, expires_in_days=expires_in_days))

    def revoke(self, key_id: str) -> ApiKey:
        return self._call(ops.key_revoke(key_id))


class Auth(_Resource):
    def token(self, username: str, password: str) -> Tokens:
        return self._call(ops.auth_token(username, password))

    def refresh(self, refresh: str) -> Tokens:
        """A new pair; the refresh token used is blacklisted."""
        return self._call(ops.auth_refresh(refresh))

    def logout(self, refresh: str) -> None:
        self._call(ops.auth_logout(refresh))


class Webhooks(_Resource):
    def create(self, url: str, *, events: list[str] | None = None, active: bool | None = None) -> Webhook:
        """POST /api/webhooks; the answer's `secret` is shown this once."""
        return self._call(ops.webhook_create(url, events=events, active=active))

    def list(self) -> list[Webhook]:
        return self._call(ops.webhook_list())

    def delete(self, webhook_id: str) -> None:
        self._call(ops.webhook_delete(webhook_id))

    @staticmethod
    def verify(payload: bytes | str, headers: Mapping[str, str], secret: str, **kwargs: Any) -> Any:
        """Checks a delivery's Standard Webhooks signature and timestamp; returns its JSON body."""
        return _webhooks.verify(payload, headers, secret, **kwargs)


class Client:
    """Synchronous client. Credentials: `api_key` (X-API-Key) or a JWT access `token`; when neither
    is given, CLAUDEFLOW_API_KEY / CLAUDEFLOW_TOKEN; the URL from CLAUDEFLOW_URL (default
    http://127.0.0.1:8000). 429 answers are retried after Retry-After up to `max_retries` times."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        http_client: httpx.Client | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or resolve(base_url, api_key, token)
        self._transport = SyncTransport(
            self.settings,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait),
            http_client=http_client,
        )
        self.swarms = Swarms(self)
        self.agents = Agents(self)
        self.tasks = Tasks(self)
        self.workspace = Workspace(self)
        self.calls = Calls(self)
        self.keys = Keys(self)
        self.auth = Auth(self)
        self.webhooks = Webhooks(self)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def health(self) -> dict[str, Any]:
        return self._transport.call(ops.health())

    def ready(self) -> dict[str, Any]:
        return self._transport.call(ops.ready())

    def system_stats(self) -> dict[str, Any]:
        return self._transport.call(ops.system_stats())

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
