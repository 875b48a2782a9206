"""Test settings: the production settings module, fed a test environment before it loads.

REDIS_URL is moved aside to TEST_REDIS_URL: most tests use the in-process broker and channel
layer, and the tests that are about Redis (real workers, the Redis channel layer) use it directly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

if os.environ.get("REDIS_URL"):
    os.environ.setdefault("TEST_REDIS_URL", os.environ.pop("REDIS_URL"))

_TEST_ENV = {
    "CLAUDEFLOW_DOTENV": "off",  # a developer's .env (bin/run writes one) must not reach the tests
    "SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "false",
    "SECURE_SSL": "false",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "RATE_LIMIT_MAX": "100000",
    "SWARM_CREATE_RATE": "100000/h",
    "EMBEDDED_WORKERS": "false",
    "ANTHROPIC_API_KEY": "test-key",
    "LOG_LEVEL": "warn",
    "LOG_FORMAT": "text",
    "CLAUDEFLOW_VAR_DIR": tempfile.mkdtemp(prefix="claudeflow-test-"),
    # engine timings short enough for tests to watch retries, leases and the reaper
    "TASK_LEASE_SECONDS": "3",
    "HOUSEKEEPING_INTERVAL": "0.5",
    "RETRY_DELAY": "50",
    "MAX_RETRY_DELAY": "3000",
    "WORKER_GRACE_SECONDS": "2",
    "CLAUDE_TIMEOUT": "10000",
    "RESOURCE_MONITORING": "false",
    "WORKER_METRICS_PORT": "0",  # tests that want the worker exporter set a free port
}
for _name, _value in _TEST_ENV.items():
    os.environ.setdefault(_name, _value)

from claudeflow_site.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests create many users
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="claudeflow-static-"))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # a file, not shared-cache memory: worker threads need real locking with a busy timeout
    DATABASES["default"]["TEST"] = {"NAME": str(Path(os.environ["CLAUDEFLOW_VAR_DIR"]) / "test.sqlite3")}  # noqa: F405
