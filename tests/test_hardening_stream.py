"""The event pusher during a channel-layer outage: one warning per outage, not a traceback per event."""

from __future__ import annotations

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
