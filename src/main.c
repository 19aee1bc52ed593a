/*
 * main.c — the meridian binary and its sub-commands.
 *
 * Every command declares its options in a table (name, kind, destination, range, help line) and hands it
 * to cli_parse(), which parses them, checks ranges, answers --help from the same table and refuses
 * anything it does not know. `meridian help` lists the commands; `meridian COMMAND --help` shows one.
 * Commands other than `seed` (and `serve --seed`) refuse a data directory that holds no store, rather than
 * creating an empty one that would then look like a store with nothing in it.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account/account.h"
#include "account/auth.h"
#include "cart/cart.h"
#include "catalog/catalog.h"
#include "core/log.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "gateway/gateway.h"
#include "http/offload.h"
#include "http/ops.h"
#include "http/req.h"
#include "inventory/inventory.h"
#include "invoice/invoice.h"
#include "launch/launch.h"
#include "media/media.h"
#include "module.h"
#include "order/order.h"
#include "payment/payment.h"
#include "region/region_http.h"
#include "seed/seed.h"
#include "store/notify.h"
#include "store/replica.h"
#include "store/store.h"
#include "web/web.h"
#include "core/banned.h"

#define VERSION "0.1.0"

#define CLI(name, args, opts) ((cli_cmd_t){(name), (args), (opts), MER_ARRAY_LEN(opts)})
/* Every command that opens the store takes the data directory and where databases live outside it. */
static const char *opt_catalog_db, *opt_region_db, *opt_hub_db;
#define OPT_DATA(dst)                                                                                                  \
    {"data", OPT_STR, (dst), 0, 0, "DIR", "data directory (default ./data)"},                                          \
        {"catalog-db",                                                                                                 \
         OPT_STR,                                                                                                      \
         &opt_catalog_db,                                                                                              \
         0,                                                                                                            \
         0,                                                                                                            \
         "URL",                                                                                                        \
         "the catalogue in PostgreSQL (default $MERIDIAN_CATALOG_DB, else DIR/catalog.db)"},                           \
    {                                                                                                                  \
        "region-db", OPT_STR, &opt_region_db, 0, 0, "LIST",                                                            \
            "name=URL,... regions in PostgreSQL (default $MERIDIAN_REGION_DB, else DIR/region-NAME.db)"                \
    }

/* ---- command-line options ---- */

typedef enum opt_kind { OPT_STR, OPT_INT, OPT_FLAG, OPT_MULTI } opt_kind_t;

/* An option that may be given several times (OPT_MULTI): its values in order. */
typedef struct cli_multi {
    const char **v; /* room for max values */
    int n, max;
} cli_multi_t;

typedef struct cli_opt {
    const char *name; /* the long option, without "--" */
    opt_kind_t kind;  /* what it takes and where it goes: */
    void *dst;        /*   OPT_STR: const char **, OPT_INT: int64_t *, OPT_FLAG: bool *, OPT_MULTI: cli_multi_t * */
    int64_t min, max; /* OPT_INT: the accepted range, inclusive */
    const char *arg;  /* the argument's name in the help ("DIR"); NULL for a flag */
    const char *help; /* one line */
} cli_opt_t;

typedef struct cli_cmd {
    const char *name; /* "serve", "admin token": its summary comes from commands[] */
    const char *args; /* positional arguments in the synopsis ("PROVIDER"), "" for none */
    const cli_opt_t *opts;
    size_t nopts;
} cli_cmd_t;

static const char *cli_summary(const char *name);

