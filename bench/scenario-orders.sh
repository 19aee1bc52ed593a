# Sourced by bench/run.sh: order placement, 64 concurrent connections over 64 distinct customers,
# next to the same-run ceiling of single-row durable SQLite inserts (bench/sqlite_ceiling.c).
echo
echo "== order placement (target: >= 10000 orders/s acknowledged after commit) =="
"$bin" admin load-users --data "$work/data" --country IN --count 64 --prefix bench \
	--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
	>"$work/tokens.txt" 2>/dev/null
admin=$("$bin" admin token --data "$work/data" 2>/dev/null)
sku=$(curl -s "http://127.0.0.1:$mport/api/v1/products/$pid_es?country=IN" | sed -n 's/.*"skus":\[{"id":[0-9]*,"code":"\([^"]*\)".*/\1/p')
for wh in WH-IN-MUM WH-IN-BLR; do
	curl -s -o /dev/null -X PUT -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
		-d "{\"sku\":\"$sku\",\"warehouse\":\"$wh\",\"country\":\"IN\",\"on_hand\":100000000,\"reason\":\"bench\"}" \
		"http://127.0.0.1:$mport/api/v1/admin/stock"
done
before=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^meridian_http_responses_total\{class="2xx"\}/ {print $2}')
set -- $(TOKENS="$work/tokens.txt" SKU="$sku" wrk_run "http://127.0.0.1:$mport/api/v1/orders" "$here/orders.lua")
o_rps=$1 o_p99=$2
ceiling=$("$(dirname "$bin")/sqlite_ceiling" "$work/ceiling.db" "$secs")
printf "%-44s %10.0f orders/s p99 %8.3f ms | baseline %10.0f single-row durable inserts/s | ratio %s\n" \
	"POST /api/v1/orders (1 line, card)" "$o_rps" "$o_p99" "$ceiling" "$(ratio "$o_rps" "$ceiling")"
batches=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^meridian_writer_batches_total\{.*result="committed"/ {s += $2} END {print s}')
jobs=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^meridian_writer_jobs_total\{/ {s += $2} END {print s}')
[ -n "$batches" ] && echo "   group commit: $jobs writer jobs in $batches transactions (avg $(ratio "$jobs" "$batches") per commit)"
