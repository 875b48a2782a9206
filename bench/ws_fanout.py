"""WebSocket fan-out benchmark: S subscribers × K events through the real channel layer.

    .venv/bin/python bench/ws_fanout.py --subscribers 50 --events 1000 --redis redis://127.0.0.1:6379/14

Starts a daphne web process (production shape: Redis channel layer), connects S WebSocket clients
subscribed to one swarm, publishes K events from this process through `events.stream.publish`
(a database row each, pushed to Redis on commit), and reports per subscriber how many events
arrived, lost (must be 0) or duplicated (must be 0), and the publish-to-deliver latency p50/p99.
A small channel capacity (`WS_CHANNEL_CAPACITY`) makes Redis drop messages on purpose, to show the
consumers back-filling the gaps from the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_ROOT, django_environment, use_root


def configure(args: argparse.Namespace) -> None:
    django_environment(REDIS_URL=args.redis, WS_CHANNEL_CAPACITY=str(args.capacity), RATE_LIMIT_MAX="1000000")


async def subscriber(
    url: str,
    swarm_id: str,
    expected: int,
    ready: asyncio.Event,
    counter: list[int],
    results: dict[str, list],
    name: str,
) -> None:
    """Subscribes, then records (latency, n) of every benchmark event until all K arrived."""
    import websockets

    latencies: list[float] = []
    seen: list[int] = []
    async with websockets.connect(url, max_size=None) as socket:
        await socket.recv()  # connected
        await socket.send(json.dumps({"type": "subscribe", "swarmId": swarm_id}))
        while json.loads(await socket.recv())["type"] != "subscribed":
            pass
        counter[0] += 1
        if counter[0] == len(results):  # everyone is subscribed: publishing may start
            ready.set()
        deadline = None
        while len(seen) < expected:
            timeout = None if deadline is None else max(0.1, deadline - time.monotonic())
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            except TimeoutError:
                break
            if message.get("type") == "swarm_event" and message["eventType"] == "bench":
                latencies.append(time.time() - message["data"]["sentAt"])
                seen.append(message["data"]["n"])
                if len(seen) == expected:
                    break
            if message.get("type") == "swarm_event" and message["eventType"] == "bench.done":
                deadline = time.monotonic() + 5  # allow a heartbeat's catch-up for trailing drops
    results[name] = [latencies, seen]


def publish(swarm_id: str, count: int, rate: float) -> None:
    from django.db import transaction

    from events import stream as events
    from events.catalogue import Built

    interval = 1 / rate if rate else 0
    for n in range(count):
        with transaction.atomic():
            events.publish(swarm_id, Built("bench", {"n": n, "sentAt": time.time()}))
        if interval:
            time.sleep(interval)
    with transaction.atomic():
        events.publish(swarm_id, Built("bench.done", {}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0, help="events per second (0 = as fast as possible)")
    parser.add_argument("--capacity", type=int, default=1000, help="channel layer capacity per client")
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    use_root(DEFAULT_ROOT)  # its imports follow this checkout's layout: no --root
    configure(args)

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from access.services import apikey_create
    from swarms.models import Swarm
    from tests.stack import stack_env, start_web

    redis.Redis.from_url(args.redis).flushdb()
    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user(f"bench-{time.time_ns()}")
    _, key = apikey_create(owner=owner, name="bench", permissions=["read"])
    swarm = Swarm.objects.create(owner=owner, objective="WebSocket fan-out benchmark", name="bench")
    env = stack_env(
        redis_url=args.redis,
        claude_url="http://127.0.0.1:9",
        WS_CHANNEL_CAPACITY=str(args.capacity),
        WS_MAX_CONNECTIONS_PER_USER=str(args.subscribers),  # every client is the one bench user
        LOG_LEVEL="error",
    )
    env["DATABASE_URL"] = (
        settings.DATABASE_URL
        if "DATABASE_URL" in os.environ
        else (f"sqlite:///{settings.DATABASES['default']['NAME']}")
    )
    web, base = start_web(env)
    url = base.replace("http", "ws") + f"/ws?api_key={key}"
    try:
        results = run_clients(args, url, swarm.id)
    finally:
        web.stop()
    report(args, results)


def run_clients(args: argparse.Namespace, url: str, swarm_id: str) -> dict[str, list]:
    results: dict[str, list] = {f"s-{i}": [] for i in range(args.subscribers)}

    async def clients() -> None:
        ready, counter = asyncio.Event(), [0]
        tasks = [
            asyncio.create_task(subscriber(url, swarm_id, args.events, ready, counter, results, name))
            for name in results
        ]
        await asyncio.wait_for(ready.wait(), 60)
        publisher = threading.Thread(target=publish, args=(swarm_id, args.events, args.rate))
        started = time.monotonic()
        publisher.start()
        await asyncio.gather(*tasks)
        publisher.join()
        results["_elapsed"] = [time.monotonic() - started]

    asyncio.run(clients())
    return results


def report(args: argparse.Namespace, results: dict[str, list]) -> None:
    elapsed = results.pop("_elapsed")[0]
    latencies = sorted(x for lat, _ in results.values() for x in lat)
    lost = sum(args.events - len(set(seen)) for _, seen in results.values())
    duplicates = sum(len(seen) - len(set(seen)) for _, seen in results.values())
    out_of_order = sum(seen != sorted(seen) for _, seen in results.values())
    delivered = sum(len(seen) for _, seen in results.values())
    print(
        f"subscribers={args.subscribers} events={args.events} capacity={args.capacity} "
        f"rate={'max' if not args.rate else args.rate}/s"
    )
    print(
        f"delivered {delivered} of {args.subscribers * args.events} in {elapsed:.2f} s "
        f"({delivered / elapsed:.0f} messages/s)"
    )
    print(f"lost      {lost}")
    print(f"duplicate {duplicates}   out of order: {out_of_order} subscribers")
    if latencies:
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        print(f"latency   p50 {p50:.1f} ms   p99 {p99:.1f} ms   (publish → delivered)")


if __name__ == "__main__":
    main()
