"""The spec's load test ("Load Testing Example"): S concurrent swarms created and started over REST.

    .venv/bin/python bench/loadtest.py --redis redis://127.0.0.1:6379/12          # production shape
    .venv/bin/python bench/loadtest.py --shape embedded
    .venv/bin/python bench/loadtest.py --root /tmp/before --swarms 10 --latency-ms 200 --json

Each of S client threads sends POST /api/swarm/create {objective (the spec's five, in turn),
strategy "development", maxAgents 3, timeout 120000}, then POST /api/swarm/{id}/start, then polls
GET /api/swarm/{id} every `--poll-ms` (250) until the swarm has ended. All of them start together.

Shapes (the fake Claude answers after `--latency-ms` in a process of its own, `manage.py fakeclaude`):
- `production` (default): one daphne web process and `rundramatiq --processes P --threads T`
  workers (2 × 12 by default, as deployed) on a throwaway PostgreSQL database and Redis, with the
  deployment's default settings except DEBUG=false, SECURE_SSL=false, raised rate limits and HOUSEKEEPING_INTERVAL;
- `embedded`: one daphne process on SQLite with its embedded worker threads, no Redis.

Reports, from the Event rows (server time): the first `swarm.created` → the last
`swarm.completed|failed` (the headline), and per swarm create → `swarm.started` (planning; the
start is requested during it), `swarm.started` → first `task.started`, `swarm.started` → end; tasks
and Claude calls (count, latency p50 per role); the client-observed wall time. Every process
started here is stopped, and the database dropped, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    SPEC_OBJECTIVES,
    add_common_arguments,
    cpu_seconds,
    cpu_used,
    django_environment,
    flush_redis,
    percentile,
    print_cpu,
    print_json,
    server_env,
    start_fake_claude,
    start_web,
    start_workers,
    stop_on_sigterm,
    throwaway_postgres,
    use_root,
)

TERMINAL = ("completed", "failed", "stopped")
END_EVENTS = ("swarm.completed", "swarm.failed")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=("production", "embedded"), default="production")
    parser.add_argument("--swarms", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2, help="production shape's worker processes")
    parser.add_argument("--threads", type=int, default=12, help="threads per worker process")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="production shape's Redis")
    parser.add_argument(
        "--wait", type=float, default=130, help="give up on a swarm after this many s (its timeout is 120)"
    )
    parser.add_argument("--dump-events", type=Path, help="write the swarms' events here, a JSON line each")
    parser.add_argument(
        "--users", type=int, default=1, help="spread the swarms over this many users (the spec: one client)"
    )
    parser.add_argument(
        "--poll-ms", type=int, default=250, help="each client's status polling (the spec's client: 5000)"
    )
    add_common_arguments(parser)
    return parser.parse_args()


def setup_django(database_url: str, redis_url: str, users: int) -> None:
    """This process reads the results and makes the user; it runs no engine code."""
    os.environ.pop("REDIS_URL", None)
    django_environment(DATABASE_URL=database_url, **({"REDIS_URL": redis_url} if redis_url else {}))
    import django
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    for name in user_names(users):
        get_user_model().objects.create_user(name)


def user_names(users: int) -> list[str]:
    return ["bench"] if users == 1 else [f"bench{n}" for n in range(users)]


def create_key(stack: ModuleType, env: dict[str, str], user: str = "bench") -> str:
    """`manage.py createapikey` prints the key alone on its last line."""
    done = subprocess.run(
        [sys.executable, "manage.py", "createapikey", "--user", user, "--name", "loadtest"],
        cwd=stack.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode:
        raise SystemExit(f"createapikey failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def start_server(
    exits: contextlib.ExitStack, stack: ModuleType, args: argparse.Namespace
) -> tuple[str, list[str]]:
    """Fake Claude, then web (and worker); returns (base URL, an API key per user)."""
    claude_url = start_fake_claude(exits, stack, args.latency_ms)
    redis_url = args.redis if args.shape == "production" else ""
    embedded = {} if redis_url else {"EMBEDDED_WORKERS": "true", "FAKE_CLAUDE": "off"}
    env = server_env(
        stack,
        database_url=stack.database_url(),
        redis_url=redis_url,
        claude_url=claude_url,
        housekeeping=args.housekeeping_interval,
        **embedded,
    )
    keys = [create_key(stack, env, name) for name in user_names(args.users)]
    base = start_web(exits, stack, env)
    if redis_url:
        start_workers(exits, stack, env, processes=args.processes, threads=args.threads)
    return base, keys


def run_swarm(
    stack: ModuleType, base: str, key: str, objective: str, deadline: float, poll_s: float
) -> dict[str, Any]:
    """create → start → poll until the end, as the spec's client does."""
    body = {"objective": objective, "strategy": "development", "maxAgents": 3, "timeout": 120000}
    status, created = stack.http("POST", f"{base}/api/swarm/create", key, body)
    if status != 201:
        return {"error": f"create: {status} {created}"}
    swarm_id = created["swarmId"]
    status, started = stack.http("POST", f"{base}/api/swarm/{swarm_id}/start", key)
    if status != 200:
        return {"id": swarm_id, "error": f"start: {status} {started}"}
    while time.monotonic() < deadline:
        status, got = stack.http("GET", f"{base}/api/swarm/{swarm_id}", key)
        if status == 200 and got["data"]["status"] in TERMINAL:
            return {"id": swarm_id, "status": got["data"]["status"], "seenAt": time.monotonic()}
        time.sleep(poll_s)
    return {"id": swarm_id, "error": "did not end in time"}


