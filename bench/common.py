"""Shared set-up of the benchmark scripts: a throwaway production-like Django environment."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def django_environment(**overrides: str) -> None:
    """Settings for a benchmark process: no DEBUG, no embedded workers, quiet logs, a fresh var/."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
            "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "false",
            "SECURE_SSL": "false",
            "EMBEDDED_WORKERS": "false",
            "FAKE_CLAUDE": "off",
            "ANTHROPIC_API_KEY": "bench",
            "LOG_LEVEL": "error",
            "RESOURCE_MONITORING": "false",
            "CLAUDEFLOW_VAR_DIR": tempfile.mkdtemp(prefix="claudeflow-bench-"),
            **overrides,
        }
    )