static void cli_usage(FILE *f, const cli_cmd_t *cmd)
{
    fprintf(f, "usage: meridian %s [options]%s%s\n\n%s\n", cmd->name, *cmd->args ? " " : "", cmd->args,
            cli_summary(cmd->name));
    if (cmd->nopts)
        fputs("\noptions:\n", f);
    for (size_t i = 0; i < cmd->nopts; i++) {
        const cli_opt_t *o = &cmd->opts[i];
        char left[48];
        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
    fputs("  --help                     show this help\n", f);
}

/*
 * Parses argv (argv[0] is the command's name) against cmd's table. Positional arguments go to pos[0..npos);
 * exactly npos are required. --help prints the usage and exits 0; an unknown option, a value out of range
 * or a wrong number of arguments prints why and exits 2 (start-up only, like mer_die).
 */
static void cli_parse(const cli_cmd_t *cmd, int argc, char **argv, const char **pos, int npos)
{
    enum { ARG = 1, HELP = 255, FIRST = 256 }; /* getopt_long's answers: a positional, --help, opts[i] */
    struct option lo[40];
    size_t n = cmd->nopts;
    if (n + 2 > MER_ARRAY_LEN(lo))
        mer_die("too many options for %s", cmd->name);
    for (size_t i = 0; i < n; i++)
        lo[i] = (struct option){cmd->opts[i].name, cmd->opts[i].kind == OPT_FLAG ? no_argument : required_argument,
                                NULL, FIRST + (int)i};
    lo[n] = (struct option){"help", no_argument, NULL, HELP};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0;
    int c, got = 0;
    while ((c = getopt_long(argc, argv, "-", lo, NULL)) != -1) { /* "-": positionals in order, as ARG */
        if (c == HELP) {
            cli_usage(stdout, cmd);
            exit(0);
        }
        if (c == ARG) {
            if (got >= npos) {
                fprintf(stderr, "meridian %s: unexpected argument: %s\n", cmd->name, optarg);
                goto usage;
            }
            pos[got++] = optarg;
            continue;
        }
        if (c < FIRST || (size_t)(c - FIRST) >= n) {
            fprintf(stderr, "meridian %s: unknown option or missing value: %s\n", cmd->name, argv[optind - 1]);
            goto usage;
        }
        const cli_opt_t *o = &cmd->opts[c - FIRST];
        if (o->kind == OPT_FLAG)
            *(bool *)o->dst = true;
        else if (o->kind == OPT_STR)
            *(const char **)o->dst = optarg;
        else if (o->kind == OPT_MULTI) {
            cli_multi_t *m = o->dst;
            if (m->n >= m->max) {
                fprintf(stderr, "meridian %s: --%s at most %d times\n", cmd->name, o->name, m->max);
                goto usage;
            }
            m->v[m->n++] = optarg;
        } else if (mer_parse_int64(optarg, strlen(optarg), o->min, o->max, (int64_t *)o->dst) != 0) {
            fprintf(stderr, "meridian %s: --%s must be a whole number from %lld to %lld\n", cmd->name, o->name,
                    (long long)o->min, (long long)o->max);
            goto usage;
        }
    }
    if (got == npos)
        return;
    fprintf(stderr, "meridian %s: missing %s\n", cmd->name, cmd->args);
usage:
    cli_usage(stderr, cmd);
    exit(2);
}

static void ensure_dir(const char *dir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        mer_die("cannot create data directory %s: %s", dir, strerror(errno));
}

typedef enum store_mode { STORE_EXISTING, STORE_CREATE } store_mode_t;

/*
 * Opens catalog.db, loads regions and countries, and opens the served regions' databases. STORE_EXISTING
 * refuses a directory without a catalogue database (a typo in --data must not create an empty store).
 */
static void open_store(const char *data, store_mode_t mode, const char *regions, const char *region_urls,
                       const char *self_url, bool open_regions)
{
    const char *catalog_db = opt_catalog_db ? opt_catalog_db : getenv("MERIDIAN_CATALOG_DB");
    const char *region_db = opt_region_db ? opt_region_db : getenv("MERIDIAN_REGION_DB");
    int exists;
    if (mer_store_locate(catalog_db, region_db) != 0)
        mer_die("--catalog-db takes a postgresql:// URL and --region-db name=URL,... (postgresql:// URLs)");
    const char *hub_db = opt_hub_db ? opt_hub_db : getenv("MERIDIAN_HUB_DB");
    if (mer_store_locate_hub(hub_db) != 0)
        mer_die("--hub-db takes a postgresql:// URL");
    if (hub_db && *hub_db && !mer_store_catalog_remote())
        mer_die("--hub-db needs --catalog-db: the region's replica of the catalogue (meridian replica)");
    if (mode == STORE_CREATE) {
        ensure_dir(data);
    } else if ((exists = mer_store_exists(data)) < 0) {
        mer_die("cannot reach the catalogue database %s (PostgreSQL's answer is above); not started",
                mer_db_redact(catalog_db));
    } else if (exists == 0) {
        if (mer_store_catalog_remote())
            mer_die("no Meridian store in the catalogue database (--catalog-db): create one with `meridian seed`");
        mer_die("no Meridian store in %s (no catalog.db): create one with `meridian seed --data %s`", data, data);
    }
    if (mer_store_init(data) != 0)
        mer_die("cannot open the catalogue database in %s", data);
    if (mer_countries_init(mer_store_write_begin(MER_STORE_CATALOG), regions, region_urls, self_url) != 0)
        mer_die("cannot load countries and regions");
    mer_store_write_end(MER_STORE_CATALOG);
    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; open_regions && i < cs->nregions; i++)
        if (cs->regions[i].local && mer_store_open_region(cs->regions[i].name) != 0)
            mer_die("cannot open the database of region %s", cs->regions[i].name);
}

static void close_store(void)
{
    mer_catalog_shutdown();
    mer_countries_shutdown();
    mer_store_shutdown();
}

/* Seeds an empty store; region databases (demo warehouses and stock) only for regions in `only`. */
static int do_seed_if_empty(const char *data, bool open_regions, const char *only)
{
    int seeded = 0;
    if (mer_seed(&seeded) != 0)
        mer_die("seeding %s failed", data);
    if (seeded) {
        if (mer_catalog_init() != 0)
            mer_die("cannot load the catalogue");
        const mer_countries_t *cs = mer_countries();
        for (size_t i = 0; open_regions && i < cs->nregions; i++) {
            const char *name = cs->regions[i].name;
            if (!cs->regions[i].local || (only && *only && !mer_list_has(only, name)))
                continue;
            if (mer_store_open_region(name) != 0)
                mer_die("cannot open the database of region %s", name);
            mer_db_t *db = mer_store_write_begin(name);
            int err = mer_db_begin(db);
            if (err == 0)
                err = mer_inventory_seed(db, name, 500);
            if (err == 0)
                err = mer_db_commit(db);
            else
                mer_db_rollback(db);
            mer_store_write_end(name);
            if (err)
                mer_die("cannot seed the stock of region %s", name);
        }
        mer_log_info("seeded demo data into %s", data);
    }
    return seeded;
}

