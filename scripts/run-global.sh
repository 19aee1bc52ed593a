#!/bin/bash
# A worldwide deployment on one machine (README "Running worldwide"; `make run-global`):
#
#   PostgreSQL "hub"  the catalogue (written here only)            <- meridian serve --regions none   (admin)
#        | logical replication (publication meridian_catalog; a subscription per region)
#   PostgreSQL "in", "eu", "sg": each the region's data + its copy of the catalogue
#                                                                   <- meridian serve --regions NAME --hub-db HUB
#   meridian gateway in front of the three region nodes
#
# Usage: scripts/run-global.sh [BIN]   (default build/meridian). Runs until Ctrl-C (or SIGTERM), then stops
# every process it started, by PID, and removes the clusters. Environment:
#   GLOBAL_PORT   the gateway's port (default 8000); the hub node is GLOBAL_PORT+10, the regions +1, +2, +3
#                 (0: free ports picked at random, for tests)
#   NODE_THREADS  worker threads per node (default: one per core)
#   GLOBAL_STATE  a file to write the deployment to as JSON once everything answers (tests/api/global.test.mjs)
set -euo pipefail
bin=${1:-build/meridian}
here=$(cd "$(dirname "$0")/.." && pwd)
pg="$here/tests/pg/pg.sh"
regions=(in eu sg)
base=${GLOBAL_PORT:-8000}
threads=()
[ -n "${NODE_THREADS:-}" ] && threads=(--threads "$NODE_THREADS")
work=$(mktemp -d /tmp/meridian-global-XXXXXX)
pids=()
clusters=()

stop_all() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	for dir in "${clusters[@]}"; do "$pg" stop "$dir" || true; done
	rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

port() { # port N: the Nth port of the layout, or a free one
	if [ "$base" = 0 ]; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
	else
		echo $((base + $1))
	fi
}

wait_ready() { # wait_ready URL LOG: until GET URL/readyz answers 200 (30 s at most)
	for _ in $(seq 300); do
		curl -sf -o /dev/null "$1/readyz" && return 0
		sleep 0.1
	done
	echo "run-global: $1 did not become ready; its log:" >&2
	tail -20 "$2" >&2
	exit 1
}

# 1. The clusters (in parallel: initdb takes a second or two each), each able to publish and subscribe.
for name in hub "${regions[@]}"; do
	PG_LOGICAL=1 "$pg" start >"$work/$name.pg" &
done
wait
for name in hub "${regions[@]}"; do
	read -r url dir <"$work/$name.pg" || { echo "run-global: the $name cluster did not start" >&2; exit 1; }
	clusters+=("$dir")
	declare "url_$name=$url" "dir_$name=$dir"
done
for r in "${regions[@]}"; do
	dir="dir_$r"
	declare "cat_$r=$("$pg" createdb "${!dir}" meridian_catalog)"
done

# 2. The hub's catalogue and each region's demo stock, in one seed (the region databases are the clusters').
region_db=$(for r in "${regions[@]}"; do u="url_$r"; printf '%s=%s,' "$r" "${!u}"; done)
mkdir -p "$work/hub"
"$bin" seed --data "$work/hub" --catalog-db "$url_hub" --region-db "${region_db%,}" --regions "$(
	IFS=,
	echo "${regions[*]}"
)" >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; exit 1; }

# 3. The hub's node: admin of the catalogue, no region's data. It starts first: it makes the payment
# providers' secrets, which the regions then receive with the rest.
hub_port=$(port 10)
"$bin" serve --data "$work/hub" --catalog-db "$url_hub" --regions none --port "$hub_port" "${threads[@]}" \
	--access-log "$work/hub/access.log" >"$work/hub.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$hub_port" "$work/hub.log"

# 4. Each region's copy of the catalogue: migrated, subscribed to the hub, initial copy waited for.
for r in "${regions[@]}"; do
	c="cat_$r"
	"$bin" replica --catalog-db "${!c}" --hub-db "$url_hub" --name "$r" >"$work/replica-$r.log" 2>&1 ||
		{ cat "$work/replica-$r.log" >&2; exit 1; }
done

