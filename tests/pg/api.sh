#!/bin/sh
# The API tests with every store in PostgreSQL instead of SQLite files: starts a throwaway cluster
# (tests/pg/pg.sh), runs tests/api (or the files given) against it, stops it. `make test` runs the same
# suite this way (scripts/run-tests.sh, api-pg); this script is for running a few files while working.
#   MERIDIAN_BIN=build-asan/meridian tests/pg/api.sh [tests/api/orders.test.mjs ...]
set -u
here=$(dirname "$0")
out=$("$here/pg.sh" start) || exit 1
MERIDIAN_TEST_PG_URL=${out% *}
dir=${out#* }
export MERIDIAN_TEST_PG_URL
# each server's log, to find what PostgreSQL refused: grep -h '"error"' $MERIDIAN_TEST_LOG_DIR/*.log
export MERIDIAN_TEST_LOG_DIR=${MERIDIAN_TEST_LOG_DIR:-test-artifacts/pg-logs}
trap '"$here/pg.sh" stop "$dir"' EXIT INT TERM
[ $# -gt 0 ] || set -- tests/api/
node --test --test-concurrency=2 "$@"
