/*
 * rcache.h — per-thread cache of serialised GET answers (catalogue pages, products, countries,
 * flash-sale activity info).
 *
 * Each worker thread owns one cache, so lookups take no lock. An entry is valid while its generation
 * equals the generation the caller passes (e.g. mer_catalog_generation()) and no mer_rcache_invalidate()
 * came since it was built; a stale entry is replaced.
 * Bodies are h2o shared allocations: an answer in flight keeps its body alive even if the entry is
 * replaced meanwhile. When the table is half full (32,768 answers) or its bodies pass 128 MB it is emptied in
 * one go (entries are cheap to rebuild; this bounds memory without LRU bookkeeping on the hot path). The
 * size holds a browse working set of tens of thousands of distinct listings (countries × languages × pages
 * × filters × searches) per thread.
 */
#ifndef MER_RCACHE_H
#define MER_RCACHE_H

#include "http/req.h"

typedef struct mer_rcache_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    uint64_t gen;
    int status;
    char *body; /* h2o shared allocation owned by the entry */
    size_t len;
    char etag[24];
    const char *cache_control; /* static string or NULL */
} mer_rcache_entry_t;

/* The calling worker's entry for key if its generation is gen; NULL otherwise. */
const mer_rcache_entry_t *mer_rcache_get(const char *key, size_t klen, uint64_t gen);
/* Stores an answer (body is copied) and returns the entry. */
const mer_rcache_entry_t *mer_rcache_put(const char *key, size_t klen, uint64_t gen, int status, const char *body,
                                         size_t len, const char *cache_control);
/* Answers r from an entry: ETag, Cache-Control, and 304 when If-None-Match matches. */
void mer_reply_cached(mer_req_t *r, const mer_rcache_entry_t *e);
/*
 * Retires every cached answer on every thread at once (any thread): for a change that no caller's generation
 * covers, e.g. a country's configuration, on which most answers depend. Call it after the change is visible:
 * each thread empties its cache at its next lookup, so an answer built before the change cannot outlive it.
 */
void mer_rcache_invalidate(void);
/* Registers the per-thread cache with the server (start-up). */
void mer_rcache_init(void);

/* Counters for /metrics (summed over threads, approximate). */
uint64_t mer_rcache_hits(void);
uint64_t mer_rcache_misses(void);

#endif
