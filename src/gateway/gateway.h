/*
 * gateway.h — `meridian gateway`, the edge process in front of the regions (DESIGN.md §2).
 *
 * One process on h2o's event loops (http/server.h) whose only handler decides, for each request, which
 * region it belongs to (gateway/edge.h: the customer token's region, else the country it names, else the
 * default region), picks a healthy node of that region round robin, and hands the request to h2o's reverse
 * proxy (h2o_reprocess_request with an upstream socket pool per node: keep-alive connections, streaming,
 * hop-by-hop headers dropped, X-Forwarded-For / X-Forwarded-Proto added by h2o). It answers a few things
 * itself: GET /healthz, /readyz, /metrics, and GET /api/v1/route?country= (httpdns: the region, its public
 * URL and a TTL).
 *
 * Guarantees:
 *   - a request with a customer token ("mct_<region>_") only ever goes to a node of that region; when that
 *     region has no healthy node it is answered 503 region_unavailable, never sent elsewhere;
 *   - public catalogue reads (GET/HEAD /api/v1/products, /categories, /countries, without a customer
 *     token) go to a healthy node of another region when their own region has none (header
 *     X-Meridian-Fallback names the region that answered). The request carries X-Meridian-Fallback: <its
 *     own region> to that node (a client's own header of that name is dropped), which a node started with
 *     --trusted-proxy naming this gateway takes as leave to answer a country it does not serve from its
 *     catalogue copy, with stock unknown (region/region_http.h: mer_where_catalogue); a node that does not
 *     answers 421, which reaches the client as 503 region_unavailable;
 *   - a payment provider's webhook goes to the region of the payment it names (edge.h); its signature is
 *     the region's business: the gateway holds no provider secret and passes the body and header as sent;
 *   - a request is retried on another node of its region only when that is safe: GET and HEAD always;
 *     any method when the connection to the node could not be made (nothing was sent); a write carrying
 *     an Idempotency-Key after any failure, on the routes that honour the key (edge.h:
 *     mer_gw_key_retry_safe; the region's nodes share its database and answer a repeated key with the
 *     first result, so a write the failed node did commit is not made twice);
 *   - no request waits longer than the upstream timeout for a node that does not answer (h2o's proxy I/O
 *     timeout: connect, and each read and write); a region with no healthy node is refused at once;
 *   - every request carries an X-Request-Id to the node (the client's, or one made here), which the node
 *     adopts, logs and returns.
 *
 * Health: a thread (gateway.c's health_main) asks every node GET /healthz every health_interval_ms with a
 * timeout of its own; a node that fails is taken out of its pool, one that answers again is put back. A
 * node whose connection fails under a request is taken out at once (it comes back at its next good
 * check). The same thread reloads the country → region map from a healthy node (GET /api/v1/countries)
 * every refresh_ms, so countries are never written into the gateway. No event loop ever waits on a node
 * except through h2o's asynchronous client.
 *
 * Edge rate limit: requests per second per client address with a burst (edge.h's GCRA, bounded memory);
 * over it, 429 rate_limited with Retry-After and retry_after_ms in the envelope.
 *
 * Edge cache (gateway/cache.h; what a CDN edge does, for the public catalogue):
 *   - looked up and stored: GET and HEAD of /api/v1/products..., /categories..., /countries... with no
 *     Authorization header at all and neither If-Modified-Since nor Range (those go to the node); nothing
 *     personal is ever served from the cache or stored in it. An If-None-Match that names the stored ETag
 *     is answered 304 from the cache, as the node answers it;
 *   - stored: a GET's 200 answer from a node of the request's own region (never a fallback's) whose
 *     Cache-Control says public with max-age (or s-maxage) S > 0, with no Set-Cookie and a Vary naming only
 *     headers the key holds; kept min(S s, cache_ttl_ms). The nodes say "public, max-age=5" on these routes;
 *   - the key: the region the request was routed to, its path and query (a HEAD is answered from a GET's
 *     entry), and its Accept-Language, Accept-Encoding and X-Country values (the headers a node varies on);
 *   - a hit is the node's answer as stored (status, headers, body; X-Meridian-Upstream names the node that
 *     gave it) with Age, X-Cache: hit and this request's own X-Request-Id; a cacheable request sent to a
 *     node gets X-Cache: miss. While a region has no healthy node its reads are not served from the cache
 *     (they fall back to another region as above, and those answers are not stored);
 *   - read your writes through this gateway: the answer to any non-GET/HEAD request on /api/v1/admin/...
 *     bumps a generation that retires every entry of every thread before that answer reaches the admin,
 *     and an answer to a read looked up before the bump is stored dead; so a change made through this
 *     gateway is read back at once. A change made elsewhere (at a node, another gateway, the hub) is served
 *     from here at most cache_ttl_ms later (1 s by default), on top of its way to the node (replication);
 *     a product's stock state (sold out by orders or grabs) alike;
 *   - memory: cache_mb in all, split evenly between the worker threads (one lock-free cache each); LRU
 *     eviction within it; an answer over a quarter of a thread's share is not stored. No request
 *     collapsing: the requests that miss while an expired answer is being fetched all go to the node.
 */
#ifndef MER_GATEWAY_H
#define MER_GATEWAY_H

#include <h2o.h>

#include "module.h"

#define MER_GW_MAX_REGIONS 16
#define MER_GW_MAX_NODES 16 /* per region */

typedef struct mer_gateway_config {
    /* "name=URL[,URL...]" per region, from --region (repeatable) or $MERIDIAN_GATEWAY_REGIONS
       ("in=URL,URL;eu=URL") */
    const char *regions[MER_GW_MAX_REGIONS];
    int nregions;
    const char *region_urls;     /* "name=URL,...": each region's public URL for /route (default: its first node) */
    const char *default_region;  /* for requests that name no country nor region (default: the first --region) */
    int64_t health_interval_ms;  /* between two health checks of a node */
    int64_t refresh_ms;          /* between two loads of the country list */
    int64_t upstream_timeout_ms; /* per request: connect, and each read and write with a node */
    int64_t route_ttl_s;         /* the TTL of /route answers */
    int64_t rate;                /* requests per second per client address; 0: no limit */
    int64_t burst;               /* how many at once above the rate */
    int64_t cache_ttl_ms;        /* the edge cache: the longest an answer is kept (0: no cache) */
    int64_t cache_mb;            /* the edge cache: memory over all worker threads */
    int threads;                 /* the server's worker threads (0: one per core): the cache is split among them */
} mer_gateway_config_t;

/* Checks and copies the configuration (start-up: dies with a message on a bad one). */
void mer_gateway_configure(const mer_gateway_config_t *cfg);

/* The server's handler (mer_server_run's on_request). */
int mer_gateway_handle(h2o_handler_t *self, h2o_req_t *req);

/* The server's setup hook: h2o's proxy settings and the filter that turns upstream failures into answers. */
void mer_gateway_setup(h2o_globalconf_t *conf, h2o_pathconf_t *path);

/* The gateway as a module: loads the countries, runs the health thread, per-thread timers, /metrics. */
extern const mer_module_t mer_gateway_module;

#endif
