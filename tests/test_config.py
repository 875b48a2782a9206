"""Start-up configuration: a bad value stops start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from claudeflow_site import config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "0", "PORT must be at least 1"),
        ("PORT", "70000", "PORT must be at most 65535"),
        ("PORT", "eighty", "PORT must be an integer"),
        ("RATE_LIMIT_MAX", "-1", "RATE_LIMIT_MAX must be at least 1"),
        ("RATE_LIMIT_WINDOW", "soon", "RATE_LIMIT_WINDOW must be an integer"),
        ("SWARM_CREATE_RATE", "ten per hour", "SWARM_CREATE_RATE must look like"),
        ("AUTH_ENABLED", "maybe", "AUTH_ENABLED must be true or false"),
        ("WS_HEARTBEAT", "10", "WS_HEARTBEAT must be at least 1000"),
        ("MEMORY_THRESHOLD", "1024", "MEMORY_THRESHOLD too low (minimum 100MB"),
        ("CPU_THRESHOLD", "1.5", "CPU_THRESHOLD must be at most 1.0"),
        ("RESOURCE_GUARD_SAMPLES", "0", "RESOURCE_GUARD_SAMPLES must be at least 1"),
        ("RESOURCE_ALERT_INTERVAL", "-5", "RESOURCE_ALERT_INTERVAL must be at least 0"),
        ("CLAUDE_FLOW_MAX_AGENTS", "101", "CLAUDE_FLOW_MAX_AGENTS must be at most 100"),
        ("MAX_CONCURRENT_TASKS", "0", "MAX_CONCURRENT_TASKS must be at least 1"),
        ("TASK_TIMEOUT_MINUTES", "x", "TASK_TIMEOUT_MINUTES must be a number"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL must be one of"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must start with redis://"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL is not a valid database URL"),
        ("CORS_ORIGINS", "example.com", "CORS_ORIGINS entries must start with http"),
        ("SECRET_KEY", "", "SECRET_KEY is required when DEBUG=false"),
        ("MAX_JSON_BYTES", "100", "MAX_JSON_BYTES must be at least 1024"),
    ],
)
def test_a_bad_value_stops_start_up_with_one_line(variable, value, message):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "ANTHROPIC_API_KEY": "k",
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        variable: value,
    }
    env.pop("REDIS_URL", None) if variable != "REDIS_URL" else None
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: ") and message in lines[0]


def test_the_anthropic_key_is_required_when_the_fake_is_off():
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    env.update({"DEBUG": "true", "FAKE_CLAUDE": "off", "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "ANTHROPIC_API_KEY is required" in result.stderr


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "jwt"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("JWT_SECRET_FILE", str(secret))
    assert config.env_str("JWT_SECRET") == "from-a-file"
    monkeypatch.setenv("JWT_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(config.ConfigError, match="JWT_SECRET_FILE: cannot read"):
        config.env_str("JWT_SECRET")


def test_typed_readers(monkeypatch):
    monkeypatch.setenv("SOME_LIST", " a, b ,,c ")
    monkeypatch.setenv("SOME_BOOL", "Yes")
    monkeypatch.setenv("SOME_RATE", "5/30s")
    assert config.env_list("SOME_LIST") == ["a", "b", "c"]
    assert config.env_bool("SOME_BOOL", False) is True
    assert config.env_rate("SOME_RATE", "1/h") == "5/30s"
    assert config.env_int("UNSET_VARIABLE_X", 7, min=1) == 7


def _manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "ANTHROPIC_API_KEY": "k",
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        **env_overrides,
    }
    env.pop("REDIS_URL", None)
    env.pop("JWT_SECRET", None) if "JWT_SECRET" not in env_overrides else None
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SECRET"])
def test_a_short_secret_is_refused_in_production(variable):
    result = _manage("check", **{variable: "abc"})
    assert result.returncode == 2
    assert f"{variable} must be at least 32 characters when DEBUG=false (got 3)" in result.stderr
    assert "'abc'" not in result.stderr  # never echo the secret


def test_a_secret_of_32_characters_is_accepted():
    assert _manage("check", SECRET_KEY="k" * 32, JWT_SECRET="j" * 32).returncode == 0


def test_check_deploy_reports_a_weak_secret_in_development():
    result = _manage("check", "--deploy", DEBUG="true", SECRET_KEY="k" * 64, JWT_SECRET="short")
    assert result.returncode != 0
    assert "claudeflow.E001" in result.stderr and "JWT_SECRET" in result.stderr


@pytest.mark.parametrize(("value", "expected"), [(None, "True"), ("true", "True"), ("false", "None")])
def test_postgres_binds_server_side_unless_turned_off(value, expected):
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    }
    env.pop("DB_SERVER_SIDE_BINDING", None) if value is None else env.update(DB_SERVER_SIDE_BINDING=value)
    script = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('server_side_binding'))"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr
