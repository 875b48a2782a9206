"""Shared set-up of the benchmark scripts: which checkout to run (`--root`), throwaway databases,
the server processes of the production shape, and the SQL counts of the sitecustomize shim.

`--root DIR` is the checkout whose server code runs: it goes first on this process's sys.path (so
the ORM models and `tests.builders` come from there) and is the cwd and PYTHONPATH of every process
started, so one bench/ can measure another checkout (`git worktree add /tmp/before <commit>`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_ROOT = BENCH_DIR.parent
SHIM_DIR = BENCH_DIR / "sitecustomize"
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# the objectives of the spec's load test ("Load Testing Example"), used in turn
SPEC_OBJECTIVES = (
    "Create a simple calculator app",
    "Build a todo list application",
    "Design a user authentication system",
    "Implement a chat application",
    "Create a blog platform",
)
# stack_env() is made for tests; these of its values are not the deployment defaults
TEST_ONLY_SETTINGS = ("TASK_LEASE_SECONDS", "RETRY_DELAY", "RESOURCE_MONITORING", "LOG_LEVEL", "LOG_FORMAT")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help="checkout whose server code runs (default: this one)"
    )
    parser.add_argument(
        "--housekeeping-interval",
        type=float,
        default=3600,
        help="HOUSEKEEPING_INTERVAL of the engine, s (default 3600: progress must not depend on it)",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")


def use_root(root: Path) -> ModuleType:
    """Makes `root` the code this process imports and its children run; returns its tests.stack."""
    root = root.resolve()
    if not (root / "manage.py").is_file():
        raise SystemExit(f"--root {root}: no manage.py there")
    sys.path.insert(0, str(root))
    import tests.stack as stack

    stack.ROOT = root  # Process() runs its children there
    return stack


def stop_on_sigterm() -> None:
    """`timeout`/kill end the benchmark like Ctrl-C does: through the clean-up of what it started."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def django_environment(**overrides: str) -> None:
    """Settings for this benchmark process: no DEBUG, no embedded workers, quiet logs, a fresh var/."""
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


def setup_django(database_url: str, **overrides: str) -> None:
    """This process's Django (django_environment() and the overrides) on `database_url`, or on the
    SQLite database of its fresh var/ directory when that is "", migrated."""
    if database_url:
        overrides["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    django_environment(**overrides)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def postgres_or_sqlite(exits: contextlib.ExitStack, args: argparse.Namespace) -> str:
    """A throwaway PostgreSQL database (dropped with `exits`), or "" for SQLite with `--sqlite`."""
    return "" if args.sqlite else exits.enter_context(throwaway_postgres())


@contextlib.contextmanager
def throwaway_postgres(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A new, empty database for one run, dropped afterwards (also on error or Ctrl-C)."""
    import psycopg

    name = f"bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    """Empties the benchmark's Redis database; 0 and 15 belong to others and are refused."""
    import redis

    db = int(urllib.parse.urlparse(url).path.strip("/") or 0)
    if db in (0, 15):
        raise SystemExit(f"--redis {url}: use a database of its own (10-13), not {db}")
    redis.Redis.from_url(url).flushdb()


def server_env(
    stack: ModuleType,
    *,
    database_url: str,
    redis_url: str,
    claude_url: str,
    housekeeping: float,
    queries_dir: Path | None = None,
    **overrides: str,
) -> dict[str, str]:
    """Deployment defaults, except DEBUG and SECURE_SSL off, rate limits raised (stack_env does
    both) and HOUSEKEEPING_INTERVAL. Needs Django set up here (stack_env reads the connection)."""
    env = stack_env_without_test_values(stack, redis_url=redis_url, claude_url=claude_url)
    env.update(
        DATABASE_URL=database_url,
        HOUSEKEEPING_INTERVAL=str(housekeeping),
        WORKER_METRICS_PORT=str(stack.free_port()),
        PYTHONPATH=os.pathsep.join([*([str(SHIM_DIR)] if queries_dir else []), str(stack.ROOT)]),
    )
    if queries_dir:
        env["BENCH_QUERY_DIR"] = str(queries_dir)
    if not redis_url:
        env.pop("REDIS_URL")
    env.update(overrides)
    return env


def stack_env_without_test_values(stack: ModuleType, *, redis_url: str, claude_url: str) -> dict[str, str]:
    """stack_env() copies this process's environment (so MAX_CONCURRENT_TASKS set here carries over)."""
    env = stack.stack_env(redis_url=redis_url or "redis://unused", claude_url=claude_url)
    for name in (*TEST_ONLY_SETTINGS, "BENCH_QUERY_DIR"):
        env.pop(name, None)
    return env


def spawn(
    exits: contextlib.ExitStack, stack: ModuleType, name: str, args: list[str], env: dict[str, str]
) -> Any:
    """A `manage.py`/`-m` child of this interpreter in the root checkout, stopped on exit."""
    process = stack.Process(name, [sys.executable, *args], env)
    exits.callback(process.stop)
    return process


def start_fake_claude(exits: contextlib.ExitStack, stack: ModuleType, latency_ms: int) -> str:
    """The fake Claude in a process of its own: its CPU time is not the engine's."""
    port = stack.free_port()
    env = {**os.environ, "DEBUG": "true", "PYTHONPATH": str(stack.ROOT)}
    env.pop("BENCH_QUERY_DIR", None)
    fake = spawn(
        exits,
        stack,
        "fakeclaude",
        ["manage.py", "fakeclaude", "--port", str(port), "--latency-ms", str(latency_ms)],
        env,
    )
    fake.wait_for_output("Fake Claude listening")
    return f"http://127.0.0.1:{port}"


def start_workers(
    exits: contextlib.ExitStack, stack: ModuleType, env: dict[str, str], processes: int, threads: int
) -> Any:
    args = ["manage.py", "rundramatiq", "--processes", str(processes), "--threads", str(threads)]
    worker = spawn(exits, stack, "bench-workers", args, env)
    deadline = time.monotonic() + 60
    while worker.output().count("Worker process is ready") < processes:
        if worker.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"rundramatiq did not start:\n{worker.output()[-3000:]}")
        time.sleep(0.1)
    return worker


def start_web(exits: contextlib.ExitStack, stack: ModuleType, env: dict[str, str]) -> str:
    port = stack.free_port()
    args = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "claudeflow_site.asgi:application"]
    web = spawn(exits, stack, "bench-web", args, env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=2)
            return base
        except (urllib.error.URLError, ConnectionError):
            if web.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"daphne did not start:\n{web.output()[-3000:]}") from None
            time.sleep(0.2)


