#!/bin/sh
# PostgreSQL's entrypoint, as the official postgres image's: the first boot
# makes the cluster in $PGDATA (initdb as the postgres user), every boot
# then runs postgres as that user, in the foreground.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
bin=/usr/lib/postgresql/15/bin
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "pg-entrypoint: no cluster in $PGDATA: initdb"
	as_postgres "$bin/initdb" -D "$PGDATA" --auth=trust --locale=C.UTF-8 --encoding=UTF8
fi
echo "pg-entrypoint: starting postgres"
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" \
	-c listen_addresses=127.0.0.1 "$@"
