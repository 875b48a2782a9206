"""Typed readers for environment variables, validated the way the spec's `validateConfig` does.

Every reader raises `ConfigError` naming the variable, so a bad value stops start-up with one
line (manage.py and asgi.py print it without a traceback). A variable `NAME_FILE` pointing at a
file is read instead of `NAME`, so secrets can come from mounted files (Docker/Kubernetes).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    """A bad environment variable; its message is one line that names it."""


DOTENV_OFF = {"off", "0", "false", "no"}


def load_dotenv_file(default: Path) -> Path | None:
    """Reads a `.env` file into os.environ, so `manage.py` commands see the values `bin/run` uses.

    Variables already in the environment win. `CLAUDEFLOW_DOTENV` names another file, or turns the
    file off (`off`); by default `default` is read when it exists. Returns the file read, if any."""
    from dotenv import load_dotenv

    setting = os.environ.get("CLAUDEFLOW_DOTENV", "").strip()
    if setting.lower() in DOTENV_OFF and setting:
        return None
    path = Path(setting) if setting else default
    if not path.is_file():
        if setting:
            raise ConfigError(f"CLAUDEFLOW_DOTENV: no file at {str(path)!r}")
        return None
    load_dotenv(path, override=False)
    return path


def env_raw(name: str) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_path!r} ({exc.strerror})") from exc
    value = os.environ.get(name)
    return value.strip() if value is not None else None


def env_str(name: str, default: str = "", *, choices: tuple[str, ...] | None = None) -> str:
    value = env_raw(name)
    value = default if value in (None, "") else value
    if choices and value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false; got {value!r}")


def env_int(name: str, default: int, *, min: int | None = None, max: int | None = None) -> int:
    value = env_raw(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer; got {value!r}") from None
    _check_range(name, number, min, max)
    return number


def env_float(name: str, default: float, *, min: float | None = None, max: float | None = None) -> float:
    value = env_raw(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number; got {value!r}") from None
    _check_range(name, number, min, max)
    return number


def env_range(name: str, default: tuple[int, int], *, max: int) -> tuple[int, int]:
    """`N` or `LOW-HIGH` (integers, 0 ≤ LOW ≤ HIGH ≤ max), e.g. `1000-3000`."""
    value = env_raw(name)
    if value in (None, ""):
        return default
    low, _, high = value.partition("-")
    if not low.strip().isdigit() or (high and not high.strip().isdigit()):
        raise ConfigError(f"{name} must be a number or a range like 1000-3000; got {value!r}")
    bounds = (int(low), int(high or low))
    if bounds[0] > bounds[1] or bounds[1] > max:
        raise ConfigError(f"{name} must be LOW-HIGH with LOW ≤ HIGH ≤ {max}; got {value!r}")
    return bounds


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = env_raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated CIDRs or single addresses, e.g. `10.0.0.0/8,192.168.1.7`."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name} entries must be IP addresses or CIDRs like 10.0.0.0/8; got {item!r}"
            ) from None
    return networks


def env_rate(name: str, default: str) -> str:
    """A django-ratelimit rate such as `10/h` or `100/900s`."""
    value = env_str(name, default)
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or not period or not _valid_period(period):
        raise ConfigError(f"{name} must look like 10/h, 100/15m or 5/30s; got {value!r}")
    return value


def _valid_period(period: str) -> bool:
    unit = period[-1]
    digits = period[:-1]
    return unit in "smhd" and (digits == "" or (digits.isdigit() and int(digits) > 0))


def _check_range(name: str, number: float, low: float | None, high: float | None) -> None:
    if low is not None and number < low:
        raise ConfigError(f"{name} must be at least {low}; got {number}")
    if high is not None and number > high:
        raise ConfigError(f"{name} must be at most {high}; got {number}")


SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,60}")
SQS_MAX_VISIBILITY = 12 * 3600


def sqs_broker_options(name: str, url: str, *, default_visibility: int) -> dict[str, object]:
    """dramatiq-sqs broker options from `sqs://[KEY:SECRET@][HOST[:PORT]]/[NAMESPACE][?QUERY]`.

    No host: AWS's endpoint for the region. A host: that endpoint (an SQS-compatible server),
    over HTTPS unless `tls=false`. Credentials in the URL are optional: by default boto3's chain
    (the Lambda or task role, AWS_ACCESS_KEY_ID, ~/.aws). Query: region, visibility_timeout
    (seconds a received message stays hidden: more than a task may run), dead_letter (true: a
    message that fails all its retries goes to <queue>_dlq), tls.
    """
    parts = urlsplit(url)
    if parts.scheme != "sqs":
        raise ConfigError(f"{name} must start with sqs://; got {url!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"region", "visibility_timeout", "dead_letter", "tls"}
    if unknown:
        raise ConfigError(
            f"{name}: unknown option(s) {', '.join(sorted(unknown))}; "
            "known: region, visibility_timeout, dead_letter, tls"
        )
    namespace = unquote(parts.path.strip("/")) or "claudeflow"
    if not SQS_NAME.fullmatch(namespace):
        raise ConfigError(
            f"{name}: the queue name prefix must be 1-60 letters, digits, - or _; got {namespace!r}"
        )
    options: dict[str, object] = {"namespace": namespace}
    if parts.hostname:
        tls = _url_flag(name, "tls", query.get("tls", "true"))
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{name}: the port must be a number; got {url!r}") from None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        options["endpoint_url"] = f"{'https' if tls else 'http'}://{host}" + (f":{port}" if port else "")
    if "region" in query:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", query["region"]):
            raise ConfigError(f"{name}: region must look like us-east-1; got {query['region']!r}")
        options["region_name"] = query["region"]
    if parts.username is not None:
        if not parts.password:
            raise ConfigError(f"{name}: credentials must be KEY:SECRET (both), or neither")
        options["aws_access_key_id"] = unquote(parts.username)
        options["aws_secret_access_key"] = unquote(parts.password)
    visibility = query.get("visibility_timeout", str(default_visibility))
    if not visibility.isdigit() or not 1 <= int(visibility) <= SQS_MAX_VISIBILITY:
        raise ConfigError(
            f"{name}: visibility_timeout must be 1 to {SQS_MAX_VISIBILITY} seconds; got {visibility!r}"
        )
    options["visibility_timeout"] = int(visibility)
    options["dead_letter"] = _url_flag(name, "dead_letter", query.get("dead_letter", "false"))
    return options


def _url_flag(name: str, option: str, value: str) -> bool:
    value = value.lower()
    if value not in TRUE | FALSE:
        raise ConfigError(f"{name}: {option} must be true or false; got {value!r}")
    return value in TRUE
