"""In-process plugin hooks: code of your own called with every event after it is committed.

A plugin is any object with a `hooks` mapping of event type (or glob: `task.*`, `*`) to a callable
(a plain function or an `async def`) that takes the event envelope (the dict a WebSocket client receives, `events.stream.envelope`):

    class Notifier:
        hooks = {"swarm.created": on_created, "task.completed": on_task}

    plugin = Notifier()

Plugins are found through the `claudeflow.plugins` entry-point group of the installed
distributions, and through the `PLUGINS` setting (`pkg.module:obj`, comma separated). Every process
that commits events (web and workers) calls them, each event once, in commit order, on one
background thread per process: a slow plugin never stalls the engine, and one that raises is logged
and skipped (the next hook and the next event still run). Best effort: events committed just
before a process dies may not reach its plugins (webhooks, which retry, are the durable route).
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import importlib
import inspect
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from django.conf import settings

from events.models import Event

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "claudeflow.plugins"
Hook = Callable[[dict[str, Any]], Any]


class PluginError(Exception):
    """A plugin that cannot be loaded (bad path, no `hooks` mapping, a hook that is not callable)."""


@dataclass(frozen=True)
class Plugin:
    name: str  # the entry point's name or the dotted path
    hooks: tuple[tuple[str, Hook], ...]  # (event type or glob, callable)

    def hooks_for(self, event_type: str) -> list[Hook]:
        return [hook for pattern, hook in self.hooks if fnmatch.fnmatchcase(event_type, pattern)]


def load_object(path: str) -> Any:
    """`pkg.module:attr.sub` (or `pkg.module.attr`) → the object."""
    module_name, _, attribute = path.partition(":")
    if not attribute:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise PluginError(f"{path!r} is not a dotted path like pkg.module:obj")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot load plugin {path!r}: {exc}") from exc
    return target


def as_plugin(name: str, obj: Any) -> Plugin:
    hooks = getattr(obj, "hooks", None)
    if not isinstance(hooks, dict):
        raise PluginError(f"plugin {name!r} has no `hooks` dict (event type → callable)")
    for event_type, hook in hooks.items():
        if not isinstance(event_type, str) or not callable(hook):
            raise PluginError(f"plugin {name!r}: hooks[{event_type!r}] is not a callable for an event type")
    return Plugin(name=name, hooks=tuple(hooks.items()))


def discover() -> list[Plugin]:
    """The installed plugins (entry points), then those of the PLUGINS setting. One that cannot
    be loaded is logged and left out; the others load."""
    found: list[tuple[str, Callable[[], Any]]] = [
        (f"{point.name} ({point.value})", point.load) for point in entry_points(group=ENTRY_POINT_GROUP)
    ]
    found += [(path, lambda path=path: load_object(path)) for path in settings.PLUGINS]
    plugins = []
    for name, load in found:
        try:
            plugins.append(as_plugin(name, load()))
        except Exception:  # a broken plugin is left out, never stops the server
            logger.exception("plugin %s not loaded", name)
    if plugins:
        logger.info("plugins loaded: %s", ", ".join(p.name for p in plugins))
    return plugins


class _Runner:
    """Calls the plugins' hooks on one thread per process, in commit order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._plugins: list[Plugin] | None = None

    def plugins(self) -> list[Plugin]:
        if self._plugins is None:
            with self._lock:
                if self._plugins is None:
                    self._plugins = discover()
        return self._plugins

    def reload(self) -> list[Plugin]:
        """Discovers the plugins again (after PLUGINS changed, or a distribution was installed)."""
        with self._lock:
            self._plugins = discover()
        return self._plugins

    def submit(self, written: list[Event]) -> None:
        if not self.plugins():
            return
        from events.stream import envelope

        for event in written:
            self._queue.put(envelope(event))
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="plugin-hooks", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()  # for `async def` hooks, awaited one after the other
        while True:
            event = self._queue.get()
            call(self.plugins(), event, loop=loop)  # the plugins of now, not of when the wait began

    def idle(self) -> bool:
        return self._queue.empty()


def call(
    plugins: list[Plugin], event: dict[str, Any], *, loop: asyncio.AbstractEventLoop | None = None
) -> int:
    """Calls every hook for the event (awaiting a coroutine hook's result on `loop`); returns how
    many raised (each is logged with its traceback)."""
    failed = 0
    for plugin in plugins:
        for hook in plugin.hooks_for(event["eventType"]):
            try:
                result = hook(copy.deepcopy(event))  # one plugin cannot change what the next one sees
                if inspect.isawaitable(result):
                    (loop or asyncio.new_event_loop()).run_until_complete(result)
            except Exception:  # a failing plugin is logged, never breaks the engine
                failed += 1
                logger.exception(
                    "plugin %s failed on %s (event %s)", plugin.name, event["eventType"], event["eventId"]
                )
    return failed


runner = _Runner()