def fire(stack: ModuleType, base: str, keys: list[str], args: argparse.Namespace) -> tuple[list[dict], float]:
    """All create+start pairs at once from threads; returns their outcomes and the wall time."""
    results: list[dict[str, Any]] = [{} for _ in range(args.swarms)]
    gate = threading.Barrier(args.swarms + 1)
    deadline = time.monotonic() + args.wait

    def client(i: int) -> None:
        gate.wait()
        try:
            key, objective = keys[i % len(keys)], SPEC_OBJECTIVES[i % len(SPEC_OBJECTIVES)]
            results[i] = run_swarm(stack, base, key, objective, deadline, args.poll_ms / 1000)
        except (OSError, ValueError, KeyError) as exc:  # a failed client is a result, not the end
            results[i] = {"error": repr(exc)}

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.swarms)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    gate.wait()
    for thread in threads:
        thread.join()
    ends = [r["seenAt"] for r in results if "seenAt" in r]
    return results, (max(ends) - began if ends else float("nan"))


def seconds(later: Any, earlier: Any) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def event_model() -> Any:
    """The Event model: swarms.Event before the engine rebuild, events.Event after (same table)."""
    from django.apps import apps

    try:
        return apps.get_model("swarms", "Event")
    except LookupError:
        return apps.get_model("events", "Event")


def swarm_figures(swarm_ids: list[str]) -> list[dict[str, Any]]:
    """Per swarm, from its events: create → started, started → first task.started, started → end."""
    from swarms.models import Swarm
    from tasks.models import Task

    Event = event_model()
    first: dict[str, dict[str, Any]] = defaultdict(dict)
    types = ("swarm.created", "swarm.started", "task.started", *END_EVENTS)
    for swarm_id, kind, at in (
        Event.objects.filter(swarm_id__in=swarm_ids, type__in=types)
        .order_by("id")
        .values_list("swarm_id", "type", "created_at")
    ):
        first[swarm_id].setdefault("end" if kind in END_EVENTS else kind, at)
    tasks = defaultdict(list)
    for swarm_id, status in Task.objects.filter(swarm_id__in=swarm_ids).values_list("swarm_id", "status"):
        tasks[swarm_id].append(status)
    statuses = dict(Swarm.objects.filter(id__in=swarm_ids).values_list("id", "status"))
    plan_started = first_plan_call_starts(swarm_ids)
    rows = []
    for swarm_id in swarm_ids:
        at = first[swarm_id]
        rows.append(
            {
                "id": swarm_id,
                "status": statuses.get(swarm_id),
                "tasks": len(tasks[swarm_id]),
                "completedTasks": tasks[swarm_id].count("completed"),
                "createdAt": at.get("swarm.created"),
                "endAt": at.get("end"),
                "createToStartS": seconds(at.get("swarm.started"), at.get("swarm.created")),
                "createToPlanCallS": seconds(plan_started.get(swarm_id), at.get("swarm.created")),
                "startToFirstTaskS": seconds(at.get("task.started"), at.get("swarm.started")),
                "startToEndS": seconds(at.get("end"), at.get("swarm.started")),
            }
        )
    return rows


def first_plan_call_starts(swarm_ids: list[str]) -> dict[str, Any]:
    """When each swarm's first planning request went out: its ClaudeCall row is written then."""
    from tasks.models import ClaudeCall

    starts: dict[str, Any] = {}
    calls = ClaudeCall.objects.filter(swarm_id__in=swarm_ids, role="planner").order_by("id")
    for swarm_id, started in calls.values_list("swarm_id", "created_at"):
        starts.setdefault(swarm_id, started)
    return starts


def call_figures(swarm_ids: list[str]) -> dict[str, dict[str, Any]]:
    from tasks.models import ClaudeCall

    by_role: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rows = ClaudeCall.objects.filter(swarm_id__in=swarm_ids).values_list("role", "latency_ms", "outcome")
    for role, latency, outcome in rows:
        by_role[role].append((latency, outcome))
    return {
        role: {
            "count": len(calls),
            "notOk": sum(1 for _, outcome in calls if outcome != "ok"),
            "latencyP50Ms": percentile([latency for latency, _ in calls], 0.5),
        }
        for role, calls in sorted(by_role.items())
    }


