# Sourced by bench/run.sh: the mixed browse workload. At least 10,000 distinct listing URLs (countries ×
# their languages and English × pages × categories × search terms, typos and another script among them ×
# sorts), shuffled, asked round robin by bench/browse.lua; the baseline is nginx serving the very same
# answers as files (fetched from Meridian first), in the same run. Both sides get one warm-up pass of the
# same length before the measured one (Meridian's answer caches, nginx's file cache).
echo
echo "== mixed browse: search, facets, sort, pages (target: req/s ratio >= 0.70) =="
urls="$work/browse-urls.txt"
for cc_langs in IN:hi,en SG:en,ms MY:ms,en ID:id,en PH:en,fil TH:th,en VN:vi,en RU:ru,en ES:es,en FR:fr,en \
	IT:it,en DE:de,en PL:pl,en GB:en; do
	cc=${cc_langs%%:*}
	for lang in $(echo "${cc_langs#*:}" | tr , ' '); do
		for page in 1 2 3; do
			for cat in - phones wearables tvs accessories smart-home; do
				for term in - nova nvoa smartphone smrtphone pro lumio lumo x1 kairo cable watch \
					%D1%81%D0%BC%D0%B0%D1%80%D1%82%D1%84%D0%BE%D0%BD; do
					for sort in - price_asc newest; do
						u="/api/v1/products?country=$cc&lang=$lang&page=$page"
						[ "$cat" = - ] || u="$u&category=$cat"
						[ "$term" = - ] || u="$u&q=$term"
						[ "$sort" = - ] || u="$u&sort=$sort"
						echo "$u"
					done
				done
			done
		done
	done
done | awk 'BEGIN { srand(15) } { printf "%.9f\t%s\n", rand(), $0 }' | sort -n | cut -f2 >"$urls"
nurls=$(sort -u "$urls" | wc -l)
# the answers, fetched once over one keep-alive connection, become nginx's files /b/<line>.json
mkdir -p "$work/www/b"
awk -v base="http://127.0.0.1:$mport" -v dir="$work/www/b" \
	'{ printf "url = \"%s%s\"\noutput = \"%s/%d.json\"\n", base, $0, dir, NR }' "$urls" >"$work/browse-curl.cfg"
curl -s -K "$work/browse-curl.cfg"
chmod -R a+rX "$work/www/b"
bytes=$(cat "$work/www/b/"*.json | wc -c)
URLS="$urls" FILES=1 wrk_run "http://127.0.0.1:$nport" "$here/browse.lua" >/dev/null
set -- $(URLS="$urls" FILES=1 wrk_run "http://127.0.0.1:$nport" "$here/browse.lua")
n_rps=$1 n_p99=$2
URLS="$urls" wrk_run "http://127.0.0.1:$mport" "$here/browse.lua" >/dev/null
set -- $(URLS="$urls" wrk_run "http://127.0.0.1:$mport" "$here/browse.lua")
row "GET /products mixed ($nurls URLs, avg $((bytes / nurls)) B)" "$1" "$2" "$n_rps" "$n_p99"
