/*
 * gateway.c — `meridian gateway`: routing table, health checks, proxying through h2o, edge rate limits.
 * The contract is in gateway.h; the pure decisions (token region, country, limiter) in edge.h.
 *
 * How a request is proxied: mer_gateway_handle() chooses a node and calls h2o_reprocess_request() with
 * overrides naming the node's socket pool, as h2o's own reverse-proxy handler does; h2o's proxy
 * (lib/core/proxy.c) then sends the request and streams the answer back. When the proxy fails before
 * the node answered, it answers 502 itself and logs an error under "lib/core/proxy.c"; the gateway's
 * filter (on_setup_ostream) sees that answer before any byte of it is sent and either
 *   - retries on another node (when gateway.h says it is safe): the 502 is swallowed and the request is
 *     reprocessed from a zero-delay timer, outside h2o's proxy callbacks (h2o closes the swallowed answer's
 *     filters and resets the response; at most 5 reprocesses per request, h2o's own bound); or
 *   - replaces it with the API's envelope: 503 region_unavailable naming the region.
 * Each request's state (gw_req_t) lives in its memory pool and is found again through h2o's request
 * environment; its dispose callback unlinks the retry timer, so a client that leaves mid-retry leaves
 * nothing behind.
 *
 * The edge cache (gateway.h): the handler looks a cacheable request up in its worker's cache and answers a
 * hit itself (h2o_start_response + one h2o_send of the stored bytes); on a miss the same filter, seeing the
 * node's answer head, adds a stream (gw_store_t) that copies the body on its way to the client and stores
 * the answer once it is whole.
 *
 * Threads: the workers (h2o loops) read the node states (atomics) and the country map (under map_lock,
 * read side); the health thread (health_main) alone writes them. Each worker owns its edge cache; the cache
 * generation is one atomic that any worker bumps. Nothing else is shared.
 */
#include "gateway/gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/cache.h"
#include "gateway/edge.h"
#include "h2o/socketpool.h"
#include "http/req.h"
#include "http/server.h"
#include "core/banned.h"

#define ENV_KEY "meridian.gateway"
#define PROXY_MODULE "lib/core/proxy.c"       /* how h2o's proxy names itself in a request's error log */
#define POOL_IDLE_MS 2000                     /* keep-alive connections to nodes: well under a node's idle timeout */
#define LIMITER_KEYS 65536                    /* client addresses the rate limiter remembers at once */
#define MAX_TRIES 4                           /* nodes one request may be sent to (h2o allows 5 reprocesses) */
#define FALLBACK_HEADER "x-meridian-fallback" /* to a node: a catalogue read of this (down) region */
#define CACHE_KEY_MAX 4096                    /* bytes of an edge cache key; a longer one is not cached */

typedef struct gw_region gw_region_t;

typedef struct gw_node {
    char url[128];      /* as configured, without a trailing '/' */
    char authority[96]; /* host:port, the Host the node is sent */
    struct sockaddr_in sa;
    h2o_socketpool_t pool; /* keep-alive connections; h2o locks it inside */
    gw_region_t *region;
    int index;                 /* in its region */
    _Atomic bool up;           /* written by the health thread and by a failing request */
    _Atomic uint64_t proxied;  /* requests sent to it */
    _Atomic uint64_t failures; /* requests it failed before answering */
} gw_node_t;

struct gw_region {
    char name[MER_GW_REGION_MAX];
    char public_url[256]; /* for /route */
    gw_node_t *nodes[MER_GW_MAX_NODES];
    int n;
    _Atomic unsigned rr; /* round robin */
};

typedef struct gw_country {
    char code[3];
    int region; /* index in gw.regions, -1 when no node of its region is configured here */
    char region_name[MER_GW_REGION_MAX];
} gw_country_t;

static struct {
    mer_gateway_config_t cfg;
    gw_region_t regions[MER_GW_MAX_REGIONS];
    int nregions;
    int default_region;
    pthread_rwlock_t map_lock; /* guards map and nmap: written by the health thread only */
    gw_country_t *map;
    size_t nmap;
    _Atomic bool map_loaded;
    mer_gw_limiter_t limiter;
    pthread_t health;
    bool health_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping; /* under stop_mu */
    _Atomic bool pools_timed;
    _Atomic uint32_t boot;
    _Atomic uint64_t retries, fallbacks, unavailable, own;
    /* the edge cache (cache.h): one per worker thread, in its slot; caches[] for /metrics only */
    int cache_slot;
    size_t cache_bytes;             /* per thread */
    _Atomic uint64_t cache_gen;     /* bumped by an admin write's answer: retires every entry */
    _Atomic uint64_t cache_flushes; /* how many times */
    _Atomic(mer_gw_cache_t *) caches[MER_MAX_WORKERS];
} gw = {.cache_slot = -1,
        .map_lock = PTHREAD_RWLOCK_INITIALIZER,
        .stop_mu = PTHREAD_MUTEX_INITIALIZER,
        .stop_cv = PTHREAD_COND_INITIALIZER};

static _Thread_local h2o_timeout_t retry_timeout; /* zero delay, on each worker's loop */

/* ---- configuration ------------------------------------------------------------------------------ */

static void cache_release(void *p)
{
    for (int i = 0; i < MER_MAX_WORKERS; i++)
        if (atomic_load(&gw.caches[i]) == p)
            atomic_store(&gw.caches[i], NULL);
    mer_gw_cache_free(p);
}

static int parse_url(const char *s, size_t len, gw_node_t *n)
{
    static const char scheme[] = "http://";
    while (len && s[len - 1] == '/')
        len--;
    if (len <= sizeof(scheme) - 1 || memcmp(s, scheme, sizeof(scheme) - 1) != 0 || len >= sizeof(n->url))
        return -1;
    memcpy(n->url, s, len);
    n->url[len] = '\0';
    const char *hp = n->url + sizeof(scheme) - 1, *colon = strrchr(hp, ':');
    if (colon == NULL || strchr(hp, '/'))
        return -1;
    int64_t port;
    if (mer_parse_int64(colon + 1, strlen(colon + 1), 1, 65535, &port) != 0)
        return -1;
    char host[64];
    if ((size_t)(colon - hp) >= sizeof(host) || colon == hp)
        return -1;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -1;
    n->sa = *(struct sockaddr_in *)res->ai_addr;
    n->sa.sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    snprintf(n->authority, sizeof(n->authority), "%s", hp);
    return 0;
}

static int region_index(const char *name, size_t len)
{
    for (int i = 0; i < gw.nregions; i++)
        if (strlen(gw.regions[i].name) == len && memcmp(gw.regions[i].name, name, len) == 0)
            return i;
    return -1;
}

