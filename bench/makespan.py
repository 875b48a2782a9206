"""Makespan benchmark: N independent tasks against the fake Claude at latency L with concurrency C.

    .venv/bin/python bench/makespan.py --tasks 50 --latency-ms 200 --concurrency 10

Runs the real engine (dispatch, bridge, leases, event publishing, records) on worker threads
with the in-process broker, on a fresh SQLite database (or DATABASE_URL). Prints the makespan,
the ideal N·L/C, their ratio, and database queries per task.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, django_environment


def configure(args: argparse.Namespace) -> None:
    django_environment(
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",  # replaced once the fake Claude is up
        MAX_CONCURRENT_TASKS=str(args.concurrency),
        CLAUDE_FLOW_MAX_AGENTS="100",
    )
    if args.redis:
        os.environ["REDIS_URL"] = args.redis
    else:
        os.environ.pop("REDIS_URL", None)


class QueryCounter:
    """Counts SQL statements from every thread (Django's own counters are per connection)."""

    def __init__(self) -> None:
        self.count = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count += 1
            if os.environ.get("BENCH_SQL"):
                self.kinds[" ".join(sql.split()[:6])[:90]] += 1
        return execute(sql, params, many, context)


def start_fake(latency_ms: int):
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.stack import Process, free_port

    port = free_port()
    env = {**os.environ, "DEBUG": "true"}
    fake = Process(
        "fakeclaude",
        [sys.executable, "manage.py", "fakeclaude", "--port", str(port), "--latency-ms", str(latency_ms)],
        env,
    )
    fake.wait_for_output("Fake Claude listening")
    fake.url = f"http://127.0.0.1:{port}"
    return fake


def start_worker_processes(args: argparse.Namespace, claude_url: str):
    import redis

    from tests.stack import Process, stack_env

    redis.Redis.from_url(args.redis).flushdb()
    env = stack_env(
        redis_url=args.redis,
        claude_url=claude_url,
        LOG_LEVEL="warn",
        MAX_CONCURRENT_TASKS=str(args.concurrency),
    )
    # every process can run every task: a message prefetched by a process must find a free thread
    threads = args.concurrency + 2
    worker = Process(
        "bench-workers",
        [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            str(args.processes),
            "--threads",
            str(threads),
        ],
        env,
    )
    for _ in range(200):
        if worker.output().count("Worker process is ready") >= args.processes:
            break
        time.sleep(0.1)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--redis", default="", help="use Redis and `rundramatiq` worker processes (URL)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes with --redis")
    args = parser.parse_args()
    configure(args)

    import django

    django.setup()
    import dramatiq
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.backends.signals import connection_created
    from dramatiq import Worker

    import tasks.actors  # noqa: F401
    from swarms.models import Swarm
    from swarms.services import swarm_start
    from tests.builders import build_swarm

    call_command("migrate", verbosity=0)
    if os.environ.get("DATABASE_URL"):
        call_command("flush", interactive=False, verbosity=0)
    fake = start_fake(args.latency_ms)  # its own process: its CPU time is not the engine's
    settings.ANTHROPIC_BASE_URL = fake.url
    counter = QueryCounter()

    def attach(connection, **kwargs):
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)

    connection_created.connect(attach, weak=False)

    owner = get_user_model().objects.create_user("bench")
    swarm = build_swarm(
        owner,
        agents=[("coder", f"coder-{i}") for i in range(args.concurrency)],
        max_agents=args.concurrency,
        options={"review": False},
        tasks=[
            {"name": f"Task {i}", "description": f"Write part {i} of the module"} for i in range(args.tasks)
        ],
    )
    if args.redis:
        worker = start_worker_processes(args, fake.url)
    else:
        broker = dramatiq.get_broker()
        broker.emit_after("process_boot")
        worker = Worker(broker, worker_threads=args.concurrency + 4, worker_timeout=20)
        worker.start()

    from django.db import connections

    for conn in connections.all():  # count from here on, in this thread too
        attach(conn)
    counter.count = 0
    started = time.monotonic()
    swarm_start(swarm_id=swarm.id)
    for conn in connections.all():  # the polling below is this script's, not the engine's
        conn.execute_wrappers.remove(counter)
    while Swarm.objects.values_list("status", flat=True).get(pk=swarm.id) not in Swarm.TERMINAL:
        time.sleep(0.02)
    makespan = time.monotonic() - started
    queries = counter.count
    status = Swarm.objects.values_list("status", flat=True).get(pk=swarm.id)
    from tasks.models import Task

    rows = list(Task.objects.filter(swarm=swarm).values_list("assigned_at", "started_at", "completed_at"))
    queued = sum((s - a).total_seconds() for a, s, _ in rows) / len(rows)
    running = sum((c - s).total_seconds() for _, s, c in rows) / len(rows)
    worker.stop()
    fake.stop()

    ideal = args.tasks * args.latency_ms / 1000 / args.concurrency
    print(
        f"tasks={args.tasks} latency={args.latency_ms}ms concurrency={args.concurrency} "
        f"database={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} status={status}"
    )
    print(f"makespan  {makespan:.2f} s")
    print(f"ideal     {ideal:.2f} s  (N·L/C)")
    print(f"ratio     {makespan / ideal:.2f}")
    print(
        f"per task  {queued * 1000:.0f} ms from assignment to start, {running * 1000:.0f} ms running "
        f"(Claude call {args.latency_ms} ms + recording)"
    )
    if args.redis:
        print("queries   not counted here: the engine runs in the worker processes")
    else:
        print(f"queries   {queries / args.tasks:.1f} per task ({queries} in all, engine only)")
    for sql, count in counter.kinds.most_common(25):
        print(f"{count:6d}  {sql}")


if __name__ == "__main__":
    main()