def query_total(directory: Path) -> int:
    """SQL statements so far of every process that ran the shim with BENCH_QUERY_DIR=directory."""
    total = 0
    for path in directory.glob("*.count"):
        with contextlib.suppress(OSError, ValueError):
            total += int(path.read_text() or 0)
    return total


def query_kinds(directory: Path) -> dict[str, int]:
    """With BENCH_QUERY_KINDS=1: statements by their first words, summed over the processes."""
    kinds: dict[str, int] = {}
    for path in directory.glob("*.kinds"):
        with contextlib.suppress(OSError, ValueError):
            for kind, count in json.loads(path.read_text()).items():
                kinds[kind] = kinds.get(kind, 0) + count
    return kinds


def _role(process: Any) -> str | None:
    if process.pid == os.getpid():
        return "bench"
    name = process.info["name"] or ""
    command = " ".join(process.info["cmdline"] or [])
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("redis"):
        return "redis"
    if "fakeclaude" in command:
        return "fake claude"
    if "rundramatiq" in command or "dramatiq" in command:
        return "workers"
    if "daphne" in command:
        return "web"
    return None


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of the processes a run involves, by role: subtract two readings."""
    import psutil

    totals: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        role = _role(process)
        times = process.info["cpu_times"]
        if role and times:
            totals[role] = totals.get(role, 0.0) + times.user + times.system
    return totals


def cpu_used(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Cores each role kept busy on average during `wall` seconds (a process that exited is not counted)."""
    return {role: round((after[role] - before.get(role, 0.0)) / wall, 2) for role in after if wall > 0}


def print_cpu(cores: dict[str, float]) -> None:
    busy = ", ".join(f"{role} {value:.2f}" for role, value in sorted(cores.items(), key=lambda kv: -kv[1]))
    print(f"cpu       cores busy on average: {busy} (of {os.cpu_count()})")


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the nearest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def print_json(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, sort_keys=True, default=str))


def run_benchmark(
    args: argparse.Namespace,
    database: Callable[[contextlib.ExitStack, argparse.Namespace], str],
    measure: Callable[[argparse.Namespace, ModuleType, str], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
) -> None:
    """The shape of a benchmark's main(): the checkout of `--root`, the database `database` gives
    (torn down with what it started), the measurement, its report and, with `--json`, its figures."""
    stack = use_root(args.root)
    stop_on_sigterm()
    with contextlib.ExitStack() as exits:
        figures = measure(args, stack, database(exits, args))
    report(figures)
    if args.json:
        print_json(figures)