void mer_gateway_configure(const mer_gateway_config_t *cfg)
{
    gw.cfg = *cfg;
    if (cfg->nregions == 0)
        mer_die("gateway: name at least one region and its nodes: --region in=http://127.0.0.1:8081");
    for (int i = 0; i < cfg->nregions; i++) {
        const char *spec = cfg->regions[i], *eq = strchr(spec, '=');
        size_t nl = eq ? (size_t)(eq - spec) : 0;
        if (eq == NULL || nl == 0 || nl >= MER_GW_REGION_MAX)
            mer_die("gateway: --region %s: expected name=URL[,URL...]", spec);
        if (region_index(spec, nl) >= 0)
            mer_die("gateway: region %.*s named twice", (int)nl, spec);
        if (gw.nregions >= MER_GW_MAX_REGIONS)
            mer_die("gateway: at most %d regions", MER_GW_MAX_REGIONS);
        gw_region_t *rg = &gw.regions[gw.nregions++];
        memcpy(rg->name, spec, nl);
        rg->name[nl] = '\0';
        for (size_t k = 0; k < nl; k++)
            if (!((spec[k] >= 'a' && spec[k] <= 'z') || (spec[k] >= '0' && spec[k] <= '9')))
                mer_die("gateway: region name %s: lower-case letters and digits only", rg->name);
        const char *p = eq + 1, *item;
        size_t len;
        while (mer_list_next(&p, &item, &len)) {
            if (rg->n >= MER_GW_MAX_NODES)
                mer_die("gateway: region %s: at most %d nodes", rg->name, MER_GW_MAX_NODES);
            gw_node_t *n = mer_xcalloc(1, sizeof(*n));
            if (parse_url(item, len, n) != 0)
                mer_die("gateway: region %s: %.*s is not http://HOST:PORT", rg->name, (int)len, item);
            n->region = rg;
            n->index = rg->n;
            atomic_init(&n->up, true); /* until the first check says otherwise */
            h2o_socketpool_init_by_address(&n->pool, (struct sockaddr *)&n->sa, sizeof(n->sa), 0, SIZE_MAX);
            rg->nodes[rg->n++] = n;
        }
        if (rg->n == 0)
            mer_die("gateway: region %s has no nodes", rg->name);
        snprintf(rg->public_url, sizeof(rg->public_url), "%s", rg->nodes[0]->url);
    }
    const char *p = cfg->region_urls, *item;
    size_t len;
    while (mer_list_next(&p, &item, &len)) {
        const char *eq = memchr(item, '=', len);
        int ri = eq ? region_index(item, (size_t)(eq - item)) : -1;
        size_t ul = eq ? len - (size_t)(eq - item) - 1 : 0;
        if (ri < 0 || ul == 0 || ul >= sizeof(gw.regions[0].public_url))
            mer_die("gateway: --region-urls %.*s: expected name=URL for a region given with --region", (int)len, item);
        memcpy(gw.regions[ri].public_url, eq + 1, ul);
        gw.regions[ri].public_url[ul] = '\0';
    }
    gw.default_region = 0;
    if (cfg->default_region && (gw.default_region = region_index(cfg->default_region, strlen(cfg->default_region))) < 0)
        mer_die("gateway: --default-region %s is not one of the regions given with --region", cfg->default_region);
    mer_gw_limiter_init(&gw.limiter, (double)cfg->rate, (uint32_t)cfg->burst, LIMITER_KEYS);
    long threads = cfg->threads > 0 ? cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);
    gw.cache_bytes = (size_t)cfg->cache_mb * (1u << 20) / (size_t)MER_MIN(MER_MAX(threads, 1L), (long)MER_MAX_WORKERS);
    if (cfg->cache_ttl_ms > 0 && gw.cache_slot < 0)
        gw.cache_slot = mer_worker_slot_register(cache_release);
}

/* ---- health checks and the country map (the health thread) ------------------------------------------ */

/*
 * A blocking HTTP/1.0 GET on the health thread, bounded by timeout_ms in all: returns the status (body,
 * when not NULL, receives the answer's body) or -1.
 */
static int http_get(const gw_node_t *n, const char *path, int timeout_ms, mer_buf_t *body)
{
    uint64_t deadline = mer_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), status = -1;
    mer_buf_t in = MER_BUF_INIT;
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&n->sa, sizeof(n->sa)) != 0 && errno != EINPROGRESS)
        goto done;
    char req[256];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: meridian-gateway\r\n\r\n", path,
                      n->authority);
    size_t sent = 0;
    mer_buf_init(&in, 4096);
    for (;;) {
        int64_t left = (int64_t)(deadline - mer_now_mono_ns()) / 1000000;
        if (left <= 0 || (int64_t)deadline - (int64_t)mer_now_mono_ns() <= 0)
            goto done;
        struct pollfd pfd = {fd, sent < (size_t)rl ? POLLOUT : POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            goto done;
        if (sent < (size_t)rl) {
            ssize_t w = send(fd, req + sent, (size_t)rl - sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN)
                goto done;
            sent += w > 0 ? (size_t)w : 0;
            continue;
        }
        char chunk[4096];
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            goto done;
        if (r == 0)
            break;
        if (in.len + (size_t)r > (8u << 20))
            goto done; /* a country list is never this big */
        mer_buf_add(&in, chunk, (size_t)r);
    }
    mer_buf_add(&in, "", 1); /* NUL for parsing; not counted below */
    int code;
    if (in.len < 13 || sscanf(in.data, "HTTP/1.%*d %d", &code) != 1)
        goto done;
    status = code;
    if (body) {
        const char *sep = strstr(in.data, "\r\n\r\n");
        if (sep)
            mer_buf_add(body, sep + 4, in.len - 1 - (size_t)(sep + 4 - in.data));
    }
done:
    mer_buf_release(&in);
    close(fd);
    return status;
}

static void node_set(gw_node_t *n, bool up, const char *why)
{
    bool was = atomic_exchange(&n->up, up);
    if (was && !up)
        mer_log_warn("gateway: node %s of region %s taken out: %s", n->url, n->region->name, why);
    else if (!was && up)
        mer_log_info("gateway: node %s of region %s is back", n->url, n->region->name);
}

/* Loads the country list from a node; returns 0 when the map was replaced. */
static int load_countries(const gw_node_t *n)
{
    mer_buf_t body = MER_BUF_INIT;
    mer_buf_init(&body, 64 * 1024);
    int st = http_get(n, "/api/v1/countries", (int)MER_MAX(gw.cfg.upstream_timeout_ms, 1000), &body);
    json_t *j = st == 200 ? json_loadb(body.data, body.len, 0, NULL) : NULL;
    mer_buf_release(&body);
    json_t *list = json_object_get(j, "countries");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        json_decref(j);
        return -1;
    }
    size_t cap = json_array_size(list), k = 0;
    gw_country_t *map = mer_xcalloc(cap, sizeof(*map));
    for (size_t i = 0; i < cap; i++) {
        const char *code = json_string_value(json_object_get(json_array_get(list, i), "code"));
        const char *region = json_string_value(json_object_get(json_array_get(list, i), "region"));
        if (code == NULL || region == NULL || strlen(code) != 2 || strlen(region) >= MER_GW_REGION_MAX)
            continue;
        memcpy(map[k].code, code, 3);
        snprintf(map[k].region_name, sizeof(map[k].region_name), "%s", region);
        map[k].region = region_index(region, strlen(region));
        k++;
    }
    json_decref(j);
    pthread_rwlock_wrlock(&gw.map_lock);
    gw_country_t *old = gw.map;
    gw.map = map;
    gw.nmap = k;
    pthread_rwlock_unlock(&gw.map_lock);
    free(old);
    if (!atomic_exchange(&gw.map_loaded, true))
        mer_log_info("gateway: %zu countries loaded from %s", k, n->url);
    return 0;
}

