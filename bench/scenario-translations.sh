# Sourced by bench/run.sh: the translation round trip of a full language over the demo catalogue — export
# every text a new language lacks (XLIFF and PO), import it translated — next to the same-run baseline of
# bench/translations_baseline.c: SQLite alone reading the same English rows out (export) and upserting
# the same rows in one durable transaction (import). Meridian's figures add what a real round trip
# needs on top: HTTP, the file formats and their escaping, parsing with expat, checking every text
# (ids, sources, placeholders, lengths), the search index of every product and the snapshot reload.
# Each figure is the median of $rounds calls, in milliseconds; the ratio is Meridian over the baseline
# (lower is better).
echo
echo "== translations: a full language, export and import (median of rounds; ratio = meridian / baseline) =="
rounds=${BENCH_TR_ROUNDS:-9}
tr_lang=bn
tr_admin=$("$bin" admin token --data "$work/data" 2>/dev/null)
tr_url="http://127.0.0.1:$mport/api/v1/admin/translations/$tr_lang"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# tr_time ARGS... -> milliseconds of one curl call (answer in $work/tr.out, status in $work/tr.status)
tr_time() {
	curl -s -o "$work/tr.out" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $tr_admin" "$@" >"$work/tr.status"
	awk '{ printf "%.3f\n", $2 * 1000 }' "$work/tr.status"
}
for fmt in xliff po; do
	for _ in $(seq 1 "$rounds"); do tr_time "$tr_url/export?format=$fmt"; done | median >"$work/tr-export-$fmt.ms"
	cp "$work/tr.out" "$work/catalog-$tr_lang.$fmt"
done
units=$(grep -c '<unit id=' "$work/catalog-$tr_lang.xliff")
# the "translator": two translations of every text, imported in turn so that every round rewrites them all
for m in a b; do
	sed -E "s|^(    <source>)(.*)(</source>)\$|\\1\\2\\3\\n    <target>[$m] \\2</target>|" "$work/catalog-$tr_lang.xliff" >"$work/tr-$m.xlf"
done
: >"$work/tr-import.ms"
for i in $(seq 1 "$rounds"); do
	m=$([ $((i % 2)) -eq 1 ] && echo a || echo b)
	tr_time -X POST -H 'Content-Type: application/xliff+xml' --data-binary "@$work/tr-$m.xlf" "$tr_url/import" >>"$work/tr-import.ms"
	case $(cut -d' ' -f1 "$work/tr.status") in 200) ;; *) echo "bench: import answered $(cat "$work/tr.status"): $(head -c 300 "$work/tr.out")" >&2 ;; esac
done
written=$(sed -n 's/.*"added":\([0-9]*\),.*"updated":\([0-9]*\),.*/\1 \2/p' "$work/tr.out" | awk '{ print $1 + $2 }')
set -- $("$(dirname "$bin")/translations_baseline" "$work/data/catalog.db" "$work/tr-baseline.db" "$tr_lang" "$rounds")
b_export=$1 b_import=$2 b_rows=$3
tr_row() { # name meridian_ms baseline_ms
	printf "%-52s %9.3f ms | baseline %9.3f ms | ratio %s\n" "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
tr_row "export $tr_lang, XLIFF 2.0 ($units texts, $(wc -c <"$work/catalog-$tr_lang.xliff") B)" "$(cat "$work/tr-export-xliff.ms")" "$b_export"
tr_row "export $tr_lang, PO ($(wc -c <"$work/catalog-$tr_lang.po") B)" "$(cat "$work/tr-export-po.ms")" "$b_export"
tr_row "import $tr_lang, XLIFF 2.0 ($written texts written)" "$(median <"$work/tr-import.ms")" "$b_import"
echo "   baseline: $b_rows English rows read out / upserted in one durable SQLite transaction"
true
