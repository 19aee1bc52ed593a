/*
 * ops.c — operations endpoints: /healthz (the process answers), /readyz (every module says it can
 * serve), /metrics (Prometheus text format: the http layer's series, then each module's).
 */
#include <stdio.h>

#include "core/buf.h"
#include "http/access.h"
#include "http/ops.h"
#include "http/rcache.h"
#include "http/req.h"
#include "store/store.h"
#include "core/banned.h"

static int64_t started_ms;
static const mer_cycle_t *cycle; /* the modules asked by /metrics and /readyz; set by init */

static void h_healthz(mer_req_t *r)
{
    mer_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* Collects the checks of every module into a JSON object. */
typedef struct ready_json {
    mer_ready_t super;
    json_t *checks;
    bool ok;
} ready_json_t;

static void ready_check(mer_ready_t *self, const char *name, bool ok)
{
    ready_json_t *rj = (ready_json_t *)self;
    json_object_set_new(rj->checks, name, json_string(ok ? "ok" : "failing"));
    rj->ok = rj->ok && ok;
}

/* The modules' checks run on the read pool: they ask the databases. */
static int readyz(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    ready_json_t rj = {{ready_check}, json_object(), true};
    for (size_t i = 0; i < cycle->n; i++)
        if (cycle->modules[i]->ready)
            cycle->modules[i]->ready(&rj.super);
    c->status = rj.ok ? 200 : 503;
    c->result = json_pack("{s:s,s:o}", "status", rj.ok ? "ready" : "not_ready", "checks", rj.checks);
    return 0;
}

static void h_readyz(mer_req_t *r)
{
    mer_call_read(mer_call_new(r, sizeof(mer_call_t)), MER_STORE_CATALOG, readyz);
}

/* Likewise the metrics: some are counted in the databases (the outbox's backlog). */
typedef struct metrics_call {
    mer_call_t c;
    mer_buf_t text;
} metrics_call_t;

static int metrics(mer_db_t *db, mer_call_t *c)
{
    (void)db;
    metrics_call_t *m = (metrics_call_t *)c;
    for (size_t i = 0; i < cycle->n; i++)
        if (cycle->modules[i]->metrics)
            cycle->modules[i]->metrics(&m->text);
    return 0;
}

static void metrics_reply(mer_call_t *c)
{
    metrics_call_t *m = (metrics_call_t *)c;
    char *body = mer_req_strdup(c->r, mer_buf_str(&m->text), m->text.len);
    mer_reply_bytes(c->r, 200, "text/plain; version=0.0.4", body, m->text.len);
}

static void metrics_free(mer_call_t *c)
{
    mer_buf_release(&((metrics_call_t *)c)->text);
}

static void h_metrics(mer_req_t *r)
{
    metrics_call_t *m = mer_call_new(r, sizeof(*m));
    m->text = (mer_buf_t)MER_BUF_INIT;
    m->c.reply = metrics_reply;
    m->c.cleanup = metrics_free;
    mer_call_read(&m->c, MER_STORE_CATALOG, metrics);
}

/* The http layer's own series: requests per route, in flight, the answer cache, connections, uptime. */
static void http_metrics(mer_buf_t *b)
{
    mer_access_metrics(b);
    mer_buf_printf(b,
                   "# HELP meridian_http_inflight Requests being handled.\n# TYPE meridian_http_inflight gauge\n"
                   "meridian_http_inflight %ld\n",
                   mer_server_inflight());
    mer_buf_printf(b,
                   "# HELP meridian_response_cache_total Cached GET answers served (hit) or built (miss).\n"
                   "# TYPE meridian_response_cache_total counter\n"
                   "meridian_response_cache_total{result=\"hit\"} %llu\n"
                   "meridian_response_cache_total{result=\"miss\"} %llu\n",
                   (unsigned long long)mer_rcache_hits(), (unsigned long long)mer_rcache_misses());
    mer_server_metrics(b);
    uint64_t streams, chunks, max_chunk;
    mer_stream_stats(&streams, &chunks, &max_chunk);
    mer_buf_printf(b,
                   "# HELP meridian_stream_answers_total Answers streamed in chunks (exports).\n"
                   "# TYPE meridian_stream_answers_total counter\nmeridian_stream_answers_total %llu\n"
                   "# HELP meridian_stream_chunks_total Chunks of streamed answers sent.\n"
                   "# TYPE meridian_stream_chunks_total counter\nmeridian_stream_chunks_total %llu\n"
                   "# HELP meridian_stream_chunk_max_bytes The largest chunk a streamed answer held in memory.\n"
                   "# TYPE meridian_stream_chunk_max_bytes gauge\nmeridian_stream_chunk_max_bytes %llu\n",
                   (unsigned long long)streams, (unsigned long long)chunks, (unsigned long long)max_chunk);
    mer_buf_printf(b,
                   "# HELP meridian_uptime_seconds Seconds since start.\n# TYPE meridian_uptime_seconds gauge\n"
                   "meridian_uptime_seconds %lld\n",
                   (long long)((mer_now_unix_ms() - started_ms) / 1000));
}

static int http_init(const mer_cycle_t *c)
{
    cycle = c;
    started_ms = mer_now_unix_ms();
    mer_rcache_init();
    return 0;
}

static const mer_route_t routes[] = {
    {"GET", "/healthz", h_healthz, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/readyz", h_readyz, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
    {"GET", "/metrics", h_metrics, MER_AUTH_PUBLIC, 0, MER_IDEM_NONE, MER_RATE_NONE},
};
static const mer_routes_t ops_routes = {routes, MER_ARRAY_LEN(routes)};

const mer_module_t mer_http_module = {
    .name = "http",
    .init = http_init,
    .routes = MER_MODULE_ROUTES(&ops_routes),
    .metrics = http_metrics,
};