/* Loads the countries from the first healthy node that answers. */
static int refresh_countries(void)
{
    for (int i = 0; i < gw.nregions; i++)
        for (int k = 0; k < gw.regions[i].n; k++)
            if (atomic_load(&gw.regions[i].nodes[k]->up) && load_countries(gw.regions[i].nodes[k]) == 0)
                return 0;
    return -1;
}

static void check_nodes(void)
{
    int timeout = (int)MER_MIN(gw.cfg.upstream_timeout_ms, MER_MAX(gw.cfg.health_interval_ms, 200));
    for (int i = 0; i < gw.nregions; i++)
        for (int k = 0; k < gw.regions[i].n; k++) {
            gw_node_t *n = gw.regions[i].nodes[k];
            int st = http_get(n, "/healthz", timeout, NULL);
            char why[48];
            snprintf(why, sizeof(why), st < 0 ? "no answer to GET /healthz" : "GET /healthz answered %d", st);
            node_set(n, st == 200, why);
        }
}

static void *health_main(void *arg)
{
    (void)arg;
    uint64_t next_refresh = 0;
    pthread_mutex_lock(&gw.stop_mu);
    while (!gw.stopping) {
        pthread_mutex_unlock(&gw.stop_mu);
        check_nodes();
        uint64_t now = mer_now_mono_ns();
        if (!atomic_load(&gw.map_loaded) || now >= next_refresh) {
            if (refresh_countries() == 0)
                next_refresh = now + (uint64_t)gw.cfg.refresh_ms * 1000000u;
        }
        pthread_mutex_lock(&gw.stop_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)gw.cfg.health_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        if (!gw.stopping)
            pthread_cond_timedwait(&gw.stop_cv, &gw.stop_mu, &ts);
    }
    pthread_mutex_unlock(&gw.stop_mu);
    return NULL;
}

/* ---- choosing a node ------------------------------------------------------------------------------ */

/* Per request, in its pool. */
typedef struct gw_req {
    h2o_req_t *req;
    int home; /* the region the request belongs to; -1: not served here */
    char home_name[MER_GW_REGION_MAX];
    gw_node_t *node; /* the node of the current attempt, NULL before one */
    gw_node_t *next; /* the node of the retry on its way */
    gw_node_t *tried[MAX_TRIES];
    int ntried;
    size_t nerr;      /* req->error_logs.size when the current attempt began */
    bool catalogue;   /* a public catalogue read: may go to another region */
    bool fallback;    /* sent to another region */
    bool cacheable;   /* its 200 answer may be stored in the edge cache (key, gen below) */
    bool admin_write; /* its answer bumps the cache generation (gateway.h, read your writes) */
    uint64_t gen;     /* the cache generation when it was looked up */
    char *key;        /* the edge cache key, in the request's pool */
    size_t klen;
    mer_worker_t *worker;
    h2o_timeout_entry_t retry;
} gw_req_t;

static bool was_tried(const gw_req_t *g, const gw_node_t *n)
{
    for (int i = 0; i < g->ntried; i++)
        if (g->tried[i] == n)
            return true;
    return false;
}

static gw_node_t *pick_in(gw_region_t *rg, const gw_req_t *g)
{
    unsigned start = atomic_fetch_add_explicit(&rg->rr, 1, memory_order_relaxed);
    for (int i = 0; i < rg->n; i++) {
        gw_node_t *n = rg->nodes[(start + (unsigned)i) % (unsigned)rg->n];
        if (atomic_load_explicit(&n->up, memory_order_relaxed) && !was_tried(g, n))
            return n;
    }
    return NULL;
}

/* A node for the next attempt: of the home region, else (a catalogue read) of another; NULL: none. */
static gw_node_t *pick(gw_req_t *g)
{
    if (g->ntried >= MAX_TRIES)
        return NULL;
    gw_node_t *n = g->home >= 0 ? pick_in(&gw.regions[g->home], g) : NULL;
    if (n || !g->catalogue)
        return n;
    for (int i = 1; i <= gw.nregions && n == NULL; i++) {
        int r = (MER_MAX(g->home, 0) + i) % gw.nregions;
        if (r != g->home)
            n = pick_in(&gw.regions[r], g);
    }
    return n;
}

/* Removes every request header called name (lower case). */
static void drop_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i;
    while ((i = h2o_find_header_by_str(&req->headers, name, len, -1)) >= 0)
        h2o_delete_header(&req->headers, i);
}

static void send_to(gw_req_t *g, gw_node_t *n)
{
    h2o_req_t *req = g->req;
    g->node = n;
    g->tried[g->ntried++] = n;
    g->nerr = req->error_logs.size;
    g->fallback = n->region != (g->home >= 0 ? &gw.regions[g->home] : NULL);
    /* the mark a node answers another region's catalogue reads on (region/region_http.h), on this attempt
     * only: a retry may go back to the home region */
    drop_header(req, H2O_STRLIT(FALLBACK_HEADER));
    if (g->fallback) {
        atomic_fetch_add_explicit(&gw.fallbacks, 1, memory_order_relaxed);
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT(FALLBACK_HEADER), 0, NULL, g->home_name,
                              strlen(g->home_name));
    }
    atomic_fetch_add_explicit(&n->proxied, 1, memory_order_relaxed);
    h2o_req_overrides_t *ov = h2o_mem_alloc_pool(&req->pool, sizeof(*ov));
    memset(ov, 0, sizeof(*ov));
    ov->socketpool = &n->pool;
    h2o_reprocess_request(req, req->method, &H2O_URL_SCHEME_HTTP, h2o_iovec_init(n->authority, strlen(n->authority)),
                          req->path, ov, 0);
}

/* ---- answering at the edge ------------------------------------------------------------------------ */

static h2o_iovec_t header(h2o_req_t *req, const h2o_token_t *token, const char *name, size_t nlen)
{
    ssize_t i =
        token ? h2o_find_header(&req->headers, token, -1) : h2o_find_header_by_str(&req->headers, name, nlen, -1);
    return i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

static void reply(h2o_req_t *req, int status, const char *reason, const char *ctype, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_iovec_t id = header(req, NULL, H2O_STRLIT("x-request-id"));
    if (id.len)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    h2o_send_inline(req, body, len);
}

static void reply_json(h2o_req_t *req, int status, const char *reason, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    h2o_iovec_t b = h2o_strdup(&req->pool, s, strlen(s));
    free(s);
    reply(req, status, reason, "application/json; charset=utf-8", b.base, b.len);
}

/* The envelope of err, with message and the members of extra (stolen; may be NULL). */
static json_t *envelope(int err, const char *message, json_t *extra)
{
    json_t *e = json_pack("{s:s,s:s}", "code", mer_err_code(err), "message", message);
    if (extra)
        json_object_update(e, extra);
    json_decref(extra);
    return json_pack("{s:o}", "error", e);
}

static void reply_error(h2o_req_t *req, int err, const char *message, json_t *extra)
{
    int status = mer_err_status(err);
    reply_json(req, status,
               status == 429   ? "Too Many Requests"
               : status == 503 ? "Service Unavailable"
                               : "Error",
               envelope(err, message, extra));
}

static void reply_unavailable(h2o_req_t *req, const gw_req_t *g)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "region %s %s", g->home_name,
             g->home < 0 ? "is not served behind this gateway" : "has no node that answers right now; retry later");
    atomic_fetch_add_explicit(&gw.unavailable, 1, memory_order_relaxed);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    reply_error(req, MER_E_REGION_UNAVAILABLE, msg, json_pack("{s:s}", "region", g->home_name));
}

