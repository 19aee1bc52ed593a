# Sourced by bench/run.sh: order placement, 64 concurrent connections over 64 distinct customers,
# next to the same-run ceiling of single-row durable SQLite inserts (bench/sqlite_ceiling.c).
# Latency: p50/p99 of the orders as wrk saw them, of the writer's commits (BEGIN .. the batch durable,
# from the meridian_writer_commit_seconds histogram, counting only the commits made during the wrk run)
# and of the log's fdatasync beside the writer (meridian_writer_sync_seconds); and the node's CPU per writer job
# over the wrk run, the whole process's and the region writer thread's (steadier than orders/s here).
echo
echo "== order placement (targets: >= 15000 orders/s acknowledged after commit, p99 <= 50 ms) =="
"$bin" admin load-users --data "$work/data" --country IN --count 64 --prefix bench \
	--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
	>"$work/tokens.txt" 2>/dev/null
admin=$("$bin" admin token --data "$work/data" 2>/dev/null)
sku=$(stock_up "http://127.0.0.1:$mport" "$admin" "$pid_es")

# hist_quantile Q FAMILY BEFORE AFTER -> milliseconds: the Q-quantile of the observations a histogram
# family (summed over regions) gained between two /metrics snapshots, interpolated linearly inside the
# bucket like Prometheus' histogram_quantile (so it is only as fine as the buckets: 5, 10, 25, 50 ms ...)
hist_quantile() {
	awk -v q="$1" -v fam="$2" '
		{ f = FILENAME == ARGV[1] ? 1 : 2 }
		index($0, fam "_bucket{") == 1 {
			le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le)
			if (f == 1) c[le] -= $NF; else c[le] += $NF
			if (!(le in seen)) { seen[le] = 1; order[n++] = le }
		}
		END {
			total = c["+Inf"]
			if (total <= 0) { print "n/a"; exit }
			rank = q * total; prev = 0; lo = 0
			for (i = 0; i < n; i++) {
				le = order[i]
				if (c[le] >= rank) {
					if (le == "+Inf") { printf "%.3f", lo * 1000; exit }
					w = c[le] - prev
					printf "%.3f", (lo + (le - lo) * (w > 0 ? (rank - prev) / w : 1)) * 1000; exit
				}
				prev = c[le]; lo = le
			}
		}' "$3" "$4"
}

# cpu_now -> "<process CPU ticks> <writer thread CPU ns>" of the node serving $mport (the flash scenario may have
# restarted it): CPU per order is far steadier than orders/s on a shared machine (BENCHMARKS.md, 2026-12-03 night)
cpu_now() {
	local p t w=0
	p=$(pgrep -f -- "serve .*--port $mport " | head -1 || true)
	[ -n "$p" ] || { echo "0 0"; return; }
	for t in /proc/"$p"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = writer-in ] && w=$(awk '{print $1}' "$t/schedstat")
	done
	echo "$(awk '{print $14 + $15}' /proc/"$p"/stat) $w"
}
curl -s "http://127.0.0.1:$mport/metrics" >"$work/metrics-before.txt"
cpu_before=$(cpu_now)
set -- $(TOKENS="$work/tokens.txt" SKU="$sku" wrk_run "http://127.0.0.1:$mport/api/v1/orders" "$here/orders.lua")
o_rps=$1 o_p99=$2 o_p50=$3
cpu_after=$(cpu_now)
curl -s "http://127.0.0.1:$mport/metrics" >"$work/metrics-after.txt"
ceiling=$("$(dirname "$bin")/sqlite_ceiling" "$work/ceiling.db" "$secs")
printf "%-44s %10.0f orders/s p99 %8.3f ms | baseline %10.0f single-row durable inserts/s | ratio %s\n" \
	"POST /api/v1/orders (1 line, card)" "$o_rps" "$o_p99" "$ceiling" "$(ratio "$o_rps" "$ceiling")"
b="$work/metrics-before.txt" a="$work/metrics-after.txt"
# the server's own view (meridian_http_request_duration_seconds of the route): wrk's figures also hold
# the time a request waits for wrk or the server to get a core, which the route histogram does not
grep 'route="/api/v1/orders"' "$b" >"$work/route-before.txt" || true
grep 'route="/api/v1/orders"' "$a" >"$work/route-after.txt" || true
printf "   order latency: wrk p50 %8.3f ms  p99 %8.3f ms | server p50 %s ms  p99 %s ms\n" "$o_p50" "$o_p99" \
	"$(hist_quantile 0.5 meridian_http_request_duration_seconds "$work/route-before.txt" "$work/route-after.txt")" \
	"$(hist_quantile 0.99 meridian_http_request_duration_seconds "$work/route-before.txt" "$work/route-after.txt")"
printf "   writer commit (BEGIN..durable): p50 %s ms  p99 %s ms | log sync p50 %s ms  p99 %s ms | queue wait p50 %s ms  p99 %s ms\n" \
	"$(hist_quantile 0.5 meridian_writer_commit_seconds "$b" "$a")" \
	"$(hist_quantile 0.99 meridian_writer_commit_seconds "$b" "$a")" \
	"$(hist_quantile 0.5 meridian_writer_sync_seconds "$b" "$a")" \
	"$(hist_quantile 0.99 meridian_writer_sync_seconds "$b" "$a")" \
	"$(hist_quantile 0.5 meridian_writer_queue_wait_seconds "$b" "$a")" \
	"$(hist_quantile 0.99 meridian_writer_queue_wait_seconds "$b" "$a")"
batches=$(awk '/^meridian_writer_batches_total\{.*result="committed"/ {s += $2} END {print s}' "$a")
jobs=$(awk '/^meridian_writer_jobs_total\{/ {s += $2} END {print s}' "$a")
[ -n "$batches" ] && echo "   group commit: $jobs writer jobs in $batches transactions (avg $(ratio "$jobs" "$batches") per commit)"
# statements per order: what the region's writer ran during the run (the orders' jobs and the event fan-out
# that follows them) over the orders placed; it does not depend on load (meridian_writer_statements_total)
delta() { # FAMILY-AND-LABEL-PREFIX: the sum of the matching series' growth between the two snapshots
	awk -v p="$1" 'index($0, p) == 1 { s += (FILENAME == ARGV[1] ? -$NF : $NF) } END { print s + 0 }' "$b" "$a"
}
placed=$(delta 'meridian_http_requests_total{method="POST",route="/api/v1/orders",status="201"}')
stmts=$(delta 'meridian_writer_statements_total{region="in"}')
grep -q '^meridian_writer_statements_total' "$a" &&
	echo "   statements: $stmts writer statements for $placed orders ($(ratio "$stmts" "$placed") per order)"
jobs_run=$(delta 'meridian_writer_jobs_total{region="in"')
echo "$cpu_before $cpu_after" | awk -v n="$jobs_run" -v tck="$(getconf CLK_TCK)" '$1 > 0 && n > 0 {
	printf "   CPU per writer job (the orders and their events; over the wrk run): process %.1f us, region writer %.1f us\n",
		($3 - $1) / tck * 1e6 / n, ($4 - $2) / 1000 / n }'
[ -n "${BENCH_KEEP:-}" ] && cp "$b" "$a" "$BENCH_KEEP"/ 2>/dev/null
true
