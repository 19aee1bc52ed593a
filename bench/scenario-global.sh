# Sourced by bench/run.sh (BENCH_ONLY=global for this section alone): catalogue replication lag hub -> regions
# (issue 12 item 7). The deployment of `make run-global` (scripts/run-global.sh: PostgreSQL clusters for the
# hub and the regions in, eu, sg, each node with one thread) on free ports; a stream of price changes to the
# hub's node, BENCH_GLOBAL_RATE a second (default 20) for the run's seconds, each watched for on a product page
# of every region (bench/global-lag.mjs). The lag is what a shopper sees: the hub's commit, logical
# replication to the region's PostgreSQL, the trigger's note, the node's reload of that product and of its
# cached answers. Everything shares the machine's cores. Skipped when PostgreSQL is not installed.
echo
echo "== catalogue replication hub -> regions: lag under a stream of price changes (reported, no target) =="
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
	echo "   skipped: PostgreSQL is not installed (scripts/install-deps.sh test)"
else
	GLOBAL_STATE="$work/global.json" GLOBAL_PORT=0 NODE_THREADS=1 "$here/../scripts/run-global.sh" "$bin" \
		>"$work/global.log" 2>&1 &
	global_pid=$!
	pids="$pids $global_pid"
	for _ in $(seq 1 900); do
		[ -f "$work/global.json" ] && break
		kill -0 "$global_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -f "$work/global.json" ]; then
		node "$here/global-lag.mjs" "$work/global.json" "${BENCH_GLOBAL_RATE:-20}" "$secs" | sed 's/^/   /'
	else
		echo "   skipped: the deployment did not start:"
		tail -20 "$work/global.log" | sed 's/^/   /'
	fi
	kill -TERM "$global_pid" 2>/dev/null || true
	wait "$global_pid" 2>/dev/null || true
fi