def dump_events(path: Path, swarm_ids: list[str]) -> None:
    rows = event_model().objects.filter(swarm_id__in=swarm_ids).order_by("id")
    with path.open("w") as out:
        for event in rows.values("id", "swarm_id", "seq", "type", "data", "created_at"):
            out.write(json.dumps(event, default=str) + "\n")
        from tasks.models import ClaudeCall  # and each Claude call: when it started, how long it took

        calls = ClaudeCall.objects.filter(swarm_id__in=swarm_ids).order_by("id")
        for call in calls.values(
            "swarm_id", "task_id", "role", "turn", "outcome", "created_at", "latency_ms"
        ):
            out.write(json.dumps({"type": "claude.call", **call}, default=str) + "\n")
        from tasks.models import Task  # and each task: when it was created, assigned, started, ended

        tasks = Task.objects.filter(swarm_id__in=swarm_ids).order_by("swarm_id", "sequence")
        for task in tasks.values("id", "swarm_id", "created_at", "assigned_at", "started_at", "completed_at"):
            out.write(json.dumps({"type": "task.row", **task}, default=str) + "\n")


def summarize(args: argparse.Namespace, results: list[dict], wall: float) -> dict[str, Any]:
    swarm_ids = [r["id"] for r in results if "id" in r]
    swarms = swarm_figures(swarm_ids)
    created = [s["createdAt"] for s in swarms if s["createdAt"]]
    ended = [s["endAt"] for s in swarms if s["endAt"]]
    all_ended = len(ended) == args.swarms
    headline = (max(ended) - min(created)).total_seconds() if all_ended else None
    for swarm in swarms:
        swarm.pop("createdAt"), swarm.pop("endAt")
    return {
        "shape": args.shape,
        "swarms": args.swarms,
        "users": args.users,
        "latencyMs": args.latency_ms,
        "housekeepingInterval": args.housekeeping_interval,
        "firstCreatedToLastEndS": headline,
        "clientWallS": wall,
        "ended": sum(1 for s in swarms if s["status"] in TERMINAL),
        "completed": sum(1 for s in swarms if s["status"] == "completed"),
        "clientErrors": [r["error"] for r in results if "error" in r],
        "perSwarm": swarms,
        "claudeCalls": call_figures(swarm_ids),
    }


def fmt(value: float | None) -> str:
    return "     —" if value is None else f"{value:6.2f}"


def spread(swarms: list[dict], key: str) -> str:
    values = [s[key] for s in swarms if s[key] is not None]
    if not values:
        return "—"
    return f"p50 {percentile(values, 0.5):.2f} s, max {max(values):.2f} s"


def report(f: dict[str, Any], root: Path) -> None:
    print(
        f"load test: {f['swarms']} swarms of {f['users']} user(s), {f['shape']} shape, fake Claude {f['latencyMs']} ms, "
        f"housekeeping {f['housekeepingInterval']:g} s, root={root}"
    )
    if f["firstCreatedToLastEndS"] is None:
        print(f"first swarm.created → last swarm end  — ({f['swarms'] - f['ended']} swarms did not end)")
    else:
        print(f"first swarm.created → last swarm end  {f['firstCreatedToLastEndS']:.2f} s  (server events)")
    print(f"client wall time                      {fmt(f['clientWallS']).strip()} s")
    print(f"ended {f['ended']}/{f['swarms']}, completed {f['completed']}")
    for error in f["clientErrors"]:
        print(f"client error: {error}")
    print(
        f"{'swarm':<32}{'status':<11}{'tasks':<7}{'create→start':>14}{'start→1st task':>16}{'start→end':>11}"
    )
    for s in f["perSwarm"]:
        print(
            f"{s['id']:<32}{s['status'] or '—':<11}{s['completedTasks']:>2}/{s['tasks']:<4}"
            f"{fmt(s['createToStartS']):>12} s{fmt(s['startToFirstTaskS']):>14} s{fmt(s['startToEndS']):>9} s"
        )
    labels = {
        "createToPlanCallS": "create→plan call",
        "createToStartS": "create→start",
        "startToFirstTaskS": "start→1st task",
        "startToEndS": "start→end",
    }
    for key, label in labels.items():
        print(f"{label:<16} {spread(f['perSwarm'], key)}")
    for role, calls in f["claudeCalls"].items():
        print(
            f"claude {role:<9} {calls['count']:4d} calls ({calls['notOk']} not ok), "
            f"latency p50 {calls['latencyP50Ms']:.0f} ms"
        )
    print_cpu(f["coresBusy"])


def main() -> None:
    args = parse_args()
    stack = use_root(args.root)
    stop_on_sigterm()
    with contextlib.ExitStack() as exits:
        if args.shape == "production":
            flush_redis(args.redis)
            database_url = exits.enter_context(throwaway_postgres())
        else:
            database_url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-loadtest-')}/db.sqlite3"
        setup_django(database_url, args.redis if args.shape == "production" else "", args.users)
        from django.db import connections

        exits.callback(connections.close_all)
        with contextlib.ExitStack() as processes:
            base, keys = start_server(processes, stack, args)
            cpu_before = cpu_seconds()
            results, wall = fire(stack, base, keys, args)
            cores = cpu_used(cpu_before, cpu_seconds(), wall)
        figures = summarize(args, results, wall)
        figures["coresBusy"] = cores
        if args.dump_events:
            dump_events(args.dump_events, [s["id"] for s in figures["perSwarm"]])
    report(figures, stack.ROOT)
    if args.json:
        print_json(figures)


if __name__ == "__main__":
    main()
