"""Prompt-caching benchmark: the input cost of one 10-task swarm with and without caching.

    .venv/bin/python bench/caching.py                      # 10 tasks, a 2,000-character objective
    .venv/bin/python bench/caching.py --context-chars 8000 # an objective carrying a long brief
    .venv/bin/python bench/caching.py --root /tmp/other --json

The same swarm (built directly, no planning call: coders, a tester and a documentation writer on
a graph of 10 tasks, reviews on) runs twice against the fake Claude in this process, on the
engine's actors on worker threads with the in-memory broker and a fresh SQLite database: once
with PROMPT_CACHING=true, once with PROMPT_CACHING=false. The fake keeps a prompt cache the way
the API does (a prefix of at least 1,024 tokens up to a cache_control block, seen within five
minutes, is read; seen first, it is written), so the figures are the recorded calls' usage:
uncached input tokens, cache reads and writes, and the input cost at the model's price (writes
1.25×, reads 0.1×). Tokens are the fake's estimate (four characters a token); the fake answers
concurrent identical prefixes from the cache as soon as the first was seen, which the real API
only does once the first response has begun — real reads can be somewhat fewer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_common_arguments, django_environment, print_json, stop_on_sigterm, use_root

OBJECTIVE = (
    "Build a small, well-tested Python library and command-line tool, `ledgerlite`, that imports bank "
    "statements (CSV and OFX), categorises each transaction with user-defined rules, and reports monthly "
    "spending by category. Requirements: Python 3.11, no third-party dependencies except pytest for tests; "
    "a clean package layout (src/ledgerlite/...); importers that tolerate different column orders, "
    "thousands separators and both comma and dot decimal marks; amounts held as Decimal, never float; "
    "rules in a TOML file matching on payee substrings, regular expressions or amount ranges, applied in "
    "order with the first match winning and an 'uncategorised' fallback; a report command printing a "
    "table per month with totals, and a --json flag for machine-readable output; clear error messages "
    "with the file name and line number for malformed input; unit tests for every importer edge case "
    "and the rule engine, and one end-to-end test of the CLI; a README with installation, a quick start "
    "and the rule file format. Keep functions small and typed, document the public API with docstrings, "
    "and make the code easy to extend with new importers. Non-goals: currency conversion, a GUI, "
    "persistence beyond the input files. Deliver the code, the tests and the README as files."
)
TASKS = [
    ("Design the package layout and data model", "architect", []),
    ("Write the CSV importer", "coder", [0]),
    ("Write the OFX importer", "coder", [0]),
    ("Write the rule engine", "coder", [0]),
    ("Write the monthly report", "coder", [3]),
    ("Write the command-line interface", "coder", [1, 2, 4]),
    ("Test the importers", "tester", [1, 2]),
    ("Test the rule engine and the report", "tester", [3, 4]),
    ("Write the README", "documentation-specialist", [5]),
    ("Final synthesis", "coordinator", [5, 6, 7, 8]),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--context-chars",
        type=int,
        default=0,
        help="append a project brief of about this many characters to the objective (default none)",
    )
    parser.add_argument("--latency-ms", type=int, default=50, help="the fake's latency per call")
    add_common_arguments(parser)
    return parser.parse_args()


def setup_django() -> None:
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    django_environment(HOUSEKEEPING_INTERVAL="3600")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def objective(context_chars: int) -> str:
    if not context_chars:
        return OBJECTIVE
    brief = "\n\n# Project brief\n"
    paragraph = (
        "The team's conventions: every module has a docstring saying what it is for; errors are "
        "exceptions with messages a user can act on; tests are named after the behaviour they check. "
    )
    while len(brief) < context_chars:
        brief += paragraph
    return OBJECTIVE + brief[:context_chars]


def build(text: str) -> str:
    from django.contrib.auth import get_user_model

    from tests.builders import build_swarm

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{os.getpid()}-{time.time_ns()}")
    kinds = sorted({kind for _, kind, _ in TASKS})
    swarm = build_swarm(
        owner,
        objective=text,
        agents=[(kind, f"{kind}-one") for kind in kinds],
        max_agents=len(kinds),
        tasks=[
            {
                "name": name,
                "description": f"{name} for ledgerlite, as the objective describes.",
                "agent_type": kind,
                "depends_on": deps,
                "is_synthesis": kind == "coordinator",
            }
            for name, kind, deps in TASKS
        ],
    )
    return swarm.id


def run(swarm_id: str) -> str:
    from swarms.models import Swarm
    from swarms.services import swarm_start

    swarm_start(swarm_id=swarm_id)
    deadline = time.monotonic() + 600
    while (status := Swarm.objects.values_list("status", flat=True).get(pk=swarm_id)) not in Swarm.TERMINAL:
        if time.monotonic() > deadline:
            raise SystemExit(f"swarm {swarm_id} still {status} after 600 s")
        time.sleep(0.05)
    return status


def figures(swarm_id: str, status: str) -> dict[str, Any]:
    from engine.claude import client
    from tasks.models import ClaudeCall

    rows = list(ClaudeCall.objects.filter(swarm_id=swarm_id).exclude(outcome="started"))
    totals = {"calls": len(rows), "input": 0, "cacheRead": 0, "cacheWrite": 0, "output": 0}
    input_cost = output_cost = Decimal(0)
    for row in rows:
        price_in, price_out = (Decimal(str(p)) / Decimal(1_000_000) for p in client.price_of(row.model))
        totals["input"] += row.input_tokens
        totals["cacheRead"] += row.cache_read_input_tokens
        totals["cacheWrite"] += row.cache_creation_input_tokens
        totals["output"] += row.output_tokens
        input_cost += price_in * (
            row.input_tokens
            + Decimal("1.25") * row.cache_creation_input_tokens
            + Decimal("0.1") * row.cache_read_input_tokens
        )
        output_cost += price_out * row.output_tokens
    return {
        **totals,
        "status": status,
        "promptTokens": totals["input"] + totals["cacheRead"] + totals["cacheWrite"],
        "inputCostUsd": float(input_cost.quantize(Decimal("0.000001"))),
        "outputCostUsd": float(output_cost.quantize(Decimal("0.000001"))),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import dramatiq
    from django.conf import settings
    from dramatiq import Worker

    from fakeclaude import FakeClaude

    setup_django()
    import engine.actors  # noqa: F401

    fake = FakeClaude(latency_ms=args.latency_ms)
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as exits:
        settings.ANTHROPIC_BASE_URL = fake.start()
        exits.callback(fake.stop)
        broker = dramatiq.get_broker()
        broker.emit_after("process_boot")
        worker = Worker(broker, worker_threads=settings.MAX_CONCURRENT_TASKS + 2, worker_timeout=20)
        worker.start()
        exits.callback(worker.stop)
        text = objective(args.context_chars)
        for caching in (True, False):
            fake.reset()  # an empty prompt cache for each run
            settings.PROMPT_CACHING = caching
            swarm_id = build(text)
            results["cached" if caching else "uncached"] = figures(swarm_id, run(swarm_id))
    model = settings.CLAUDE_MODELS["agent"]
    return {
        **results,
        "tasks": len(TASKS),
        "objectiveChars": len(text),
        "model": model,
        "root": str(args.root),
    }


def report(f: dict[str, Any]) -> None:
    print(
        f"{f['tasks']}-task swarm, objective {f['objectiveChars']:,} characters, model {f['model']} (fake Claude)"
    )
    print(
        f"{'':12}{'calls':>7}{'input':>10}{'cache read':>12}{'cache write':>13}{'input $':>12}{'output $':>11}"
    )
    for name in ("cached", "uncached"):
        r = f[name]
        print(
            f"{name:12}{r['calls']:>7}{r['input']:>10,}{r['cacheRead']:>12,}{r['cacheWrite']:>13,}"
            f"{r['inputCostUsd']:>12.4f}{r['outputCostUsd']:>11.4f}   ({r['status']})"
        )
    before, after = f["uncached"]["inputCostUsd"], f["cached"]["inputCostUsd"]
    saved = (before - after) / before * 100 if before else 0.0
    print(f"input cost with caching: ${after:.4f} instead of ${before:.4f} ({saved:.0f}% less)")


def main() -> None:
    args = parse_args()
    use_root(args.root)
    stop_on_sigterm()
    figures_ = measure(args)
    report(figures_)
    if args.json:
        print_json(figures_)


if __name__ == "__main__":
    main()
