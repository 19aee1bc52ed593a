/*
 * access.c — per-route request metrics and the access-log line (see access.h).
 *
 * Each worker owns a worker_stats_t, allocated on its first request (when every route is registered) and
 * published with a release store; only the owner writes it, the /metrics scrape reads every worker's and
 * sums. Statuses are kept per route in a small table filled in order of first appearance: a slot's count
 * is written before its status is published (release), so a reader that sees the status (acquire) reads
 * a valid count. The tables are never freed while the process runs.
 */
#include "http/access.h"

#include <stdio.h>
#include <sys/time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "http/req.h"
#include "core/banned.h"

#define STATUS_SLOTS 16 /* distinct statuses per route and worker; more are counted as unrecorded */

/* Request latency, in nanoseconds: 100 µs .. 10 s. */
static const uint64_t latency_bounds[] = {100000,     250000,     500000,     1000000,    2500000,   5000000,
                                          10000000,   25000000,   50000000,   100000000,  250000000, 500000000,
                                          1000000000, 2500000000, 5000000000, 10000000000};
static const mer_hist_spec_t latency_spec = MER_HIST_SPEC(latency_bounds, 9);

typedef struct route_stats {
    mer_hist_t latency;
    _Atomic uint32_t status[STATUS_SLOTS]; /* status + 1 (so that 0, no answer, is a status); 0 = free */
    _Atomic uint64_t count[STATUS_SLOTS];
} route_stats_t;

typedef struct worker_stats {
    size_t nroutes;              /* routes registered when allocated; route[nroutes] is "unmatched" */
    _Atomic uint64_t unrecorded; /* answers whose route had no free status slot left */
    route_stats_t route[];
} worker_stats_t;

static _Atomic(worker_stats_t *) workers[MER_MAX_WORKERS];

static worker_stats_t *stats_of(int worker)
{
    worker_stats_t *ws = atomic_load_explicit(&workers[worker], memory_order_relaxed); /* ours: no race */
    if (ws == NULL) {
        size_t n = mer_router_count();
        ws = mer_xcalloc(1, sizeof(*ws) + (n + 1) * sizeof(route_stats_t));
        ws->nroutes = n;
        atomic_store_explicit(&workers[worker], ws, memory_order_release);
    }
    return ws;
}

static void record(int worker, const mer_route_t *route, int status, uint64_t ns)
{
    if (worker < 0 || worker >= MER_MAX_WORKERS)
        return;
    worker_stats_t *ws = stats_of(worker);
    size_t i = route ? mer_router_index(route) : SIZE_MAX;
    route_stats_t *rs = &ws->route[i < ws->nroutes ? i : ws->nroutes];
    mer_hist_observe(&rs->latency, &latency_spec, ns);
    uint32_t key = (uint32_t)status + 1;
    for (int k = 0; k < STATUS_SLOTS; k++) {
        uint32_t have = atomic_load_explicit(&rs->status[k], memory_order_relaxed);
        if (have == key) {
            mer_stat_add(&rs->count[k], 1);
            return;
        }
        if (have == 0) {
            atomic_store_explicit(&rs->count[k], 1, memory_order_relaxed);
            atomic_store_explicit(&rs->status[k], key, memory_order_release);
            return;
        }
    }
    mer_stat_add(&ws->unrecorded, 1);
}

/* ---- the access-log line ---- */

/* The country the request was for, as two upper-case letters, or false. Only well-formed codes are
 * taken from the client, so the field never carries free text. */
