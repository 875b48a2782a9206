"""The server's version, read from the installed package's metadata (pyproject.toml's `version`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "claudeflow-server"


def server_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed (pip install -e .)
        return "0+unknown"


VERSION = server_version()
