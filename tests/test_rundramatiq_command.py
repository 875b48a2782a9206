"""`manage.py rundramatiq`: the environment it gives the worker processes it starts."""

from __future__ import annotations

import os

import pytest
from django_dramatiq.management.commands.rundramatiq import Command as DramatiqCommand

from ops.management.commands.rundramatiq import Command


@pytest.fixture
def started(monkeypatch):
    """Runs the command's handle without starting processes; returns the environment they would get."""
    for name in ("dramatiq_worker_timeout", "dramatiq_queue_prefetch"):
        monkeypatch.setenv(name, "")  # recorded, so that what the command sets is undone afterwards
        monkeypatch.delenv(name)
    seen: dict[str, str] = {}

    def capture(self, *args, **options):
        seen.update(os.environ)

    monkeypatch.setattr(DramatiqCommand, "handle", capture)

    def start(**options):
        Command().handle(**options)
        return seen

    return start


def test_each_process_prefetches_no_more_messages_than_it_has_threads(started):
    env = started(threads=7, processes=2)
    assert env["dramatiq_queue_prefetch"] == "7"  # Dramatiq's own default would be 14


def test_idle_polling_is_bounded_by_worker_poll_ms(started, settings):
    settings.WORKER_POLL_MS = 40
    assert started(threads=3, processes=1)["dramatiq_worker_timeout"] == "40"


def test_an_operator_setting_wins(started, monkeypatch):
    monkeypatch.setenv("dramatiq_queue_prefetch", "1")
    assert started(threads=12, processes=2)["dramatiq_queue_prefetch"] == "1"
