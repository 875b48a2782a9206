"""`claudeflow-server`: the console script of the installed package.

    claudeflow-server serve [--host H] [--port P]   the web server (daphne; HOST/PORT by default)
    claudeflow-server worker [rundramatiq options]  the Dramatiq workers (production shape)
    claudeflow-server version                       this server's version
    claudeflow-server <command> ...                 any manage.py command: migrate, createsuperuser,
                                                    quickstart, createapikey, collectstatic, check, ...

Settings come from the environment and a `.env` file in the working directory, as with manage.py.
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "claudeflow-server"


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claudeflow_site.settings")
    from claudeflow_site.config import ConfigError

    try:
        if args[:1] == ["serve"]:
            serve(args[1:])
        elif args[:1] == ["worker"]:
            manage(["rundramatiq", *args[1:]])
        elif args[:1] in (["version"], ["--version"]):
            from core.version import VERSION

            print(f"{PROG} {VERSION}")
        else:
            manage(args)
    except ConfigError as exc:  # one line naming the variable, not a traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


def manage(args: list[str]) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line([PROG, *args])


def serve(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"{PROG} serve", description="Serve HTTP and /ws with daphne.")
    parser.add_argument("--host", default=None, help="address to bind (default: HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: PORT, 8000)")
    options = parser.parse_args(args)
    import django
    from django.conf import settings

    django.setup()  # a bad setting stops here, with one line naming it
    host = options.host or settings.HOST
    port = options.port or settings.PORT
    from daphne.cli import CommandLineInterface

    print(f"Serving on http://{host}:{port} (Ctrl-C to stop)", flush=True)
    CommandLineInterface().run(["--bind", host, "--port", str(port), "claudeflow_site.asgi:application"])


if __name__ == "__main__":
    main()
