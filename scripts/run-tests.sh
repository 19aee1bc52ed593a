#!/bin/sh
# Runs every test and prints one closing summary line.
#   scripts/run-tests.sh RELEASE_BUILD_DIR ASAN_BUILD_DIR [TSAN_BUILD_DIR [FUZZ_BUILD_DIR]]
# Unit tests (cmocka, via meson) run in every build given (the TSan one catches data races in the
# writer, flash-sale stock, throttle and metrics tests); API tests (node --test) run against the
# ASan+UBSan binary, so memory errors anywhere in a request path fail the suite, twice: with SQLite files,
# then with every store in a throwaway PostgreSQL cluster (api-pg). Then a short run of
# each libFuzzer target (FUZZ_TEST_SECONDS each, default 5; skipped when no fuzz build dir is given)
# and the OpenAPI lint (Redocly CLI from node_modules, installed by scripts/install-deps.sh test). The browser
# tests (tests/browser) drive the built storefront and console against the ASan+UBSan binary.
set -u
release=${1:-build}
asan=${2:-build-asan}
tsan=${3:-}
fuzz=${4:-}
fail=0
summary=""

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

count() { # $1 = meson test log; prints "ok/total"
	ok=$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' "$1" || true)
	total=$(grep -cE '^ *[0-9]+/[0-9]+ ' "$1" || true)
	echo "$ok/$total"
}

for dir in "$release" "$asan" $tsan; do
	log=$(mktemp)
	if meson test -C "$dir" --suite unit --print-errorlogs >"$log" 2>&1; then :; else fail=1; cat "$log"; fi
	summary="$summary unit[$dir] $(count "$log");"
	rm -f "$log"
done

# node_suite NAME CONCURRENCY DIR: node's test runner on DIR against the ASan+UBSan binary; the failures are
# printed and the counts join the summary as NAME[build].
node_suite() {
	log=$(mktemp)
	MERIDIAN_BIN="$asan/meridian" node --test --test-reporter=tap --test-concurrency="$2" "$3" >"$log" 2>&1
	rc=$?
	pass=$(sed -n 's/^# pass //p' "$log" | tail -1)
	failed=$(sed -n 's/^# fail //p' "$log" | tail -1)
	if [ "$rc" != 0 ] || [ "${failed:-1}" != 0 ]; then
		fail=1
		grep -B2 -A30 'not ok' "$log" | head -300
	fi
	summary="$summary $1[$asan] ${pass:-0} passed, ${failed:-?} failed;"
	rm -f "$log"
}

node_suite api 2 tests/api/
# The API suite again with every store in PostgreSQL (issue 10): a throwaway cluster started by tests/pg/pg.sh
# (initdb in a temp dir, as the postgres user when root) and stopped by its postmaster's PID, also when this
# script is interrupted. Against the ASan+UBSan binary too: the PostgreSQL backend (db_pg.c, the listener)
# runs only in this phase, so this is where a memory error in it can be caught; the suite's time is mostly
# server start-ups and waits, which the sanitizers barely slow.
if pg=$(tests/pg/pg.sh start); then
	pg_dir=${pg#* }
	trap 'tests/pg/pg.sh stop "$pg_dir"' EXIT
	trap 'exit 130' INT TERM
	export MERIDIAN_TEST_PG_URL="${pg% *}"
	node_suite api-pg 2 tests/api/
	unset MERIDIAN_TEST_PG_URL
	tests/pg/pg.sh stop "$pg_dir"
	trap - EXIT INT TERM
else
	fail=1 # pg.sh said why on stderr
	summary="$summary api-pg[$asan] FAILED (no PostgreSQL cluster: tests/pg/pg.sh start);"
fi
# Browser tests (tests/browser): the storefront and console built in web/dist, in Debian's chromium, one
# file at a time (each starts its own node and browser); screenshots go to test-artifacts/browser/.
node_suite browser 1 tests/browser/

if [ -n "$fuzz" ]; then
	log=$(mktemp)
	if scripts/fuzz.sh "$fuzz" "${FUZZ_TEST_SECONDS:-5}" >"$log" 2>&1; then :; else fail=1; cat "$log"; fi
	counts=$(sed -n 's/^fuzz: //p' "$log" | tail -1)
	summary="$summary fuzz[$fuzz] ${counts:-0 passed, ? failed};"
	rm -f "$log"
fi

# Formatting: every C file as the pinned clang-format (Debian 12's 14) lays it out (`make format` fixes).
log=$(mktemp)
if ! clang-format --version 2>/dev/null | grep -q 'version 14\.'; then
	fail=1
	summary="$summary format FAILED (clang-format 14 is pinned: $(clang-format --version 2>&1 | head -1));"
elif clang-format --dry-run --Werror $(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]') >"$log" 2>&1; then
	summary="$summary format ok;"
else
	fail=1
	head -40 "$log"
	summary="$summary format FAILED (run make format);"
fi
rm -f "$log"

log=$(mktemp)
if REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly lint docs/openapi.yaml \
	>"$log" 2>&1; then
	summary="$summary openapi lint ok;"
else
	fail=1
	cat "$log"
	summary="$summary openapi lint FAILED;"
fi
rm -f "$log"

if [ "$fail" = 0 ]; then
	echo "TEST SUMMARY: PASS —$summary"
else
	echo "TEST SUMMARY: FAIL —$summary"
	exit 1
fi
