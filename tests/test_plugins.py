"""In-process plugin hooks: found by entry point or the PLUGINS setting, called after commit with
the event envelope, isolated from the engine and from each other."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import textwrap
import threading
import tomllib
from pathlib import Path

import pytest
from django.db import transaction

from events import catalogue, plugins
from events.models import Event
from events.stream import publish
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugins" / "claudeflow-example-plugin"


class Recorder:
    def __init__(self, patterns: tuple[str, ...] = ("*",)) -> None:
        self.events: list[dict] = []
        self.threads: set[str] = set()
        self.hooks = {pattern: self.record for pattern in patterns}

    def record(self, event: dict) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append(event)

    def types(self) -> list[str]:
        return [e["eventType"] for e in self.events]


class Boom:
    """Raises on every event, and tampers with the event it was given first."""

    def __init__(self) -> None:
        self.hooks = {"*": self.explode}

    def explode(self, event: dict) -> None:
        event["data"]["status"] = "tampered"
        raise RuntimeError("plugin bug")


class AsyncRecorder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.hooks = {"swarm.started": self.record}

    async def record(self, event: dict) -> None:
        await asyncio.sleep(0.01)
        self.events.append(event)


recorder = Recorder()
async_recorder = AsyncRecorder()
swarm_recorder = Recorder(("swarm.*", "task.completed"))
boom = Boom()
not_a_plugin = object()


@pytest.fixture(autouse=True)
def _fresh_plugins():
    for each in (recorder, swarm_recorder, async_recorder):
        each.events.clear()
    yield
    plugins.runner._plugins = None  # rediscovered with the restored settings and sys.path


def use(settings, *paths):
    settings.PLUGINS = list(paths)
    return plugins.runner.reload()


def announce(swarm, *built):
    with transaction.atomic():
        for event in built:
            publish(swarm.id, event)


@pytest.mark.django_db(transaction=True)
def test_plugins_from_the_setting_get_each_event_after_commit(settings, alice):
    use(settings, "tests.test_plugins:swarm_recorder")
    swarm = build_swarm(alice, tasks=[{"name": "One"}])
    task = swarm.tasks.get()
    announce(swarm, catalogue.swarm_started(), catalogue.task_started(task, worker="w"))
    announce(swarm, catalogue.task_completed(task), catalogue.swarm_completed())
    wait_for(lambda: len(swarm_recorder.events) == 3, timeout=5)
    assert swarm_recorder.types() == ["swarm.started", "task.completed", "swarm.completed"]
    event = Event.objects.get(swarm=swarm, type="swarm.completed")
    assert swarm_recorder.events[-1] == {
        "type": "swarm_event",
        "eventId": event.id,
        "seq": event.seq,
        "swarmId": swarm.id,
        "eventType": "swarm.completed",
        "data": {"status": "completed"},
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert swarm_recorder.threads == {"plugin-hooks"}  # not the committing thread


@pytest.mark.django_db(transaction=True)
def test_nothing_reaches_plugins_from_a_rolled_back_transaction(settings, alice):
    swarm = build_swarm(alice)  # before the plugins are loaded: its events are not recorded
    use(settings, "tests.test_plugins:recorder")
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(swarm.id, catalogue.swarm_started())
        raise RuntimeError("rolled back")
    announce(swarm, catalogue.swarm_paused())
    wait_for(lambda: recorder.events, timeout=5)
    assert recorder.types() == ["swarm.paused"]


@pytest.mark.django_db(transaction=True)
def test_a_raising_plugin_is_logged_and_the_next_one_still_runs(settings, alice, caplog):
    swarm = build_swarm(alice)
    use(settings, "tests.test_plugins:boom", "tests.test_plugins:recorder")
    with caplog.at_level(logging.ERROR, logger="events.plugins"):
        announce(swarm, catalogue.swarm_started())
        wait_for(lambda: recorder.events, timeout=5)
    assert recorder.events[0]["data"] == {"status": "executing"}  # not what boom did to its copy
    assert "plugin tests.test_plugins:boom failed on swarm.started" in caplog.text
    assert "RuntimeError: plugin bug" in caplog.text


@pytest.mark.slow
def test_a_raising_plugin_does_not_break_a_swarm(workers, settings, alice, client_of_alice):
    use(settings, "tests.test_plugins:boom", "tests.test_plugins:swarm_recorder")
    swarm = build_swarm(
        alice, options={"review": False}, tasks=[{"name": "Write", "description": "Write it"}]
    )
    assert client_of_alice.post(f"/api/swarm/{swarm.id}/start").status_code == 200
    wait_for_status(swarm.id, "completed")
    wait_for(lambda: "swarm.completed" in swarm_recorder.types(), timeout=10)
    assert swarm_recorder.types() == ["swarm.started", "task.completed", "swarm.completed"]


@pytest.mark.django_db
def test_a_plugin_that_cannot_load_is_left_out(settings, caplog):
    with caplog.at_level(logging.ERROR, logger="events.plugins"):
        loaded = use(
            settings,
            "tests.test_plugins:not_a_plugin",
            "no_such_module:plugin",
            "nodots",
            "tests.test_plugins:recorder",
        )
    assert [p.name for p in loaded] == ["tests.test_plugins:recorder"]
    assert "has no `hooks` dict" in caplog.text and "no_such_module" in caplog.text
    assert "is not a dotted path" in caplog.text


def install_dist(site: Path, name: str, entry_points: str, modules: dict[str, str] | None = None) -> None:
    """What `pip install` leaves behind for a distribution: its .dist-info, with entry points."""
    info = site / f"{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.mark.django_db(transaction=True)
def test_a_plugin_is_discovered_through_its_entry_point(settings, tmp_path, monkeypatch, alice):
    install_dist(
        tmp_path,
        "cf_tmp_plugin",
        "[claudeflow.plugins]\ntmp = cf_tmp_plugin:plugin\n",
        {
            "cf_tmp_plugin": """
                seen = []

                class Plugin:
                    hooks = {"swarm.started": seen.append}

                plugin = Plugin()
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = use(settings)
    assert "tmp (cf_tmp_plugin:plugin)" in [p.name for p in loaded]
    announce(build_swarm(alice), catalogue.swarm_started())
    seen = sys.modules["cf_tmp_plugin"].seen
    wait_for(lambda: seen, timeout=5)
    assert seen[0]["eventType"] == "swarm.started"


