"""What the StubBroker holds: the messages a test expects the engine to have sent."""

from __future__ import annotations

from typing import Any

import dramatiq


def queued(actor_name: str | None = None) -> list[tuple[str, tuple[Any, ...]]]:
    """The messages waiting on the StubBroker's default queue, as (actor name, args), oldest first."""
    broker = dramatiq.get_broker()
    messages = [dramatiq.Message.decode(data) for data in list(broker.queues["default"].queue)]
    return [
        (message.actor_name, tuple(message.args))
        for message in messages
        if actor_name is None or message.actor_name == actor_name
    ]
