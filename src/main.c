/*
 * main.c — the meridian binary and its sub-commands.
 *
 *   meridian serve   [--port N] [--host ADDR] [--data DIR] [--regions LIST] [--threads N]
 *                    [--public-url URL] [--region-urls name=url,...] [--access-log PATH|-]
 *                    [--max-body BYTES] [--idle-timeout MS] [--seed]
 *   meridian seed    [--data DIR]                 demo countries and catalogue, on an empty store
 *   meridian migrate [--data DIR] [--regions LIST] bring every database to the current schema
 *   meridian admin token [--data DIR] [--email E] [--role admin|operator] [--countries IN,SG] [--ttl-days N]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "account/account.h"
#include "account/auth.h"
#include "cart/cart.h"
#include "http/offload.h"
#include "inventory/inventory.h"
#include "events/events.h"
#include "flashsale/flash.h"
#include "order/coupon.h"
#include "order/order.h"
#include "order/refund.h"
#include "payment/payment.h"
#include "store/writer.h"
#include "catalog/catalog.h"
#include "core/log.h"
#include "http/ops.h"
#include "http/rcache.h"
#include "http/req.h"
#include "region/region_http.h"
#include "seed/seed.h"
#include "store/store.h"
#include "core/banned.h"

#define VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("usage: meridian <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve        serve the store over HTTP\n"
          "  seed         write demo data into an empty data directory\n"
          "  migrate      bring every database to the current schema\n"
          "  admin token  issue a staff bearer token\n"
          "  version      print the version\n"
          "\n"
          "common options:\n"
          "  --data DIR   data directory (default ./data)\n"
          "\n"
          "serve options:\n"
          "  --port N            TCP port (default $PORT or 8080)\n"
          "  --host ADDR         listen address (default 127.0.0.1)\n"
          "  --regions LIST      regions this node serves, e.g. in,eu (default: all)\n"
          "  --threads N         worker threads (default: one per core)\n"
          "  --public-url URL    this node's URL as clients see it (default http://HOST:PORT)\n"
          "  --region-urls LIST  name=url,... where other regions are served\n"
          "  --access-log PATH   JSON access log file, '-' for stderr (default: none)\n"
          "  --max-body BYTES    largest request body (default 1048576)\n"
          "  --idle-timeout MS   close idle connections after MS (default 30000)\n"
          "  --seed              seed demo data first if the data directory is empty\n"
          "  --wallet-url URL    where the wallet provider takes payments (redirect URLs)\n"
          "  --event-retry-ms N  first retry delay of event deliveries (doubles per attempt; default 1000)\n",
          f);
}

static void ensure_dir(const char *dir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        mer_die("cannot create data directory %s: %s", dir, strerror(errno));
}

/* Opens catalog.db, loads regions and countries, and opens the served regions' databases. */
static void open_store(const char *data, const char *regions, const char *region_urls, const char *self_url,
                       bool open_regions)
{
    ensure_dir(data);
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

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},        {"host", required_argument, NULL, 'H'},
        {"data", required_argument, NULL, 'd'},        {"regions", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},     {"public-url", required_argument, NULL, 'u'},
        {"region-urls", required_argument, NULL, 'R'}, {"access-log", required_argument, NULL, 'l'},
        {"max-body", required_argument, NULL, 'b'},    {"idle-timeout", required_argument, NULL, 'i'},
        {"seed", no_argument, NULL, 's'},              {"help", no_argument, NULL, 'h'},
        {"wallet-url", required_argument, NULL, 'W'},  {"event-retry-ms", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0}};
    mer_server_config_t cfg = {.host = "127.0.0.1",
                               .port = 8080,
                               .threads = 0,
                               .max_body = 1 << 20,
                               .idle_timeout_ms = 30000,
                               .grace_ms = 10000,
                               .access_log = NULL};
    const char *data = "data", *regions = "", *public_url = NULL, *region_urls = NULL, *wallet_url = NULL;
    int64_t event_retry_ms = 1000;
    bool seed = false;
    int64_t v;
    const char *env_port = getenv("PORT");
    if (env_port && mer_parse_int64(env_port, strlen(env_port), 1, 65535, &v) == 0)
        cfg.port = (int)v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (mer_parse_int64(optarg, strlen(optarg), 0, 65535, &v) != 0)
                mer_die("--port must be 0..65535");
            cfg.port = (int)v;
            break;
        case 'H':
            cfg.host = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'r':
            regions = optarg;
            break;
        case 't':
            if (mer_parse_int64(optarg, strlen(optarg), 0, 64, &v) != 0)
                mer_die("--threads must be 0..64");
            cfg.threads = (int)v;
            break;
        case 'u':
            public_url = optarg;
            break;
        case 'R':
            region_urls = optarg;
            break;
        case 'l':
            cfg.access_log = optarg;
            break;
        case 'b':
            if (mer_parse_int64(optarg, strlen(optarg), 1024, 64 << 20, &v) != 0)
                mer_die("--max-body must be 1024..67108864");
            cfg.max_body = (size_t)v;
            break;
        case 'i':
            if (mer_parse_int64(optarg, strlen(optarg), 100, 3600000, &v) != 0)
                mer_die("--idle-timeout must be 100..3600000 ms");
            cfg.idle_timeout_ms = (uint64_t)v;
            break;
        case 's':
            seed = true;
            break;
        case 'W':
            wallet_url = optarg;
            break;
        case 'E':
            if (mer_parse_int64(optarg, strlen(optarg), 10, 3600000, &event_retry_ms) != 0)
                mer_die("--event-retry-ms must be 10..3600000");
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    char self_url[128];
    if (public_url == NULL) {
        snprintf(self_url, sizeof(self_url), "http://%s:%d", cfg.host, cfg.port);
        public_url = self_url;
    }
    open_store(data, regions, region_urls, public_url, true);
    if (!(seed && do_seed_if_empty(data, true, NULL)) && mer_catalog_init() != 0)
        mer_die("cannot load the catalogue");

    const mer_countries_t *cs = mer_countries();
    for (size_t i = 0; i < cs->nregions; i++)
        if (cs->regions[i].local && mer_writer_start(cs->regions[i].name) != 0)
            mer_die("cannot start the writer of region %s", cs->regions[i].name);
    mer_offload_start(2);

    mer_auth_init();
    mer_auth_cache_init();
    mer_rcache_init();
    mer_ops_init();
    mer_region_http_init();
    mer_catalog_http_init();
    mer_catalog_admin_init();
    mer_account_init();
    mer_cart_init();
    mer_inventory_init();
    mer_checkout_init();
    mer_order_init();
    mer_refund_init();
    mer_coupon_init();
    mer_wallet_configure(wallet_url);
    mer_payment_http_init();
    mer_events_http_init();
    mer_events_start(event_retry_ms);
    mer_flash_init();
    mer_ops_add_metrics(mer_flash_metrics);
    mer_server_on_thread_exit(mer_store_thread_release);
    mer_server_on_thread_exit(mer_order_thread_release);
    mer_ops_add_metrics(mer_writer_metrics);
    mer_ops_add_metrics(mer_events_metrics);
    /* order matters: stop making new writes, drain the writers, then the pool */
    mer_server_on_stop(mer_order_stop);
    mer_server_on_stop(mer_flash_stop);
    mer_server_on_stop(mer_events_stop);
    mer_server_on_stop(mer_writer_stop_all);
    mer_server_on_stop(mer_offload_stop);

    int rc = mer_server_run(&cfg, mer_http_dispatch); /* runs the stop hooks above on every path */
    mer_auth_cache_release();
    close_store();
    return rc == 0 ? 0 : 1;
}

