# Sourced by bench/run.sh: `meridian gateway` (issue 12 item 7), each figure next to the same requests sent
# directly to the node and to nginx, in the same run:
#   - the product page through the gateway with its edge cache on (the default: answers kept for at most
#     min(the node's max-age, --cache-ttl-ms 1000)) and through a second gateway with it off
#     (--cache-ttl-ms 0: every request goes to the node, the pure cost of the extra hop);
#   - the flash-sale grab (POST, a customer token each: never cached) through the gateway and directly; each
#     run grabs from its own sale of the same size (10,000 units, the same 100,000 buyers), so both start
#     from the same state.
# The gateways run in front of the bench's node (every region of the node named as a region of the gateway),
# with as many threads as the node; gateways, node and wrk share the machine's cores. Target: gateway >= 0.6x
# direct (req/s); "p99 added" is the gateway's p99 minus the direct p99.
echo
echo "== the gateway: product page and grab through the gateway vs direct to the node vs nginx (target: gateway/direct >= 0.60) =="
gport=18082
g0port=18083
node_url="http://127.0.0.1:$mport"
gw_regions="--region in=$node_url --region eu=$node_url --region sg=$node_url --region ru=$node_url"
# shellcheck disable=SC2086 # the region options split on purpose
"$bin" gateway --port $gport --threads "$threads" $gw_regions >"$work/gateway.log" 2>&1 &
pids="$pids $!"
# shellcheck disable=SC2086
"$bin" gateway --port $g0port --threads "$threads" --cache-ttl-ms 0 $gw_regions >"$work/gateway0.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$gport/readyz"
wait_http "http://127.0.0.1:$g0port/readyz"

gw_detail_url="http://127.0.0.1:$gport/api/v1/products/$pid_es?country=ES&lang=es"
gw0_detail_url="http://127.0.0.1:$g0port/api/v1/products/$pid_es?country=ES&lang=es"
for u in "$gw_detail_url" "$gw_detail_url" "$gw0_detail_url"; do # a miss, a hit, a pass-through
	curl -s -o "$work/gw-detail.json" "$u"
	cmp -s "$work/gw-detail.json" "$work/detail.json" || echo "bench: the gateway's answer differs from the node's ($u)" >&2
done

# gap_row NAME GW_RPS GW_P99 DIRECT_RPS DIRECT_P99: the ratio to direct and the p99 the gateway adds
gap_row() {
	printf "%-44s ratio req/s %s (target >= 0.60)   p99 added %s ms (gateway %s ms, direct %s ms)\n" \
		"$1" "$(ratio "$2" "$4")" "$(awk -v a="$3" -v b="$5" 'BEGIN { printf "%.3f", a - b }')" "$3" "$5"
}

set -- $(wrk_run "http://127.0.0.1:$nport/detail.json")
n_rps=$1 n_p99=$2
set -- $(wrk_run "$detail_url")
d_rps=$1 d_p99=$2
row "direct: GET /products/$pid_es?country=ES" "$d_rps" "$d_p99" "$n_rps" "$n_p99"
set -- $(wrk_run "$gw_detail_url")
g_rps=$1 g_p99=$2
row "gateway, cache on: GET /products/$pid_es" "$g_rps" "$g_p99" "$n_rps" "$n_p99"
set -- $(wrk_run "$gw0_detail_url")
g0_rps=$1 g0_p99=$2
row "gateway, cache off: GET /products/$pid_es" "$g0_rps" "$g0_p99" "$n_rps" "$n_p99"
gap_row "gateway (cache on) / direct" "$g_rps" "$g_p99" "$d_rps" "$d_p99"
gap_row "gateway (cache off) / direct" "$g0_rps" "$g0_p99" "$d_rps" "$d_p99"
hits=$(curl -s "http://127.0.0.1:$gport/metrics" | awk '$1 == "meridian_gateway_cache_hits_total" {print $2}')
misses=$(curl -s "http://127.0.0.1:$gport/metrics" | awk '$1 == "meridian_gateway_cache_misses_total" {print $2}')
echo "   edge cache: $hits hits, $misses misses (each expiry, once a second per thread, sends the requests that come before the fresh answer to the node)"

# --- the grab: two sales of the same size, one per route -------------------------------------------------
gw_users=${BENCH_GATEWAY_USERS:-100000}
"$bin" admin load-users --data "$work/data" --country IN --count "$gw_users" --prefix gwgrab \
	--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
	>"$work/gw-tokens.txt" 2>/dev/null
admin=${admin:-$("$bin" admin token --data "$work/data" 2>/dev/null)}
# the second and third phones (the flash scenario sells the first); an item follows '[' or ',', its category ':'
phones=$(curl -s "http://127.0.0.1:$mport/api/v1/products?country=IN&category=phones&per_page=3" |
	grep -o '[[,]{"id":[0-9]*,"slug"' | sed 's/[^0-9]//g' | sed -n '2,3p')
set -- $phones
set -- $(flash_sale "$1" "{\"en\":\"gateway bench $1\"}") $(flash_sale "$2" "{\"en\":\"gateway bench $2\"}")
d_sale=$1 d_session=$2 d_sku=$3 g_sale=$4 g_session=$5 g_sku=$6
set -- $(TOKENS="$work/gw-tokens.txt" SALE="$d_sale" SESSION="$d_session" SKU="$d_sku" \
	wrk_run "http://127.0.0.1:$nport/api/v1/flash-sales/$d_sale/grab" "$here/grab.lua")
n_rps=$1 n_p99=$2
set -- $(TOKENS="$work/gw-tokens.txt" SALE="$d_sale" SESSION="$d_session" SKU="$d_sku" \
	wrk_run "http://127.0.0.1:$mport/api/v1/flash-sales/$d_sale/grab" "$here/grab.lua")
d_rps=$1 d_p99=$2
row "direct: POST /flash-sales/$d_sale/grab" "$d_rps" "$d_p99" "$n_rps" "$n_p99"
set -- $(TOKENS="$work/gw-tokens.txt" SALE="$g_sale" SESSION="$g_session" SKU="$g_sku" \
	wrk_run "http://127.0.0.1:$gport/api/v1/flash-sales/$g_sale/grab" "$here/grab.lua")
g_rps=$1 g_p99=$2
row "gateway: POST /flash-sales/$g_sale/grab" "$g_rps" "$g_p99" "$n_rps" "$n_p99"
gap_row "gateway grab / direct grab" "$g_rps" "$g_p99" "$d_rps" "$d_p99"
for s in "$d_sale" "$g_sale"; do
	stats=$(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$mport/api/v1/admin/flash-sales/$s/stats")
	echo "   sale $s: $(echo "$stats" | sed -n 's/.*"tokens":{\([^}]*\)}.*/tokens: \1/p'); left: $(echo "$stats" | sed -n 's/.*"left":\([0-9]*\).*/\1/p')"
done