/* Does a region have a node in its pool? */
static bool region_up(int r)
{
    for (int k = 0; k < gw.regions[r].n; k++)
        if (atomic_load_explicit(&gw.regions[r].nodes[k]->up, memory_order_relaxed))
            return true;
    return false;
}

/* GET /api/v1/route?country=XX: httpdns. */
static void route_answer(h2o_req_t *req)
{
    char cc[3];
    mer_gw_req_parts_t parts = {0};
    if (req->query_at != SIZE_MAX) {
        parts.query = req->path.base + req->query_at + 1;
        parts.query_len = req->path.len - req->query_at - 1;
    }
    if (!mer_gw_country(&parts, cc)) {
        reply_error(req, MER_E_MISSING_PARAM, "country is required (?country=IN)",
                    json_pack("{s:s}", "field", "country"));
        return;
    }
    gw_country_t c = {{0}, -1, ""};
    bool found = false;
    pthread_rwlock_rdlock(&gw.map_lock);
    for (size_t i = 0; i < gw.nmap && !found; i++)
        if (memcmp(gw.map[i].code, cc, 2) == 0) {
            c = gw.map[i];
            found = true;
        }
    pthread_rwlock_unlock(&gw.map_lock);
    if (!found) {
        char msg[64];
        snprintf(msg, sizeof(msg), "country %s is not known", cc);
        reply_error(req, MER_E_UNKNOWN_COUNTRY, msg, json_pack("{s:s}", "field", "country"));
        return;
    }
    bool healthy = false;
    const char *url = "";
    if (c.region >= 0) {
        url = gw.regions[c.region].public_url;
        healthy = region_up(c.region);
    }
    char cache[48];
    int cl = snprintf(cache, sizeof(cache), "public, max-age=%lld", (long long)gw.cfg.route_ttl_s);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   h2o_strdup(&req->pool, cache, (size_t)cl).base, (size_t)cl);
    reply_json(req, 200, "OK",
               json_pack("{s:s,s:s,s:s,s:I,s:b}", "country", cc, "region", c.region_name, "url", url, "ttl",
                         (json_int_t)gw.cfg.route_ttl_s, "healthy", healthy));
}

static void metrics_answer(h2o_req_t *req)
{
    mer_buf_t b = MER_BUF_INIT;
    mer_buf_init(&b, 4096);
    mer_buf_printf(&b, "# HELP meridian_gateway_node_up Whether a node is in its region's pool (1) or taken out (0).\n"
                       "# TYPE meridian_gateway_node_up gauge\n");
    for (int i = 0; i < gw.nregions; i++)
        for (int k = 0; k < gw.regions[i].n; k++)
            mer_buf_printf(&b, "meridian_gateway_node_up{region=\"%s\",node=\"%s\"} %d\n", gw.regions[i].name,
                           gw.regions[i].nodes[k]->url, (int)atomic_load(&gw.regions[i].nodes[k]->up));
    mer_buf_printf(&b, "# HELP meridian_gateway_proxied_total Requests sent to a node.\n"
                       "# TYPE meridian_gateway_proxied_total counter\n");
    for (int i = 0; i < gw.nregions; i++)
        for (int k = 0; k < gw.regions[i].n; k++)
            mer_buf_printf(&b, "meridian_gateway_proxied_total{region=\"%s\",node=\"%s\"} %llu\n", gw.regions[i].name,
                           gw.regions[i].nodes[k]->url,
                           (unsigned long long)atomic_load(&gw.regions[i].nodes[k]->proxied));
    mer_buf_printf(&b, "# HELP meridian_gateway_upstream_failures_total Requests a node failed before answering.\n"
                       "# TYPE meridian_gateway_upstream_failures_total counter\n");
    for (int i = 0; i < gw.nregions; i++)
        for (int k = 0; k < gw.regions[i].n; k++)
            mer_buf_printf(&b, "meridian_gateway_upstream_failures_total{region=\"%s\",node=\"%s\"} %llu\n",
                           gw.regions[i].name, gw.regions[i].nodes[k]->url,
                           (unsigned long long)atomic_load(&gw.regions[i].nodes[k]->failures));
    mer_buf_printf(&b,
                   "# HELP meridian_gateway_retries_total Requests sent again to another node.\n"
                   "# TYPE meridian_gateway_retries_total counter\nmeridian_gateway_retries_total %llu\n"
                   "# HELP meridian_gateway_fallbacks_total Catalogue reads answered by another region.\n"
                   "# TYPE meridian_gateway_fallbacks_total counter\nmeridian_gateway_fallbacks_total %llu\n"
                   "# HELP meridian_gateway_unavailable_total Requests answered 503 region_unavailable.\n"
                   "# TYPE meridian_gateway_unavailable_total counter\nmeridian_gateway_unavailable_total %llu\n"
                   "# HELP meridian_gateway_rate_limited_total Requests refused by the edge rate limit.\n"
                   "# TYPE meridian_gateway_rate_limited_total counter\nmeridian_gateway_rate_limited_total %llu\n",
                   (unsigned long long)atomic_load(&gw.retries), (unsigned long long)atomic_load(&gw.fallbacks),
                   (unsigned long long)atomic_load(&gw.unavailable),
                   (unsigned long long)atomic_load(&gw.limiter.limited));
    uint64_t hits = 0, misses = 0, stores = 0, evictions = 0, bytes = 0, entries = 0;
    for (int i = 0; i < MER_MAX_WORKERS; i++) {
        const mer_gw_cache_t *c = atomic_load(&gw.caches[i]);
        if (c == NULL)
            continue;
        const mer_gw_cache_stats_t *st = mer_gw_cache_stats(c);
        hits += atomic_load_explicit(&st->hits, memory_order_relaxed);
        misses += atomic_load_explicit(&st->misses, memory_order_relaxed);
        stores += atomic_load_explicit(&st->stores, memory_order_relaxed);
        evictions += atomic_load_explicit(&st->evictions, memory_order_relaxed);
        bytes += atomic_load_explicit(&st->bytes, memory_order_relaxed);
        entries += atomic_load_explicit(&st->entries, memory_order_relaxed);
    }
    mer_buf_printf(&b,
                   "# HELP meridian_gateway_cache_hits_total Catalogue reads answered from the edge cache.\n"
                   "# TYPE meridian_gateway_cache_hits_total counter\nmeridian_gateway_cache_hits_total %llu\n"
                   "# HELP meridian_gateway_cache_misses_total Cacheable catalogue reads sent to a node.\n"
                   "# TYPE meridian_gateway_cache_misses_total counter\nmeridian_gateway_cache_misses_total %llu\n"
                   "# HELP meridian_gateway_cache_stores_total Answers stored in the edge cache.\n"
                   "# TYPE meridian_gateway_cache_stores_total counter\nmeridian_gateway_cache_stores_total %llu\n"
                   "# HELP meridian_gateway_cache_evictions_total Entries evicted to make room (least recently used).\n"
                   "# TYPE meridian_gateway_cache_evictions_total counter\n"
                   "meridian_gateway_cache_evictions_total %llu\n"
                   "# HELP meridian_gateway_cache_flushes_total Admin writes that retired every cached answer.\n"
                   "# TYPE meridian_gateway_cache_flushes_total counter\nmeridian_gateway_cache_flushes_total %llu\n"
                   "# HELP meridian_gateway_cache_bytes Bytes held by the edge cache (all threads).\n"
                   "# TYPE meridian_gateway_cache_bytes gauge\nmeridian_gateway_cache_bytes %llu\n"
                   "# HELP meridian_gateway_cache_entries Answers held by the edge cache (all threads).\n"
                   "# TYPE meridian_gateway_cache_entries gauge\nmeridian_gateway_cache_entries %llu\n",
                   (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)stores,
                   (unsigned long long)evictions, (unsigned long long)atomic_load(&gw.cache_flushes),
                   (unsigned long long)bytes, (unsigned long long)entries);
    mer_server_metrics(&b);
    h2o_iovec_t out = h2o_strdup(&req->pool, b.data, b.len);
    mer_buf_release(&b);
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", out.base, out.len);
}