static bool request_country(mer_req_t *r, char out[3])
{
    size_t len = 0;
    const char *c = mer_req_query(r, "country");
    if (c)
        len = strlen(c);
    else
        c = mer_req_header(r, "x-country", &len);
    if (c == NULL && json_is_string(json_object_get(r->body, "country"))) {
        c = json_string_value(json_object_get(r->body, "country"));
        len = strlen(c);
    }
    if (c == NULL && r->who.role == MER_ROLE_CUSTOMER) {
        c = r->who.country;
        len = strlen(c);
    }
    if (c == NULL || len != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        char ch = c[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            return false;
        out[i] = ch;
    }
    out[2] = '\0';
    return true;
}

static void log_line(mer_buf_t *b, h2o_req_t *req, mer_req_t *r, int worker, uint64_t ns)
{
    char ts[32];
    mer_format_utc_ms((int64_t)req->processed_at.at.tv_sec * 1000 + req->processed_at.at.tv_usec / 1000, ts);
    mer_buf_printf(b, "{\"ts\":\"%s\",\"type\":\"access\",\"id\":", ts);
    ssize_t rid = r ? -1 : h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1);
    if (r)
        mer_buf_add_json_str(b, r->request_id, strlen(r->request_id));
    else if (rid >= 0)
        mer_buf_add_json_str(b, req->res.headers.entries[rid].value.base, req->res.headers.entries[rid].value.len);
    else
        mer_buf_addstr(b, "null");
    mer_buf_addstr(b, ",\"method\":");
    mer_buf_add_json_str(b, req->input.method.base, MER_MIN(req->input.method.len, 32));
    mer_buf_addstr(b, ",\"path\":");
    mer_buf_add_json_str(b, req->input.path.base, MER_MIN(req->input.path.len, 512));
    mer_buf_addstr(b, ",\"route\":");
    if (r && r->route)
        mer_buf_add_json_str(b, r->route->pattern, strlen(r->route->pattern));
    else
        mer_buf_addstr(b, "null");
    mer_buf_printf(b, ",\"status\":%d,\"bytes\":%zu,\"us\":%llu", req->res.status, req->bytes_sent,
                   (unsigned long long)(ns / 1000));
    char country[3];
    if (r && request_country(r, country))
        mer_buf_printf(b, ",\"country\":\"%s\"", country);
    else
        mer_buf_addstr(b, ",\"country\":null");
    mer_role_t role = r ? r->who.role : MER_ROLE_NONE;
    if (role == MER_ROLE_CUSTOMER)
        mer_buf_printf(b, ",\"account_id\":%lld,\"staff_id\":null", (long long)r->who.id);
    else if (role == MER_ROLE_OPERATOR || role == MER_ROLE_ADMIN)
        mer_buf_printf(b, ",\"account_id\":null,\"staff_id\":%lld", (long long)r->who.id);
    else
        mer_buf_addstr(b, ",\"account_id\":null,\"staff_id\":null");
    char peer[64];
    mer_server_client(req, peer);
    mer_buf_printf(b, ",\"peer\":\"%s\",\"proto\":\"%s\",\"thread\":%d}\n", peer,
                   req->version >= 0x200 ? "h2" : "http/1.1", worker);
}