/* ---- the modules `serve` runs ---- */

/*
 * Every module of a serving node (module.h), in start-up order: the http layer's own endpoints, the
 * store's writers (running before anything can submit a write), the offload pool, then the domains.
 * Route tables are tried in this order too. Modules that stop in the same phase do not depend on each
 * other's stopping.
 */
static const mer_module_t *const mer_modules[] = {
    &mer_http_module,    &mer_store_module,   &mer_offload_module, &mer_region_module,
    &mer_catalog_module, &mer_account_module, &mer_cart_module,    &mer_inventory_module,
    &mer_order_module,   &mer_payment_module, &mer_invoice_module, &mer_events_module,
    &mer_flash_module,   &mer_media_module,   &mer_launch_module,  &mer_web_module,
};
static const mer_cycle_t serve_cycle = {mer_modules, MER_ARRAY_LEN(mer_modules)};

/*
 * Starts every module of the cycle in table order (init, then its routes) and hands the server their
 * thread hooks and their stop hooks, phase by phase. The store is open and the catalogue loaded.
 */
static void modules_start(const mer_cycle_t *cycle)
{
    for (size_t i = 0; i < cycle->n; i++) {
        const mer_module_t *m = cycle->modules[i];
        if (m->init && m->init(cycle) != 0)
            mer_die("cannot start module %s", m->name);
        for (const mer_routes_t *const *t = m->routes; t && *t; t++)
            mer_router_add((*t)->table, (*t)->n);
        if (m->thread_start)
            mer_server_on_thread_start(m->thread_start);
        if (m->thread_exit)
            mer_thread_on_exit(m->thread_exit);
    }
    /* every module has registered its handlers of other nodes' changes (store/notify.h): listen */
    if (mer_notify_start() != 0)
        mer_die("cannot start listening for other nodes' changes");
    for (int phase = 0; phase < MER_STOP__COUNT; phase++)
        for (size_t i = 0; i < cycle->n; i++)
            if (cycle->modules[i]->stop && cycle->modules[i]->stop_phase == (mer_stop_phase_t)phase)
                mer_server_on_stop(cycle->modules[i]->stop);
}

/* After the server has stopped and joined its workers: each module's release, in reverse table order. */
static void modules_release(const mer_cycle_t *cycle)
{
    for (size_t i = cycle->n; i-- > 0;)
        if (cycle->modules[i]->release)
            cycle->modules[i]->release();
}

