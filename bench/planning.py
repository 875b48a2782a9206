"""Planning benchmark: what a swarm's planning costs the worker beyond Claude's own latency.

    .venv/bin/python bench/planning.py                      # PostgreSQL (a throwaway database)
    .venv/bin/python bench/planning.py --sqlite             # the embedded shape's database
    .venv/bin/python bench/planning.py --root /tmp/before --swarms 60 --json

N swarms (the spec's objectives in turn, strategy "development", maxAgents 3) are created with
`swarms.services.swarm_create`, then planned one after the other in this process by the engine's
own `engine.planner.plan` — the claim of the planning lease, the planning call to the fake Claude
(answering after `--latency-ms`, default 1 ms, in a process of its own), the plan's validation and
the transaction that spawns its agents, creates its tasks and announces them. Three swarms are
planned first to warm the process up. Prints, per plan: wall time and this process's CPU time, the
same for the plan's transaction alone (`apply_plan`), and the SQL statements of the whole plan.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import (
    SPEC_OBJECTIVES,
    add_common_arguments,
    postgres_or_sqlite,
    run_benchmark,
    start_fake_claude,
)

WARM_UP = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--swarms", type=int, default=60)
    parser.add_argument("--latency-ms", type=int, default=1, help="the fake Claude's latency")
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite database instead of PostgreSQL")
    add_common_arguments(parser)
    return parser.parse_args()


def setup_django(args: argparse.Namespace, database_url: str) -> None:
    many = str(args.swarms + WARM_UP)
    common.setup_django(database_url, MAX_SWARMS=many, MAX_SWARMS_PER_USER=many, SWARM_CREATE_RATE="100000/h")


class Timed:
    """Wall and CPU time of every call of a function, and how many calls."""

    def __init__(self, function: Any) -> None:
        self.function, self.wall, self.cpu, self.calls = function, 0.0, 0.0, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu
            self.calls += 1


def measure(args: argparse.Namespace, stack: Any, database_url: str) -> dict[str, Any]:
    from django.conf import settings

    setup_django(args, database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from engine import planner
    from swarms.services import swarm_create

    with contextlib.ExitStack() as exits:
        settings.ANTHROPIC_BASE_URL = start_fake_claude(exits, stack, args.latency_ms)
        owner, _ = get_user_model().objects.get_or_create(username=f"bench-planning-{time.time_ns()}")
        swarms = [
            swarm_create(
                owner=owner,
                objective=SPEC_OBJECTIVES[i % len(SPEC_OBJECTIVES)],
                strategy="development",
                max_agents=3,
            ).id
            for i in range(args.swarms + WARM_UP)
        ]
        for swarm_id in swarms[:WARM_UP]:
            planner.plan(swarm_id=swarm_id)
        statements = 0

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        planner.apply_plan = applied = Timed(planner.apply_plan)
        wall, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(count):
            for swarm_id in swarms[WARM_UP:]:
                planner.plan(swarm_id=swarm_id)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    from swarms.models import Swarm

    planned = Swarm.objects.filter(pk__in=swarms[WARM_UP:], status=Swarm.Status.READY).count()
    n = args.swarms
    return {
        "root": str(stack.ROOT),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "swarms": n,
        "planned": planned,
        "latencyMs": args.latency_ms,
        "planWallMs": round(wall / n * 1000, 1),
        "planCpuMs": round(cpu / n * 1000, 1),
        "applyWallMs": round(applied.wall / max(applied.calls, 1) * 1000, 1),
        "applyCpuMs": round(applied.cpu / max(applied.calls, 1) * 1000, 1),
        "statementsPerPlan": round(statements / n, 1),
    }


def report(f: dict[str, Any]) -> None:
    print(
        f"planning: {f['swarms']} swarms, {f['database']}, fake Claude {f['latencyMs']} ms, root={f['root']}"
    )
    print(f"planned   {f['planned']}/{f['swarms']} (status ready)")
    print(
        f"per plan  wall {f['planWallMs']} ms, cpu {f['planCpuMs']} ms (this process), {f['statementsPerPlan']} statements"
    )
    print(f"apply     the plan's transaction: wall {f['applyWallMs']} ms, cpu {f['applyCpuMs']} ms")


def main() -> None:
    run_benchmark(parse_args(), postgres_or_sqlite, measure, report)


if __name__ == "__main__":
    main()
