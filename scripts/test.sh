#!/usr/bin/env bash
# The tests, all of them, as CI runs them (after scripts/setup.sh): PostgreSQL beside SQLite,
# Chromium for the console's pages, the transformer extra for its backend. Whatever is missing
# is installed or started here, so that no test has a reason to skip: one that cannot run
# fails. A PostgreSQL started here is stopped at the end; set TRIAGE_TEST_PG_URL to use your
# own instead. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/torch-extra.sh
bash scripts/browser.sh > /dev/null
if [ -z "${TRIAGE_TEST_PG_URL:-}" ]; then
  PG_DATA_OUT=$(mktemp)
  export PG_DATA_OUT
  TRIAGE_TEST_PG_URL=$(bash scripts/postgres.sh)
  PG_DATA=$(cat "$PG_DATA_OUT")
  rm -f "$PG_DATA_OUT"
  stop_pg() {
    local pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null
    else "$pgbin/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null; fi
    rm -rf "$PG_DATA"
  }
  trap stop_pg EXIT
fi
export TRIAGE_TEST_PG_URL
echo "PostgreSQL for the tests: $TRIAGE_TEST_PG_URL"
.venv/bin/python -m pytest "$@"
