/*
 * edge.h — the pure parts of the gateway (src/gateway/gateway.c): where a request belongs and whether a
 * client may send it now. Nothing here touches h2o, a socket or a clock of its own; the gateway hands in
 * the request's pieces and the time, so the unit tests (tests/unit/test_gateway.c) drive it directly.
 *
 * Where a request belongs, in this order (the first that answers wins):
 *   1. a customer's bearer token names its home region: "mct_<region>_..." (account/auth.h). A customer's
 *      request goes to that region and nowhere else, whatever country it names: the region's node then
 *      answers 421 wrong_region for a country it does not serve, and no personal data left home;
 *   2. a payment provider's webhook (POST /api/v1/payments/{provider}/webhook) names no country and no
 *      customer, but the payment it is about: its "intent" member is "pi_<region>_..." (payment/payment.h),
 *      and it goes to that region, the only one holding the payment. The gateway only reads the body: it
 *      neither checks nor needs the provider's signature, which the region's node verifies over the very
 *      bytes the provider sent;
 *   3. otherwise a country: ?country=, a /countries/{cc}/ path segment, the X-Country header, a
 *      "country" cookie, or a "country" member of a JSON body (registration and login name the country
 *      there); staff tokens ("mst_") are catalogue-wide and are routed by that country too;
 *   4. otherwise the gateway's default region.
 * The country → region map itself is data the gateway loads from a node (GET /api/v1/countries).
 *
 * The rate limiter is GCRA (the generic cell rate algorithm: one "theoretical arrival time" per key) over
 * a fixed table of entries, so its memory is bounded whatever the number of clients: a key is hashed to a
 * set of MER_GW_LIMIT_WAYS entries; a new key takes a free entry of its set (one whose arrival time has
 * passed: that client is back to a full burst, forgetting it changes nothing) or, when all are busy, the one
 * that frees soonest — an attacker with many addresses can make an honest client share a bucket early,
 * never starve the table. The table is split into stripes, each under its own mutex (every worker thread
 * uses it); a stripe is held for a handful of comparisons.
 */
#ifndef MER_GW_EDGE_H
#define MER_GW_EDGE_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/common.h"

/* A region's name as tokens and the country list spell it ("in", "eu"): at most 15 bytes. */
#define MER_GW_REGION_MAX 16

/*
 * The region a customer token was issued by: for "mct_<region>_<rest>" copies <region> into out and
 * returns true. A staff token ("mst_..."), anything else, or a region name that is empty, too long or not
 * [a-z0-9] returns false. auth is the Authorization header's value ("Bearer <token>") or NULL.
 */
bool mer_gw_token_region(const char *auth, size_t len, char out[MER_GW_REGION_MAX]);

/*
 * The region of the payment a provider's webhook is about: for POST /api/v1/payments/{provider}/webhook
 * with a JSON object body whose "intent" is "pi_<region>_<rest>", copies <region> into out and returns true.
 * Any other request, or an intent that does not name a region as tokens do ([a-z0-9], 1-15 bytes), returns
 * false (the request is then routed as any other; the node answers what is wrong with it).
 */
bool mer_gw_webhook_region(const char *method, size_t mlen, const char *path, size_t plen, const char *body,
                           size_t blen, char out[MER_GW_REGION_MAX]);

/* Does the Authorization header carry a customer token ("Bearer mct_...")? Catalogue fallbacks never do. */
bool mer_gw_is_customer(const char *auth, size_t len);

/* The pieces of a request the country may come from; any may be NULL (len 0). */
typedef struct mer_gw_req_parts {
    const char *query; /* the query string, without '?' */
    size_t query_len;
    const char *path; /* the path, without the query string */
    size_t path_len;
    const char *x_country; /* the X-Country header */
    size_t x_country_len;
    const char *cookie; /* the Cookie header */
    size_t cookie_len;
    const char *body; /* a JSON body */
    size_t body_len;
} mer_gw_req_parts_t;

/*
 * The country a request names, upper-cased into out ("IN"): from the query's country=, a path segment
 * "countries" followed by a two-letter segment, X-Country, the cookie named country, then a top-level
 * "country" string of a JSON object body, in that order. Returns true with out set, or false when none
 * names a two-letter country.
 */
bool mer_gw_country(const mer_gw_req_parts_t *p, char out[3]);

/*
 * Is this a public catalogue read that any region may answer when its home region is down? GET or HEAD
 * of /api/v1/products..., /api/v1/categories..., /api/v1/countries... without a customer token.
 */
bool mer_gw_is_catalogue_read(const char *method, size_t mlen, const char *path, size_t plen, bool customer);