# 5. The region nodes (the catalogue read from the copy, written at the hub) and the gateway.
declare -A node_port node_args
i=1
for r in "${regions[@]}"; do
	c="cat_$r" u="url_$r"
	node_port[$r]=$(port $i)
	i=$((i + 1))
	mkdir -p "$work/$r"
	node_args[$r]="serve --data $work/$r --catalog-db ${!c} --hub-db $url_hub --region-db $r=${!u} --regions $r --port ${node_port[$r]} --trusted-proxy 127.0.0.1 --access-log $work/$r/access.log ${threads[*]}"
	# shellcheck disable=SC2086 # node_args is a word list made above from paths without spaces
	"$bin" ${node_args[$r]} >"$work/$r.log" 2>&1 &
	pids+=($!)
	declare "pid_$r=$!"
done
for r in "${regions[@]}"; do wait_ready "http://127.0.0.1:${node_port[$r]}" "$work/$r.log"; done
gw_port=$(port 0)
gw_args=()
for r in "${regions[@]}"; do gw_args+=(--region "$r=http://127.0.0.1:${node_port[$r]}"); done
"$bin" gateway --port "$gw_port" "${gw_args[@]}" "${threads[@]}" --health-interval 500 >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$gw_port" "$work/gateway.log"
token=$("$bin" admin token --data "$work/hub" --catalog-db "$url_hub" 2>/dev/null | tail -1)

if [ -n "${GLOBAL_STATE:-}" ]; then
	{
		printf '{"bin":"%s","work":"%s","token":"%s","gateway":"http://127.0.0.1:%s",' "$bin" "$work" "$token" "$gw_port"
		printf '"hub":{"url":"http://127.0.0.1:%s","pid":%s,"db":"%s","cluster":"%s"},"regions":{' \
			"$hub_port" "${pids[0]}" "$url_hub" "$dir_hub"
		sep=
		for r in "${regions[@]}"; do
			c="cat_$r" u="url_$r" d="dir_$r" p="pid_$r"
			printf '%s"%s":{"url":"http://127.0.0.1:%s","pid":%s,"db":"%s","catalog_db":"%s","cluster":"%s","args":"%s","log":"%s"}' \
				"$sep" "$r" "${node_port[$r]}" "${!p}" "${!u}" "${!c}" "${!d}" "${node_args[$r]}" "$work/$r.log"
			sep=,
		done
		printf '}}\n'
	} >"$GLOBAL_STATE.tmp"
	mv "$GLOBAL_STATE.tmp" "$GLOBAL_STATE"
fi

cat <<EOF
Meridian worldwide, on loopback (logs and data in $work):
  gateway            http://127.0.0.1:$gw_port      (shoppers: routes by country, token, header, cookie)
  hub (admin)        http://127.0.0.1:$hub_port      catalogue database $url_hub
EOF
for r in "${regions[@]}"; do
	c="cat_$r" u="url_$r"
	printf '  region %-11s http://127.0.0.1:%s      data %s, catalogue copy %s\n' "$r" "${node_port[$r]}" "${!u}" "${!c}"
done
cat <<EOF
An admin token (catalogue writes go to the hub, from the hub's node or any region's):
  export T=$token
  curl -s -X PUT http://127.0.0.1:$hub_port/api/v1/admin/prices -H "Authorization: Bearer \$T" \\
    -H 'content-type: application/json' -d '{"prices":[{"sku":"MER-001-01-1","country":"IN","amount":2599900}]}'
  curl -s 'http://127.0.0.1:$gw_port/api/v1/products/1?country=IN'     # the new price, replicated to region in
Ctrl-C stops everything.
EOF
# Until Ctrl-C; a process started here that ends by itself stops everything (a test stops and restarts
# nodes itself: with GLOBAL_STATE set, only Ctrl-C or SIGTERM ends the run)
while :; do
	if [ -z "${GLOBAL_STATE:-}" ]; then
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || { echo "run-global: process $pid stopped; stopping everything" >&2; exit 1; }
		done
	fi
	sleep 1 &
	wait $! || true # (interrupted by Ctrl-C: the trap runs at once)
done
