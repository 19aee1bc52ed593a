#!/bin/sh
# Runs every libFuzzer target of a clang fuzz build (meson -Dfuzz=true, see fuzz/README.md) for SECONDS
# each, starting from the committed seeds in fuzz/corpus/<target>/ (and fuzz/dict/<target>.dict, tokens
# that help mutations reach past the parsers).
#   scripts/fuzz.sh FUZZ_BUILD_DIR SECONDS
# New inputs that reach new code are kept in FUZZ_BUILD_DIR/corpus/<target>/ (not in the tree); a crash is
# saved as FUZZ_BUILD_DIR/crashes/<target>-crash-<sha1> and its report printed. Reproduce one with
#   FUZZ_BUILD_DIR/fuzz/fuzz_<target> FILE
# Prints one line per target, then "fuzz: N passed, N failed"; exits 1 if any target failed.
set -u
dir=${1:-build-fuzz}
seconds=${2:-60}
pass=0
failed=0

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

mkdir -p "$dir/crashes"
for seeds in fuzz/corpus/*/; do
	t=$(basename "$seeds")
	bin="$dir/fuzz/fuzz_$t"
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: FAIL (no $bin; build with: make build-fuzz)"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$dir/corpus/$t"
	dict=""
	[ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
	log="$dir/fuzz-$t.log"
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb: 2 GB is plenty for any request
	# shellcheck disable=SC2086
	if "$bin" $dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/crashes/$t-" "$dir/corpus/$t" "$seeds" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz $t: ok (${runs:-?} runs in ${seconds}s)"
		pass=$((pass + 1))
	else
		echo "fuzz $t: FAIL"
		grep -E 'ERROR|SUMMARY|property failed|Test unit written|^    #[0-9]+ ' "$log" | head -40
		failed=$((failed + 1))
	fi
done
echo "fuzz: $pass passed, $failed failed"
[ "$failed" = 0 ]