static int cmd_serve(int argc, char **argv)
{
    mer_server_config_t cfg = {.host = "127.0.0.1",
                               .port = 8080,
                               .threads = 0,
                               .max_body = 1 << 20,
                               .idle_timeout_ms = 30000,
                               .grace_ms = 10000,
                               .access_log = NULL,
                               .max_connections = 0,
                               .on_low_error = mer_http_low_error};
    const char *data = "data", *regions = "", *public_url = NULL, *region_urls = NULL, *wallet_url = NULL,
               *redis_url = NULL;
    int64_t port = 8080, threads = 0, max_body = cfg.max_body, idle_ms = (int64_t)cfg.idle_timeout_ms;
    int64_t max_conns = 0, media_grace = MER_MEDIA_GRACE_S;
    mer_events_config_t events = {.retry_base_ms = 1000, .webhook_timeout_ms = 10000};
    bool seed = false, allow_loopback = false, allow_private = false;
    const char *env_port = getenv("PORT");
    if (env_port && mer_parse_int64(env_port, strlen(env_port), 1, 65535, &port) != 0)
        mer_die("PORT must be 1..65535");
    const cli_opt_t opts[] = {
        {"port", OPT_INT, &port, 0, 65535, "N", "TCP port (default $PORT or 8080; 0 picks a free one)"},
        {"host", OPT_STR, &cfg.host, 0, 0, "ADDR", "listen address (default 127.0.0.1)"},
        OPT_DATA(&data),
        {"regions", OPT_STR, &regions, 0, 0, "LIST",
         "regions this node serves, e.g. in,eu (default: all; none: a catalogue hub's node)"},
        {"hub-db", OPT_STR, &opt_hub_db, 0, 0, "URL",
         "the catalogue hub's database: --catalog-db is this region's replica, catalogue writes go to the hub "
         "(default $MERIDIAN_HUB_DB)"},
        {"threads", OPT_INT, &threads, 0, 64, "N", "worker threads (default: one per core)"},
        {"public-url", OPT_STR, &public_url, 0, 0, "URL",
         "this node's URL as clients see it (default http://HOST:PORT)"},
        {"region-urls", OPT_STR, &region_urls, 0, 0, "LIST", "name=url,... where other regions are served"},
        {"trusted-proxy", OPT_STR, &cfg.trusted_proxies, 0, 0, "LIST",
         "addresses of gateways whose X-Forwarded-For names the client (default: none)"},
        {"access-log", OPT_STR, &cfg.access_log, 0, 0, "PATH", "JSON access log file, '-' for stderr (default: none)"},
        {"max-body", OPT_INT, &max_body, 1024, 64 << 20, "BYTES", "largest request body (default 1048576)"},
        {"idle-timeout", OPT_INT, &idle_ms, 100, 3600000, "MS", "close idle connections after MS (default 30000)"},
        {"max-connections", OPT_INT, &max_conns, 1, 1000000, "N",
         "open connections at most (default: what the fd limit allows, at most 65536); when full, the oldest "
         "idle ones are closed"},
        {"seed", OPT_FLAG, &seed, 0, 0, NULL, "seed demo data first if the data directory holds no store"},
        {"wallet-url", OPT_STR, &wallet_url, 0, 0, "URL", "where the wallet provider takes payments (redirect URLs)"},
        {"redis", OPT_STR, &redis_url, 0, 0, "URL",
         "redis://HOST:PORT[/DB]: flash-sale stock shared by several nodes (default $MERIDIAN_REDIS)"},
        {"event-retry-ms", OPT_INT, &events.retry_base_ms, 10, 3600000, "N",
         "first retry delay of event deliveries (doubles per attempt; default 1000)"},
        {"webhook-timeout-ms", OPT_INT, &events.webhook_timeout_ms, 100, 600000, "N",
         "a webhook delivery's time limit (default 10000; connect: a third)"},
        {"webhook-allow-loopback", OPT_FLAG, &allow_loopback, 0, 0, NULL,
         "let webhooks reach 127/8 and ::1 (local demos and tests)"},
        {"webhook-allow-private", OPT_FLAG, &allow_private, 0, 0, NULL,
         "let webhooks reach private and link-local addresses"},
        {"media-grace", OPT_INT, &media_grace, 0, 3650 * 86400, "S",
         "an image's files outlive the last row naming them by S seconds (default 86400)"},
    };
    cli_parse(&CLI("serve", "", opts), argc, argv, NULL, 0);
    cfg.port = (int)port;
    cfg.threads = (int)threads;
    cfg.max_body = (size_t)max_body;
    cfg.idle_timeout_ms = (uint64_t)idle_ms;
    cfg.max_connections = (int)max_conns;
    events.egress_allow = (allow_loopback ? MER_EGRESS_LOOPBACK : 0) | (allow_private ? MER_EGRESS_PRIVATE : 0);
    char self_url[128];
    if (public_url == NULL) {
        snprintf(self_url, sizeof(self_url), "http://%s:%d", cfg.host, cfg.port);
        public_url = self_url;
    }
    open_store(data, seed ? STORE_CREATE : STORE_EXISTING, regions, region_urls, public_url, true);
    if (!(seed && do_seed_if_empty(data, true, NULL)) && mer_catalog_init() != 0)
        mer_die("cannot load the catalogue");

    mer_wallet_configure(wallet_url);
    mer_media_configure(media_grace);
    if (mer_flash_configure_redis(redis_url ? redis_url : getenv("MERIDIAN_REDIS")) != 0)
        mer_die("--redis takes a URL redis://HOST:PORT[/DB]");
    mer_events_configure(&events);
    modules_start(&serve_cycle);

    int rc = mer_server_run(&cfg, mer_http_dispatch); /* runs the modules' stop hooks on every path */
    modules_release(&serve_cycle);
    close_store();
    return rc == 0 ? 0 : 1;
}

/* ---- the modules `gateway` runs: the edge has no store and no domain ---- */

static const mer_module_t *const gateway_modules[] = {&mer_gateway_module};
static const mer_cycle_t gateway_cycle = {gateway_modules, MER_ARRAY_LEN(gateway_modules)};

