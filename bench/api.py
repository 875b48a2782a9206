"""API benchmark: what a polling client's requests cost the web process, in CPU and SQL statements.

    .venv/bin/python bench/api.py                      # PostgreSQL (a throwaway database)
    .venv/bin/python bench/api.py --sqlite             # the embedded shape's database
    .venv/bin/python bench/api.py --root /tmp/before --requests 500 --json

Ten planned swarms (the spec's objectives, strategy "development", maxAgents 3: three agents and
three tasks each, planned by the engine against the fake Claude) belong to one user with an API
key. Each endpoint a client polls is then requested `--requests` times, round-robin over the
swarms, through Django's full request handling (every middleware, the API key's authentication,
the rate limit on the Redis cache given by `--redis`), in this process; the first 20 requests of
each endpoint warm it up. Prints, per request: this process's CPU time, wall time and SQL
statements. The ASGI server's own share (daphne: ~4 ms of CPU a request on this machine) is not in it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
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

SWARMS = 10
WARM_UP = 20
ENDPOINTS = {  # what a client polls; {id}: a swarm
    "GET /api/swarm/{id}": "/api/swarm/{id}",
    "GET /api/swarm/{id}/tasks": "/api/swarm/{id}/tasks",
    "GET /api/swarm/{id}/results": "/api/swarm/{id}/results",
    "GET /api/swarms": "/api/swarms",
    "GET /api/health": "/api/health",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="measured requests per endpoint")
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite database instead of PostgreSQL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="the rate limits' cache")
    add_common_arguments(parser)
    return parser.parse_args()


def setup_django(args: argparse.Namespace, database_url: str) -> None:
    common.setup_django(
        database_url, REDIS_URL=args.redis, ALLOWED_HOSTS="testserver", RATE_LIMIT_MAX="100000000"
    )


def planned_swarms(stack: Any, owner: Any) -> list[str]:
    from django.conf import settings

    from engine import planner
    from swarms.services import swarm_create

    with contextlib.ExitStack() as exits:
        settings.ANTHROPIC_BASE_URL = start_fake_claude(exits, stack, 1)
        swarms = [
            swarm_create(
                owner=owner,
                objective=SPEC_OBJECTIVES[i % len(SPEC_OBJECTIVES)],
                strategy="development",
                max_agents=3,
            ).id
            for i in range(SWARMS)
        ]
        for swarm_id in swarms:
            planner.plan(swarm_id=swarm_id)
    return swarms


def api_key(username: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("createapikey", "--user", username, "--name", "bench", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def measure(args: argparse.Namespace, stack: Any, database_url: str) -> dict[str, Any]:
    from django.conf import settings

    setup_django(args, database_url)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from tasks.models import Task

    cache.clear()
    owner = get_user_model().objects.create_user(f"bench-api-{time.time_ns()}")
    swarms = planned_swarms(stack, owner)
    client = Client(HTTP_X_API_KEY=api_key(owner.username))
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    endpoints = {}
    for label, template in ENDPOINTS.items():
        urls = [template.format(id=swarm_id) for swarm_id in swarms]
        for n in range(WARM_UP):
            client.get(urls[n % len(urls)])
        statements, failed = 0, 0
        wall, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(count):
            for n in range(args.requests):
                failed += client.get(urls[n % len(urls)]).status_code != 200
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        endpoints[label] = {
            "cpuMs": round(cpu / args.requests * 1000, 2),
            "wallMs": round(wall / args.requests * 1000, 2),
            "statements": round(statements / args.requests, 1),
            "failed": failed,
        }
    return {
        "root": str(stack.ROOT),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "swarms": len(swarms),
        "tasks": Task.objects.filter(swarm_id__in=swarms).count(),
        "requests": args.requests,
        "endpoints": endpoints,
    }


def report(f: dict[str, Any]) -> None:
    print(
        f"api: {f['swarms']} planned swarms ({f['tasks']} tasks), {f['database']}, "
        f"{f['requests']} requests each, root={f['root']}"
    )
    for label, e in f["endpoints"].items():
        failed = f", {e['failed']} not 200" if e["failed"] else ""
        print(
            f"{label:<28} cpu {e['cpuMs']:6.2f} ms  wall {e['wallMs']:6.2f} ms  "
            f"{e['statements']:4.1f} statements{failed}"
        )


def main() -> None:
    run_benchmark(parse_args(), postgres_or_sqlite, measure, report)


if __name__ == "__main__":
    main()