void mer_access_done(h2o_req_t *req, int worker, mer_buf_t *log)
{
    mer_req_t *r = mer_req_of(req);
    uint64_t ns = 0;
    if (r) {
        uint64_t now = mer_now_mono_ns();
        ns = now > r->started_ns ? now - r->started_ns : 0;
    } else if (req->timestamps.request_begin_at.tv_sec) {
        /* answered by h2o itself, before the router: from h2o's arrival stamp (the loop's cached wall
         * clock, so at worst early by one loop iteration) to now on the real clock */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        int64_t us = (int64_t)(tv.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000 +
                     (tv.tv_usec - req->timestamps.request_begin_at.tv_usec);
        ns = us > 0 ? (uint64_t)us * 1000 : 0;
    }
    record(worker, r ? r->route : NULL, req->res.status, ns);
    if (log)
        log_line(log, req, r, worker, ns);
}

/* ---- /metrics ---- */

typedef struct status_count {
    uint32_t key; /* status + 1 */
    uint64_t n;
} status_count_t;

static void route_labels(mer_buf_t *lb, size_t i)
{
    const mer_route_t *rt = mer_router_at(i);
    mer_buf_reset(lb);
    if (rt) {
        mer_prom_label(lb, "method", rt->method);
        mer_prom_label(lb, "route", rt->pattern);
    } else {
        mer_prom_label(lb, "route", "unmatched");
    }
}

void mer_access_metrics(mer_buf_t *out)
{
    worker_stats_t *ws[MER_MAX_WORKERS];
    size_t nw = 0, nroutes = 0;
    uint64_t unrecorded = 0, classes[6] = {0};
    for (int w = 0; w < MER_MAX_WORKERS; w++) {
        worker_stats_t *s = atomic_load_explicit(&workers[w], memory_order_acquire);
        if (s == NULL)
            continue;
        ws[nw++] = s;
        nroutes = s->nroutes > nroutes ? s->nroutes : nroutes;
        unrecorded += mer_stat_get(&s->unrecorded);
    }
    mer_buf_t lb = MER_BUF_INIT;
    status_count_t *acc = mer_xcalloc(STATUS_SLOTS * (nw ? nw : 1), sizeof(*acc));

    mer_prom_family(out, "meridian_http_requests_total", "counter",
                    "Requests answered, by route template and exact status (0: the client left unanswered).");
    for (size_t i = 0; i <= nroutes; i++) {
        size_t na = 0;
        for (size_t w = 0; w < nw; w++) {
            /* a worker allocated with fewer routes counts route i (>= its nroutes) as unmatched */
            size_t idx = i < ws[w]->nroutes ? i : (i == nroutes ? ws[w]->nroutes : SIZE_MAX);
            if (idx == SIZE_MAX)
                continue;
            route_stats_t *rs = &ws[w]->route[idx];
            for (int k = 0; k < STATUS_SLOTS; k++) {
                uint32_t key = atomic_load_explicit(&rs->status[k], memory_order_acquire);
                if (key == 0)
                    break;
                uint64_t n = mer_stat_get(&rs->count[k]);
                size_t j = 0;
                while (j < na && acc[j].key != key)
                    j++;
                if (j == na)
                    acc[na++] = (status_count_t){key, 0};
                acc[j].n += n;
            }
        }
        for (size_t a = 1; a < na; a++) /* by status, for a stable text */
            for (size_t b = a; b > 0 && acc[b - 1].key > acc[b].key; b--) {
                status_count_t t = acc[b];
                acc[b] = acc[b - 1];
                acc[b - 1] = t;
            }
        if (na)
            route_labels(&lb, i < nroutes ? i : SIZE_MAX);
        for (size_t a = 0; a < na; a++) {
            int status = (int)acc[a].key - 1;
            mer_buf_printf(out, "meridian_http_requests_total{%s,status=\"%d\"} %llu\n", mer_buf_str(&lb), status,
                           (unsigned long long)acc[a].n);
            if (status / 100 >= 1 && status / 100 <= 5)
                classes[status / 100] += acc[a].n;
        }
    }

    mer_prom_family(out, "meridian_http_request_duration_seconds", "histogram",
                    "Time from a request reaching the router to the end of its answer, by route template.");
    for (size_t i = 0; i <= nroutes; i++) {
        mer_hist_snap_t snap = {0};
        for (size_t w = 0; w < nw; w++) {
            size_t idx = i < ws[w]->nroutes ? i : (i == nroutes ? ws[w]->nroutes : SIZE_MAX);
            if (idx != SIZE_MAX)
                mer_hist_snap_add(&snap, &ws[w]->route[idx].latency, &latency_spec);
        }
        if (mer_hist_snap_count(&snap, &latency_spec) == 0)
            continue;
        route_labels(&lb, i < nroutes ? i : SIZE_MAX);
        mer_prom_hist(out, "meridian_http_request_duration_seconds", mer_buf_str(&lb), &latency_spec, &snap);
    }

    mer_prom_family(out, "meridian_http_responses_total", "counter", "HTTP responses by status class.");
    for (int c = 1; c <= 5; c++)
        mer_buf_printf(out, "meridian_http_responses_total{class=\"%dxx\"} %llu\n", c, (unsigned long long)classes[c]);
    mer_prom_family(out, "meridian_http_requests_unrecorded_total", "counter",
                    "Requests left out of meridian_http_requests_total: their route had too many distinct statuses.");
    mer_buf_printf(out, "meridian_http_requests_unrecorded_total %llu\n", (unsigned long long)unrecorded);
    free(acc);
    mer_buf_release(&lb);
}