static int cmd_gateway(int argc, char **argv)
{
    mer_server_config_t cfg = {.host = "127.0.0.1",
                               .port = 8000,
                               .max_body = 1 << 20,
                               .idle_timeout_ms = 30000,
                               .grace_ms = 10000,
                               .on_low_error = mer_http_low_error,
                               .setup = mer_gateway_setup};
    mer_gateway_config_t gcfg = {.health_interval_ms = 1000,
                                 .refresh_ms = 60000,
                                 .upstream_timeout_ms = 10000,
                                 .route_ttl_s = 300,
                                 .rate = 0,
                                 .burst = 0,
                                 .cache_ttl_ms = 1000,
                                 .cache_mb = 64};
    const char *regions_v[MER_GW_MAX_REGIONS];
    cli_multi_t regions = {regions_v, 0, MER_GW_MAX_REGIONS};
    int64_t port = 8000, threads = 0, max_body = cfg.max_body, max_conns = 0;
    const char *env_port = getenv("PORT");
    if (env_port && mer_parse_int64(env_port, strlen(env_port), 1, 65535, &port) != 0)
        mer_die("PORT must be 1..65535");
    const cli_opt_t opts[] = {
        {"port", OPT_INT, &port, 0, 65535, "N", "TCP port (default $PORT or 8000)"},
        {"host", OPT_STR, &cfg.host, 0, 0, "ADDR", "listen address (default 127.0.0.1)"},
        {"region", OPT_MULTI, &regions, 0, 0, "NAME=URL[,URL]",
         "a region and its nodes, once per region (default $MERIDIAN_GATEWAY_REGIONS: in=URL,URL;eu=URL)"},
        {"region-urls", OPT_STR, &gcfg.region_urls, 0, 0, "LIST",
         "name=url,... each region's public URL in /route answers (default: its first node)"},
        {"default-region", OPT_STR, &gcfg.default_region, 0, 0, "NAME",
         "where requests naming no country or region go (default: the first --region)"},
        {"upstream-timeout", OPT_INT, &gcfg.upstream_timeout_ms, 50, 600000, "MS",
         "a node's time to connect, and to each read and write, before the request fails (default 10000)"},
        {"health-interval", OPT_INT, &gcfg.health_interval_ms, 20, 600000, "MS",
         "between two health checks of a node (default 1000)"},
        {"refresh-interval", OPT_INT, &gcfg.refresh_ms, 100, 86400000, "MS",
         "between two loads of the country list from a node (default 60000)"},
        {"route-ttl", OPT_INT, &gcfg.route_ttl_s, 0, 86400, "S", "the TTL of /api/v1/route answers (default 300)"},
        {"rate", OPT_INT, &gcfg.rate, 0, 10000000, "N", "requests per second per client address (default 0: no limit)"},
        {"burst", OPT_INT, &gcfg.burst, 0, 10000000, "N",
         "requests a client may send at once above --rate (default: --rate)"},
        {"cache-ttl-ms", OPT_INT, &gcfg.cache_ttl_ms, 0, 3600000, "MS",
         "the edge cache: the longest a public catalogue answer is served from the gateway, within the node's "
         "max-age (default 1000; 0: no cache)"},
        {"cache-mb", OPT_INT, &gcfg.cache_mb, 1, 65536, "MB", "the edge cache's memory over all threads (default 64)"},
        {"threads", OPT_INT, &threads, 0, 64, "N", "worker threads (default: one per core)"},
        {"access-log", OPT_STR, &cfg.access_log, 0, 0, "PATH", "JSON access log file, '-' for stderr (default: none)"},
        {"max-body", OPT_INT, &max_body, 1024, 64 << 20, "BYTES", "largest request body (default 1048576)"},
        {"max-connections", OPT_INT, &max_conns, 1, 1000000, "N", "open client connections at most"},
    };
    cli_parse(&CLI("gateway", "", opts), argc, argv, NULL, 0);
    /* $MERIDIAN_GATEWAY_REGIONS: the --region values separated by ';' */
    char *env_regions =
        regions.n == 0 && getenv("MERIDIAN_GATEWAY_REGIONS") ? mer_xstrdup(getenv("MERIDIAN_GATEWAY_REGIONS")) : NULL;
    for (char *p = env_regions, *semi; p && *p && regions.n < regions.max; p = semi ? semi + 1 : p + strlen(p)) {
        semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        if (*p)
            regions.v[regions.n++] = p;
    }
    memcpy(gcfg.regions, regions.v, sizeof(regions.v[0]) * (size_t)regions.n);
    gcfg.nregions = regions.n;
    if (gcfg.burst == 0)
        gcfg.burst = gcfg.rate;
    cfg.port = (int)port;
    cfg.threads = (int)threads;
    cfg.max_body = (size_t)max_body;
    cfg.max_connections = (int)max_conns;
    gcfg.threads = (int)threads;
    mer_gateway_configure(&gcfg);
    modules_start(&gateway_cycle);
    int rc = mer_server_run(&cfg, mer_gateway_handle);
    modules_release(&gateway_cycle);
    free(env_regions);
    return rc == 0 ? 0 : 1;
}

static int cmd_seed(int argc, char **argv)
{
    const char *data = "data", *regions = "";
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"regions", OPT_STR, &regions, 0, 0, "LIST", "seed stock only for these regions, e.g. in,eu (default: all)"},
    };
    cli_parse(&CLI("seed", "", opts), argc, argv, NULL, 0);
    open_store(data, STORE_CREATE, "", NULL, NULL, false);
    int seeded = do_seed_if_empty(data, true, regions);
    if (!seeded)
        printf("%s already holds data; nothing seeded\n", data);
    else
        printf("seeded demo data into %s\n", data);
    close_store();
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    const char *data = "data";
    const cli_opt_t opts[] = {OPT_DATA(&data)};
    cli_parse(&CLI("migrate", "", opts), argc, argv, NULL, 0);
    open_store(data, STORE_EXISTING, "", NULL, NULL, true);
    printf("databases in %s are at the current schema\n", data);
    close_store();
    return 0;
}

