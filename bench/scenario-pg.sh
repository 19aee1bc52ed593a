# Sourced by bench/run.sh (BENCH_ONLY=pg for this section alone): PostgreSQL mode. A throwaway cluster of its
# own (tests/pg/pg.sh, made durable: fsync=on, synchronous_commit=on), every store in it; order placement with
# one node and with two nodes on the same databases, next to the same-run ceiling of single-row durable
# inserts through libpq (bench/pg_ceiling.c) and PostgreSQL's own best case for the order's statements (pgbench,
# bench/pg-order.sql, pipelined, 32 orders a transaction); product reads through the PostgreSQL-backed node next to the
# SQLite-backed node that run.sh started (both answer from memory). Skipped when PostgreSQL is not installed.
echo
echo "== PostgreSQL mode (targets: >= 5000 orders/s and >= 1.5x the durable-insert ceiling; reads within 10 % of SQLite) =="
pgsh="$here/../tests/pg/pg.sh"
if ! pg_out=$(PG_FSYNC=on "$pgsh" start 2>"$work/pg-start.log"); then
	echo "   skipped: no PostgreSQL cluster ($(head -1 "$work/pg-start.log"))"
else
	pg_url=${pg_out% *} pg_dir=${pg_out#* }
	pg_pids=""
	pg_cleanup() {
		for p in $pg_pids; do kill "$p" 2>/dev/null || true; done
		for p in $pg_pids; do wait "$p" 2>/dev/null || true; done
		"$pgsh" stop "$pg_dir" >/dev/null 2>&1 || true
	}
	trap 'pg_cleanup; cleanup' EXIT INT TERM
	pg_base=${pg_url%/*}
	for n in cat sg in ru eu; do psql -qX "$pg_url" -c "CREATE DATABASE bench_$n" >/dev/null; done
	pg_env="MERIDIAN_CATALOG_DB=$pg_base/bench_cat MERIDIAN_REGION_DB=sg=$pg_base/bench_sg,in=$pg_base/bench_in,ru=$pg_base/bench_ru,eu=$pg_base/bench_eu"
	echo "   cluster: PostgreSQL $(psql -AtX "$pg_url" -c 'SHOW server_version'), fsync=$(psql -AtX "$pg_url" -c 'SHOW fsync'), synchronous_commit=$(psql -AtX "$pg_url" -c 'SHOW synchronous_commit'), on this machine's disk"
	env $pg_env "$bin" seed --data "$work/pgdata" >/dev/null 2>&1
	pport1=18095 pport2=18096 # not 18090-18092: the two-node flash scenario's nodes still listen there (SO_REUSEPORT would share)
	env $pg_env "$bin" serve --data "$work/pgdata" --port $pport1 --threads "$threads" >"$work/pg-node1.log" 2>&1 &
	pg_pids="$pg_pids $!"
	wait_http "http://127.0.0.1:$pport1/healthz"

	# reads: the same product page from the SQLite-backed node (run.sh's) and from the PostgreSQL-backed one
	pg_pid_es=$(curl -s "http://127.0.0.1:$pport1/api/v1/products?country=ES&lang=es&per_page=1" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')
	sq_detail="http://127.0.0.1:$mport/api/v1/products/$pid_es?country=ES&lang=es"
	pg_detail="http://127.0.0.1:$pport1/api/v1/products/$pg_pid_es?country=ES&lang=es"
	set -- $(wrk_run "$sq_detail")
	s_rps=$1 s_p99=$2
	set -- $(wrk_run "$pg_detail")
	row "GET /products/ID?country=ES (PG node vs SQLite)" "$1" "$2" "$s_rps" "$s_p99"

	# orders: 64 customers, plenty of stock
	env $pg_env "$bin" admin load-users --data "$work/pgdata" --country IN --count 64 --prefix bench \
		--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
		>"$work/pg-tokens.txt" 2>/dev/null
	pg_admin=$(env $pg_env "$bin" admin token --data "$work/pgdata" 2>/dev/null)
	pg_sku=$(stock_up "http://127.0.0.1:$pport1" "$pg_admin" "$pg_pid_es")
	# the region writer's jobs and committed transactions (node 1's /metrics), for the group-commit line
	pg_writer() {
		curl -s "http://127.0.0.1:$pport1/metrics" | awk '/^meridian_writer_batches_total\{.*region="in".*result="committed"/ { b += $2 }
			/^meridian_writer_jobs_total\{.*region="in"/ { j += $2 } END { print j + 0, b + 0 }'
	}

	# round trips to PostgreSQL (node 1's meridian_db_round_trips_total, all its connections) and orders stored
	pg_rt() { curl -s "http://127.0.0.1:$pport1/metrics" | awk '/^meridian_db_round_trips_total / { print $2 } END { print "" }' | head -1; }
	pg_orders() { psql -AtX "$pg_base/bench_in" -c 'SELECT COUNT(*) FROM orders'; }

	# one node
	set -- $(pg_writer)
	j0=$1 b0=$2
	r0=$(pg_rt) c0=$(pg_orders)
	set -- $(TOKENS="$work/pg-tokens.txt" SKU="$pg_sku" wrk_run "http://127.0.0.1:$pport1/api/v1/orders" "$here/orders.lua")
	p1_rps=$1 p1_p99=$2
	set -- $(pg_writer)
	j1=$1 b1=$2
	r1=$(pg_rt) c1=$(pg_orders)

	# two nodes on the same databases, each taking half the connections and half the customers
	env $pg_env "$bin" serve --data "$work/pgdata" --port $pport2 --threads "$threads" >"$work/pg-node2.log" 2>&1 &
	pg_pids="$pg_pids $!"
	wait_http "http://127.0.0.1:$pport2/healthz"
	head -32 "$work/pg-tokens.txt" >"$work/pg-tokens1.txt"
	tail -32 "$work/pg-tokens.txt" >"$work/pg-tokens2.txt"
	full=$conns
	conns=$((full / 2))
	TOKENS="$work/pg-tokens1.txt" SKU="$pg_sku" wrk_run "http://127.0.0.1:$pport1/api/v1/orders" "$here/orders.lua" >"$work/pg-w1.txt" &
	w1=$!
	TOKENS="$work/pg-tokens2.txt" SKU="$pg_sku" wrk_run "http://127.0.0.1:$pport2/api/v1/orders" "$here/orders.lua" >"$work/pg-w2.txt" &
	w2=$!
	wait $w1 $w2
	conns=$full
	p2_rps=$(awk '{ s += $1 } END { print s }' "$work/pg-w1.txt" "$work/pg-w2.txt")
	p2_p99=$(awk '{ if ($2 > m) m = $2 } END { print m }' "$work/pg-w1.txt" "$work/pg-w2.txt")

	# the ceiling, same run, same cluster
	pg_ceil=$("$(dirname "$bin")/pg_ceiling" "$pg_url" "$secs")

	# the best case, same run, same region database: PostgreSQL alone executing an order's statements
	# (bench/pg-order.sql), 32 orders per transaction pipelined in one round trip, one client (pgbench); the
	# nodes are stopped first (their event dispatchers would deliver the outbox rows it writes)
	for p in $pg_pids; do kill "$p" 2>/dev/null || true; done
	for p in $pg_pids; do wait "$p" 2>/dev/null || true; done
	pg_pids=""
	pg_best=""
	pgbench=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/pgbench
	if [ -x "$pgbench" ]; then
		set -- $(psql -qAtX -F ' ' "$pg_base/bench_in" -c "CREATE SEQUENCE IF NOT EXISTS order_seq_bench" \
			-c "SELECT (SELECT user_id FROM address ORDER BY user_id LIMIT 1), sku_id, warehouse_id FROM stock ORDER BY on_hand - reserved DESC LIMIT 1")
		{
			printf '%s\n' '\startpipeline' 'BEGIN;'
			for _ in $(seq 32); do grep -v '^--' "$here/pg-order.sql"; done
			printf '%s\n' 'COMMIT;' '\endpipeline'
		} >"$work/pg-best.sql"
		pg_tps=$("$pgbench" -n -M prepared -c 1 -T "$secs" -D user="$1" -D sku="$2" -D wh="$3" -f "$work/pg-best.sql" \
			"$pg_base/bench_in" 2>"$work/pgbench.log" | awk '/^tps = / { print $3 }')
		[ -n "$pg_tps" ] && pg_best=$(awk -v t="$pg_tps" 'BEGIN { printf "%.0f", t * 32 }')
	fi
	printf "%-44s %10.0f orders/s p99 %8.3f ms | baseline %10.0f single-row durable inserts/s | ratio %s\n" \
		"POST /api/v1/orders, PostgreSQL, 1 node" "$p1_rps" "$p1_p99" "$pg_ceil" "$(ratio "$p1_rps" "$pg_ceil")"
	printf "%-44s %10.0f orders/s p99 %8.3f ms | baseline %10.0f single-row durable inserts/s | ratio %s\n" \
		"POST /api/v1/orders, PostgreSQL, 2 nodes" "$p2_rps" "$p2_p99" "$pg_ceil" "$(ratio "$p2_rps" "$pg_ceil")"
	if [ -n "$pg_best" ]; then
		printf "%-44s %10.0f orders/s (pgbench: an order's statements, 32 orders a transaction in one round trip)\n" \
			"PostgreSQL best case, same database" "$pg_best"
		echo "   Meridian / best case: 1 node $(ratio "$p1_rps" "$pg_best"), 2 nodes $(ratio "$p2_rps" "$pg_best")"
	else
		echo "   PostgreSQL best case: skipped (no pgbench, or it failed: $(head -1 "$work/pgbench.log" 2>/dev/null))"
	fi
	echo "   group commit (1 node): $((j1 - j0)) writer jobs in $((b1 - b0)) transactions (avg $(ratio $((j1 - j0)) $((b1 - b0))) per commit)"
	[ -n "$r0" ] && echo "   round trips to PostgreSQL (1 node, all connections, events included): $((r1 - r0)) for $((c1 - c0)) orders ($(ratio $((r1 - r0)) $((c1 - c0))) per order)"
	pg_cleanup
	trap cleanup EXIT INT TERM
fi
