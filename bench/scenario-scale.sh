# Sourced by bench/run.sh: a catalogue a hundred times bigger (issue 15 item 6). A node of its own (port
# mport+8, its own data directory) grows the demo catalogue to BENCH_SCALE_PRODUCTS products (default
# 100,000) x 3 SKUs with the bulk import (POST /admin/import/products and /prices, gzip CSV in chunks of
# BENCH_SCALE_CHUNK products), and reports:
#   import time          products and prices, wall time of the import calls
#   start-up time        a restart on the grown catalogue until /readyz answers
#   memory per product   RSS after the import minus RSS before, over the products added
#   per-write latency    one product PATCH (its English name: search, product page and listing change),
#                        median and p90 of BENCH_SCALE_WRITES sequential calls, at ~1,000 and at the full size
#   catalogue reads      the list and product-page wrk runs of run.sh against nginx, at the full size
# Targets: start-up < 3 s, write latency at 100k within 2x of at 1k, read ratios as at the demo size.
# Takes about a minute and a half on 2 cores (most of it the import); BENCH_SCALE_PRODUCTS=20000 for a
# quicker look.
echo
echo "== a catalogue a hundred times bigger (targets: start-up < 3 s; write p50 at full size <= 2x at 1k) =="
sport=$((mport + 8)) # a port no other scenario uses: the gateway scenario's gateways on 18082/18083 stay up until the end
sdata="$work/scale-data"
total=${BENCH_SCALE_PRODUCTS:-100000}
chunk=${BENCH_SCALE_CHUNK:-10000}
nwrites=${BENCH_SCALE_WRITES:-30}
"$bin" seed --data "$sdata" >/dev/null 2>&1
sadmin=$("$bin" admin token --data "$sdata" 2>/dev/null)
"$bin" serve --data "$sdata" --port $sport --threads "$threads" --max-body 8388608 >"$work/scale.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_http "http://127.0.0.1:$sport/readyz"
kill -0 "$spid" 2>/dev/null || echo "bench: the scale node did not start (port $sport taken?); see $work/scale.log" >&2
sbase="http://127.0.0.1:$sport/api/v1"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%N | awk '{ printf "%.3f", $1 / 1e6 }'; }

