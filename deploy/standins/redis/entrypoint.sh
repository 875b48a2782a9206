#!/bin/sh
# As the official image: with no config file given, redis-server listens on every address with
# protected mode off (the compose network is the boundary), and runs as the redis user.
set -eu
if [ "$1" = redis-server ]; then
  shift
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no "$@"
fi
exec "$@"
