"""Where the server and the credential come from: arguments, then the environment
(``CLAUDEFLOW_URL``, ``CLAUDEFLOW_API_KEY``, ``CLAUDEFLOW_TOKEN``), then — for the CLI — the config
file ``~/.config/claudeflow/config.toml`` (``$CLAUDEFLOW_CONFIG`` or ``$XDG_CONFIG_HOME`` move it)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claudeflow.errors import ConfigurationError

DEFAULT_URL = "http://127.0.0.1:8000"
ENV_URL, ENV_KEY, ENV_TOKEN, ENV_CONFIG = (
    "CLAUDEFLOW_URL",
    "CLAUDEFLOW_API_KEY",
    "CLAUDEFLOW_TOKEN",
    "CLAUDEFLOW_CONFIG",
)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str | None
    token: str | None


def config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "claudeflow" / "config.toml"


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """``url``, ``api_key`` / ``token`` from the TOML file; {} when there is none."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Cannot read the config file {path}: {exc}") from exc
    unknown = sorted(set(data) - {"url", "api_key", "token"})
    if unknown:
        raise ConfigurationError(f"{path}: unknown keys {', '.join(unknown)} (known: url, api_key, token)")
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigurationError(f"{path}: {key} must be a string")
    return data


def resolve(
    base_url: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    *,
    file: dict[str, Any] | None = None,
) -> Settings:
    file = file or {}
    url = base_url or os.environ.get(ENV_URL) or file.get("url") or DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"The server URL must start with http:// or https://; got {url!r}")
    if api_key is None and token is None:  # a credential given as an argument beats every other source
        api_key = os.environ.get(ENV_KEY) or None
        token = os.environ.get(ENV_TOKEN) or None
        if api_key is None and token is None:
            api_key, token = file.get("api_key"), file.get("token")
    return Settings(base_url=url.rstrip("/"), api_key=api_key, token=token)