static const char *data_opt(int argc, char **argv, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--data") == 0)
            return argv[i + 1];
    return def;
}

static int cmd_seed(int argc, char **argv)
{
    const char *data = data_opt(argc, argv, "data");
    const char *regions = "";
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--regions") == 0)
            regions = argv[i + 1];
    open_store(data, "", NULL, NULL, false);
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
    const char *data = data_opt(argc, argv, "data");
    open_store(data, "", NULL, NULL, true);
    printf("databases in %s are at the current schema\n", data);
    close_store();
    return 0;
}

/* meridian admin load-users --data DIR --country IN --count N [--prefix P] [--address JSON] */
static int cmd_load_users(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"country", required_argument, NULL, 'c'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"address", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *data = "data", *country = NULL, *prefix = "load", *address = NULL;
    int64_t count = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'c':
            country = optarg;
            break;
        case 'n':
            if (mer_parse_int64(optarg, strlen(optarg), 1, 10000000, &count) != 0)
                mer_die("--count must be 1..10000000");
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'a':
            address = optarg;
            break;
        default:
            return 2;
        }
    }
    if (country == NULL || count == 0)
        mer_die("usage: meridian admin load-users --data DIR --country CC --count N [--prefix P] [--address JSON]");
    open_store(data, "", NULL, NULL, false);
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
 * meridian admin flash-reserve --data DIR --country IN --session SID --count N [--first-user U]
 * Load-test helper: records N reservations (users U..U+N-1) for a flash-sale session, as if they had
 * reserved through the API. Used by `make bench` to measure memory per reservation.
 */
