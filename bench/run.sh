#!/bin/sh
# make bench: each Meridian figure next to a same-run baseline, as a ratio.
#
#   bench/run.sh BUILD/meridian [seconds-per-run]
#   BENCH_ONLY=orders bench/run.sh BUILD/meridian    # one scenario (bench/scenario-orders.sh), no catalogue reads
#   BENCH_ONLY=launch bench/run.sh BUILD/meridian    # launching a country: plan and apply (bench/scenario-launch.sh)
#   BENCH_ONLY=browse bench/run.sh BUILD/meridian    # the mixed browse workload (bench/scenario-browse.sh)
#   BENCH_ONLY=gateway bench/run.sh BUILD/meridian   # product page (edge cache on and off) and grab through `meridian gateway` (bench/scenario-gateway.sh)
#   BENCH_ONLY=scale bench/run.sh BUILD/meridian     # 100,000 products by bulk import (bench/scenario-scale.sh,
#                                                    # ~1.5 min; BENCH_SCALE_PRODUCTS=20000 for a quicker look)
#   BENCH_ONLY=pg bench/run.sh BUILD/meridian        # PostgreSQL mode: orders with 1 and 2 nodes, reads (bench/scenario-pg.sh)
#   BENCH_ONLY=global bench/run.sh BUILD/meridian    # catalogue replication lag hub -> regions (bench/scenario-global.sh)
#   BENCH_KEEP=DIR ...                               # keeps wrk's whole output per run (and the orders scenario's
#                                                    # /metrics before and after) in DIR
#
# Baseline for reads: nginx serving a fixed JSON body (the same bytes Meridian answers) on the same
# machine, same number of workers, same wrk settings, measured in the same run. Ratios > 1 for req/s
# mean Meridian is faster; for p99, the ratio is Meridian's p99 over nginx's (lower is better).
set -eu
bin=$(readlink -f "$1")
secs=${2:-${BENCH_SECONDS:-10}}
conns=${BENCH_CONNECTIONS:-64}
threads=$(nproc)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/meridian-bench.XXXXXX)
chmod 755 "$work"
mport=${BENCH_PORT:-18080} # another port when someone else's bench runs: SO_REUSEPORT would share it silently
nport=$((mport + 1))
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_http() {
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "bench: $1 did not come up" >&2
	exit 1
}

# wrk_run URL [lua-script] -> prints "reqs_per_sec p99_ms p50_ms"
wrk_run() {
	url=$1
	script=${2:-}
	if [ -n "$script" ]; then
		out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$script" "$url" 2>&1)
	else
		out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" 2>&1)
	fi
	[ -n "${BENCH_KEEP:-}" ] && echo "$out" >"$BENCH_KEEP/wrk-$(date +%H%M%S).txt"
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	non2xx=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $5}')
	if [ -n "$non2xx" ]; then
		echo "bench: $url had $non2xx non-2xx answers" >&2
	fi
	echo "$rps $(to_ms "$p99") $(to_ms "$p50")"
}

to_ms() { # wrk prints 1.23ms, 456.00us, 1.02s
	echo "$1" | awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 }; printf "%.3f", v }'
}

# first_sku BASE PRODUCT_ID: the code of the product's first SKU (as sold in India)
first_sku() {
	curl -s "$1/api/v1/products/$2?country=IN" | sed -n 's/.*"skus":\[{"id":[0-9]*,"code":"\([^"]*\)".*/\1/p'
}

# stock_up BASE ADMIN_TOKEN PRODUCT_ID: the product's first SKU gets 100,000,000 units in both Indian
# warehouses (the order scenarios, which buy it in IN, never run out); prints the SKU's code
stock_up() {
	local sku wh
	sku=$(first_sku "$1" "$3")
	for wh in WH-IN-MUM WH-IN-BLR; do
		curl -s -o /dev/null -X PUT -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
			-d "{\"sku\":\"$sku\",\"warehouse\":\"$wh\",\"country\":\"IN\",\"on_hand\":100000000,\"reason\":\"bench\"}" \
			"$1/api/v1/admin/stock"
	done
	echo "$sku"
}