/* A region's replica of the catalogue: publication on the hub, subscription in the region (store/replica.h). */
static int cmd_replica(int argc, char **argv)
{
    const char *copy_url = NULL, *hub = NULL, *name = NULL;
    int64_t wait_ms = 60000;
    const cli_opt_t opts[] = {
        {"catalog-db", OPT_STR, &copy_url, 0, 0, "URL", "the region's copy of the catalogue (an empty database)"},
        {"hub-db", OPT_STR, &hub, 0, 0, "URL", "the hub's catalogue, as the region's database server reaches it"},
        {"name", OPT_STR, &name, 0, 0, "NAME", "the region's subscription (one name per region: in, eu, ...)"},
        {"wait-ms", OPT_INT, &wait_ms, 0, 3600000, "MS",
         "wait this long for the initial copy (default 60000; 0: do not wait)"},
    };
    const cli_cmd_t cmd = CLI("replica", "", opts);
    cli_parse(&cmd, argc, argv, NULL, 0);
    if (copy_url == NULL || hub == NULL || name == NULL || !mer_db_is_url(copy_url) || !mer_db_is_url(hub)) {
        fputs("meridian replica: --catalog-db URL, --hub-db URL and --name NAME are required (postgresql:// URLs)\n",
              stderr);
        cli_usage(stderr, &cmd);
        return 2;
    }
    mer_db_t *hub_db = NULL, *copy = NULL;
    if (mer_db_open(hub, 0, &hub_db) != 0 || mer_replica_publish(hub_db) != 0)
        mer_die("cannot publish the catalogue at the hub (the hub's PostgreSQL needs wal_level=logical)");
    mer_db_close(hub_db);
    int err = mer_db_open(copy_url, 0, &copy);
    if (err == 0 && (err = mer_replica_subscribe(copy, hub, name)) == MER_E_VALIDATION)
        mer_die("--name: 1-32 of a-z, 0-9 and _");
    if (err)
        mer_die("cannot subscribe the region's catalogue to the hub");
    if (wait_ms > 0 && mer_replica_wait(copy, name, (int)wait_ms) != 0)
        mer_die("the initial copy of the catalogue did not finish within %lld ms", (long long)wait_ms);
    mer_db_close(copy);
    printf("region %s: its catalogue replicates the hub's%s\n", name, wait_ms > 0 ? " (initial copy done)" : "");
    return 0;
}

static int cmd_load_users(int argc, char **argv)
{
    const char *data = "data", *country = NULL, *prefix = "load", *address = NULL;
    int64_t count = 0;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"country", OPT_STR, &country, 0, 0, "CC", "the customers' country (required)"},
        {"count", OPT_INT, &count, 1, 10000000, "N", "how many customers (required)"},
        {"prefix", OPT_STR, &prefix, 0, 0, "P", "their emails are <P><n>@load.test (default load)"},
        {"address", OPT_STR, &address, 0, 0, "JSON", "a default address for each, as the address API takes it"},
    };
    const cli_cmd_t cmd = CLI("admin load-users", "", opts);
    cli_parse(&cmd, argc, argv, NULL, 0);
    if (country == NULL || count == 0) {
        fputs("meridian admin load-users: --country and --count are required\n", stderr);
        cli_usage(stderr, &cmd);
        return 2;
    }
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    mer_auth_init();
    const mer_country_t *ct = mer_country_find(mer_countries(), country, strlen(country));
    if (ct == NULL)
        mer_die("unknown country %s", country);
    if (mer_store_open_region(ct->region) != 0 || mer_catalog_init() != 0)
        mer_die("cannot open region %s", ct->region);
    json_error_t jerr;
    json_t *addr = address ? json_loads(address, 0, &jerr) : NULL;
    if (address && !json_is_object(addr))
        mer_die("--address is not a JSON object");
    mer_db_t *db = mer_store_write_begin(ct->region);
    int err = mer_account_bulk_create(db, ct, count, prefix, "load-test password", addr, stdout);
    mer_store_write_end(ct->region);
    json_decref(addr);
    close_store();
    if (err)
        mer_die("creating load-test users failed (duplicate prefix?)");
    return 0;
}

/*
 * Load-test helper: records N reservations (users U..U+N-1) for a flash-sale session, as if they had
 * reserved through the API. Used by `make bench` to measure memory per reservation.
 */
static int cmd_flash_reserve(int argc, char **argv)
{
    const char *data = "data", *country = NULL;
    int64_t session = 0, count = 0, first = 1;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"country", OPT_STR, &country, 0, 0, "CC", "the sale's country (required)"},
        {"session", OPT_INT, &session, 1, INT64_MAX, "SID", "the flash-sale session (required)"},
        {"count", OPT_INT, &count, 1, 100000000, "N", "how many reservations (required)"},
        {"first-user", OPT_INT, &first, 1, INT64_MAX, "U", "the first user id (default 1)"},
    };
    const cli_cmd_t cmd = CLI("admin flash-reserve", "", opts);
    cli_parse(&cmd, argc, argv, NULL, 0);
    if (country == NULL || session == 0 || count == 0) {
        fputs("meridian admin flash-reserve: --country, --session and --count are required\n", stderr);
        cli_usage(stderr, &cmd);
        return 2;
    }
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    const mer_country_t *ct = mer_country_find(mer_countries(), country, strlen(country));
    if (ct == NULL || mer_store_open_region(ct->region) != 0)
        mer_die("unknown country %s", country);
    mer_db_t *db = mer_store_write_begin(ct->region);
    int64_t now = mer_now_unix_ms();
    int err = mer_db_begin(db);
    for (int64_t u = first; err == 0 && u < first + count; u++)
        if (mer_db_exec(db,
                        "INSERT OR IGNORE INTO flash_reservation (session_id, user_id, created_at) VALUES (?, ?, ?)",
                        "iii", session, u, now) < 0)
            err = MER_E_INTERNAL;
    if (err == 0)
        err = mer_db_commit(db);
    else
        mer_db_rollback(db);
    mer_store_write_end(ct->region);
    close_store();
    if (err)
        mer_die("recording reservations failed");
    printf("%lld reservations recorded for session %lld\n", (long long)count, (long long)session);
    return 0;
}

