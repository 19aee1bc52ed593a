# Sourced by bench/run.sh: the product page through `meridian gateway` (issue 12 item 7), next to the same
# request sent directly to the node and to nginx serving the same bytes, in the same run. The gateway runs
# in front of the bench's node (every region of the node named as a region of the gateway), with as many
# threads as the node; gateway, node and wrk share the machine's cores. Targets: gateway >= 0.6x direct
# (req/s); "p99 added" is the gateway's p99 minus the direct p99.
echo
echo "== the gateway: product page through the gateway vs direct to the node vs nginx (target: gateway/direct >= 0.60) =="
gport=18082
node_url="http://127.0.0.1:$mport"
"$bin" gateway --port $gport --threads "$threads" --region "in=$node_url" --region "eu=$node_url" \
	--region "sg=$node_url" --region "ru=$node_url" >"$work/gateway.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$gport/readyz"
gw_detail_url="http://127.0.0.1:$gport/api/v1/products/$pid_es?country=ES&lang=es"
curl -s -o "$work/gw-detail.json" "$gw_detail_url"
cmp -s "$work/gw-detail.json" "$work/detail.json" || echo "bench: the gateway's answer differs from the node's" >&2
set -- $(wrk_run "http://127.0.0.1:$nport/detail.json")
n_rps=$1 n_p99=$2
set -- $(wrk_run "$detail_url")
d_rps=$1 d_p99=$2
row "direct: GET /products/$pid_es?country=ES" "$d_rps" "$d_p99" "$n_rps" "$n_p99"
set -- $(wrk_run "$gw_detail_url")
g_rps=$1 g_p99=$2
row "gateway: GET /products/$pid_es?country=ES" "$g_rps" "$g_p99" "$n_rps" "$n_p99"
printf "%-44s ratio req/s %s (target >= 0.60)   p99 added %s ms (gateway %s ms, direct %s ms)\n" \
	"gateway / direct" "$(ratio "$g_rps" "$d_rps")" "$(awk -v a="$g_p99" -v b="$d_p99" 'BEGIN { printf "%.3f", a - b }')" \
	"$g_p99" "$d_p99"
