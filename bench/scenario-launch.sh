# Sourced by bench/run.sh: launching a country over the whole demo catalogue (every SKU India sells), planned
# and applied through the API, next to same-run baselines with the sqlite3 command-line shell on a copy of
# the same catalogue database:
#   plan   vs  one query reading the same rows (SKUs with their Indian price and category) and doing the same
#              integer conversion, printed as JSON (.mode json): what a hand-written script would at least
#              cost to produce the numbers, without the plan's checks, ending rule, formatting or hash;
#   apply  vs  the same price rows (and one country row) written by INSERT ... SELECT in one durable
#              transaction (WAL, synchronous=FULL, as Meridian runs): the floor of writing that assortment.
# Each figure is the mean wall time of a whole call (a curl or a sqlite3 process), so both sides pay one
# process start. Ratio = Meridian / baseline (lower is better).
echo
echo "== launching a country from a template, whole demo catalogue (ratio: time over the baseline's) =="
admin=$("$bin" admin token --data "$work/data" 2>/dev/null)
runs=${BENCH_LAUNCH_RUNS:-10}
launch_body() { # CODE -> the request: a country of region in, every category, 1 INR = 1.42, phones +5%
	printf '{"template":"IN","settings":{"names":{"en":"Bench %s"},"currency":"BDT","languages":["bn","en"],' "$1"
	printf '"timezone":"Asia/Dhaka","tax":{"inclusive":true,"rates":{"standard":1500,"reduced":500,"gst40":4000,"zero":0}},'
	printf '"address":{"required":["name","line1","city"]}},"pricing":{"exchange_rate":"1.42","markups":{"phones":500}}}'
}
now_ms() { date +%s%N | awk '{ printf "%.3f", $1 / 1e6 }'; }
api_post() { # PATH BODY-FILE OUT -> HTTP status
	curl -s -o "$3" -w '%{http_code}' -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
		--data-binary "@$2" "http://127.0.0.1:$mport$1"
}

launch_body BD >"$work/launch-BD.json"
api_post /api/v1/admin/countries/BD/launch-plan "$work/launch-BD.json" "$work/plan.json" >/dev/null # warm
skus=$(sed -n 's/.*"summary":{"skus":\([0-9]*\),"sold":\([0-9]*\).*/\2/p' "$work/plan.json")
t0=$(now_ms)
for _ in $(seq 1 "$runs"); do
	code=$(api_post /api/v1/admin/countries/BD/launch-plan "$work/launch-BD.json" "$work/plan.json")
	[ "$code" = 200 ] || { echo "bench: launch-plan answered $code" >&2; break; }
done
plan_ms=$(awk -v a="$t0" -v b="$(now_ms)" -v n="$runs" 'BEGIN { printf "%.3f", (b - a) / n }')

cp "$work/data/catalog.db" "$work/launch-base.db"
sqlite3 "$work/launch-base.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
base_plan_sql=".mode json
SELECT s.code AS sku, p.amount AS template_price, c.slug AS category,
       (p.amount * 71 * (10000 + CASE c.slug WHEN 'phones' THEN 500 ELSE 0 END) * 2 + 500000) / 1000000 AS converted
FROM sku s JOIN price p ON p.sku_id = s.id AND p.country = 'IN' JOIN product pr ON pr.id = s.product_id
JOIN category c ON c.id = pr.category_id WHERE pr.active = 1 ORDER BY pr.id, s.position;"
t0=$(now_ms)
for _ in $(seq 1 "$runs"); do
	echo "$base_plan_sql" | sqlite3 "$work/launch-base.db" >"$work/base-plan.json"
done
base_plan_ms=$(awk -v a="$t0" -v b="$(now_ms)" -v n="$runs" 'BEGIN { printf "%.3f", (b - a) / n }')

# apply: one launch per code (a code launches once), each over the whole catalogue
codes="BD NP LK PK MM"
napply=0
t0=$(now_ms)
for cc in $codes; do
	launch_body "$cc" >"$work/launch-$cc.json"
	code=$(api_post "/api/v1/admin/countries/$cc/launch" "$work/launch-$cc.json" "$work/apply.json")
	[ "$code" = 201 ] || { echo "bench: launch $cc answered $code: $(cat "$work/apply.json")" >&2; break; }
	napply=$((napply + 1))
done
apply_ms=$(awk -v a="$t0" -v b="$(now_ms)" -v n="$napply" 'BEGIN { printf "%.3f", n ? (b - a) / n : 0 }')

t0=$(now_ms)
i=0
for cc in $codes; do
	i=$((i + 1))
	sqlite3 "$work/launch-base.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
BEGIN;
INSERT INTO country (code, region, config, updated_at, status) VALUES ('X$i', 'in', '{}', 0, 'launching');
INSERT INTO price (sku_id, country, amount, updated_at)
  SELECT p.sku_id, 'X$i', (p.amount * 71 * 2 + 50) / 100, 0 FROM price p JOIN sku s ON s.id = p.sku_id
  JOIN product pr ON pr.id = s.product_id WHERE p.country = 'IN' AND pr.active = 1;
COMMIT;
SQL
done
base_apply_ms=$(awk -v a="$t0" -v b="$(now_ms)" -v n="$i" 'BEGIN { printf "%.3f", (b - a) / n }')

printf "%-44s %10.3f ms | baseline %10.3f ms (sqlite3: same rows, same integer conversion, JSON) | ratio %s\n" \
	"POST .../launch-plan ($skus SKUs sold)" "$plan_ms" "$base_plan_ms" "$(ratio "$plan_ms" "$base_plan_ms")"
printf "%-44s %10.3f ms | baseline %10.3f ms (sqlite3: INSERT..SELECT of the rows, one durable txn) | ratio %s\n" \
	"POST .../launch ($skus prices, $napply countries)" "$apply_ms" "$base_apply_ms" "$(ratio "$apply_ms" "$base_apply_ms")"