@pytest.mark.django_db(transaction=True)
def test_the_example_plugin_works_as_documented(settings, tmp_path, monkeypatch, alice):
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["entry-points"]
    points = "".join(f"{name} = {value}\n" for name, value in declared["claudeflow.plugins"].items())
    install_dist(tmp_path / "site", "claudeflow_example_plugin", "[claudeflow.plugins]\n" + points)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    out = tmp_path / "milestones.jsonl"
    monkeypatch.setenv("CLAUDEFLOW_MILESTONES_FILE", str(out))
    assert "milestones (claudeflow_example_plugin:plugin)" in [p.name for p in use(settings)]
    swarm = build_swarm(alice, tasks=[{"name": "One"}])
    task = swarm.tasks.get()
    announce(swarm, catalogue.swarm_started(), catalogue.task_completed(task), catalogue.swarm_completed())
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) == 2, timeout=5)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["task.completed", "swarm.completed"]
    assert lines[0]["text"] == "task 'One' completed (quality None)" and lines[1]["text"] == "swarm completed"


@pytest.mark.django_db(transaction=True)
def test_an_async_hook_is_awaited(settings, alice):
    swarm = build_swarm(alice)
    use(settings, "tests.test_plugins:async_recorder", "tests.test_plugins:recorder")
    announce(swarm, catalogue.swarm_started())
    wait_for(lambda: recorder.events, timeout=5)
    assert [e["eventType"] for e in async_recorder.events] == ["swarm.started"]  # awaited before the next