static int cmd_provider_secret(int argc, char **argv)
{
    const char *data = "data", *provider = NULL;
    bool rotate = false;
    int64_t keep_h = -1;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"rotate", OPT_FLAG, &rotate, 0, 0, NULL, "make a new secret; the previous one still verifies for a while"},
        {"keep-previous-hours", OPT_INT, &keep_h, 0, 24 * 7, "H",
         "with --rotate: hours the previous secret keeps verifying (default 24; 0 stops it at once)"},
    };
    cli_parse(&CLI("admin provider-secret", "PROVIDER", opts), argc, argv, &provider, 1);
    if (strcmp(provider, "wallet") != 0)
        mer_die("provider %s takes no webhooks; only wallet has a secret", provider);
    if (keep_h >= 0 && !rotate)
        mer_die("--keep-previous-hours only goes with --rotate");
    if (keep_h < 0)
        keep_h = 24;
    char secret[80];
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = rotate ? mer_payment_secret_rotate(db, provider, keep_h * 3600 * 1000, secret)
                     : mer_payment_secret(db, provider, secret);
    mer_store_write_end(MER_STORE_CATALOG);
    close_store();
    if (err)
        mer_die("cannot %s the secret of provider %s", rotate ? "rotate" : "read", provider);
    if (rotate)
        fprintf(stderr, "rotated: the previous %s secret verifies webhooks for %lld more hours\n", provider,
                (long long)keep_h);
    printf("%s\n", secret);
    return 0;
}

/* Lower-cases an email in place: staff are stored as normalised by login. */
static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static int cmd_staff_token(int argc, char **argv)
{
    const char *data = "data", *email = NULL, *role = NULL, *countries = NULL;
    int64_t ttl = 30;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"email", OPT_STR, &email, 0, 0, "E", "the staff member (default admin@localhost, an admin)"},
        {"role", OPT_STR, &role, 0, 0, "ROLE", "admin or operator: for a new staff member; must match a known one"},
        {"countries", OPT_STR, &countries, 0, 0, "IN,SG", "an operator's countries (required with --role operator)"},
        {"ttl-days", OPT_INT, &ttl, 1, 3650, "N", "days the token is valid (default 30)"},
    };
    cli_parse(&CLI("admin token", "", opts), argc, argv, NULL, 0);
    if (email == NULL && (role || countries))
        mer_die("admin token: --role and --countries describe a staff member: name them with --email "
                "(without --email the token is admin@localhost's, an admin)");
    char mail[256];
    snprintf(mail, sizeof(mail), "%s", email ? email : "admin@localhost");
    lower_ascii(mail);
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    mer_auth_init();
    char token[MER_TOKEN_MAX];
    const char *why = NULL;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_staff_issue_token(db, mail, role, countries, (int)ttl, token, &why);
    mer_store_write_end(MER_STORE_CATALOG);
    close_store();
    if (err)
        mer_die("admin token: %s: %s", mail, why);
    printf("%s\n", token);
    return 0;
}

static int cmd_staff_create(int argc, char **argv)
{
    const char *data = "data", *email = NULL, *role = NULL, *countries = NULL;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"email", OPT_STR, &email, 0, 0, "E", "the staff member's email (required)"},
        {"role", OPT_STR, &role, 0, 0, "ROLE", "admin or operator (default: admin if new, else unchanged)"},
        {"countries", OPT_STR, &countries, 0, 0, "IN,SG", "an operator's countries (required with --role operator)"},
    };
    const cli_cmd_t cmd = CLI("admin create", "", opts);
    cli_parse(&cmd, argc, argv, NULL, 0);
    if (email == NULL) {
        fputs("meridian admin create: --email is required\n", stderr);
        cli_usage(stderr, &cmd);
        return 2;
    }
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    char pw[200];
    if (fgets(pw, sizeof(pw), stdin) == NULL)
        mer_die("admin create: no password on standard input");
    pw[strcspn(pw, "\r\n")] = '\0';
    const char *why = NULL;
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_staff_create(db, email, pw, role, countries, &why);
    mer_store_write_end(MER_STORE_CATALOG);
    sodium_memzero(pw, sizeof(pw));
    close_store();
    if (err)
        mer_die("admin create: %s: %s", email, why);
    printf("staff %s can now log in at POST /api/v1/staff/sessions\n", email);
    return 0;
}

