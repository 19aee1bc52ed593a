# Meridian — the two commands a new user needs are `make run` and `make test`.
# Everything else here is a step those two take.

BUILD   ?= build
ASAN    ?= build-asan
FUZZ    ?= build-fuzz
FUZZ_SECONDS ?= 60
TSAN    ?= build-tsan
PORT    ?= 8080
DATA    ?= data
MESON_RELEASE = --buildtype=release -Db_ndebug=false
MESON_ASAN    = --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Darena_malloc=true
# ThreadSanitizer cannot share a build with ASan: a third build dir, for the (multi-threaded) unit tests
MESON_TSAN    = --buildtype=debug -Db_sanitize=thread -Db_lundef=false
MESON_FUZZ    = $(MESON_ASAN) -Dfuzz=true

.PHONY: all deps build build-asan build-tsan build-fuzz web run run-global test unit api fuzz bench clean format

all: build

deps:
	@scripts/install-deps.sh all

$(BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(BUILD) $(MESON_RELEASE)

$(ASAN)/build.ninja:
	@scripts/install-deps.sh test
	meson setup $(ASAN) $(MESON_ASAN)

$(TSAN)/build.ninja:
	@scripts/install-deps.sh test
	meson setup $(TSAN) $(MESON_TSAN)

build: $(BUILD)/build.ninja web
	ninja -C $(BUILD)

# The storefront and the admin console (web/): bundled by esbuild into web/dist, which `meridian serve`
# serves (src/web/web.c); rebuilt when a source, the build script or the pinned npm packages change.
WEB_SRC = $(wildcard web/src/*) web/build.mjs package-lock.json
web: web/dist/index.html
web/dist/index.html: $(WEB_SRC)
	@[ -x node_modules/.bin/esbuild ] || scripts/install-deps.sh build
	node web/build.mjs

build-asan: $(ASAN)/build.ninja
	ninja -C $(ASAN)

build-tsan: $(TSAN)/build.ninja
	ninja -C $(TSAN)

# libFuzzer targets (fuzz/) need clang; a separate build dir, so the gcc builds above are unchanged.
$(FUZZ)/build.ninja:
	@scripts/install-deps.sh test
	CC=clang meson setup $(FUZZ) $(MESON_FUZZ)

build-fuzz: $(FUZZ)/build.ninja
	ninja -C $(FUZZ)

# Seeds demo data on first start (empty data dir), then serves every demo region, the storefront at / and
# the console at /admin/ (WALLET_URL=http://127.0.0.1:8090 sends wallet payments to tools/wallet-page.mjs). Webhooks may reach this
# machine (loopback) so that a local receiver works; a production node leaves that off.
run: build
	@mkdir -p $(DATA)
	@[ -f $(DATA)/catalog.db ] || $(BUILD)/meridian seed --data $(DATA)
	$(BUILD)/meridian serve --port $(PORT) --data $(DATA) --access-log $(DATA)/access.log --webhook-allow-loopback \
	  $(if $(WALLET_URL),--wallet-url $(WALLET_URL))

# Worldwide on one machine (README "Running worldwide"): PostgreSQL clusters for the catalogue hub and the
# regions in, eu and sg (replicated hub -> regions), the hub's node, a node per region and the gateway, on
# loopback from GLOBAL_PORT (default 8000: the gateway; the hub's node +10, the regions +1..+3); Ctrl-C stops all.
run-global: build
	@scripts/install-deps.sh test
	scripts/run-global.sh $(BUILD)/meridian

# Unit tests in the release, the ASan+UBSan and the TSan builds; API tests against the ASan+UBSan binary;
# a short run of each fuzz target; the OpenAPI lint (install-deps.sh test runs npm ci for it); the browser
# tests (tests/browser: Debian's chromium driven by playwright-core) against the same binary.
# A build dir first configured by `make run` (no cmocka then) is reconfigured to pick up the unit tests.
test:
	@scripts/install-deps.sh test
	@for d in $(BUILD) $(ASAN) $(TSAN); do \
	  if [ -f $$d/build.ninja ] && ! grep -q test_money $$d/build.ninja; then meson setup --reconfigure $$d -Dunit_tests=enabled; fi; \
	done
	@$(MAKE) --no-print-directory build build-asan build-tsan build-fuzz
	@scripts/run-tests.sh $(BUILD) $(ASAN) $(TSAN) $(FUZZ)

# Each fuzz target for FUZZ_SECONDS (default 60), from the seeds in fuzz/corpus/.
fuzz: build-fuzz
	@scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

bench: build
	@scripts/install-deps.sh bench
	@bench/run.sh $(BUILD)/meridian

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]')

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(FUZZ) web/dist
