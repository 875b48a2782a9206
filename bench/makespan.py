"""Makespan benchmark: N independent tasks against the fake Claude at latency L with concurrency C.

    .venv/bin/python bench/makespan.py --redis redis://127.0.0.1:6379/12            # production shape
    .venv/bin/python bench/makespan.py --tasks 50 --latency-ms 1000 --concurrency 10  # in-process
    .venv/bin/python bench/makespan.py --root /tmp/before --redis redis://127.0.0.1:6379/12 --json

One swarm of N tasks and C agents (built directly, no planning call; MAX_CONCURRENT_TASKS and
_PER_USER = C, since one owner has them all) is
started with `swarms.services.swarm_start`; the fake Claude answers every call after L ms in a
process of its own (`manage.py fakeclaude`).

- `--redis URL` (production shape): real `manage.py rundramatiq --processes P --threads T` workers
  on PostgreSQL (`--database-url`, default a throwaway database created and dropped here) and Redis,
  with the deployment's default settings except HOUSEKEEPING_INTERVAL. SQL statements are counted
  inside the worker processes by bench/sitecustomize: queries per task = every statement the
  workers ran from the start to the end of the swarm (dispatch, claim, lease renewals, call
  records, results, events, completion — the whole task lifecycle), divided by N.
- without it: the engine's actors on T worker threads in this process with the in-memory broker,
  on a fresh SQLite database (or `--database-url`/DATABASE_URL); the statements of those threads
  are counted.

Prints the makespan, the ideal calls·L/C (agent calls: a tool loop makes several per task), their ratio, assignment → start p50/p95 (Task.assigned_at →
started_at), running time p50 and queries per task; `--json` adds them as one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    add_common_arguments,
    cpu_seconds,
    cpu_used,
    django_environment,
    flush_redis,
    percentile,
    print_cpu,
    query_kinds,
    query_total,
    run_benchmark,
    server_env,
    start_fake_claude,
    start_workers,
    throwaway_postgres,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16, help="agents and MAX_CONCURRENT_TASKS")
    parser.add_argument(
        "--tools",
        choices=("loop", "none"),
        default="loop",
        help="loop: coders with workspace tools (a tool turn, then submit_result: two calls a task); "
        "none: an agent type without tools (one call a task, answered in plain text)",
    )
    parser.add_argument("--redis", default="", help="production shape: rundramatiq workers on this Redis")
    parser.add_argument(
        "--processes", type=int, default=2, help="worker processes (with --redis; default 2, as deployed)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads per worker (default: 12 with --redis, as deployed; else C + 2)",
    )
    parser.add_argument("--database-url", default="", help="use this database instead of a fresh one")
    add_common_arguments(parser)
    args = parser.parse_args()
    per_process = -(-(args.concurrency + 2) // args.processes)  # every process could take its share
    args.threads = args.threads or (max(12, per_process) if args.redis else args.concurrency + 2)
    return args


def setup_django(args: argparse.Namespace, database_url: str) -> None:
    overrides = {
        "MAX_CONCURRENT_TASKS": str(args.concurrency),
        "MAX_CONCURRENT_TASKS_PER_USER": str(args.concurrency),  # one owner here: its fair share is all
        "CLAUDE_FLOW_MAX_AGENTS": str(max(100, args.concurrency)),
        "MAX_TASKS_PER_SWARM": str(max(100, args.tasks)),  # one swarm holds all N tasks
        "HOUSEKEEPING_INTERVAL": str(args.housekeeping_interval),
    }
    if database_url:
        overrides["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    if args.redis:
        overrides["REDIS_URL"] = args.redis
    django_environment(**overrides)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def build(args: argparse.Namespace) -> str:
    from django.contrib.auth import get_user_model

    from tests.builders import build_swarm

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{os.getpid()}-{time.time_ns()}")
    kind = "coder"
    if args.tools == "none":
        from agents.services import agent_type_create

        kind = agent_type_create(
            owner=owner, name="writer", system_prompt="You write what the task asks for.", tools=[]
        ).name
    swarm = build_swarm(
        owner,
        agents=[(kind, f"{kind}-{i}") for i in range(args.concurrency)],
        max_agents=args.concurrency,
        options={"review": False},
        tasks=[
            {"name": f"Task {i}", "description": f"Write part {i} of the module"} for i in range(args.tasks)
        ],
    )
    return swarm.id


def import_actors() -> ModuleType:
    try:
        return importlib.import_module("engine.actors")
    except ModuleNotFoundError as exc:
        if exc.name not in ("engine", "engine.actors"):
            raise
        return importlib.import_module("tasks.actors")


class ThreadQueryCounter:
    """Counts the SQL statements of every thread but this one (the engine's worker threads)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._main = threading.main_thread()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if threading.current_thread() is not self._main:
            with self._lock:
                self.count += 1
        return execute(sql, params, many, context)

    def attach(self, connection: Any, **kwargs: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def total(self) -> int:
        return self.count


def start_in_process_workers(exits: contextlib.ExitStack, args: argparse.Namespace) -> ThreadQueryCounter:
    import dramatiq
    from django.db.backends.signals import connection_created
    from dramatiq import Worker

    import_actors()
    counter = ThreadQueryCounter()
    connection_created.connect(counter.attach, weak=False)
    broker = dramatiq.get_broker()
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_threads=args.threads, worker_timeout=20)
    worker.start()
    exits.callback(worker.stop)
    return counter


class ShimCounter:
    """The SQL statements counted by bench/sitecustomize in the processes writing to `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def total(self) -> int:
        return query_total(self.directory)


def start_production_workers(
    exits: contextlib.ExitStack, stack: ModuleType, args: argparse.Namespace, claude_url: str
) -> ShimCounter:
    counter = ShimCounter(Path(tempfile.mkdtemp(prefix="bench-queries-")))
    env = server_env(
        stack,
        database_url=stack.database_url(),
        redis_url=args.redis,
        claude_url=claude_url,
        housekeeping=args.housekeeping_interval,
        queries_dir=counter.directory,
    )
    start_workers(exits, stack, env, args.processes, args.threads)
    return counter


def run(swarm_id: str, counter: Any) -> tuple[float, int, dict[str, float], datetime]:
    """Starts the swarm and waits for its end: (makespan in s, SQL statements of the engine, cores busy,
    the wall-clock time of the start)."""
    from swarms.models import Swarm
    from swarms.services import swarm_start

    time.sleep(0.5)  # the shim's files hold the workers' start-up statements by now
    before = counter.total()
    cpu_before = cpu_seconds()
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    swarm_start(swarm_id=swarm_id)
    while Swarm.objects.values_list("status", flat=True).get(pk=swarm_id) not in Swarm.TERMINAL:
        time.sleep(0.02)
    makespan = time.monotonic() - started
    cores = cpu_used(cpu_before, cpu_seconds(), makespan)
    time.sleep(0.5)  # and the statements of the last task's end
    return makespan, counter.total() - before, cores, started_wall


def task_figures(swarm_id: str, started_wall: datetime, makespan: float) -> dict[str, Any]:
    from swarms.models import Swarm
    from tasks.models import ClaudeCall, Task

    agent_calls = ClaudeCall.objects.filter(swarm_id=swarm_id, role="agent", outcome="ok")
    calls = agent_calls.count()
    latencies = list(agent_calls.values_list("latency_ms", flat=True))
    rows = Task.objects.filter(swarm_id=swarm_id).values_list(
        "status", "assigned_at", "started_at", "completed_at", "assigned_agent_id"
    )
    waits = [(s - a).total_seconds() * 1000 for _, a, s, _, _ in rows if a and s]
    runs = [(c - s).total_seconds() * 1000 for _, _, s, c, _ in rows if s and c]
    by_agent: dict[str, list[tuple[Any, Any]]] = {}
    for _, assigned, _, completed, agent in rows:
        if assigned and completed:
            by_agent.setdefault(agent, []).append((assigned, completed))
    idle = [  # an agent's previous task completed → its next one assigned
        (later[0] - earlier[1]).total_seconds() * 1000
        for spans in by_agent.values()
        for earlier, later in zip(sorted(spans), sorted(spans)[1:], strict=False)
    ]
    # a one-call task's run in three parts: started → its call's row written, the HTTP call, → completed
    spans = {
        task: (started, completed)
        for task, started, completed in Task.objects.filter(swarm_id=swarm_id).values_list(
            "id", "started_at", "completed_at"
        )
    }
    before_call, after_call = [], []
    task_calls = list(agent_calls.values_list("task_id", "created_at", "latency_ms"))
    per_task = Counter(task for task, _, _ in task_calls)
    for task, created, latency in task_calls:
        started, completed = spans.get(task, (None, None))
        if started and completed and per_task[task] == 1:  # a tool loop's tasks make several calls
            before_call.append((created - started).total_seconds() * 1000)
            after_call.append((completed - created).total_seconds() * 1000 - latency)
    starts = [s for _, _, s, _, _ in rows if s]
    ends = [c for _, _, _, c, _ in rows if c]
    swarm_end = Swarm.objects.values_list("completed_at", flat=True).get(pk=swarm_id)
    return {
        "status": Swarm.objects.values_list("status", flat=True).get(pk=swarm_id),
        # the edges of the run: start request → first task running, last task's end → the swarm's end
        "startToFirstRunMs": (min(starts) - started_wall).total_seconds() * 1000 if starts else None,
        "lastEndToSwarmEndMs": (swarm_end - max(ends)).total_seconds() * 1000 if ends and swarm_end else None,
        # the share of the run's slot time spent running a task
        "slotsBusy": sum(runs) / 1000 / (makespan * max(1, len(by_agent))) if runs else None,
        "completedTasks": sum(1 for status, *_ in rows if status == Task.Status.COMPLETED),
        "agentCalls": calls,
        "assignToStartP50Ms": percentile(waits, 0.5),
        "assignToStartP95Ms": percentile(waits, 0.95),
        "runningP50Ms": percentile(runs, 0.5),
        "runningMeanMs": sum(runs) / len(runs) if runs else None,
        "beforeCallP50Ms": percentile(before_call, 0.5),
        "afterCallP50Ms": percentile(after_call, 0.5),
        "callP50Ms": percentile(latencies, 0.5),
        "agentIdleP50Ms": percentile(idle, 0.5),
        "agentIdleP95Ms": percentile(idle, 0.95),
    }


def measure(args: argparse.Namespace, stack: ModuleType, database_url: str) -> dict[str, Any]:
    from django.conf import settings

    setup_django(args, database_url)
    if args.redis:
        flush_redis(args.redis)
    with contextlib.ExitStack() as exits:
        claude_url = start_fake_claude(exits, stack, args.latency_ms)
        settings.ANTHROPIC_BASE_URL = claude_url
        swarm_id = build(args)
        if args.redis:
            counter = start_production_workers(exits, stack, args, claude_url)
        else:
            counter = start_in_process_workers(exits, args)
        makespan, queries, cores, started_wall = run(swarm_id, counter)
        figures = task_figures(swarm_id, started_wall, makespan)
        if os.environ.get("BENCH_QUERY_KINDS") and isinstance(counter, ShimCounter):
            kinds = sorted(query_kinds(counter.directory).items(), key=lambda kv: -kv[1])
            figures["queryKindsPerTask"] = {kind: round(n / args.tasks, 2) for kind, n in kinds[:25]}
    from django.db import connections

    connections.close_all()
    # every agent call (a tool loop makes several per task) waits L: ideal = calls · L / C
    ideal = max(figures["agentCalls"], args.tasks) * args.latency_ms / 1000 / args.concurrency
    shape = "production" if args.redis else "in-process"
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return {
        **figures,
        **{"shape": shape, "database": database, "root": str(stack.ROOT), "tasks": args.tasks},
        "tools": args.tools,
        **{"latencyMs": args.latency_ms, "concurrency": args.concurrency, "threads": args.threads},
        **{
            "processes": args.processes if args.redis else 0,
            "housekeepingInterval": args.housekeeping_interval,
        },
        **{"makespanS": makespan, "idealS": ideal, "ratio": makespan / ideal},
        **{"queries": queries, "queriesPerTask": queries / args.tasks, "coresBusy": cores},
    }


def fmt(value: float | None, unit: str = "ms") -> str:
    return "—" if value is None else f"{value:.0f} {unit}"


def report(f: dict[str, Any]) -> None:
    workers = f"{f['threads']} threads"
    if f["processes"]:
        workers = f"{f['processes']} rundramatiq × {workers}"
    print(
        f"{f['shape']} ({f['database']}, {workers}) root={f['root']}\n"
        f"tasks={f['tasks']} tools={f['tools']} latency={f['latencyMs']}ms concurrency={f['concurrency']} "
        f"housekeeping={f['housekeepingInterval']:g}s status={f['status']} completed={f['completedTasks']}"
    )
    print(f"makespan  {f['makespanS']:.2f} s")
    print(f"ideal     {f['idealS']:.2f} s  (calls·L/C; {f['agentCalls']} agent calls for {f['tasks']} tasks)")
    print(f"ratio     {f['ratio']:.2f}")
    print(
        f"per task  assignment → start p50 {fmt(f['assignToStartP50Ms'])}, p95 {fmt(f['assignToStartP95Ms'])}; "
        f"running p50 {fmt(f['runningP50Ms'])} (Claude call {f['latencyMs']} ms + recording; "
        f"the HTTP call as the worker timed it p50 {fmt(f['callP50Ms'])})\n"
        f"          agent idle between its tasks (completed → next assigned) p50 {fmt(f['agentIdleP50Ms'])}, "
        f"p95 {fmt(f['agentIdleP95Ms'])}\n"
        f"run       mean {fmt(f['runningMeanMs'])}; one-call tasks, p50: started → call recorded "
        f"{fmt(f['beforeCallP50Ms'])}, call returned → completed {fmt(f['afterCallP50Ms'])}\n"
        f"edges     start → first task running {fmt(f['startToFirstRunMs'])}, "
        f"last task's end → swarm ended {fmt(f['lastEndToSwarmEndMs'])}; "
        f"agents busy running {f['slotsBusy'] or 0:.0%} of the makespan"
    )
    where = "in the worker processes" if f["processes"] else "on the worker threads"
    print(f"queries   {f['queriesPerTask']:.1f} per task ({f['queries']} {where}, whole task lifecycle)")
    print_cpu(f["coresBusy"])
    for kind, per_task in f.get("queryKindsPerTask", {}).items():
        print(f"  {per_task:6.2f}  {kind}")


def database(exits: contextlib.ExitStack, args: argparse.Namespace) -> str:
    if args.redis and not args.database_url:
        return exits.enter_context(throwaway_postgres())
    return args.database_url


def main() -> None:
    run_benchmark(parse_args(), database, measure, report)


if __name__ == "__main__":
    main()
