from __future__ import annotations

from django.apps import AppConfig


class FakeClaudeConfig(AppConfig):
    """Installed only so `manage.py fakeclaude` is found; the package itself needs no Django."""

    name = "fakeclaude"
    verbose_name = "Fake Claude"