/*
 * May a write carrying an Idempotency-Key be sent again after its node failed midway? Only on the routes
 * whose nodes honour the key (a repeat answers with the first result instead of acting twice): today
 * POST /api/v1/orders alone (docs/ARCHITECTURE.md, "The module table"); any other route ignores the
 * header, and a retry there could act twice.
 */
bool mer_gw_key_retry_safe(const char *method, size_t mlen, const char *path, size_t plen);

/* ---- the edge cache's decisions (gateway/cache.h holds the answers) ---- */

/*
 * May this request be answered from the edge cache, and its answer stored there? GET or HEAD of a public
 * catalogue route (mer_gw_is_catalogue_read) with no Authorization header at all (has_auth: a customer's
 * or a staff token: nothing personal, and nothing a role could change, is ever cached) and neither
 * If-Modified-Since nor Range (has_conditional: such a request goes to the node, which answers it as it
 * always did; If-None-Match is answered from the cache as the node would: 304 when the stored ETag matches).
 */
bool mer_gw_cacheable_request(const char *method, size_t mlen, const char *path, size_t plen, bool has_auth,
                              bool has_conditional);

/*
 * Is this a write that can change what the edge cache holds? Any method but GET and HEAD on
 * /api/v1/admin/... (catalogue, prices, countries, stock, translations, imports: an admin write may change
 * any public catalogue answer, and writes there are rare enough to empty the cache on each).
 */
bool mer_gw_is_admin_write(const char *method, size_t mlen, const char *path, size_t plen);

/*
 * How long a node's 200 answer may be served from the edge cache, in ms: its Cache-Control must say
 * "public" and give s-maxage=S or else max-age=S (S >= 1); the answer is then kept min(S * 1000, cap_ms).
 * Returns 0 (do not store) without Cache-Control (cc NULL), without "public", with "private", "no-store",
 * "no-cache" or a max-age of 0, or when cap_ms <= 0 (the cache is off).
 */
int64_t mer_gw_cache_ttl_ms(const char *cc, size_t len, int64_t cap_ms);

/*
 * The request headers the edge cache's key holds (lower case): an answer that varies on these only may be
 * stored. A node's Vary names them (X-Country, Accept-Language; Accept-Encoding if it ever compresses).
 */
#define MER_GW_CACHE_KEY_HEADERS                                                                                       \
    {                                                                                                                  \
        "accept-language", "accept-encoding", "x-country"                                                              \
    }
#define MER_GW_CACHE_NKEY_HEADERS 3

/*
 * May an answer with this Vary header (NULL: none) be stored? When every name it lists is one of
 * MER_GW_CACHE_KEY_HEADERS or X-Meridian-Fallback (which the gateway itself sets, and whose answers it never
 * stores); "*" or any other name: false.
 */
bool mer_gw_vary_keyed(const char *vary, size_t len);

/* ---- the edge rate limiter ---- */

#define MER_GW_LIMIT_WAYS 4
#define MER_GW_LIMIT_STRIPES 64

typedef struct mer_gw_limit_entry {
    uint64_t key; /* mer_hash64 of the client address; 0: free */
    uint64_t tat; /* GCRA theoretical arrival time, ns on the caller's clock */
} mer_gw_limit_entry_t;

typedef struct mer_gw_limiter {
    mer_gw_limit_entry_t *entries;                 /* nsets * MER_GW_LIMIT_WAYS; guarded by the stripe */
    size_t nsets;                                  /* a power of two */
    uint64_t interval_ns;                          /* 1 s / rate: the time one request costs */
    uint64_t burst_ns;                             /* burst * interval: how far ahead a client may be */
    pthread_mutex_t stripes[MER_GW_LIMIT_STRIPES]; /* set i is guarded by stripes[i % STRIPES] */
    _Atomic uint64_t limited;                      /* requests refused, for /metrics */
} mer_gw_limiter_t;

/*
 * Sets up a limiter of rate requests per second per key with bursts of burst, remembering at least
 * `keys` keys at once (rounded up). rate 0 disables it: every take succeeds. Release with
 * mer_gw_limiter_release.
 */
void mer_gw_limiter_init(mer_gw_limiter_t *l, double rate, uint32_t burst, size_t keys);
void mer_gw_limiter_release(mer_gw_limiter_t *l);

/*
 * One request from key (the client address, len bytes) at now_ns: true if it may pass; false if it is
 * over its rate, with *retry_after_ms set to when one request would pass again (at least 1).
 */
bool mer_gw_limiter_take(mer_gw_limiter_t *l, const char *key, size_t len, uint64_t now_ns, uint64_t *retry_after_ms);

#endif
