# Sourced by bench/run.sh: the flash sale. 100,000 customers with tokens grab a phone with 10,000 units
# (one each); activity info; memory per reservation.
echo
echo "== flash sale (targets: grab >= 0.60 of nginx, activity info >= 0.80 of nginx, <= 200 B per reservation) =="
"$bin" admin load-users --data "$work/data" --country IN --count 100000 --prefix flash \
	--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
	>"$work/flash-tokens.txt" 2>/dev/null
admin=${admin:-$("$bin" admin token --data "$work/data" 2>/dev/null)}
fpid=$(curl -s "http://127.0.0.1:$mport/api/v1/products?country=IN&category=phones&per_page=1" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')
set -- $(flash_sale "$fpid" '{"en":"X1 launch","hi":"X1 लॉन्च"}')
sale_id=$1 session_id=$2 fsku=$3

# baseline: nginx answering the same wrk script (same POSTs, tokens, bodies) with a fixed JSON body the
# size of a sold-out answer; the client's cost is the same on both sides
curl -s -o "$work/info.json" "http://127.0.0.1:$mport/api/v1/flash-sales/$sale_id"
cp "$work/info.json" "$work/www/info.json"
chmod a+r "$work/www/"*.json
set -- $(TOKENS="$work/flash-tokens.txt" SALE="$sale_id" SESSION="$session_id" SKU="$fsku" \
	wrk_run "http://127.0.0.1:$nport/api/v1/flash-sales/$sale_id/grab" "$here/grab.lua")
n_rps=$1 n_p99=$2
set -- $(TOKENS="$work/flash-tokens.txt" SALE="$sale_id" SESSION="$session_id" SKU="$fsku" \
	wrk_run "http://127.0.0.1:$mport/api/v1/flash-sales/$sale_id/grab" "$here/grab.lua")
row "POST /flash-sales/$sale_id/grab (100k buyers, 10k units)" "$1" "$2" "$n_rps" "$n_p99"
stats=$(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$mport/api/v1/admin/flash-sales/$sale_id/stats")
echo "   $(echo "$stats" | sed -n 's/.*"tokens":{\([^}]*\)}.*/tokens: \1/p'); left: $(echo "$stats" | sed -n 's/.*"left":\([0-9]*\).*/\1/p')"

set -- $(wrk_run "http://127.0.0.1:$nport/info.json")
n_rps=$1 n_p99=$2
set -- $(wrk_run "http://127.0.0.1:$mport/api/v1/flash-sales/$sale_id")
row "GET /flash-sales/$sale_id ($(wc -c <"$work/info.json") B)" "$1" "$2" "$n_rps" "$n_p99"

# memory: the same node with and without 1,000,000 reservations in a session
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
kill "$(echo $pids | awk '{print $1}')" 2>/dev/null; sleep 1
"$bin" serve --data "$work/data" --port $mport --threads "$threads" >>"$work/meridian.log" 2>&1 &
p1=$!
wait_http "http://127.0.0.1:$mport/healthz"
rss0=$(rss_of $p1)
kill $p1; wait $p1 2>/dev/null
"$bin" admin flash-reserve --data "$work/data" --country IN --session "$session_id" --count 1000000 --first-user 1000000 >/dev/null 2>&1
"$bin" serve --data "$work/data" --port $mport --threads "$threads" >>"$work/meridian.log" 2>&1 &
p2=$!
pids="$p2"
wait_http "http://127.0.0.1:$mport/healthz"
rss1=$(rss_of $p2)
res=$(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$mport/api/v1/admin/flash-sales/$sale_id/stats" | sed -n 's/.*"reservations":\([0-9]*\).*/\1/p')
echo "   memory: RSS $rss0 kB without reservations, $rss1 kB with $res: $(awk -v a="$rss0" -v b="$rss1" -v n="$res" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1024 / n; else print "n/a" }') bytes per reservation (target <= 200)"