static void ready_answer(h2o_req_t *req)
{
    json_t *checks = json_object();
    bool any = false;
    json_object_set_new(checks, "countries", json_boolean(atomic_load(&gw.map_loaded)));
    for (int i = 0; i < gw.nregions; i++) {
        bool up = region_up(i);
        any |= up;
        json_object_set_new(checks, gw.regions[i].name, json_boolean(up));
    }
    bool ready = any && atomic_load(&gw.map_loaded);
    reply_json(req, ready ? 200 : 503, ready ? "OK" : "Service Unavailable",
               json_pack("{s:s,s:o}", "status", ready ? "ready" : "not_ready", "checks", checks));
}

/* ---- the request id --------------------------------------------------------------------------------- */

static bool id_ok(h2o_iovec_t v)
{
    if (v.len == 0 || v.len > 31)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* Keeps a well-formed X-Request-Id; otherwise replaces it with one made here ("g<boot>-<worker>-<n>"). */
static void ensure_request_id(h2o_req_t *req, mer_worker_t *w)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 && id_ok(req->headers.entries[i].value))
        return;
    while (i >= 0) {
        h2o_delete_header(&req->headers, i);
        i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    }
    uint32_t boot = atomic_load(&gw.boot);
    if (boot == 0) {
        uint32_t now = (uint32_t)time(NULL);
        boot = atomic_compare_exchange_strong(&gw.boot, &boot, now) ? now : boot;
    }
    char *id = h2o_mem_alloc_pool(&req->pool, 32);
    int n = snprintf(id, 32, "g%08x-%d-%llu", boot, w ? w->index : 0, (unsigned long long)(w ? ++w->next_request : 0));
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-request-id"), 0, NULL, id, (size_t)n);
}

/* ---- the edge cache (gateway.h: what is cached and for how long; cache.h: the store) ------------------ */

static uint64_t now_ms(void)
{
    return mer_now_mono_ns() / 1000000u;
}

/* The calling worker's cache (made at its first use), or NULL when the cache is off or outside workers. */
static mer_gw_cache_t *thread_cache(void)
{
    mer_worker_t *w = mer_worker_self();
    if (w == NULL || gw.cache_slot < 0)
        return NULL;
    mer_gw_cache_t *c = w->slots[gw.cache_slot];
    if (c == NULL) {
        c = mer_gw_cache_new(gw.cache_bytes);
        w->slots[gw.cache_slot] = c;
        if (w->index < MER_MAX_WORKERS)
            atomic_store(&gw.caches[w->index], c);
    }
    return c;
}

/*
 * The cache key of a request routed to region: the region, the path with its query (the method is not in
 * it: a HEAD is answered from a GET's entry), and the values of every request header an answer may vary
 * on (edge.h, MER_GW_CACHE_KEY_HEADERS), each length-prefixed so that no value can run into the next.
 * Returns false when the key would pass CACHE_KEY_MAX (the request is then neither looked up nor stored).
 */
static bool cache_key(h2o_req_t *req, const char *region, char **key, size_t *klen)
{
    static const char *const names[] = MER_GW_CACHE_KEY_HEADERS;
    char buf[CACHE_KEY_MAX];
    size_t n = 0;
    int w = snprintf(buf, sizeof(buf), "%s|%zu:", region, req->path.len);
    if (w < 0 || (size_t)w + req->path.len >= sizeof(buf))
        return false;
    n = (size_t)w;
    memcpy(buf + n, req->path.base, req->path.len);
    n += req->path.len;
    for (size_t k = 0; k < MER_GW_CACHE_NKEY_HEADERS; k++) {
        for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, names[k], strlen(names[k]), i)) >= 0;) {
            h2o_iovec_t v = req->headers.entries[i].value;
            w = snprintf(buf + n, sizeof(buf) - n, "|%zu:%zu:", k, v.len);
            if (w < 0 || n + (size_t)w + v.len >= sizeof(buf))
                return false;
            n += (size_t)w;
            memcpy(buf + n, v.base, v.len);
            n += v.len;
        }
    }
    *key = h2o_mem_alloc_pool(&req->pool, n);
    memcpy(*key, buf, n);
    *klen = n;
    return true;
}

static h2o_generator_t cached_generator = {NULL, NULL}; /* the whole answer goes in one send */

/* Does req's If-None-Match name the ETag stored with e (then the node would answer 304)? */
static bool not_modified(h2o_req_t *req, const mer_gw_entry_t *e)
{
    h2o_iovec_t inm = header(req, H2O_TOKEN_IF_NONE_MATCH, NULL, 0);
    if (inm.base == NULL)
        return false;
    for (size_t i = 0; i < e->nheaders; i++)
        if (h2o_memis(e->headers[i].name, e->headers[i].nlen, H2O_STRLIT("etag")))
            return mer_etag_list_matches(inm.base, inm.len, e->headers[i].value, e->headers[i].vlen);
    return false;
}

/*
 * Answers req from entry e: the node's status, headers and body, with Age, X-Cache: hit and its own
 * X-Request-Id; or, when its If-None-Match names e's ETag, 304 with the same headers and no body (as the
 * node answers it: http/rcache.h).
 */
