"""Polling helpers for tests that watch background work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, message: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


def swarm_status(swarm_id: str) -> str:
    from swarms.models import Swarm

    return Swarm.objects.values_list("status", flat=True).get(pk=swarm_id)


def wait_for_status(swarm_id: str, *statuses: str, timeout: float = 30.0) -> str:
    return wait_for(
        lambda: swarm_status(swarm_id) if swarm_status(swarm_id) in statuses else None,
        timeout,
        message=f"swarm {swarm_id} to reach {statuses}",
    )


def admin_url(obj: Any, view: str = "change") -> str:
    """The admin's URL of an object, its id quoted as the admin quotes it (a raw id with `_22`…
    `_26` or `_40` in it would be read back as another id: about one random id in 200)."""
    from django.contrib.admin.utils import quote
    from django.urls import reverse

    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[quote(obj.pk)])
