"""``manage.py fakeclaude``: run the fake Anthropic Messages API in the foreground."""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fakeclaude import FakeClaude


class Command(BaseCommand):
    help = "Serve a local fake of the Anthropic Messages API until SIGINT/SIGTERM."
    # The fake needs neither the database nor the rest of the project, so skip the system checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency-ms", type=int, default=0, help="delay before the first byte")
        parser.add_argument(
            "--latency-max-ms",
            type=int,
            default=None,
            help="wait a random time between --latency-ms and this",
        )
        parser.add_argument("--chunk-delay-ms", type=int, default=0, help="delay between stream deltas")
        parser.add_argument(
            "--plausible",
            action="store_true",
            help="objective-specific plans (for demos) instead of generated ones",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fake = FakeClaude(
            latency_ms=options["latency_ms"],
            chunk_delay_ms=options["chunk_delay_ms"],
            verbose=options["verbosity"] > 1,
            latency_max_ms=options["latency_max_ms"],
            plausible=options["plausible"],
        )
        done = threading.Event()
        self._install_signal_handlers(done)
        try:
            url = fake.start(host=options["host"], port=options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        try:
            self.stdout.write(f"Fake Claude listening on {url}")
            self.stdout.flush()
            # A timed wait keeps the main thread responsive to signals on every platform.
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()

    def _install_signal_handlers(self, done: threading.Event) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            done.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            # signal.signal() raises ValueError outside the main thread (call_command from a test thread);
            # KeyboardInterrupt handling still covers the interactive case there.
            with contextlib.suppress(ValueError):
                signal.signal(signum, stop)
