#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claudeflow_site.settings")
    from django.core.management import execute_from_command_line

    from claudeflow_site.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:  # one line naming the variable, not a traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
