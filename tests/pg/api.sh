#!/bin/sh
# The API tests with every store in PostgreSQL instead of SQLite files: starts a throwaway cluster
# (tests/pg/pg.sh), runs tests/api (or the files given) against it, stops it. Not part of `make test` yet:
# PostgreSQL is a backend in progress (issue 10); this is how to see how far it gets.
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
