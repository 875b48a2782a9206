"""Real processes for production-shape tests: daphne web and `rundramatiq` workers on Redis,
sharing the test database and the fake Claude with the test process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(*, redis_url: str, claude_url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TEST_REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": "stack-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "false",
            "SECURE_SSL": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ANTHROPIC_BASE_URL": claude_url,
            "ANTHROPIC_API_KEY": "test-key",
            "EMBEDDED_WORKERS": "false",
            "TASK_LEASE_SECONDS": "3",
            "HOUSEKEEPING_INTERVAL": "0.5",
            "RETRY_DELAY": "50",
            "RATE_LIMIT_MAX": "100000",
            "SWARM_CREATE_RATE": "100000/h",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "info",
            "RESOURCE_MONITORING": "false",
            "PYTHONUNBUFFERED": "1",
            "CLAUDEFLOW_VAR_DIR": tempfile.mkdtemp(prefix="claudeflow-stack-"),
        }
    )
    env.update(overrides)
    return env


class Process:
    """A child process in its own session (so a signal reaches all its children), logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._file = self.log.open("w")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> set[int]:
        try:
            parent = psutil.Process(self.proc.pid)
            return {parent.pid, *(child.pid for child in parent.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never printed {text!r}:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def signal(self, signum: int) -> None:
        """SIGKILL hits the whole process group (a crash takes all); other signals go to the main
        process, which forwards them (dramatiq treats a second SIGTERM as "kill now")."""
        with contextlib.suppress(ProcessLookupError):
            if signum == signal.SIGKILL:
                os.killpg(self.proc.pid, signum)
            else:
                self.proc.send_signal(signum)

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):  # leave no orphaned children behind
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._file.close()
        return self.proc.returncode


def start_worker(env: dict[str, str], name: str = "worker", threads: int = 4) -> Process:
    worker = Process(
        name, [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", str(threads)], env
    )
    worker.wait_for_output("Worker process is ready for action")
    return worker


def start_web(env: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    web = Process(
        "web",
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "claudeflow_site.asgi:application",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=2)
            return web, base
        except (urllib.error.URLError, ConnectionError):
            if web.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"web did not start:\n{web.output()[-3000:]}") from None
            time.sleep(0.2)


def http(method: str, url: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"X-API-Key": key, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
