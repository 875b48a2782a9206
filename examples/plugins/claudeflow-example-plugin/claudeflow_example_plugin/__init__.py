"""An example Claude-Flow plugin: a line per swarm and task milestone, to a file or the log.

Install it next to the server (`pip install ./examples/plugins/claudeflow-example-plugin`) in every
process that runs (web and workers) and restart them: the server finds it through the
`claudeflow.plugins` entry point. Each hook gets the event envelope (the dict a WebSocket client
receives: eventId, seq, swarmId, eventType, data, timestamp) after the change is committed, on a
background thread; what it raises is logged by the server and does not affect the swarm.

Set CLAUDEFLOW_MILESTONES_FILE to append JSON lines there instead of logging them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

logger = logging.getLogger("claudeflow_example_plugin")


class Milestones:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hooks = {
            "swarm.created": self.swarm_created,
            "task.completed": self.task_completed,
            "swarm.completed": self.swarm_finished,
            "swarm.failed": self.swarm_finished,
        }

    def swarm_created(self, event: dict[str, Any]) -> None:
        self.write(event, f"swarm created: {event['data']['objective'][:80]}")

    def task_completed(self, event: dict[str, Any]) -> None:
        task = event["data"]
        self.write(event, f"task {task['name']!r} completed (quality {task['quality']})")

    def swarm_finished(self, event: dict[str, Any]) -> None:
        self.write(event, f"swarm {event['data']['status']}")

    def write(self, event: dict[str, Any], text: str) -> None:
        line = {
            "swarmId": event["swarmId"],
            "eventId": event["eventId"],
            "event": event["eventType"],
            "text": text,
        }
        path = os.environ.get("CLAUDEFLOW_MILESTONES_FILE")
        if not path:
            logger.info("%s: %s", event["swarmId"], text)
            return
        with self._lock, open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")


plugin = Milestones()
