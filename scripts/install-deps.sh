#!/bin/sh
# Installs the Debian packages Meridian needs, skipping those already present.
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: all)
set -eu

# nodejs + npm: the storefront and console (web/) are bundled at build time with esbuild from npm
# libvips-dev: product images, checked and resized (src/media)
# libpango1.0-dev + libcairo2-dev + fonts-noto-core: invoices as PDF, shaped in every script (src/invoice)
# libpq-dev: the PostgreSQL backend of store/db.h (src/store/db_pg.c)
# libhiredis-dev: the Redis client of the shared flash sale (src/flashsale/shared.c)
build_pkgs="meson ninja-build pkg-config gcc python3 libh2o-evloop-dev libsqlite3-dev libjansson-dev libsodium-dev libicu-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libexpat1-dev libpq-dev libhiredis-dev libvips-dev libpango1.0-dev libcairo2-dev fonts-noto-core nodejs npm"
# prometheus ships promtool, which checks /metrics in the API tests (Debian has no smaller package with it)
# clang + libclang-rt-dev: the libFuzzer runtime for -fsanitize=fuzzer (fuzz/, Debian 12: clang 14)
# clang-format: the pinned formatter (14 on Debian 12) that make test checks the C files against
# chromium (Debian's, driven by playwright-core: no browser download) + fonts-noto-core (Devanagari, Thai, ...):
# the browser tests of the storefront and console
# postgresql: the server tests/pg/pg.sh starts (as user postgres) for the PostgreSQL backend's tests
# redis-server: the server tests/redis/redis.sh starts for the shared flash sale's tests
# poppler-utils: pdftotext, which reads the invoices' PDF text back in the API tests
test_pkgs="poppler-utils libcmocka-dev nodejs npm sqlite3 prometheus clang libclang-rt-dev clang-format chromium fonts-noto-core postgresql redis-server"
# postgresql: the cluster of the PostgreSQL scenario (bench/scenario-pg.sh) and its pgbench (the best-case line)
bench_pkgs="wrk nginx-light postgresql"

case "${1:-all}" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
esac

missing=""
for p in $want; do
	# nodejs may come from another repository (nodesource); any node >= 18 will do.
	if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then
		continue
	fi
	if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
		continue
	fi
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "installing:$missing"
	SUDO=""
	if [ "$(id -u)" != 0 ]; then
		SUDO="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq || true
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The npm packages (package.json: esbuild, Preact and htm for web/; Redocly CLI for the OpenAPI lint, which
# needs node >= 20.19; playwright-core and axe-core for the browser tests), exactly as package-lock.json pins
# them; again only when the lock file changed since the last install.
case "${1:-all}" in
build | test | all)
	cd "$(dirname "$0")/.."
	if [ ! -x node_modules/.bin/redocly ] || [ ! -x node_modules/.bin/esbuild ] ||
		[ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error
	fi
	;;
esac