# products and prices of products [from, to): 3 SKUs each, English texts, prices in IN, DE and VN
gen_products() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		print "product,brand,category,name,description,sku,attributes,max_per_order"
		split("black,white,blue", col, ",")
		for (i = from; i < to; i++)
			for (k = 1; k <= 3; k++)
				printf "scale-%d,Brand%d,%s,Scale Phone %d Model%d,\"A phone, number %d, for the %s\",SCALE-%d-%d,colour=%s;storage=%dgb,5\n",
					i, i % 50, (i % 2 ? "phones" : "accessories"), i, i, i, (i % 3 ? "bench" : "scale test"), i, k, col[k], 64 * k
	}'
}
gen_prices() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		print "sku,country,amount"
		for (i = from; i < to; i++)
			for (k = 1; k <= 3; k++) {
				printf "SCALE-%d-%d,IN,%d\n", i, k, (10000 + i % 5000 + k * 1000) * 100
				printf "SCALE-%d-%d,DE,%d\n", i, k, (100 + i % 500 + k * 10) * 100
				printf "SCALE-%d-%d,VN,%d\n", i, k, (3000000 + i % 5000 * 1000 + k * 100000)
			}
	}'
}
import() { # KIND FILE.gz -> status
	curl -s -o "$work/scale-import.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $sadmin" \
		-H 'Content-Type: text/csv' -H 'Content-Encoding: gzip' --data-binary "@$2" "$sbase/admin/import/$1"
}
import_range() { # FROM TO -> adds to imp_ms
	gen_products "$1" "$2" | gzip -1 >"$work/scale-p.csv.gz"
	gen_prices "$1" "$2" | gzip -1 >"$work/scale-r.csv.gz"
	t0=$(now_ms)
	code=$(import products "$work/scale-p.csv.gz")
	[ "$code" = 200 ] || echo "bench: product import answered $code: $(head -c 300 "$work/scale-import.json")" >&2
	code=$(import prices "$work/scale-r.csv.gz")
	[ "$code" = 200 ] || echo "bench: price import answered $code: $(head -c 300 "$work/scale-import.json")" >&2
	imp_ms=$(awk -v a="$t0" -v b="$(now_ms)" -v s="$imp_ms" 'BEGIN { printf "%.3f", s + b - a }')
}
write_latency() { # -> "p50 p90" in ms over nwrites PATCHes of one product
	pid=$(curl -s "$sbase/products?country=IN&per_page=1&sort=newest" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')
	for i in $(seq 1 "$nwrites"); do
		curl -s -o /dev/null -w '%{time_total}\n' -X PATCH -H "Authorization: Bearer $sadmin" \
			-H 'Content-Type: application/json' \
			--data "{\"texts\":{\"en\":{\"name\":\"Latency probe $i\",\"description\":\"write $i\"}}}" \
			"$sbase/admin/products/$pid"
	done | sort -n | awk '{ v[NR] = $1 * 1000 } END { printf "%.2f %.2f", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)] }'
}
nprod() { curl -s "$sbase/products?country=IN&per_page=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }

rss0=$(rss_kb $spid)
imp_ms=0
base_products=$(nprod)
import_range 0 $((1000 - base_products))
set -- $(write_latency)
w1_p50=$1 w1_p90=$2
at1k=$(nprod)
imp_ms=0
from=$((1000 - base_products))
while [ "$from" -lt "$total" ]; do
	to=$((from + chunk))
	[ "$to" -gt "$total" ] && to=$total
	import_range "$from" "$to"
	from=$to
done
sleep 1 # the background index build after the last writes
rss1=$(rss_kb $spid)
set -- $(write_latency)
wN_p50=$1 wN_p90=$2
atN=$(nprod)
printf "%-44s %10s products x 3 SKUs, %s price rows: %8.1f s\n" "bulk import (gzip CSV, $chunk-product chunks)" \
	"$((total - 1000 + base_products))" "$(((total - 1000 + base_products) * 9))" "$(awk -v m="$imp_ms" 'BEGIN { print m / 1000 }')"
printf "%-44s %10.0f bytes per product (RSS %d -> %d MiB)\n" "memory per product" \
	"$(awk -v a="$rss0" -v b="$rss1" -v n="$((atN - at1k + 1000))" 'BEGIN { print (b - a) * 1024 / n }')" \
	$((rss0 / 1024)) $((rss1 / 1024))
printf "%-44s p50 %8.2f ms  p90 %8.2f ms (%s products)\n" "per-write latency (PATCH product) at ~1k" "$w1_p50" "$w1_p90" "$at1k"
printf "%-44s p50 %8.2f ms  p90 %8.2f ms (%s products) | ratio p50 %s\n" "per-write latency (PATCH product) at full" \
	"$wN_p50" "$wN_p90" "$atN" "$(ratio "$wN_p50" "$w1_p50")"

# start-up on the grown catalogue
kill "$spid"
wait "$spid" 2>/dev/null || true
t0=$(now_ms)
"$bin" serve --data "$sdata" --port $sport --threads "$threads" >"$work/scale2.log" 2>&1 &
spid=$!
pids="$pids $spid"
for _ in $(seq 1 600); do
	curl -sf -o /dev/null "http://127.0.0.1:$sport/readyz" && break
	sleep 0.02
done
printf "%-44s %10.2f s (%s)\n" "start-up on $atN products" "$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { print (b - a) / 1000 }')" \
	"$(sed -n 's/.*"msg":"\(catalogue loaded[^"]*\)".*/\1/p' "$work/scale2.log" | head -1)"

if [ "${BENCH_SCALE_READS:-1}" = 1 ]; then
	slist="$sbase/products?country=IN&lang=hi"
	sdetail="$sbase/products/$(curl -s "$sbase/products?country=ES&lang=es&per_page=1" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')?country=ES&lang=es"
	curl -s -o "$work/www/scale-list.json" "$slist"
	curl -s -o "$work/www/scale-detail.json" "$sdetail"
	chmod a+r "$work/www/scale-list.json" "$work/www/scale-detail.json"
	set -- $(wrk_run "http://127.0.0.1:$nport/scale-list.json")
	n_rps=$1 n_p99=$2
	set -- $(wrk_run "$slist")
	row "at $atN: GET /products?country=IN&lang=hi" "$1" "$2" "$n_rps" "$n_p99"
	set -- $(wrk_run "http://127.0.0.1:$nport/scale-detail.json")
	n_rps=$1 n_p99=$2
	set -- $(wrk_run "$sdetail")
	row "at $atN: GET /products/{id}?country=ES" "$1" "$2" "$n_rps" "$n_p99"
fi
kill "$spid" 2>/dev/null || true
