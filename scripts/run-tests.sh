#!/bin/sh
# Runs every test and prints one closing summary line.
#   scripts/run-tests.sh RELEASE_BUILD_DIR ASAN_BUILD_DIR [TSAN_BUILD_DIR]
# Unit tests (cmocka, via meson) run in every build given (the TSan one catches data races in the
# writer, flash-sale stock, throttle and metrics tests); API tests (node --test) run against the
# ASan+UBSan binary, so memory errors anywhere in a request path fail the suite.
set -u
release=${1:-build}
asan=${2:-build-asan}
tsan=${3:-}
fail=0
summary=""

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

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

log=$(mktemp)
MERIDIAN_BIN="$asan/meridian" node --test --test-reporter=tap --test-concurrency=2 tests/api/ >"$log" 2>&1
rc=$?
pass=$(sed -n 's/^# pass //p' "$log" | tail -1)
failed=$(sed -n 's/^# fail //p' "$log" | tail -1)
if [ "$rc" != 0 ] || [ "${failed:-1}" != 0 ]; then
	fail=1
	grep -B2 -A30 'not ok' "$log" | head -300
fi
summary="$summary api[$asan] ${pass:-0} passed, ${failed:-?} failed;"
rm -f "$log"

if [ "$fail" = 0 ]; then
	echo "TEST SUMMARY: PASS —$summary"
else
	echo "TEST SUMMARY: FAIL —$summary"
	exit 1
fi
