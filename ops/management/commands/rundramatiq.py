"""`python manage.py rundramatiq` — django_dramatiq's worker command, with our polling and prefetch.

Dramatiq's Redis consumer backs off to `dramatiq_worker_timeout` ms when a queue is idle (1000
by default), which would add up to a second between a task finishing and the next starting.
WORKER_POLL_MS (default 100) bounds it. Each process also fetches at most as many messages as it
has threads (Dramatiq's default is twice as many): a task runs for as long as its Claude
conversation, so a message fetched by a process whose threads are all busy would wait a whole
task while another process sits idle (measured: assignment → start p95 ~300–500 ms with two
processes, ~90 ms with this). The variables must be set before dramatiq is imported, so they go
into the environment of the worker processes this command starts. The same goes for
PROMETHEUS_MULTIPROC_DIR, through which the processes share one metrics port.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django.conf import settings
from django_dramatiq.management.commands.rundramatiq import Command as DramatiqCommand


class Command(DramatiqCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        os.environ.setdefault("dramatiq_worker_timeout", str(settings.WORKER_POLL_MS))
        os.environ.setdefault("dramatiq_queue_prefetch", str(options["threads"]))
        if settings.ENABLE_METRICS and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # the worker processes share their metrics through files here (see ops.metrics)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="claudeflow-metrics-")
        super().handle(*args, **options)
