"""The event pusher during a channel-layer outage: one warning per outage, not a traceback per event."""

from __future__ import annotations

import asyncio
import logging
import threading

from events import stream
from tests.helpers import wait_for


class FlakyLayer:
    """Refuses the first `failures` messages, then takes the rest."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.delivered: list[str] = []
        self.lock = threading.Lock()

    async def group_send(self, group: str, message: dict) -> None:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
            self.delivered.append(group)


def test_an_outage_is_logged_once_and_its_end_once(monkeypatch, caplog):
    layer = FlakyLayer(failures=5)
    monkeypatch.setattr(stream, "get_channel_layer", lambda: layer)
    caplog.set_level(logging.WARNING, logger="events.stream")
    for index in range(8):
        stream.notify(f"group-{index}", {"type": "test.message"})
    wait_for(lambda: len(layer.delivered) == 3, timeout=10, message="the messages after the outage")
    lines = [r for r in caplog.records if r.name == "events.stream"]
    assert [r.getMessage().split(",")[0].split(";")[0] for r in lines] == [
        "channel layer unreachable",
        "channel layer reachable again",
    ]
    assert "5 messages were not pushed" in lines[1].getMessage()
    assert all(r.exc_info is None for r in lines)  # no tracebacks
    assert layer.delivered == ["group-5", "group-6", "group-7"]


class HeldLayer:
    """Holds the first message until released, so that the next ones queue behind it."""

    def __init__(self) -> None:
        self.holding, self.release = threading.Event(), threading.Event()
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
        self.sent.append((group, message))


def events_message(*seqs: int, swarm: str = "a") -> dict:
    return {"type": "swarm.events", "events": [{"swarmId": swarm, "seq": seq} for seq in seqs]}


def test_queued_event_messages_of_one_swarm_go_out_merged_in_order(monkeypatch):
    layer = HeldLayer()
    monkeypatch.setattr(stream, "get_channel_layer", lambda: layer)
    stream.notify("swarm-a", events_message(1))
    assert layer.holding.wait(10)
    for group, message in [
        ("swarm-a", events_message(2, 3)),
        ("swarm-a", events_message(4)),
        ("swarm-b", events_message(1, swarm="b")),
        ("swarm-a", {"type": "swarm.deleted", "event": {"swarmId": "a"}}),
        ("swarm-a", events_message(5)),
        ("swarm-a", events_message(6)),
    ]:
        stream.notify(group, message)
    layer.release.set()
    wait_for(lambda: len(layer.sent) == 5, timeout=10, message="the merged messages")
    assert [(g, m["type"], [e["seq"] for e in m.get("events", [])]) for g, m in layer.sent] == [
        ("swarm-a", "swarm.events", [1]),
        ("swarm-a", "swarm.events", [2, 3, 4]),  # queued behind the first: one message
        ("swarm-b", "swarm.events", [1]),
        ("swarm-a", "swarm.deleted", []),  # never merged across another kind of message
        ("swarm-a", "swarm.events", [5, 6]),
    ]