# A first-come-first-served flash sale in India, on now for two hours, of 10,000 units of the first SKU of
# product $1, titled $2 (a JSON object of titles by language); the admin token is $admin.
# Prints "sale_id session_id sku".
flash_sale() {
	local sku start end sale
	sku=$(first_sku "http://127.0.0.1:$mport" "$1")
	start=$(TZ=Asia/Kolkata date -d '-1 min' +%Y-%m-%dT%H:%M:%S)
	end=$(TZ=Asia/Kolkata date -d '+2 hours' +%Y-%m-%dT%H:%M:%S)
	sale=$(curl -s -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
		-d "{\"country\":\"IN\",\"titles\":$2,\"sessions\":[{\"starts_at\":\"$start\",\"ends_at\":\"$end\",\"mode\":\"fcfs\",\"items\":[{\"sku\":\"$sku\",\"price\":999900,\"units\":10000}]}]}" \
		"http://127.0.0.1:$mport/api/v1/admin/flash-sales")
	echo "$(echo "$sale" | sed -n 's/.*"id":\([0-9]*\).*/\1/p') $(echo "$sale" | sed -n 's/.*"session_ids":\[\([0-9]*\).*/\1/p') $sku"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

row() { # name rps p99 base_rps base_p99
	printf "%-44s %10.0f req/s  p99 %8.3f ms | baseline %10.0f req/s  p99 %8.3f ms | ratio req/s %5s  p99 %5s\n" \
		"$1" "$2" "$3" "$4" "$5" "$(ratio "$2" "$4")" "$(ratio "$3" "$5")"
}

echo "meridian bench: $(nproc) cores, wrk -t1 -c$conns -d${secs}s, server threads=$threads, $(date -u +%Y-%m-%dT%H:%MZ)"

# --- Meridian ---
"$bin" seed --data "$work/data" >/dev/null 2>&1
"$bin" serve --data "$work/data" --port $mport --threads "$threads" >"$work/meridian.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$mport/healthz"

list_url="http://127.0.0.1:$mport/api/v1/products?country=IN&lang=hi"
pid_es=$(curl -s "http://127.0.0.1:$mport/api/v1/products?country=ES&lang=es&per_page=1" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')
detail_url="http://127.0.0.1:$mport/api/v1/products/$pid_es?country=ES&lang=es"
curl -s -o "$work/list.json" "$list_url"
curl -s -o "$work/detail.json" "$detail_url"

# --- nginx baseline: the same bytes as a fixed response ---
mkdir -p "$work/nginx/logs" "$work/www"
cp "$work/list.json" "$work/www/list.json"
cp "$work/detail.json" "$work/www/detail.json"
chmod -R a+rX "$work/www"
cat >"$work/nginx.conf" <<NGINX
worker_processes $threads;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    open_file_cache max=30000; # the browse workload serves 19,656 files
    open_file_cache_valid 60s;
    sendfile on;
    tcp_nopush on;
    types { application/json json; }
    server {
        listen 127.0.0.1:$nport reuseport;
        root $work/www;
        # the grab baseline: the same wrk script (POST, bearer token, JSON body) gets a fixed JSON answer
        location ~ ^/api/v1/flash-sales/[0-9]+/grab\$ {
            default_type application/json;
            return 409 '{"error":{"code":"sold_out","message":"MER-001-01-1 is sold out in this session","reason":"sold_out"}}';
        }
    }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx.conf" -g 'daemon on;'
wait_http "http://127.0.0.1:$nport/list.json"

if [ -z "${BENCH_ONLY:-}" ]; then
echo
echo "== catalogue reads (target: req/s ratio >= 0.70) =="
set -- $(wrk_run "http://127.0.0.1:$nport/list.json")
n_rps=$1 n_p99=$2
set -- $(wrk_run "$list_url")
row "GET /products?country=IN&lang=hi ($(wc -c <"$work/list.json") B)" "$1" "$2" "$n_rps" "$n_p99"
set -- $(wrk_run "http://127.0.0.1:$nport/detail.json")
n_rps=$1 n_p99=$2
set -- $(wrk_run "$detail_url")
row "GET /products/$pid_es?country=ES&lang=es ($(wc -c <"$work/detail.json") B)" "$1" "$2" "$n_rps" "$n_p99"
fi

for extra in "$here"/scenario-${BENCH_ONLY:-*}.sh; do
	[ -f "$extra" ] || continue
	. "$extra"
done