static void answer_cached(h2o_req_t *req, const mer_gw_entry_t *e, uint64_t now)
{
    bool nm = e->status == 200 && not_modified(req, e);
    h2o_mem_link_shared(&req->pool, (void *)e); /* e's bytes live until this answer is written */
    req->res.status = nm ? 304 : e->status;
    req->res.reason = nm ? "Not Modified" : "OK";
    for (size_t i = 0; i < e->nheaders; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, e->headers[i].name, e->headers[i].nlen, 1, NULL,
                              e->headers[i].value, e->headers[i].vlen);
    char *age = h2o_mem_alloc_pool(&req->pool, 24);
    int al = snprintf(age, 24, "%llu", (unsigned long long)((now - e->stored_ms) / 1000));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, age, (size_t)al);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-cache"), 0, NULL, H2O_STRLIT("hit"));
    h2o_iovec_t id = header(req, NULL, H2O_STRLIT("x-request-id"));
    if (id.len)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    req->res.content_length = nm ? 0 : e->body_len;
    h2o_start_response(req, &cached_generator);
    h2o_iovec_t body = h2o_iovec_init(e->body, e->body_len);
    bool head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &body, nm || head || e->body_len == 0 ? 0 : 1, H2O_SEND_STATE_FINAL);
}

/*
 * Looks req up in the cache (gateway.h says which requests may be): answers it and returns true on a hit;
 * otherwise marks g so that its answer is stored (see store_setup) and returns false.
 */
static bool cache_lookup(h2o_req_t *req, gw_req_t *g)
{
    h2o_iovec_t auth = header(req, H2O_TOKEN_AUTHORIZATION, NULL, 0);
    bool cond = h2o_find_header(&req->headers, H2O_TOKEN_IF_MODIFIED_SINCE, -1) >= 0 ||
                h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1) >= 0;
    if (gw.cache_slot < 0 || g->home < 0 ||
        !mer_gw_cacheable_request(req->method.base, req->method.len, req->path_normalized.base,
                                  req->path_normalized.len, auth.base != NULL, cond))
        return false;
    mer_gw_cache_t *c = thread_cache();
    if (c == NULL || !cache_key(req, gw.regions[g->home].name, &g->key, &g->klen))
        return false;
    g->gen = atomic_load_explicit(&gw.cache_gen, memory_order_acquire);
    g->cacheable = true;
    /* while the home region is down, its reads go to another region (gateway.h) as they did before */
    if (!region_up(g->home))
        return false;
    uint64_t now = now_ms();
    const mer_gw_entry_t *e = mer_gw_cache_get(c, g->key, g->klen, g->gen, now);
    if (e == NULL)
        return false;
    answer_cached(req, e, now);
    return true;
}

/* The answer being stored: its body is copied as it streams to the client, and stored when it is whole. */
typedef struct gw_store {
    h2o_ostream_t super;
    gw_req_t *g;
    mer_gw_cached_header_t *headers; /* in the request's pool */
    size_t nheaders;
    uint64_t ttl_ms;
    struct gw_store_body *body; /* NULL once given up (too large, or the answer failed) */
} gw_store_t;

typedef struct gw_store_body {
    mer_buf_t buf;
} gw_store_body_t;

static void store_body_dispose(void *p)
{
    mer_buf_release(&((gw_store_body_t *)p)->buf);
}

static void store_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    gw_store_t *o = (void *)self;
    if (o->body) {
        for (size_t i = 0; i < n && o->body; i++) {
            if (o->body->buf.len + bufs[i].len > gw.cache_bytes / 4)
                o->body = NULL; /* too large to store (cache.h): the answer streams on, uncopied */
            else
                mer_buf_add(&o->body->buf, bufs[i].base, bufs[i].len);
        }
        if (state == H2O_SEND_STATE_ERROR)
            o->body = NULL;
        mer_gw_cache_t *c = thread_cache();
        if (o->body && state == H2O_SEND_STATE_FINAL && c)
            mer_gw_cache_put(c, o->g->key, o->g->klen, o->g->gen, now_ms(), o->ttl_ms, req->res.status, o->headers,
                             o->nheaders, o->body->buf.data, o->body->buf.len);
    }
    h2o_ostream_send_next(self, req, bufs, n, state);
}

/* Response headers that belong to one answer, not to the stored one (h2o or the gateway sets them again). */
static bool per_answer_header(h2o_iovec_t name)
{
    static const char *const names[] = {
        "date",           "server",
        "x-request-id",   "age",
        "x-cache",        "connection",
        "keep-alive",     "transfer-encoding",
        "content-length", "x-meridian-fallback", /* a fallback answer is never stored: belt and braces */
    };
    for (size_t i = 0; i < MER_ARRAY_LEN(names); i++)
        if (h2o_lcstris(name.base, name.len, names[i], strlen(names[i])))
            return true;
    return false;
}

/*
 * Called on a node's answer to a request looked up in the cache (after X-Meridian-Upstream, which is kept):
 * puts the storing stream in the slot when the answer may be stored (gateway.h), and says X-Cache: miss.
 * Returns the slot the next stream goes into.
 */
static h2o_ostream_t **store_setup(h2o_req_t *req, gw_req_t *g, h2o_ostream_t **slot)
{
    ssize_t cc = h2o_find_header(&req->res.headers, H2O_TOKEN_CACHE_CONTROL, -1);
    ssize_t vary = h2o_find_header(&req->res.headers, H2O_TOKEN_VARY, -1);
    int64_t ttl = 0;
    bool fits = req->res.content_length == SIZE_MAX || req->res.content_length <= gw.cache_bytes / 4;
    if (req->res.status == 200 && fits && !g->fallback &&
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) && cc >= 0 &&
        h2o_find_header(&req->res.headers, H2O_TOKEN_CACHE_CONTROL, cc) < 0 &&
        h2o_find_header(&req->res.headers, H2O_TOKEN_SET_COOKIE, -1) < 0 &&
        h2o_find_header(&req->res.headers, H2O_TOKEN_VARY, vary) < 0 &&
        (vary < 0 ||
         mer_gw_vary_keyed(req->res.headers.entries[vary].value.base, req->res.headers.entries[vary].value.len)))
        ttl = mer_gw_cache_ttl_ms(req->res.headers.entries[cc].value.base, req->res.headers.entries[cc].value.len,
                                  gw.cfg.cache_ttl_ms);
    if (ttl > 0) {
        gw_store_t *o = (void *)h2o_add_ostream(req, sizeof(*o), slot);
        o->super.do_send = store_send;
        o->g = g;
        o->ttl_ms = (uint64_t)ttl;
        o->headers = h2o_mem_alloc_pool(&req->pool, sizeof(*o->headers) * MER_MAX(req->res.headers.size, 1u));
        o->nheaders = 0;
        for (size_t i = 0; i < req->res.headers.size; i++) {
            const h2o_header_t *h = &req->res.headers.entries[i];
            if (!per_answer_header(*h->name))
                o->headers[o->nheaders++] =
                    (mer_gw_cached_header_t){h->name->base, h->name->len, h->value.base, h->value.len};
        }
        o->body = h2o_mem_alloc_shared(&req->pool, sizeof(*o->body), store_body_dispose);
        mer_buf_init(&o->body->buf, req->res.content_length != SIZE_MAX ? req->res.content_length + 1 : 16384);
        slot = &o->super.next;
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-cache"), 0, NULL, H2O_STRLIT("miss"));
    return slot;
}

/* ---- the handler ------------------------------------------------------------------------------------- */