/*
 * The launch plan of a new country, as POST /api/v1/admin/countries/{code}/launch-plan answers it: reads
 * the request (the same JSON body) from a file or standard input, prints the plan, changes nothing.
 */
static int cmd_launch_plan(int argc, char **argv)
{
    const char *data = "data", *code = NULL, *request = "-";
    bool summary = false;
    const cli_opt_t opts[] = {
        OPT_DATA(&data),
        {"request", OPT_STR, &request, 0, 0, "FILE", "the request body (JSON; default '-': standard input)"},
        {"summary", OPT_FLAG, &summary, 0, 0, NULL, "print the plan without its SKU lines"},
    };
    cli_parse(&CLI("launch-plan", "CODE", opts), argc, argv, &code, 1);
    json_error_t jerr;
    json_t *body = strcmp(request, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(request, 0, &jerr);
    if (body == NULL)
        mer_die("launch-plan: %s: line %d: %s", request, jerr.line, jerr.text);
    open_store(data, STORE_EXISTING, "", NULL, NULL, false);
    if (mer_catalog_init() != 0)
        mer_die("cannot load the catalogue");
    mer_launch_in_t in = {0};
    mer_launch_plan_t plan = {0};
    mer_verr_t e = {0};
    int err = mer_launch_parse(body, code, mer_countries(), false, &in, &e);
    if (err == 0) {
        const mer_catalog_t *cat = mer_catalog_lock();
        err = mer_launch_plan(&in, cat, &plan, &e);
        mer_catalog_unlock();
    }
    if (err == 0) {
        if (summary)
            json_object_del(plan.json, "skus");
        char *out = json_dumps(plan.json, JSON_INDENT(2));
        printf("%s\n", out);
        free(out);
    } else {
        fprintf(stderr, "meridian launch-plan: %s%s%s\n", e.field, e.field[0] ? ": " : "",
                e.message[0] ? e.message : mer_err_message(err));
    }
    mer_launch_plan_release(&plan);
    mer_launch_in_release(&in);
    json_decref(body);
    close_store();
    return err ? 1 : 0;
}

static int cmd_version(int argc, char **argv)
{
    cli_parse(&(cli_cmd_t){"version", "", NULL, 0}, argc, argv, NULL, 0);
    printf("meridian %s\n", VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

/* Every command, in the order `meridian help` lists them. */
static const struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command's last word */
} commands[] = {
    {"serve", "serve the store over HTTP", cmd_serve},
    {"gateway", "the edge: route each request to its region's nodes, balance, health-check, rate-limit", cmd_gateway},
    {"seed", "write demo data into a data directory without a store (creates it)", cmd_seed},
    {"migrate", "bring every database of an existing store to the current schema", cmd_migrate},
    {"replica", "subscribe a region's copy of the catalogue to the hub's (PostgreSQL logical replication)",
     cmd_replica},
    {"admin token", "issue a bearer token to a staff member (creating an admin or operator if new)", cmd_staff_token},
    {"admin create", "create a staff member who logs in with a password (read from standard input)", cmd_staff_create},
    {"admin provider-secret", "print the secret a payment provider signs its webhooks with", cmd_provider_secret},
    {"admin load-users", "load tests: create many customers with session tokens (printed one a line)", cmd_load_users},
    {"admin flash-reserve", "load tests: record many reservations for a flash-sale session", cmd_flash_reserve},
    {"launch-plan", "plan the launch of a new country from a template (prints the plan; changes nothing)",
     cmd_launch_plan},
    {"version", "print the version", cmd_version},
    {"help", "list the commands; `meridian COMMAND --help` shows a command's options", cmd_help},
};

static const char *cli_summary(const char *name)
{
    for (size_t i = 0; i < MER_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].summary;
    return "";
}

static void list_commands(FILE *f)
{
    fputs("usage: meridian <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < MER_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-22s %s\n", commands[i].name, commands[i].summary);
    fputs("\n`meridian COMMAND --help` shows a command's options.\n", f);
}

static int cmd_help(int argc, char **argv)
{
    cli_parse(&(cli_cmd_t){"help", "", NULL, 0}, argc, argv, NULL, 0);
    list_commands(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    /* A command is one word ("serve") or two ("admin token"); the longest match wins. */
    for (size_t i = 0; argc >= 2 && i < MER_ARRAY_LEN(commands); i++) {
        const char *name = commands[i].name, *sp = strchr(name, ' ');
        if (sp == NULL && strcmp(argv[1], name) == 0)
            return commands[i].run(argc - 1, argv + 1);
        if (sp && argc >= 3 && strncmp(argv[1], name, (size_t)(sp - name)) == 0 && argv[1][sp - name] == '\0' &&
            strcmp(argv[2], sp + 1) == 0)
            return commands[i].run(argc - 2, argv + 2);
    }
    if (argc >= 2)
        fprintf(stderr, "meridian: unknown command: %s%s%s\n\n", argv[1],
                argc >= 3 && !strcmp(argv[1], "admin") ? " " : "",
                argc >= 3 && !strcmp(argv[1], "admin") ? argv[2] : "");
    list_commands(stderr);
    return 2;
}
