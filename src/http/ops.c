/*
 * ops.c — operations endpoints: /healthz (the process answers), /readyz (its databases answer),
 * /metrics (Prometheus text format).
 */
#include <stdio.h>

#include "catalog/catalog.h"
#include "core/buf.h"
#include "http/access.h"
#include "http/ops.h"
#include "http/rcache.h"
#include "region/country.h"
#include "store/store.h"
#include "core/banned.h"

static int64_t started_ms;

#define MAX_EXTRA 16
static void (*extra_fns[MAX_EXTRA])(mer_buf_t *);
static size_t nextra;

static void h_healthz(mer_req_t *r)
{
    mer_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* Does the database of region (MER_STORE_CATALOG = catalog.db) answer? Records it under name in checks. */
static bool check_db(json_t *checks, const char *name, const char *region)
{
    int64_t one = 0;
    mer_db_t *db = mer_store_reader(region);
    bool ok = db && mer_db_query_int(db, &one, "SELECT 1", NULL) == 0;
    json_object_set_new(checks, name, json_string(ok ? "ok" : "failing"));
    return ok;
}

static void h_readyz(mer_req_t *r)
{
    const mer_countries_t *cs = mer_countries();
    json_t *checks = json_object();
    bool ok = check_db(checks, "catalog", MER_STORE_CATALOG);
    for (size_t i = 0; i < cs->nregions; i++)
        if (cs->regions[i].local)
            ok = check_db(checks, cs->regions[i].name, cs->regions[i].name) && ok;
    mer_reply_json(r, ok ? 200 : 503, json_pack("{s:s,s:o}", "status", ok ? "ready" : "not_ready", "checks", checks));
}

static void h_metrics(mer_req_t *r)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_access_metrics(&b);
    mer_buf_printf(&b,
                   "# HELP meridian_http_inflight Requests being handled.\n# TYPE meridian_http_inflight gauge\n"
                   "meridian_http_inflight %ld\n",
                   mer_server_inflight());
    mer_buf_printf(&b,
                   "# HELP meridian_response_cache_total Cached GET answers served (hit) or built (miss).\n"
                   "# TYPE meridian_response_cache_total counter\n"
                   "meridian_response_cache_total{result=\"hit\"} %llu\n"
                   "meridian_response_cache_total{result=\"miss\"} %llu\n",
                   (unsigned long long)mer_rcache_hits(), (unsigned long long)mer_rcache_misses());
    const mer_catalog_t *cat = mer_catalog_lock();
    size_t nproducts = cat->nproducts;
    mer_catalog_unlock();
    mer_buf_printf(&b,
                   "# HELP meridian_catalog_products Products in the catalogue.\n# TYPE meridian_catalog_products gauge\n"
                   "meridian_catalog_products %zu\n"
                   "# HELP meridian_countries Countries configured.\n# TYPE meridian_countries gauge\n"
                   "meridian_countries %zu\n"
                   "# HELP meridian_uptime_seconds Seconds since start.\n# TYPE meridian_uptime_seconds gauge\n"
                   "meridian_uptime_seconds %lld\n",
                   nproducts, mer_countries()->n, (long long)((mer_now_unix_ms() - started_ms) / 1000));
    for (size_t i = 0; i < nextra; i++)
        extra_fns[i](&b);
    char *body = mer_req_strdup(r, mer_buf_str(&b), b.len);
    size_t len = b.len;
    mer_buf_release(&b);
    mer_reply_bytes(r, 200, "text/plain; version=0.0.4", body, len);
}

void mer_ops_add_metrics(void (*fn)(mer_buf_t *out))
{
    if (nextra < MAX_EXTRA)
        extra_fns[nextra++] = fn;
}

static const mer_route_t routes[] = {
    {"GET", "/healthz", h_healthz, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/readyz", h_readyz, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/metrics", h_metrics, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};

void mer_ops_init(void)
{
    started_ms = mer_now_unix_ms();
    mer_router_add(routes, MER_ARRAY_LEN(routes));
}