static gw_req_t *gw_of(h2o_req_t *req)
{
    h2o_iovec_t *v = h2o_req_getenv(req, H2O_STRLIT(ENV_KEY), 0);
    return v ? (gw_req_t *)(void *)v->base : NULL;
}

static void gw_req_dispose(void *p)
{
    gw_req_t *g = p;
    if (h2o_timeout_is_linked(&g->retry))
        h2o_timeout_unlink(&g->retry);
    if (g->worker)
        mer_worker_inflight_add(g->worker, -1);
}

static bool path_is(h2o_iovec_t p, const char *s)
{
    return p.len == strlen(s) && memcmp(p.base, s, p.len) == 0;
}

/* The home region of a request (see edge.h): its index, or -1 with its name when no node serves it here. */
static int home_region(h2o_req_t *req, char name[MER_GW_REGION_MAX])
{
    h2o_iovec_t auth = header(req, H2O_TOKEN_AUTHORIZATION, NULL, 0);
    if (mer_gw_token_region(auth.base, auth.len, name))
        return region_index(name, strlen(name));
    h2o_iovec_t xc = header(req, NULL, H2O_STRLIT("x-country")), ck = header(req, H2O_TOKEN_COOKIE, NULL, 0);
    h2o_iovec_t ct = header(req, H2O_TOKEN_CONTENT_TYPE, NULL, 0);
    if (req->entity.base && mer_gw_webhook_region(req->method.base, req->method.len, req->path_normalized.base,
                                                  req->path_normalized.len, req->entity.base, req->entity.len, name))
        return region_index(name, strlen(name));
    mer_gw_req_parts_t parts = {
        .path = req->path_normalized.base,
        .path_len = req->path_normalized.len,
        .x_country = xc.base,
        .x_country_len = xc.len,
        .cookie = ck.base,
        .cookie_len = ck.len,
    };
    if (req->query_at != SIZE_MAX) {
        parts.query = req->path.base + req->query_at + 1;
        parts.query_len = req->path.len - req->query_at - 1;
    }
    if (req->entity.base && ct.len >= 16 && h2o_memis(ct.base, 16, H2O_STRLIT("application/json"))) {
        parts.body = req->entity.base;
        parts.body_len = req->entity.len;
    }
    char cc[3];
    int r = -2; /* no country, or one not in the map: the default region */
    if (mer_gw_country(&parts, cc)) {
        /* a country the node would not see (a cookie, a path segment, the body) is passed on in X-Country,
         * the header every node reads: it is served the country it was routed for */
        mer_gw_req_parts_t seen = {
            .query = parts.query, .query_len = parts.query_len, .x_country = xc.base, .x_country_len = xc.len};
        char tmp[3];
        if (!mer_gw_country(&seen, tmp)) {
            char *v = h2o_mem_alloc_pool(&req->pool, 3);
            memcpy(v, cc, 3);
            h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-country"), 0, NULL, v, 2);
        }
        pthread_rwlock_rdlock(&gw.map_lock);
        for (size_t i = 0; i < gw.nmap; i++)
            if (memcmp(gw.map[i].code, cc, 2) == 0) {
                r = gw.map[i].region;
                snprintf(name, MER_GW_REGION_MAX, "%s", gw.map[i].region_name);
                break;
            }
        pthread_rwlock_unlock(&gw.map_lock);
    }
    if (r == -2) {
        r = gw.default_region;
        snprintf(name, MER_GW_REGION_MAX, "%s", gw.regions[r].name);
    }
    return r;
}

int mer_gateway_handle(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    mer_worker_t *w = mer_worker_self();
    ensure_request_id(req, w);
    h2o_iovec_t path = req->path_normalized;
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (get && (path_is(path, "/healthz") || path_is(path, "/readyz") || path_is(path, "/metrics"))) {
        atomic_fetch_add_explicit(&gw.own, 1, memory_order_relaxed);
        if (path_is(path, "/metrics"))
            metrics_answer(req);
        else if (path_is(path, "/readyz"))
            ready_answer(req);
        else
            reply_json(req, 200, "OK", json_pack("{s:s}", "status", "ok"));
        return 0;
    }

    char peer[64];
    uint64_t retry_ms = 0;
    mer_server_peer(req->conn, peer);
    if (!mer_gw_limiter_take(&gw.limiter, peer, strlen(peer), mer_now_mono_ns(), &retry_ms)) {
        char secs[24], msg[96];
        int sl = snprintf(secs, sizeof(secs), "%llu", (unsigned long long)((retry_ms + 999) / 1000));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&req->pool, secs, (size_t)sl).base, (size_t)sl);
        snprintf(msg, sizeof(msg), "too many requests from this address; retry in %llu ms",
                 (unsigned long long)retry_ms);
        reply_error(req, MER_E_RATE_LIMITED, msg, json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_ms));
        return 0;
    }
    if (get && path_is(path, "/api/v1/route")) {
        route_answer(req);
        return 0;
    }

    gw_req_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), gw_req_dispose);
    memset(g, 0, sizeof(*g));
    g->req = req;
    g->home = home_region(req, g->home_name);
    h2o_iovec_t auth = header(req, H2O_TOKEN_AUTHORIZATION, NULL, 0);
    g->catalogue = mer_gw_is_catalogue_read(req->method.base, req->method.len, path.base, path.len,
                                            mer_gw_is_customer(auth.base, auth.len));
    g->admin_write = mer_gw_is_admin_write(req->method.base, req->method.len, path.base, path.len);
    *h2o_req_getenv(req, H2O_STRLIT(ENV_KEY), 1) = h2o_iovec_init((char *)g, sizeof(*g));
    if (w) {
        g->worker = w;
        mer_worker_inflight_add(w, 1);
    }
    if (cache_lookup(req, g))
        return 0;
    gw_node_t *n = pick(g);
    if (n == NULL) {
        reply_unavailable(req, g);
        return 0;
    }
    send_to(g, n);
    return 0;
}

/* ---- the filter: upstream failures, retries, and the headers naming who answered ------------------- */

static void swallow_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    (void)self, (void)req, (void)bufs, (void)n, (void)state; /* the 502 of a failed attempt: a retry follows */
}

typedef struct gw_error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
} gw_error_ostream_t;

static void error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    (void)bufs, (void)n;
    gw_error_ostream_t *o = (void *)self;
    h2o_ostream_send_next(self, req, &o->body, 1, state);
}

static void on_retry(h2o_timeout_entry_t *entry)
{
    gw_req_t *g = H2O_STRUCT_FROM_MEMBER(gw_req_t, retry, entry);
    /* the node chosen when the attempt failed, even if it went down since: the 502 swallowed left the
     * request's filters half set up, so only a reprocess (which resets them) may answer it now */
    send_to(g, g->next);
}

/* May a request that failed with errstr be sent again (gateway.h)? */
static bool may_retry(h2o_req_t *req, h2o_iovec_t errstr)
{
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return true;
    if (h2o_memis(errstr.base, errstr.len, H2O_STRLIT("connection failed")) ||
        h2o_memis(errstr.base, errstr.len, H2O_STRLIT("connection failure")))
        return true; /* nothing was sent */
    return header(req, NULL, H2O_STRLIT("idempotency-key")).len != 0 &&
           mer_gw_key_retry_safe(req->method.base, req->method.len, req->path_normalized.base,
                                 req->path_normalized.len);
}

