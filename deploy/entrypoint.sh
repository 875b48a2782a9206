#!/bin/sh
# One image, three roles (README "Two shapes"): the first argument picks the process.
#   web      daphne serving claudeflow_site.asgi:application on $HOST:$PORT (HTTP + WebSocket)
#   worker   Dramatiq workers: WORKER_PROCESSES processes x WORKER_THREADS threads
#   migrate  apply database migrations, then exit (run once before web and workers start)
#   anything else is run as given, e.g.
#            python manage.py createapikey --user alice --name ci --permissions read,write
# Every role ends in exec, so tini's SIGTERM reaches daphne / the Dramatiq master directly.
# daphne runs without --proxy-headers, which would believe any caller's X-Forwarded-For: the
# application reads that header only from the proxies listed in TRUSTED_PROXIES (CIDRs).
set -eu
cd "$(dirname "$0")/.."  # the project root (/app in the image): manage.py is there

role="${1:-web}"
if [ "$#" -gt 0 ]; then shift; fi

case "$role" in
  web)
    exec daphne --bind "${HOST:-0.0.0.0}" --port "${PORT:-8000}" "$@" \
      claudeflow_site.asgi:application
    ;;
  worker)
    exec python manage.py rundramatiq \
      --processes "${WORKER_PROCESSES:-2}" --threads "${WORKER_THREADS:-12}" "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
