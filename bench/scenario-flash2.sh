# Sourced by bench/run.sh (BENCH_ONLY=flash2): the flash sale on two nodes sharing one PostgreSQL and one
# Redis (serve --redis), next to one node on the same stores and the same-run nginx baseline. 20,000
# customers with tokens grab a phone (one each); each run is a fresh sale of 2,000 units. Reports grab req/s,
# Redis commands per grab (INFO commandstats before and after, everything the nodes sent: grabs, refills,
# leases, reaper, status polls) and the time from the last unit sold to sold_out on every node.
echo
echo "== flash sale on two nodes (serve --redis; targets: < 0.05 Redis commands per grab, sold_out everywhere < 50 ms) =="
f2_pg=$("$here/../tests/pg/pg.sh" start)
f2_redis=$("$here/../tests/redis/redis.sh" start)
f2_cleanup() {
	"$here/../tests/redis/redis.sh" stop "${f2_redis#* }" || true
	"$here/../tests/pg/pg.sh" stop "${f2_pg#* }" || true
}
trap 'f2_cleanup; cleanup' EXIT INT TERM
f2_url=${f2_pg% *}
f2_base=${f2_url%/*}
for n in cat sg in ru eu; do psql -q "$f2_url" -c "CREATE DATABASE b_$n"; done
redis_url=${f2_redis% *}
export MERIDIAN_CATALOG_DB="$f2_base/b_cat"
export MERIDIAN_REGION_DB="sg=$f2_base/b_sg,in=$f2_base/b_in,ru=$f2_base/b_ru,eu=$f2_base/b_eu"
"$bin" seed --data "$work/data2" >/dev/null 2>&1
"$bin" admin load-users --data "$work/data2" --country IN --count 20000 --prefix f2 \
	--address '{"name":"Bench","line1":"1 Road","city":"Mumbai","state":"MH","postal_code":"400001","phone":"+919812345678"}' \
	>"$work/f2-tokens.txt" 2>/dev/null
awk 'NR % 2 == 1' "$work/f2-tokens.txt" >"$work/f2-tokens-a.txt"
awk 'NR % 2 == 0' "$work/f2-tokens.txt" >"$work/f2-tokens-b.txt"
f2_admin=$("$bin" admin token --data "$work/data2" 2>/dev/null)
p1=18090
p2=18091
"$bin" serve --data "$work/data2" --port $p1 --threads "$threads" --redis "$redis_url" >"$work/node1.log" 2>&1 &
n1=$!
pids="$pids $n1"
wait_http "http://127.0.0.1:$p1/healthz"
f2_sku=$(curl -s "http://127.0.0.1:$p1/api/v1/products?country=IN&category=phones&per_page=1" | sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p')
f2_sku=$(curl -s "http://127.0.0.1:$p1/api/v1/products/$f2_sku?country=IN" | sed -n 's/.*"skus":\[{"id":[0-9]*,"code":"\([^"]*\)".*/\1/p')
f2_sale() { # units -> "sale session"
	s=$(curl -s -X POST -H "Authorization: Bearer $f2_admin" -H 'Content-Type: application/json' \
		-d "{\"country\":\"IN\",\"titles\":{\"en\":\"X2\"},\"sessions\":[{\"starts_at\":\"$(TZ=Asia/Kolkata date -d '-1 min' +%Y-%m-%dT%H:%M:%S)\",\"ends_at\":\"$(TZ=Asia/Kolkata date -d '+2 hours' +%Y-%m-%dT%H:%M:%S)\",\"mode\":\"fcfs\",\"items\":[{\"sku\":\"$f2_sku\",\"price\":999900,\"units\":$1}]}]}" \
		"http://127.0.0.1:$p1/api/v1/admin/flash-sales")
	echo "$(echo "$s" | sed -n 's/.*"id":\([0-9]*\).*/\1/p') $(echo "$s" | sed -n 's/.*"session_ids":\[\([0-9]*\).*/\1/p')"
}
# the commands the nodes send (INFO commandstats also counts the calls made inside scripts: those are not
# round trips); the lease's SET, one per node per second, is left out
rcalls() { redis-cli -u "$redis_url" INFO commandstats | awk -F'[:=,]' '$1 ~ /^cmdstat_(evalsha|script|select|subscribe|ping)$/ { n += $3 } END { print n + 0 }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f (%d commands, %d grabs)", a / b, a, b; else print "n/a" }'; }
wrk_reqs() { # like wrk_run, but prints "requests reqs_per_sec"
	out=$(wrk -t1 -c"$3" -d"${secs}s" -s "$here/grab.lua" "$1" 2>&1)
	echo "$(echo "$out" | awk '/requests in/ {print $1}') $(echo "$out" | awk '/^Requests\/sec:/ {print $2}')"
}

set -- $(f2_sale 2000); one_sale=$1 one_session=$2
set -- $(f2_sale 2000); two_sale=$1 two_session=$2
set -- $(f2_sale 200); last_sale=$1 last_session=$2
set -- $(f2_sale 2000); local_sale=$1 local_session=$2
# one node on the same PostgreSQL without --redis: the in-process sale, for comparison (only it sells local_sale)
"$bin" serve --data "$work/data2" --port 18092 --threads "$threads" >"$work/node3.log" 2>&1 &
n3=$!
wait_http "http://127.0.0.1:18092/healthz"
set -- $(TOKENS="$work/f2-tokens.txt" SALE="$local_sale" SESSION="$local_session" SKU="$f2_sku" \
	wrk_reqs "http://127.0.0.1:18092/api/v1/flash-sales/$local_sale/grab" x "$conns")
local_rps=$2
kill $n3
wait $n3 2>/dev/null || true
# the second node loads the sales at start
"$bin" serve --data "$work/data2" --port $p2 --threads "$threads" --redis "$redis_url" >"$work/node2.log" 2>&1 &
n2=$!
pids="$pids $n2"
wait_http "http://127.0.0.1:$p2/healthz"
set -- $(TOKENS="$work/f2-tokens.txt" SALE="$one_sale" SESSION="$one_session" SKU="$f2_sku" \
	wrk_run "http://127.0.0.1:$nport/api/v1/flash-sales/$one_sale/grab" "$here/grab.lua")
n_rps=$1 n_p99=$2
printf "%-44s %10.0f req/s | nginx %10.0f req/s | ratio %5s\n" \
	"grab, one node (no Redis, 2k units)" "$local_rps" "$n_rps" "$(ratio "$local_rps" "$n_rps")"
c0=$(rcalls)
set -- $(TOKENS="$work/f2-tokens.txt" SALE="$one_sale" SESSION="$one_session" SKU="$f2_sku" \
	wrk_reqs "http://127.0.0.1:$p1/api/v1/flash-sales/$one_sale/grab" x "$conns")
c1=$(rcalls)
printf "%-44s %10.0f req/s | nginx %10.0f req/s | ratio %5s | redis commands per grab %s\n" \
	"grab, one node (--redis, 2k units)" "$2" "$n_rps" "$(ratio "$2" "$n_rps")" "$(per $((c1 - c0)) "$1")"
half=$((conns / 2))
TOKENS="$work/f2-tokens-a.txt" SALE="$two_sale" SESSION="$two_session" SKU="$f2_sku" \
	wrk_reqs "http://127.0.0.1:$p1/api/v1/flash-sales/$two_sale/grab" x "$half" >"$work/wrk-a.txt" &
wa=$!
TOKENS="$work/f2-tokens-b.txt" SALE="$two_sale" SESSION="$two_session" SKU="$f2_sku" \
	wrk_reqs "http://127.0.0.1:$p2/api/v1/flash-sales/$two_sale/grab" x "$half" >"$work/wrk-b.txt"
wait $wa
c2=$(rcalls)
set -- $(cat "$work/wrk-a.txt") $(cat "$work/wrk-b.txt")
both=$(awk -v a="$2" -v b="$4" 'BEGIN { printf "%.0f", a + b }')
printf "%-44s %10.0f req/s | nginx %10.0f req/s | ratio %5s | redis commands per grab %s\n" \
	"grab, two nodes (--redis, 2k units)" "$both" "$n_rps" "$(ratio "$both" "$n_rps")" "$(per $((c2 - c1)) $(($1 + $3)))"
f2_won() { psql -qAt "$f2_base/b_in" -c "SELECT COUNT(*) FROM flash_token WHERE session_id = $1"; }
echo "   tokens for 2000 units: one node without Redis $(f2_won "$local_session"), one node with $(f2_won "$one_session"), two nodes $(f2_won "$two_session")"
# the last unit: 2,000 buyers race for 200 units over both nodes while both nodes' activity is polled
node "$here/flash2-soldout.mjs" "http://127.0.0.1:$p1" "http://127.0.0.1:$p2" "$last_sale" "$last_session" "$f2_sku" "$work/f2-tokens.txt"
unset MERIDIAN_CATALOG_DB MERIDIAN_REGION_DB