/* Replaces the answer being set up with the envelope: 503 region_unavailable naming region. */
static void answer_unavailable(h2o_req_t *req, h2o_ostream_t **slot, const char *region, const char *msg)
{
    json_t *env = envelope(MER_E_REGION_UNAVAILABLE, msg, json_pack("{s:s}", "region", region));
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    gw_error_ostream_t *o = (void *)h2o_add_ostream(req, sizeof(*o), slot);
    o->super.do_send = error_send;
    o->body = h2o_strdup(&req->pool, s, strlen(s));
    free(s);
    atomic_fetch_add_explicit(&gw.unavailable, 1, memory_order_relaxed);
    req->res.status = 503;
    req->res.reason = "Service Unavailable";
    req->res.content_length = o->body.len;
    ssize_t i;
    while ((i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) >= 0)
        h2o_delete_header(&req->res.headers, i);
    while ((i = h2o_find_header(&req->res.headers, H2O_TOKEN_CACHE_CONTROL, -1)) >= 0)
        h2o_delete_header(&req->res.headers, i);
    while ((i = h2o_find_header(&req->res.headers, H2O_TOKEN_ETAG, -1)) >= 0)
        h2o_delete_header(&req->res.headers, i);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1) < 0) {
        h2o_iovec_t id = header(req, NULL, H2O_STRLIT("x-request-id"));
        if (id.len)
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    }
    h2o_setup_next_ostream(req, &o->super.next);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    gw_req_t *g = gw_of(req);
    if (g == NULL || g->node == NULL) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    if (g->admin_write) {
        /* the node has committed the write (it answers after): every answer cached before is retired, and
         * an answer to a read looked up before now is stored under the old generation, dead on arrival */
        atomic_fetch_add_explicit(&gw.cache_gen, 1, memory_order_acq_rel);
        atomic_fetch_add_explicit(&gw.cache_flushes, 1, memory_order_relaxed);
    }
    bool failed = req->res.status == 502 && req->error_logs.size > g->nerr &&
                  strcmp(req->error_logs.entries[req->error_logs.size - 1].module, PROXY_MODULE) == 0;
    if (!failed && g->fallback && req->res.status == 421) {
        /* the other region's node does not take catalogue fallbacks from this gateway (it is not started
         * with --trusted-proxy naming it): the home region is what is missing */
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "region %s has no node that answers right now, and the region asked instead does not take its "
                 "catalogue reads from this gateway",
                 g->home_name);
        answer_unavailable(req, slot, g->home_name, msg);
        return;
    }
    if (!failed) {
        char *who = h2o_mem_alloc_pool(&req->pool, 48);
        int wl = snprintf(who, 48, "%s/%d", g->node->region->name, g->node->index);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-meridian-upstream"), 0, NULL, who,
                              (size_t)wl);
        if (g->fallback)
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-meridian-fallback"), 0, NULL,
                                  g->node->region->name, strlen(g->node->region->name));
        if (g->cacheable) /* a hit says which node gave the answer it repeats (x-meridian-upstream) */
            slot = store_setup(req, g, slot);
        h2o_setup_next_ostream(req, slot);
        return;
    }
    h2o_iovec_t why = req->error_logs.entries[req->error_logs.size - 1].msg;
    gw_node_t *failed_node = g->node;
    atomic_fetch_add_explicit(&failed_node->failures, 1, memory_order_relaxed);
    char reason[96];
    snprintf(reason, sizeof(reason), "a request failed: %.*s", (int)MER_MIN(why.len, 60), why.base);
    node_set(failed_node, false, reason);
    if (may_retry(req, why) && (g->next = pick(g)) != NULL) {
        h2o_ostream_t *o = h2o_add_ostream(req, sizeof(*o), slot);
        o->do_send = swallow_send;
        g->retry = (h2o_timeout_entry_t){0};
        g->retry.cb = on_retry;
        h2o_timeout_link(req->conn->ctx->loop, &retry_timeout, &g->retry);
        atomic_fetch_add_explicit(&gw.retries, 1, memory_order_relaxed);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "region %s did not answer (%.*s)%s", failed_node->region->name,
             (int)MER_MIN(why.len, 60), why.base,
             may_retry(req, why) ? "; retry later"
                                 : "; the request may have been carried out: retry it with an Idempotency-Key");
    answer_unavailable(req, slot, failed_node->region->name, msg);
}

void mer_gateway_setup(h2o_globalconf_t *conf, h2o_pathconf_t *path)
{
    conf->proxy.io_timeout = (uint64_t)gw.cfg.upstream_timeout_ms;
    conf->proxy.emit_x_forwarded_headers = 1;
    conf->proxy.emit_via_header = 0;
    conf->proxy.preserve_x_forwarded_proto = 0;
    h2o_filter_t *f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}

/* ---- the module ---------------------------------------------------------------------------------- */

static int gateway_init(const mer_cycle_t *cycle)
{
    (void)cycle;
    check_nodes(); /* start-up: a node that is down is out from the first request */
    if (refresh_countries() != 0)
        mer_log_warn("gateway: no node gave the country list yet; requests go to region %s until one does",
                     gw.regions[gw.default_region].name);
    gw.stopping = false;
    if (pthread_create(&gw.health, NULL, health_main, NULL) != 0)
        mer_die("gateway: cannot start the health thread");
    gw.health_running = true;
    return 0;
}

static void gateway_thread_start(void)
{
    mer_worker_t *w = mer_worker_self();
    h2o_timeout_init(w->ctx.loop, &retry_timeout, 0);
    if (!atomic_exchange(&gw.pools_timed, true)) /* idle connections are closed from the first loop, as h2o does */
        for (int i = 0; i < gw.nregions; i++)
            for (int k = 0; k < gw.regions[i].n; k++)
                h2o_socketpool_set_timeout(&gw.regions[i].nodes[k]->pool, w->ctx.loop, POOL_IDLE_MS);
}

static void gateway_stop(void)
{
    if (!gw.health_running)
        return;
    pthread_mutex_lock(&gw.stop_mu);
    gw.stopping = true;
    pthread_cond_signal(&gw.stop_cv);
    pthread_mutex_unlock(&gw.stop_mu);
    pthread_join(gw.health, NULL);
    gw.health_running = false;
}

static void gateway_release(void)
{
    /* The socket pools' timers live on a worker's loop, which h2o 2.2 leaves to process exit (server.c);
     * the pools go with it. */
    pthread_rwlock_wrlock(&gw.map_lock);
    free(gw.map);
    gw.map = NULL;
    gw.nmap = 0;
    pthread_rwlock_unlock(&gw.map_lock);
    mer_gw_limiter_release(&gw.limiter);
}

const mer_module_t mer_gateway_module = {
    .name = "gateway",
    .init = gateway_init,
    .thread_start = gateway_thread_start,
    .stop_phase = MER_STOP_PRODUCERS,
    .stop = gateway_stop,
    .release = gateway_release,
};
