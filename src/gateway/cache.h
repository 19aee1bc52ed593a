/*
 * cache.h — the gateway's edge cache: public catalogue answers kept at the edge, as a CDN keeps them
 * (gateway.h says which requests and answers; edge.h makes those decisions; this is the store).
 *
 * One cache per worker thread, touched by that thread only: no lock on a lookup or a store. Each holds at
 * most max_bytes (key, headers and body of every entry counted); a store that does not fit evicts the least
 * recently used entries first, and an answer larger than a quarter of max_bytes is not stored at all. An entry
 * is served while it is fresh (now < its expiry) and of the current generation: the gateway bumps one
 * process-wide generation on a write that may change the catalogue (gateway.h, "read your writes"), which
 * retires every entry of every thread at once; a stale or expired entry found by a lookup is dropped there,
 * and the rest leave by LRU.
 *
 * Ownership: an entry is one h2o shared allocation (the struct, its key, its headers and its body). The cache
 * holds one reference; an answer being sent from it links the entry into its request's pool
 * (h2o_mem_link_shared), so an entry evicted or replaced meanwhile lives until that answer is written.
 *
 * The counters are written by the owning thread only and read by /metrics from any thread (relaxed atomics).
 */
#ifndef MER_GW_CACHE_H
#define MER_GW_CACHE_H

#include <h2o.h>
#include <stdatomic.h>

#include "core/common.h"

/* One response header of a stored answer (name lower case, as h2o gives them). */
typedef struct mer_gw_cached_header {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
} mer_gw_cached_header_t;

typedef struct mer_gw_entry mer_gw_entry_t;
struct mer_gw_entry {
    h2o_linklist_t lru;   /* in the cache's list, most recently used first */
    mer_gw_entry_t *next; /* in its hash bucket */
    uint64_t hash;        /* of the key */
    uint64_t gen;         /* the generation the answer was asked for under */
    uint64_t stored_ms;   /* when it was stored (the caller's clock): Age */
    uint64_t expires_ms;  /* served while now < expires_ms */
    size_t size;          /* bytes charged to the cache */
    int status;           /* 200 today */
    const char *key;      /* klen bytes */
    size_t klen;
    const mer_gw_cached_header_t *headers; /* nheaders, in the node's order */
    size_t nheaders;
    const char *body; /* body_len bytes */
    size_t body_len;
};

typedef struct mer_gw_cache_stats {
    _Atomic uint64_t hits, misses; /* lookups that found a fresh entry, or none */
    _Atomic uint64_t stores;       /* answers stored */
    _Atomic uint64_t evictions;    /* entries dropped to make room (not counting stale or expired ones) */
    _Atomic uint64_t bytes;        /* held now */
    _Atomic uint64_t entries;      /* held now */
} mer_gw_cache_stats_t;

typedef struct mer_gw_cache mer_gw_cache_t;

/* A cache of at most max_bytes (>= 4096). Free it with mer_gw_cache_free (entries in flight live on). */
mer_gw_cache_t *mer_gw_cache_new(size_t max_bytes);
void mer_gw_cache_free(mer_gw_cache_t *c);

/*
 * The entry for key if it is fresh at now_ms and of generation gen (it becomes the most recently used),
 * else NULL (a stale or expired one is dropped). Counts a hit or a miss. The entry stays valid until the
 * next call on this cache, unless the caller links it into a pool first (see above).
 */
const mer_gw_entry_t *mer_gw_cache_get(mer_gw_cache_t *c, const char *key, size_t klen, uint64_t gen, uint64_t now_ms);

/*
 * Stores an answer (everything is copied) under key, replacing one stored before, served until
 * now_ms + ttl_ms while gen is current. Returns the entry, or NULL when it is too large to store.
 */
const mer_gw_entry_t *mer_gw_cache_put(mer_gw_cache_t *c, const char *key, size_t klen, uint64_t gen, uint64_t now_ms,
                                       uint64_t ttl_ms, int status, const mer_gw_cached_header_t *headers,
                                       size_t nheaders, const char *body, size_t body_len);

/* The cache's counters (see above). */
const mer_gw_cache_stats_t *mer_gw_cache_stats(const mer_gw_cache_t *c);

#endif
