#!/bin/sh
# redis's entrypoint, as the official redis image's: its data in /data,
# owned by and served as the redis user, in the foreground. Arguments go
# to redis-server (e.g. --appendonly yes).
set -eu
mkdir -p /data
chown redis:redis /data
cd /data
exec setpriv --reuid=redis --regid=redis --init-groups redis-server --dir /data --daemonize no \
	--bind 127.0.0.1 "$@"
