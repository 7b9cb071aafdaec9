#!/usr/bin/env bash
# Start a throwaway PostgreSQL from Debian's packages on loopback, for the database tests.
# Prints the URL to use as TRIAGE_TEST_PG_URL, and writes the data folder to the file named by
# PG_DATA_OUT when it is set (scripts/test.sh stops the server with it). Installs the package
# when it is missing.
set -euo pipefail
PORT=${PGPORT_TEST:-54329}
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DATA=$(mktemp -d /tmp/triage-pg.XXXXXX)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$DATA"
  RUN_AS=(runuser -u postgres --)
fi
"${RUN_AS[@]}" "$PGBIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
"${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off" start >/dev/null
if [ -n "${PG_DATA_OUT:-}" ]; then echo "$DATA" > "$PG_DATA_OUT"; fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