static int cmd_flash_reserve(int argc, char **argv)
{
    const char *data = data_opt(argc, argv, "data"), *country = NULL;
    int64_t session = 0, count = 0, first = 1;
    for (int i = 1; i + 1 < argc; i++) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--country") == 0)
            country = v;
        else if (strcmp(argv[i], "--session") == 0 && mer_parse_int64(v, strlen(v), 1, INT64_MAX, &session) != 0)
            mer_die("--session must be a session id");
        else if (strcmp(argv[i], "--count") == 0 && mer_parse_int64(v, strlen(v), 1, 100000000, &count) != 0)
            mer_die("--count must be 1..100000000");
        else if (strcmp(argv[i], "--first-user") == 0 && mer_parse_int64(v, strlen(v), 1, INT64_MAX, &first) != 0)
            mer_die("--first-user must be a user id");
    }
    if (country == NULL || session == 0 || count == 0)
        mer_die("usage: meridian admin flash-reserve --data DIR --country CC --session SID --count N [--first-user U]");
    open_store(data, "", NULL, NULL, false);
    const mer_country_t *ct = mer_country_find(mer_countries(), country, strlen(country));
    if (ct == NULL || mer_store_open_region(ct->region) != 0)
        mer_die("unknown country %s", country);
    mer_db_t *db = mer_store_write_begin(ct->region);
    int64_t now = mer_now_unix_ms();
    int err = mer_db_begin(db);
    for (int64_t u = first; err == 0 && u < first + count; u++)
        if (mer_db_exec(db, "INSERT OR IGNORE INTO flash_reservation (session_id, user_id, created_at) VALUES (?, ?, ?)",
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

static int cmd_admin(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "load-users") == 0)
        return cmd_load_users(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "flash-reserve") == 0)
        return cmd_flash_reserve(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "provider-secret") == 0) {
        const char *data = data_opt(argc, argv, "data");
        char secret[80];
        open_store(data, "", NULL, NULL, false);
        mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
        int err = mer_payment_secret(db, argv[2], secret);
        mer_store_write_end(MER_STORE_CATALOG);
        close_store();
        if (err)
            mer_die("cannot read the secret of provider %s", argv[2]);
        printf("%s\n", secret);
        return 0;
    }
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},      {"email", required_argument, NULL, 'e'},
        {"role", required_argument, NULL, 'r'},      {"countries", required_argument, NULL, 'c'},
        {"ttl-days", required_argument, NULL, 't'},  {NULL, 0, NULL, 0}};
    const char *data = "data", *email = "admin@localhost", *role = "admin", *countries = "";
    int64_t ttl = 30;
    bool create = argc >= 2 && strcmp(argv[1], "create") == 0;
    if (argc < 2 || (strcmp(argv[1], "token") != 0 && !create)) {
        fputs("usage: meridian admin token  [--data DIR] [--email E] [--role admin|operator] [--countries IN,SG] "
              "[--ttl-days N]\n"
              "       meridian admin create [--data DIR] --email E [--role admin|operator] [--countries IN,SG]\n"
              "                             (reads the password, 12+ characters, from standard input)\n",
              stderr);
        return 2;
    }
    argc--;
    argv++;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'e':
            email = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 'c':
            countries = optarg;
            break;
        case 't':
            if (mer_parse_int64(optarg, strlen(optarg), 1, 3650, &ttl) != 0)
                mer_die("--ttl-days must be 1..3650");
            break;
        default:
            return 2;
        }
    }
    if (strcmp(role, "admin") != 0 && strcmp(role, "operator") != 0)
        mer_die("--role must be admin or operator");
    open_store(data, "", NULL, NULL, false);
    mer_auth_init();
    if (create) {
        char pw[200];
        if (fgets(pw, sizeof(pw), stdin) == NULL)
            mer_die("no password on standard input");
        pw[strcspn(pw, "\r\n")] = '\0';
        mer_db_t *cdb = mer_store_write_begin(MER_STORE_CATALOG);
        int cerr = mer_staff_create(cdb, email, pw, role, countries);
        mer_store_write_end(MER_STORE_CATALOG);
        memset(pw, 0, sizeof(pw));
        close_store();
        if (cerr)
            mer_die("cannot create %s: the email must be valid and the password at least 12 characters", email);
        printf("staff %s (%s) can now log in at POST /api/v1/staff/sessions\n", email, role);
        return 0;
    }
    char token[MER_TOKEN_MAX];
    mer_db_t *db = mer_store_write_begin(MER_STORE_CATALOG);
    int err = mer_staff_issue_token(db, email, role, countries, (int)ttl, token);
    mer_store_write_end(MER_STORE_CATALOG);
    close_store();
    if (err)
        mer_die("cannot issue a token");
    printf("%s\n", token);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc, argv);
    if (strcmp(cmd, "seed") == 0)
        return cmd_seed(argc, argv);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc, argv);
    if (strcmp(cmd, "admin") == 0)
        return cmd_admin(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("meridian %s\n", VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "meridian: unknown command %s\n", cmd);
    usage(stderr);
    return 2;
}
